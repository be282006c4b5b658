"""The NeRF app's data: posed images read from a dataset folder, with one ngvk camera per image.

Two formats, both instant-ngp's:

- NeRF synthetic: one `transforms_SPLIT.json` per split (train, val, test), each with
  `camera_angle_x` (the horizontal field of view in radians) and `frames`, each frame a `file_path`
  (relative to the JSON, usually without its ".png", which is then appended) and a
  `transform_matrix`; RGBA PNGs.
- instant-ngp: one `transforms.json` (the folder's, or a JSON file given as the dataset) whose intrinsics are
  `fl_x`, `fl_y`, `cx`, `cy` (pixels) and `w`, `h`, or `camera_angle_x` / `camera_angle_y`, each
  also allowed per frame (a frame's value wins). Its splits: "train" holds every frame, as
  instant-ngp trains on them all; "val" and "test" hold every 8th frame (0, 8, 16, ...; the usual
  hold-out stride of forward-facing captures), which are also training frames, so scores on them
  measure the fit to views seen in training, not to new ones.

Both may set `scale` (default 0.33), `offset` (default [0.5, 0.5, 0.5]) and `aabb_scale`.

Intrinsics: focal lengths fx, fy and the principal point cx, cy in pixels, 0 at the image's left and
top edges (pixel centres at +0.5, as instant-ngp and COLMAP have them); fx from `fl_x` or
`camera_angle_x` (fx = w / 2 / tan(angle / 2)), fy from `fl_y` or `camera_angle_y`, else fy = fx;
cx, cy default to the image's centre.

Lens distortion, read as instant-ngp's read_lens reads it (file-level or per frame, like the
intrinsics): `k1`, `k2`, `k3`, `p1`, `p2` of OpenCV's radial-tangential model, or with
`"is_fisheye": true` `k1` to `k4` of its fisheye (equidistant) model; a view whose coefficients are
not all zero gets that engine.render.camera.Lens on its Camera, and its rays are undistorted
exactly. (instant-ngp drops k3 of the radial-tangential model, p1 taking its slot; ngvk keeps it,
as OpenCV's model has it.) Exporters' `camera_model` strings (nerfstudio, COLMAP's names) are taken
where they map onto those two: PINHOLE and SIMPLE_PINHOLE (no distortion), OPENCV, SIMPLE_RADIAL and
RADIAL (radial-tangential, some coefficients zero), OPENCV_FISHEYE, SIMPLE_RADIAL_FISHEYE and
RADIAL_FISHEYE (fisheye); any other (EQUIRECTANGULAR, FULL_OPENCV, ...) and instant-ngp's other
lens keys (`ftheta_p0`, `latlong`, `equirectangular`, `orthographic`) are refused. The
coefficients act on normalised coordinates ((u - cx) / fx, ...), which a downscale leaves as they
are: they need no scaling, as fx, fy, cx, cy do.

Coordinates: a `transform_matrix` is camera-to-world in the OpenGL convention (the camera looks
along its -z, +y up) in the data's world, which is z up (Blender's). ngvk's world is y up: the proper
rotation (x, y, z) -> (x, z, -y) turns it, then positions are scaled by `scale` and moved by
`offset` as instant-ngp does, which puts the NeRF synthetic scenes (radius about 1.5 around the
origin) inside the unit cube. `aabb_scale` (a power of two up to 128, default 1) makes the modelled
box that many times the unit cube around its centre, as in instant-ngp: real captures reach beyond
the unit cube (apps/nerf/tracing.py Aabb); `load_nerf_dataset(aabb_scale=N)` overrides the file's.

Images: RGB as stored (sRGB-encoded) and alpha, float32 in [0, 1]; alpha 1 where a file has none.
`downscale` N shrinks each image to (W // N, H // N) with a box filter and scales the intrinsics by
the same ratio. The filter averages colour premultiplied by alpha, in linear light, and divides by
the averaged alpha afterwards: training composites an image over a background (rgb * alpha + bg *
(1 - alpha)), and only averages of premultiplied colour make the small image's composite the
average of the big one's (straight colour would let the arbitrary RGB of transparent pixels bleed
into the edges); linear light because that is where light adds up.

Bad datasets raise NgvkError with one line naming the file and frame. Missing images (a partial
download) are counted over the whole split first and named in one error, which offers
`skip_missing` (`--skip-missing`): the views whose images exist, and a warning of how many were
skipped.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ngvk.apps.nerf.tracing import MAX_AABB_SCALE, Aabb
from ngvk.engine.errors import NgvkError
from ngvk.engine.nn.reference import linear_to_srgb, srgb_to_linear
from ngvk.engine.render.camera import Camera, Lens

DEFAULT_SCALE = 0.33
DEFAULT_OFFSET = (0.5, 0.5, 0.5)
# The data's z-up world to ngvk's y-up world: (x, y, z) -> (x, z, -y), a rotation (determinant +1).
DATA_TO_NGVK = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
SPLIT_ORDER = ("train", "val", "test")
SINGLE_FILE = "transforms.json"
HOLDOUT_STRIDE = 8  # a single transforms.json's val and test splits: every 8th frame
RIGID_TOLERANCE = 1e-3  # of a transform_matrix's rotation: max |R^T R - I|
DISTORTION_KEYS = ("k1", "k2", "k3", "k4", "p1", "p2")
# Exporters' camera_model names ngvk models: -> fisheye or not (the coefficients say the rest).
CAMERA_MODELS = {"OPENCV": False, "OPENCV_FISHEYE": True, "PINHOLE": False, "SIMPLE_PINHOLE": False,
                 "SIMPLE_RADIAL": False, "RADIAL": False, "SIMPLE_RADIAL_FISHEYE": True, "RADIAL_FISHEYE": True}
PINHOLE_MODELS = ("PINHOLE", "SIMPLE_PINHOLE")
# instant-ngp's other lenses (src/nerf_loader.cu read_lens), by the key that selects each.
OTHER_LENS_KEYS = {"ftheta_p0": "FTHETA", "latlong": "LATLONG", "equirectangular": "EQUIRECTANGULAR",
                   "orthographic": "ORTHOGRAPHIC"}
MISSING_NAMED = 5  # missing images named in the error; the rest are counted


@dataclass
class NerfViews:
    """The posed images of one split of a dataset."""

    images: np.ndarray  # float32 [N, H, W, 4]: RGB as stored (sRGB-encoded, in [0, 1]) and alpha
    cameras: list  # engine.render.camera.Camera per view, in ngvk scene coordinates
    width: int
    height: int
    files: list[str]  # the image path of each view, for messages
    split: str
    source: str  # the dataset folder
    aabb: Aabb = Aabb(1)  # the scene's box (the file's aabb_scale)


def data_to_scene(camera_to_world, scale: float = DEFAULT_SCALE, offset=DEFAULT_OFFSET) -> np.ndarray:
    """A camera-to-world matrix of the data's z-up world as one of ngvk's scene: rotated to y up,
    its position scaled and moved into the unit cube; the camera's own axes (OpenGL) are kept."""
    matrix = np.asarray(camera_to_world, dtype=np.float64)
    out = np.eye(4)
    out[:3, :3] = DATA_TO_NGVK @ matrix[:3, :3]
    out[:3, 3] = DATA_TO_NGVK @ matrix[:3, 3] * scale + np.asarray(offset, dtype=np.float64)
    return out


