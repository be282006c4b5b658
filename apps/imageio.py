"""Reading and writing images for the apps: Pillow for the files, scikit-image's bundled sample
photos by name (`skimage:astronaut`); PNGs are written atomically (engine/files.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ngvk.engine.errors import NgvkError
from ngvk.engine.files import write_atomically

SAMPLE_PREFIX = "skimage:"


def load_image(source: str | Path) -> np.ndarray:
    """An RGB image as uint8 [height, width, 3] from a file, or from scikit-image's bundled samples
    with `skimage:NAME` (read from the installed package: nothing is downloaded or copied)."""
    from PIL import Image, UnidentifiedImageError

    source = str(source)
    if source.startswith(SAMPLE_PREFIX):
        name = source[len(SAMPLE_PREFIX) :]
        path = sample_image_path(name)
    else:
        path = Path(source)
        if not path.is_file():
            raise NgvkError(f"image {path} does not exist")
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode not in ("RGB", "L", "RGBA", "P", "I;16", "I", "F"):
                raise NgvkError(f"image {path}: pixel format {image.mode} is not supported")
            rgb = image.convert("RGB")
    except UnidentifiedImageError:
        raise NgvkError(f"{path} is not an image Pillow can read") from None
    except OSError as error:
        raise NgvkError(f"cannot read image {path}: {error}") from None
    return np.asarray(rgb, dtype=np.uint8)


def sample_image_path(name: str) -> Path:
    """Where scikit-image keeps its bundled sample `name` (e.g. astronaut, coffee, chelsea)."""
    try:
        import importlib.resources

        folder = importlib.resources.files("skimage") / "data"
    except ModuleNotFoundError:
        raise NgvkError("skimage: samples need scikit-image: pip install scikit-image") from None
    for suffix in (".png", ".jpg"):
        candidate = Path(str(folder / f"{name}{suffix}"))
        if candidate.is_file():
            return candidate
    available = sorted(p.stem for p in Path(str(folder)).glob("*.png"))
    raise NgvkError(f"scikit-image has no bundled sample {name!r} (bundled: {', '.join(available)})")


def save_png(path: str | Path, rgb: np.ndarray) -> None:
    """Write uint8 [height, width, 3 or 4] as a PNG, atomically."""
    from PIL import Image

    if Path(path).suffix.lower() != ".png":
        raise NgvkError(f"{path}: ngvk writes PNG files; use a .png name")
    image = Image.fromarray(np.ascontiguousarray(rgb))
    write_atomically(path, lambda temporary: image.save(temporary, format="PNG"))
