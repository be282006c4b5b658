"""Reading and writing images for the apps: 8-bit images through Pillow, high-bit-depth and HDR
images at full precision, scikit-image's bundled sample photos by name (`skimage:astronaut`); PNGs
are written atomically (engine/files.py).

Two readers: `load_image()` gives an 8-bit sRGB image as stored (Pillow); `load_linear_image()`
gives any supported file as float32 linear-light RGB, which is what the image app trains on. Which
library reads what, chosen by the file's first bytes (and `.exr` by its name too):

- OpenEXR (`.exr`): the `OpenEXR` package. Linear light by convention: values are kept as stored
  (above 1 included), negatives are set to 0 with a warning, NaN and infinities are refused. R, G, B
  are read, else a lone Y (luminance) as grey; alpha is ignored.
- PNG of 16 bits per sample: `pypng`, since Pillow reads 16-bit RGB PNGs as 8 bits.
- TIFF of 16 bits or floats per sample: `tifffile`, since Pillow truncates those too. 16-bit
  samples are sRGB, like 8-bit ones; float samples are linear light, like EXR.
- Radiance `.hdr`: refused with a one-line error; no reader we depend on decodes it (see docs/image.md).
- anything else (8-bit PNG, JPEG, 8-bit TIFF, ...): Pillow, 8-bit sRGB, as `load_image()`.

Integer samples are sRGB-encoded (embedded ICC profiles and PNG gAMA chunks are ignored) and are
decoded to linear light in float64 before rounding to float32, so an 8-bit file gives exactly the
values the image app has always trained on.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ngvk.engine.errors import NgvkError
from ngvk.engine.files import write_atomically

SAMPLE_PREFIX = "skimage:"
EXR_MAGIC = b"\x76\x2f\x31\x01"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, both byte orders
RADIANCE_MAGICS = (b"#?RADIANCE", b"#?RGBE")
PNG_BIT_DEPTH_OFFSET = 24  # the signature (8), IHDR's length and type (8), width and height (8)


def load_image(source: str | Path) -> np.ndarray:
    """An 8-bit sRGB image as uint8 [height, width, 3] (Pillow) from a file, or from
    scikit-image's bundled samples with `skimage:NAME` (read from the installed package: nothing is
    downloaded or copied). High-bit-depth and HDR files: load_linear_image()."""
    from PIL import Image, UnidentifiedImageError

    path = _source_path(source)
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


def load_linear_image(source: str | Path) -> np.ndarray:
    """Any supported image (see the module's docstring) as float32 linear-light RGB [height, width,
    3]; `skimage:NAME` as for load_image(). NgvkError, one line, for a file that cannot be used."""
    path = _source_path(source)
    with open(path, "rb") as file:
        head = file.read(32)
    if head.startswith(EXR_MAGIC) or path.suffix.lower() == ".exr":
        return _read_exr(path)
    if head.startswith(RADIANCE_MAGICS) or path.suffix.lower() in (".hdr", ".rgbe", ".pic"):
        raise NgvkError(f"{path}: Radiance HDR files are not supported; convert it to OpenEXR (.exr)")
    if head.startswith(PNG_MAGIC) and len(head) > PNG_BIT_DEPTH_OFFSET and head[PNG_BIT_DEPTH_OFFSET] == 16:
        return _read_png16(path)
    if head.startswith(TIFF_MAGICS):
        linear = _read_tiff_beyond_8_bits(path)
        if linear is not None:
            return linear
    return linear_rgb(load_image(path))


def linear_rgb(image: np.ndarray) -> np.ndarray:
    """float32 linear-light RGB from an image: uint8 or uint16 samples are sRGB and decoded, floats
    are taken as linear already."""
    from ngvk.engine.nn.reference import srgb_to_linear

    if image.dtype.kind == "f":
        return np.asarray(image, dtype=np.float32)
    peak = float(np.iinfo(image.dtype).max)
    return srgb_to_linear(image.astype(np.float64) / peak).astype(np.float32)


def _source_path(source: str | Path) -> Path:
    source = str(source)
    if source.startswith(SAMPLE_PREFIX):
        return sample_image_path(source[len(SAMPLE_PREFIX) :])
    path = Path(source)
    if not path.is_file():
        raise NgvkError(f"image {path} does not exist")
    return path


def _checked_linear(path: Path, rgb: np.ndarray) -> np.ndarray:
    """Linear float RGB from a float file: NaN and infinities refused (a network cannot fit them and
    one would poison every metric), negatives set to 0 (no display shows them; sensor noise and
    resampling leave small ones in real EXRs)."""
    rgb = np.asarray(rgb, dtype=np.float32)
    bad = int(np.count_nonzero(~np.isfinite(rgb)))
    if bad:
        raise NgvkError(f"{path} has {bad} NaN or infinite values (of {rgb.size}): replace them and save it again")
    negative = int(np.count_nonzero(rgb < 0))
    if negative:
        warnings.warn(f"{path}: {negative} negative values (down to {rgb.min():.3g}) set to 0")
        rgb = np.maximum(rgb, 0.0)
    return rgb


def _grey_or_rgb(path: Path, samples: np.ndarray, rgb: bool) -> np.ndarray:
    """[H, W, 3] from [H, W] or [H, W, C]: the first three samples of a colour image, the first one
    (repeated) of a grey one; later samples (alpha and extras) are dropped."""
    if samples.ndim == 2:
        samples = samples[..., None]
    if rgb and samples.shape[2] < 3:
        raise NgvkError(f"{path}: an RGB image with {samples.shape[2]} samples per pixel")
    return samples[..., :3] if rgb else np.repeat(samples[..., :1], 3, axis=2)


@contextmanager
def _native_output_captured():
    """Capture what native code writes to the process's stdout and stderr (OpenEXR prints its
    errors there as well as raising them), so an unreadable file gives one line, not a screenful.
    Yields a function that returns the captured text."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as capture:
        try:
            os.dup2(capture.fileno(), 1)
            os.dup2(capture.fileno(), 2)
            yield lambda: (capture.seek(0), capture.read().decode(errors="replace"))[1]
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _read_exr(path: Path) -> np.ndarray:
    import OpenEXR

    with _native_output_captured() as captured:
        try:
            channels = OpenEXR.File(str(path), separate_channels=True).channels()  # the first part's
            failure = None
        except Exception as error:  # the bindings raise RuntimeError, ValueError...: all mean a bad file
            failure = error
        details = captured()
    if failure is not None:
        # The library's own line ("(EXR_ERR_BAD_CHUNK_LEADER) ... scanline 544") says more than the
        # exception ("file has 0 parts"); keep the last one it printed.
        printed = [line.split(": ", 1)[-1] for line in details.splitlines() if "EXR_ERR" in line]
        raise NgvkError(f"cannot read OpenEXR image {path}: {printed[-1] if printed else failure}")
    names = sorted(channels)
    if {"R", "G", "B"} <= set(names):
        wanted = ["R", "G", "B"]
    elif "Y" in names and not {"RY", "BY"} & set(names):
        wanted = ["Y"]  # a luminance image, read as grey
    else:
        shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
        raise NgvkError(f"{path} has no RGB channels (it has: {shown})")
    planes = []
    for name in wanted:
        channel = channels[name]
        if (channel.xSampling, channel.ySampling) != (1, 1):
            raise NgvkError(f"{path}: channel {name} is subsampled ({channel.xSampling}x{channel.ySampling}); "
                            "ngvk reads full-resolution channels")
        if channel.pixels.dtype.kind != "f":
            raise NgvkError(f"{path}: channel {name} holds {channel.pixels.dtype} integers, not colours")
        planes.append(channel.pixels.astype(np.float32))
    return _checked_linear(path, _grey_or_rgb(path, np.stack(planes, axis=2), rgb=len(planes) == 3))