def dataset_splits(path) -> list[str]:
    """The splits the dataset at `path` has: those of its transforms_SPLIT.json files (train, val,
    test first), or train, val and test for a single transforms.json."""
    return list(_split_files(Path(path))[0])


def load_nerf_dataset(path, split: str = "train", downscale: int = 1, aabb_scale: int | None = None,
                      skip_missing: bool = False) -> NerfViews:
    """The views of `split` of the dataset at `path` (a folder, or an instant-ngp JSON file), their
    images shrunk `downscale` times, in the box of the file's aabb_scale (or of `aabb_scale`);
    NgvkError naming the file and frame for anything wrong. Views whose images are missing are an
    error naming them, or with `skip_missing` left out (a warning)."""
    path = Path(path)
    if isinstance(downscale, bool) or not isinstance(downscale, (int, np.integer)) or downscale < 1:
        raise NgvkError(f"downscale must be a whole number at least 1, not {downscale!r}")
    files, single = _split_files(path)
    if split not in files:
        raise NgvkError(f"dataset {path} has no split {split!r} (its splits: {', '.join(files)})")
    json_path = files[split]
    document = _read_json(json_path)
    frames = document.get("frames")
    if not isinstance(frames, list):
        raise NgvkError(f"{json_path}: no list of frames")
    if not frames:
        raise NgvkError(f"{json_path}: split {split!r} has no frames")
    indices = range(len(frames))
    if single and split != "train":
        indices = indices[::HOLDOUT_STRIDE]
    scale = _number(document, "scale", DEFAULT_SCALE, json_path)
    offset = _vector(document, "offset", DEFAULT_OFFSET, json_path)
    aabb = _aabb(_number(document, "aabb_scale", 1.0, json_path) if aabb_scale is None else aabb_scale,
                 json_path if aabb_scale is None else "--aabb-scale")

    _check_lens_keys(document, str(json_path))

    # Every image of the split found (or not) first, so that one error names all that are missing.
    found, missing = [], []
    for index in indices:
        where = f"{json_path} frame {index}"
        frame = frames[index]
        if not isinstance(frame, dict):
            raise NgvkError(f"{where}: not a JSON object")
        image_path = _image_path(json_path, frame, where)
        if image_path is None:
            missing.append(frame["file_path"])
        else:
            found.append((index, frame, image_path))
    if missing:
        _missing_images(json_path, split, missing, len(indices), skip_missing)

    images, cameras, names = [], [], []
    for index, frame, image_path in found:
        where = f"{json_path} frame {index}"
        matrix = _rigid_matrix(frame, where)
        image = _read_image(image_path, where)
        height, width = image.shape[:2]
        if not images:
            first = (width, height)
        elif (width, height) != first:
            raise NgvkError(f"{where}: image {image_path} is {width}x{height}, unlike frame {found[0][0]}'s "
                            f"{first[0]}x{first[1]} (every view must have one size)")
        fx, fy, cx, cy = _intrinsics(document, frame, width, height, where, image_path)
        lens = _lens(document, frame, where)
        if downscale > 1:  # the lens acts on normalised coordinates: unchanged
            image = _downscale(image, downscale, where, image_path)
            sx, sy = image.shape[1] / width, image.shape[0] / height
            fx, fy, cx, cy = fx * sx, fy * sy, cx * sx, cy * sy
        images.append(image)
        cameras.append(Camera.from_pinhole(data_to_scene(matrix, scale, offset), fx, fy, cx, cy,
                                           image.shape[1], image.shape[0], lens))
        names.append(str(image_path))
    stacked = np.stack(images)
    return NerfViews(images=stacked, cameras=cameras, width=stacked.shape[2], height=stacked.shape[1],
                     files=names, split=split, source=str(path), aabb=aabb)