def _read_png16(path: Path) -> np.ndarray:
    import zlib

    import png

    from ngvk.engine.nn.reference import srgb_to_linear

    try:
        with open(path, "rb") as file:  # pypng leaves a file it opened itself open on an error
            width, height, rows, info = png.Reader(file=file).asDirect()
            samples = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])  # rows decode lazily
    except (png.Error, zlib.error, EOFError, ValueError, OSError) as error:
        raise NgvkError(f"cannot read PNG image {path}: {error}") from None
    samples = samples.reshape(height, width, info["planes"])
    # asDirect() rescales to the sBIT chunk's depth where there is one (a 12-bit scan in 16 bits).
    peak = 2.0 ** info["bitdepth"] - 1
    rgb = _grey_or_rgb(path, samples, rgb=not info["greyscale"])
    return srgb_to_linear(rgb.astype(np.float64) / peak).astype(np.float32)


def _read_tiff_beyond_8_bits(path: Path) -> np.ndarray | None:
    """The first page of a TIFF of 16-bit or float samples as linear RGB; None for one of 8 bits
    or fewer, which Pillow reads (with its palettes, YCbCr and JPEG compression)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tiff:
            page = tiff.pages[0]
            if page.dtype is None or (page.bitspersample <= 8 and page.dtype.kind != "f"):
                return None
            samples, axes, photometric = page.asarray(), page.axes, page.photometric
    except Exception as error:  # tifffile raises TiffFileError, ValueError, KeyError (a codec it lacks)...
        reason = str(error).strip("\"'")
        raise NgvkError(f"cannot read TIFF image {path}: {reason}") from None
    if "S" in axes:
        samples = np.moveaxis(samples, axes.index("S"), -1)  # planar (SYX) to interleaved (YXS)
    if samples.ndim not in (2, 3):
        raise NgvkError(f"TIFF image {path}: its first page has axes {axes}, not an image")
    kind = samples.dtype
    colour = photometric == tifffile.PHOTOMETRIC.RGB
    if photometric not in (tifffile.PHOTOMETRIC.RGB, tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.MINISWHITE):
        raise NgvkError(f"TIFF image {path}: photometric {photometric.name} is not supported (RGB or grey)")
    if kind.kind == "f":
        if photometric == tifffile.PHOTOMETRIC.MINISWHITE:
            raise NgvkError(f"TIFF image {path}: float samples with 0 as white are not supported")
        return _checked_linear(path, _grey_or_rgb(path, samples, colour))
    if kind != np.uint16:
        raise NgvkError(f"TIFF image {path}: samples of type {kind} are not supported (8 or 16 bits, or float)")
    if photometric == tifffile.PHOTOMETRIC.MINISWHITE:
        samples = np.iinfo(np.uint16).max - samples
    return linear_rgb(_grey_or_rgb(path, samples, colour))


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