def _aabb(value, where) -> Aabb:
    """The box of aabb_scale `value`: a power of two from 1 to MAX_AABB_SCALE, as instant-ngp requires."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer)) or value != int(value) or \
            not 1 <= value <= MAX_AABB_SCALE or int(value) & (int(value) - 1):
        shown = f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)
        raise NgvkError(f"{where}: aabb_scale must be a power of two from 1 to {MAX_AABB_SCALE}, not {shown} "
                        "(as instant-ngp requires)")
    return Aabb(int(value))


# ---- files --------------------------------------------------------------------------------------------


def _split_files(path: Path) -> tuple[dict[str, Path], bool]:
    """(split -> the JSON file that holds it, whether one file holds every split)."""
    if path.is_file():
        if path.suffix.lower() != ".json":
            raise NgvkError(f"{path}: give a dataset folder or its transforms JSON file")
        return {split: path for split in SPLIT_ORDER}, True
    if not path.is_dir():
        raise NgvkError(f"dataset {path} does not exist")
    found = {p.stem[len("transforms_"):]: p for p in path.glob("transforms_*.json") if p.is_file()}
    if found:
        order = [s for s in SPLIT_ORDER if s in found] + sorted(set(found) - set(SPLIT_ORDER))
        return {split: found[split] for split in order}, False
    single = path / SINGLE_FILE
    if single.is_file():
        return {split: single for split in SPLIT_ORDER}, True
    raise NgvkError(f"dataset {path} holds neither transforms_train.json (NeRF synthetic) nor {SINGLE_FILE} "
                    "(instant-ngp)")


def _read_json(path: Path) -> dict:
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise NgvkError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    except json.JSONDecodeError as error:
        raise NgvkError(f"{path} is not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise NgvkError(f"{path} must hold a JSON object with camera intrinsics and frames")
    return document


def _image_path(json_path: Path, frame: dict, where: str) -> Path | None:
    """The frame's image, its file_path taken relative to the JSON, with ".png" appended when the
    name as given is no file (the NeRF synthetic datasets leave it off); None when neither exists."""
    name = frame.get("file_path")
    if not isinstance(name, str) or not name:
        raise NgvkError(f"{where}: no file_path")
    path = json_path.parent / name
    if path.is_file():
        return path
    with_png = path.with_name(path.name + ".png")
    if with_png.is_file():
        return with_png
    return None


def _missing_images(json_path: Path, split: str, missing: list[str], total: int, skip: bool) -> None:
    """The error naming the split's missing images (their file_paths as the JSON has them), or with
    `skip` the warning that they are left out."""
    named = ", ".join(missing[:MISSING_NAMED]) + (", …" if len(missing) > MISSING_NAMED else "")
    rest = total - len(missing)
    if rest == 0:
        raise NgvkError(f"{json_path}: all {total} images of split {split!r} are missing ({named})")
    if not skip:
        use = "train on" if split == "train" else "use"
        raise NgvkError(f"{json_path}: {len(missing)} of {total} images are missing ({named}); pass --skip-missing "
                        f"to {use} the other {rest}")
    warnings.warn(f"{json_path}: skipped {len(missing)} of {total} views of split {split!r} whose images are "
                  f"missing ({named})")


def _read_image(path: Path, where: str) -> np.ndarray:
    """float32 [H, W, 4]: RGB as stored and alpha (1 where the file has none)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            if image.mode in ("I;16", "I;16B", "I"):  # 16-bit greys: keep their precision
                grey = np.asarray(image, dtype=np.float32) / 65535.0
                return np.dstack([grey, grey, grey, np.ones_like(grey)])
            pixels = np.asarray(image.convert("RGBA" if has_alpha else "RGB"), dtype=np.float32) / 255.0
    except UnidentifiedImageError:
        raise NgvkError(f"{where}: {path} is not an image Pillow can read") from None
    except OSError as error:
        raise NgvkError(f"{where}: cannot read image {path}: {error}") from None
    if not has_alpha:
        pixels = np.dstack([pixels, np.ones(pixels.shape[:2], np.float32)])
    return pixels


def _downscale(image: np.ndarray, factor: int, where: str, path: Path) -> np.ndarray:
    """Box-filtered to (W // factor, H // factor): premultiplied colour in linear light, see above."""
    from PIL import Image

    height, width = image.shape[:2]
    size = (width // factor, height // factor)
    if min(size) < 1:
        raise NgvkError(f"{where}: image {path} ({width}x{height}) is too small to downscale {factor} times")
    alpha = image[..., 3].astype(np.float64)
    premultiplied = srgb_to_linear(image[..., :3]) * alpha[..., None]
    channels = [*np.moveaxis(premultiplied, -1, 0), alpha]
    small = [np.asarray(Image.fromarray(c.astype(np.float32)).resize(size, Image.BOX), np.float64)
             for c in channels]
    small_alpha = np.clip(small[3], 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        linear = np.where(small_alpha[..., None] > 0, np.stack(small[:3], -1) / small_alpha[..., None], 0.0)
    return np.dstack([linear_to_srgb(linear), small_alpha]).astype(np.float32)


# ---- fields -------------------------------------------------------------------------------------------


def _value(document: dict, frame: dict, key: str, where: str):
    """A frame's own value of an intrinsic, else the file's; None when neither has it."""
    value = frame.get(key, document.get(key))
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or
                              not math.isfinite(value)):
        raise NgvkError(f"{where}: {key} must be a number, not {value!r}")
    return value


def _intrinsics(document: dict, frame: dict, width: int, height: int, where: str, image_path: Path):
    """(fx, fy, cx, cy) in pixels of a width x height image."""
    w, h = _value(document, frame, "w", where), _value(document, frame, "h", where)
    if (w is not None and w != width) or (h is not None and h != height):
        said = ", ".join(f"{key} {value:g}" for key, value in (("w", w), ("h", h)) if value is not None)
        raise NgvkError(f"{where}: image {image_path} is {width}x{height} but the intrinsics say {said}")

    def focal(length_key: str, angle_key: str, size: int):
        length, angle = _value(document, frame, length_key, where), _value(document, frame, angle_key, where)
        if length is not None:
            if not length > 0:
                raise NgvkError(f"{where}: {length_key} must be positive, not {length!r}")
            return float(length)
        if angle is not None:
            if not 0 < angle < math.pi:
                raise NgvkError(f"{where}: {angle_key} must be between 0 and pi radians, not {angle!r}")
            return size / 2 / math.tan(angle / 2)
        return None

    fx, fy = focal("fl_x", "camera_angle_x", width), focal("fl_y", "camera_angle_y", height)
    if fx is None and fy is None:
        raise NgvkError(f"{where}: no focal length (camera_angle_x, or fl_x and fl_y)")
    fx, fy = fx if fx is not None else fy, fy if fy is not None else fx
    cx, cy = _value(document, frame, "cx", where), _value(document, frame, "cy", where)
    return fx, fy, width / 2 if cx is None else float(cx), height / 2 if cy is None else float(cy)


def _check_lens_keys(source: dict, where: str) -> None:
    """Refuse the camera models of `source` (the file, or a frame) that ngvk does not model."""
    supported = ", ".join(CAMERA_MODELS)
    for key, model in OTHER_LENS_KEYS.items():
        if key in source:
            raise NgvkError(f"{where}: camera model {model} ({key}) is not supported (supported: {supported})")
    model = source.get("camera_model")
    if model is not None and (not isinstance(model, str) or model not in CAMERA_MODELS):
        raise NgvkError(f"{where}: camera model {model} is not supported (supported: {supported})")


def _lens(document: dict, frame: dict, where: str) -> Lens | None:
    """The frame's lens (its own fields, else the file's), None without distortion."""
    _check_lens_keys(frame, where)
    model = frame.get("camera_model", document.get("camera_model"))
    fisheye = frame.get("is_fisheye", document.get("is_fisheye"))
    if fisheye is not None and not isinstance(fisheye, bool):
        raise NgvkError(f"{where}: is_fisheye must be true or false, not {fisheye!r}")
    if model is not None:
        if fisheye is not None and fisheye != CAMERA_MODELS[model]:
            raise NgvkError(f"{where}: is_fisheye {str(fisheye).lower()} contradicts camera model {model}")
        fisheye = CAMERA_MODELS[model]
    coefficients = {key: float(_value(document, frame, key, where) or 0.0) for key in DISTORTION_KEYS}
    distorted = [key for key, value in coefficients.items() if value != 0]
    if not distorted:
        return None
    if model in PINHOLE_MODELS:
        raise NgvkError(f"{where}: camera model {model} has no distortion, but {distorted[0]} is "
                        f"{coefficients[distorted[0]]:g}")
    try:
        return Lens("fisheye" if fisheye else "opencv", **coefficients)
    except NgvkError as error:
        raise NgvkError(f"{where}: {error}") from None


def _rigid_matrix(frame: dict, where: str) -> np.ndarray:
    """The frame's transform_matrix, checked to be a rotation and a translation."""
    try:
        matrix = np.array(frame.get("transform_matrix"), dtype=np.float64)
    except (TypeError, ValueError):
        matrix = np.zeros(0)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        raise NgvkError(f"{where}: transform_matrix must be 4 rows of 4 finite numbers")
    if np.max(np.abs(matrix[3] - [0.0, 0.0, 0.0, 1.0])) > 1e-6:
        raise NgvkError(f"{where}: transform_matrix's last row is {matrix[3].tolist()}, not [0, 0, 0, 1]")
    rotation = matrix[:3, :3]
    error = np.max(np.abs(rotation.T @ rotation - np.eye(3)))
    if error > RIGID_TOLERANCE:
        raise NgvkError(f"{where}: transform_matrix is not rigid: its rotation part is off orthonormal by "
                        f"{error:.2g} (at most {RIGID_TOLERANCE:g}; no scaling or shear)")
    if np.linalg.det(rotation) < 0:
        raise NgvkError(f"{where}: transform_matrix is a reflection (determinant -1), not a rotation")
    return matrix


def _number(document: dict, key: str, default: float, path: Path) -> float:
    value = document.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not value > 0:
        raise NgvkError(f"{path}: {key} must be a positive number, not {value!r}")
    return float(value)


def _vector(document: dict, key: str, default, path: Path) -> tuple[float, float, float]:
    value = document.get(key, default)
    if (not isinstance(value, (list, tuple)) or len(value) != 3 or
            not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
        raise NgvkError(f"{path}: {key} must be three numbers, not {value!r}")
    return tuple(float(v) for v in value)
