"""Camera paths: keyframed cameras interpolated into the frames of a fly-through, read and written in
instant-ngp's and nerfstudio's camera-path JSON.

A path is keyframes (a Camera each, at a time in seconds, increasing) and a frame rate. Frame i of
N = round(duration x fps) + 1 frames is the path at time duration x i / (N - 1): a frame every
1 / fps seconds where the duration is a whole number of frames, and the first and last frames the
first and last keyframes exactly. Between keyframes the path is a Catmull-Rom
spline (instant-ngp's spline_cm, src/camera_path.cu, evaluated as Barry and Goldman's pyramid of
linear interpolations, here with the keyframes' own times as knots, so that the velocity is
continuous across a keyframe even where keyframes are unevenly spaced in time): positions and the
distance to the look-at point interpolated linearly in each level, orientations (unit quaternions
of the camera's basis) by slerp along the shorter arc, the vertical field of view linearly and an
orthographic height in log space (a steady zoom). It passes through every keyframe; at the ends the
first and last keyframes are repeated (instant-ngp clamps the same way). What the cameras of a path
share (fov_x, principal point, lens, perspective or orthographic) must be equal in every keyframe.
A keyframe may carry an app's numeric extras (`extras`, e.g. the volume app's "spp": App.path_extras
declares them), interpolated linearly between keyframes and held past the ends; a name must be in
every keyframe or in none.

Files (load_path() tells them apart, save_path() writes either):

- instant-ngp's (`{"path": [...], "duration_seconds", "loop", "spline_order", "time"}`): per keyframe
  "R" (the camera-to-world rotation as a quaternion [x, y, z, w], tcnn's vec_json.h), "T" (the
  position), "fov" (vertical, degrees), "slice", "scale", "aperture_size", "timestamp". Timestamps
  are where segments end (src/camera_path.cu get_pos(): keyframe i + 1 is reached at timestamp i,
  keyframe 0 at 0, the last timestamp unused), scaled so that the next-to-last is
  "duration_seconds" (without one, a second per keyframe); where they do not increase from above 0,
  keyframes are spaced evenly, as instant-ngp's sanitize_keyframes() does. R and T
  are in instant-ngp's world (its NeRF loader's nerf_matrix_to_ngp: y up, the unit cube's centre at
  0.5, camera axes x right, y down, z forward); ngvk's world is that turned a quarter about y
  (NGP_TO_NGVK), so a path saved in instant-ngp for a scene both fitted from one transforms.json
  flies the same way here. ngvk adds "ngvk": the keyframe's camera as a camera file holds it
  (instant-ngp ignores it), read back in preference to R, T and fov so that ngvk's paths keep
  orthographic cameras and lenses exactly; "ngvk_extras", the keyframe's extras; and "ngvk_fps" at
  the top (nerfstudio's frames carry "ngvk" and "ngvk_extras" too). instant-ngp's own
  interpolation is a cubic B-spline by default (spline_order 3), which passes near keyframes, not
  through them: the same keyframes give a path close to, not equal to, instant-ngp's.
- nerfstudio's camera_path.json (`{"camera_path": [...], "fps", "seconds", "render_width",
  "render_height", "camera_type"}`): per frame "camera_to_world" (4 x 4, row-major, OpenGL axes),
  "fov" (vertical, degrees) and "aspect". Its frames are already interpolated (seconds x fps of
  them); read back, each is a keyframe at time i / fps, so the path renders them as they are. camera_to_world is taken in
  ngvk's world: nerfstudio's own world is its dataparser's (oriented and scaled from the data), which
  the file does not record.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ngvk.engine.errors import NgvkError
from ngvk.engine.files import write_atomically
from ngvk.engine.render.camera import Camera

DEFAULT_FPS = 30.0
KEYFRAME_SPACING = 1.0  # seconds between keyframes the viewer adds (instant-ngp spaces them evenly too)
UNIT_TOLERANCE = 1e-3  # a quaternion this far from unit length is refused, not normalised
# instant-ngp's world to ngvk's: both y up around the unit cube's centre (0.5, 0.5, 0.5); the data's
# (x, y, z) is (y, z, x) there (nerf_matrix_to_ngp cycles the axes) and (x, z, -y) here
# (apps/nerf/data.py DATA_TO_NGVK), so ngvk = (z, y, -x) of instant-ngp's, a turn about y.
NGP_TO_NGVK = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
NGP_CENTRE = np.full(3, 0.5)
OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0])  # camera axes: y down, z forward -> y up, z backward


@dataclass
class Keyframe:
    camera: Camera
    time: float  # seconds from the path's start
    extras: dict[str, float] = field(default_factory=dict)  # an app's per-frame numbers (module docstring)


@dataclass
class CameraPath:
    keyframes: list[Keyframe] = field(default_factory=list)
    fps: float = DEFAULT_FPS

    def __post_init__(self):
        check_path(self)

    @property
    def duration(self) -> float:
        return self.keyframes[-1].time - self.keyframes[0].time

    def frame_count(self) -> int:
        """round(duration x fps) + 1 (a path of one keyframe is one frame)."""
        return round(self.duration * self.fps) + 1

    def frame_times(self) -> np.ndarray:
        count, start = self.frame_count(), self.keyframes[0].time
        if count == 1:
            return np.array([start])
        return start + self.duration * np.arange(count) / (count - 1)

    def cameras(self) -> list[Camera]:
        """Every frame's camera."""
        return [self.at(t) for t in self.frame_times()]

    def at(self, time: float) -> Camera:
        """The camera at `time` (seconds; clamped to the path)."""
        return interpolate(self.keyframes, time)

    def extras_at(self, time: float) -> dict[str, float]:
        """The keyframes' extras at `time`: linear between the two keyframes around it."""
        if not self.keyframes or not self.keyframes[0].extras:
            return {}
        times = [k.time for k in self.keyframes]
        time = min(max(time, times[0]), times[-1])
        i = int(np.clip(np.searchsorted(times, time, side="right") - 1, 0, max(0, len(times) - 2)))
        if i + 1 >= len(times):
            return dict(self.keyframes[i].extras)
        u = (time - times[i]) / (times[i + 1] - times[i])
        a, b = self.keyframes[i].extras, self.keyframes[i + 1].extras
        return {name: a[name] + (b[name] - a[name]) * u for name in a}

    def frame_extras(self) -> list[dict[str, float]]:
        """Every frame's extras."""
        return [self.extras_at(t) for t in self.frame_times()]

    def add(self, camera: Camera, spacing: float = KEYFRAME_SPACING) -> None:
        """Append a keyframe `spacing` seconds after the last (with its extras)."""
        time = self.keyframes[-1].time + spacing if self.keyframes else 0.0
        self.keyframes.append(Keyframe(camera, time, dict(self.keyframes[-1].extras) if self.keyframes else {}))
        check_path(self)


def check_path(path: CameraPath) -> None:
    """NgvkError for a path that cannot be interpolated (a path being built may have none yet)."""
    if not (isinstance(path.fps, (int, float)) and math.isfinite(path.fps) and path.fps > 0):
        raise NgvkError(f"camera path: fps must be a positive number, not {path.fps!r}")
    times = [k.time for k in path.keyframes]
    if not all(isinstance(t, (int, float)) and math.isfinite(t) for t in times):
        raise NgvkError("camera path: keyframe times must be finite numbers")
    if any(b <= a for a, b in zip(times, times[1:])):
        raise NgvkError("camera path: keyframe times must increase from one keyframe to the next")
    for k in path.keyframes:
        values = [*k.camera.position, *k.camera.look_at, *k.camera.up, k.camera.fov_y,
                  k.camera.orthographic_height or 1.0]
        if not all(math.isfinite(v) for v in values):
            raise NgvkError(f"camera path: the keyframe at {k.time:g} s has a number that is not finite")
    for k in path.keyframes:
        if not all(isinstance(name, str) and isinstance(value, (int, float)) and not isinstance(value, bool)
                   and math.isfinite(value) for name, value in k.extras.items()):
            raise NgvkError(f"camera path: the keyframe at {k.time:g} s has extras that are not named finite numbers")
        if set(k.extras) != set(path.keyframes[0].extras):
            raise NgvkError(f"camera path: the keyframe at {k.time:g} s has the extras {sorted(k.extras)}, the first "
                            f"{sorted(path.keyframes[0].extras)}: give each in every keyframe or in none")
    if path.keyframes:
        first = _shared(path.keyframes[0].camera)
        for k in path.keyframes[1:]:
            if _shared(k.camera) != first:
                raise NgvkError(f"camera path: the keyframe at {k.time:g} s differs from the first in what a path "
                                "keeps fixed (fov_x, principal_point, lens, perspective or orthographic)")


def _shared(camera: Camera) -> tuple:
    return camera.fov_x, camera.principal_point, camera.lens, camera.orthographic


# ---- interpolation ------------------------------------------------------------------------------


@dataclass
class _State:
    """A keyframe's interpolated quantities."""
    position: np.ndarray
    rotation: np.ndarray  # unit quaternion (x, y, z, w) of the basis (right, up, backward)
    distance: float  # to the look-at point
    extent: float  # fov_y in degrees, or log of the orthographic height


def _state(camera: Camera) -> _State:
    right, up, forward = camera.basis()
    extent = math.log(camera.orthographic_height) if camera.orthographic else camera.fov_y
    return _State(np.asarray(camera.position, np.float64), matrix_to_quaternion(np.stack([right, up, -forward], 1)),
                  float(np.linalg.norm(np.subtract(camera.look_at, camera.position))), extent)


def _camera(state: _State, like: Camera) -> Camera:
    basis = quaternion_to_matrix(state.rotation)
    up, forward = basis[:, 1], -basis[:, 2]
    shape = {"orthographic_height": math.exp(state.extent)} if like.orthographic else {"fov_y": float(state.extent)}
    return replace(like, position=tuple(state.position), look_at=tuple(state.position + forward * state.distance),
                   up=tuple(up), **shape)


def _lerp(a: _State, b: _State, t: float, t0: float, t1: float) -> _State:
    """instant-ngp's lerp(p0, p1, t, t0, t1): a and b at knots t0 and t1, at t."""
    u = (t - t0) / (t1 - t0)
    return _State(a.position + (b.position - a.position) * u, slerp(a.rotation, b.rotation, u),
                  a.distance + (b.distance - a.distance) * u, a.extent + (b.extent - a.extent) * u)


def interpolate(keyframes: list[Keyframe], time: float) -> Camera:
    """The Catmull-Rom path through `keyframes` at `time` (module docstring)."""
    if not keyframes:
        raise NgvkError("camera path: no keyframes")
    if len(keyframes) == 1:
        return keyframes[0].camera
    times = [k.time for k in keyframes]
    time = min(max(time, times[0]), times[-1])
    i = int(np.clip(np.searchsorted(times, time, side="right") - 1, 0, len(times) - 2))
    if time == times[i]:
        return keyframes[i].camera  # exactly, not through the pyramid's rounding
    if time == times[i + 1]:
        return keyframes[i + 1].camera
    # Four knots around the segment; past an end the end keyframe repeats, a segment's length on.
    last = len(times) - 1
    p = [_state(keyframes[min(max(j, 0), last)].camera) for j in (i - 1, i, i + 1, i + 2)]
    k1, k2 = times[i], times[i + 1]
    k0 = times[i - 1] if i > 0 else k1 - (k2 - k1)
    k3 = times[i + 2] if i + 2 <= last else k2 + (k2 - k1)
    a1, a2, a3 = _lerp(p[0], p[1], time, k0, k1), _lerp(p[1], p[2], time, k1, k2), _lerp(p[2], p[3], time, k2, k3)
    b1, b2 = _lerp(a1, a2, time, k0, k2), _lerp(a2, a3, time, k1, k3)
    return _camera(_lerp(b1, b2, time, k1, k2), keyframes[i].camera)


def slerp(a: np.ndarray, b: np.ndarray, u: float) -> np.ndarray:
    """Spherical interpolation of unit quaternions along the shorter arc (u may leave [0, 1]: the
    pyramid extrapolates)."""
    if np.dot(a, b) < 0:
        b = -b
    cosine = min(float(np.dot(a, b)), 1.0)
    angle = math.acos(cosine)
    if angle < 1e-9:
        out = a + (b - a) * u
    else:
        out = (math.sin((1 - u) * angle) * a + math.sin(u * angle) * b) / math.sin(angle)
    return out / np.linalg.norm(out)


def matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """The unit quaternion (x, y, z, w) of the rotation matrix `m` (Shepperd's method: the largest of
    the four squared components first, for accuracy)."""
    m = np.asarray(m, np.float64)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > max(m[0, 0], m[1, 1], m[2, 2]):
        s = 2 * math.sqrt(1 + trace)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4]
    elif m[0, 0] >= m[1, 1] and m[0, 0] >= m[2, 2]:
        s = 2 * math.sqrt(1 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [s / 4, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] >= m[2, 2]:
        s = 2 * math.sqrt(1 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 1] + m[1, 0]) / s, s / 4, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2 * math.sqrt(1 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, s / 4, (m[1, 0] - m[0, 1]) / s]
    q = np.array(q)
    return q / np.linalg.norm(q)


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    x, y, z, w = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


# ---- files --------------------------------------------------------------------------------------

FORMATS = ("instant-ngp", "nerfstudio")


def _camera_dict(camera: Camera) -> dict:
    return json.loads(json.dumps(asdict(camera)))


def to_instant_ngp(path: CameraPath) -> dict:
    frames = []
    times = [k.time - path.keyframes[0].time for k in path.keyframes]
    # Keyframe i + 1's time is timestamp i (module docstring); the last one ends a segment no path has.
    stamps = times[1:] + [times[-1] + (times[-1] - times[-2] if len(times) > 1 else KEYFRAME_SPACING)]
    for k, stamp in zip(path.keyframes, stamps):
        camera = k.camera
        right, up, forward = camera.basis()
        rotation = NGP_TO_NGVK.T @ np.stack([right, -up, forward], 1)  # OpenCV axes, instant-ngp's world
        position = NGP_TO_NGVK.T @ (np.asarray(camera.position) - NGP_CENTRE) + NGP_CENTRE
        frames.append({"R": matrix_to_quaternion(rotation).tolist(), "T": position.tolist(), "slice": 0.0,
                       "scale": 1.0, "fov": camera.fov_y, "aperture_size": 0.0, "timestamp": stamp,
                       "ngvk": _camera_dict(camera), **({"ngvk_extras": dict(k.extras)} if k.extras else {})})
    return {"loop": False, "time": 0.0, "path": frames, "duration_seconds": path.duration if frames else 0.0,
            "spline_order": 3, "ngvk_fps": path.fps}


def to_nerfstudio(path: CameraPath, width: int, height: int) -> dict:
    frames = []
    for camera, extras in zip(path.cameras(), path.frame_extras()):
        right, up, forward = camera.basis()
        matrix = np.eye(4)
        matrix[:3, :3] = np.stack([right, up, -forward], 1)
        matrix[:3, 3] = camera.position
        frames.append({"camera_to_world": matrix.reshape(-1).tolist(), "fov": camera.fov_y, "aspect": width / height,
                       "ngvk": _camera_dict(camera), **({"ngvk_extras": extras} if extras else {})})
    return {"camera_type": "orthographic" if path.keyframes[0].camera.orthographic else "perspective",
            "render_width": width, "render_height": height, "fps": path.fps, "seconds": len(frames) / path.fps,
            "is_cycle": False, "smoothness_value": 0.0, "camera_path": frames}


def save_path(path: CameraPath, file: str | Path, form: str = "instant-ngp", width: int = 1920,
              height: int = 1080) -> None:
    """Write `path` atomically in `form` (FORMATS); nerfstudio's records the frame size."""
    if not path.keyframes:
        raise NgvkError("camera path: no keyframes to save")
    data = to_instant_ngp(path) if form == "instant-ngp" else to_nerfstudio(path, width, height)
    text = json.dumps(data, indent=1) + "\n"
    write_atomically(file, lambda temporary: Path(temporary).write_text(text))


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise NgvkError(f"{what} must be a finite number, not {value!r}")
    return float(value)


def _vector(value, size: int, what: str) -> np.ndarray:
    if not isinstance(value, list) or len(value) != size:
        raise NgvkError(f"{what} must be a list of {size} numbers")
    return np.array([_number(v, what) for v in value])


def _extras_of(entry: dict, what: str) -> dict[str, float]:
    extras = entry.get("ngvk_extras", {})
    if not isinstance(extras, dict):
        raise NgvkError(f"{what}: \"ngvk_extras\" must be an object of numbers")
    return {str(name): _number(value, f"{what}: ngvk_extras {name}") for name, value in extras.items()}


def _camera_of(entry: dict, what: str) -> Camera:
    """A keyframe's "ngvk" camera."""
    camera = entry["ngvk"]
    if not isinstance(camera, dict) or set(camera) - set(Camera.__dataclass_fields__):
        raise NgvkError(f"{what}: \"ngvk\" must be a camera as camera files hold it")
    try:
        return Camera(**camera)
    except (TypeError, ValueError, NgvkError) as error:
        raise NgvkError(f"{what}: {error}") from None


def _from_matrix(rotation: np.ndarray, position: np.ndarray, fov: float, what: str) -> Camera:
    """A camera of an OpenGL-axes rotation (right, up, backward) and position in ngvk's world."""
    try:
        return Camera(position=tuple(position), look_at=tuple(position - rotation[:, 2]), up=tuple(rotation[:, 1]),
                      fov_y=fov)
    except NgvkError as error:
        raise NgvkError(f"{what}: {error}") from None


def from_instant_ngp(data: dict, name: str, warn=None) -> CameraPath:
    entries = data["path"]
    if not isinstance(entries, list):
        raise NgvkError(f"camera path {name}: \"path\" must be a list of keyframes")
    cameras, stamps, extras = [], [], []
    for i, entry in enumerate(entries):
        what = f"camera path {name}, keyframe {i}"
        if not isinstance(entry, dict):
            raise NgvkError(f"{what} must be an object")
        stamps.append(_number(entry.get("timestamp", 0.0), f"{what}: timestamp"))
        extras.append(_extras_of(entry, what))
        if "ngvk" in entry:
            cameras.append(_camera_of(entry, what))
            continue
        for key in ("R", "T", "fov"):
            if key not in entry:
                raise NgvkError(f"{what} has no \"{key}\" (instant-ngp's keyframes have R, T and fov)")
        q = _vector(entry["R"], 4, f"{what}: R")
        length = float(np.linalg.norm(q))
        if abs(length - 1) > UNIT_TOLERANCE:
            raise NgvkError(f"{what}: R is not a unit quaternion (length {length:.6g}): a rotation's quaternion has "
                            "length 1")
        if abs(length - 1) > 1e-6 and warn:
            warn(f"{what}: R of length {length:.9g} normalised")
        t = _vector(entry["T"], 3, f"{what}: T")
        fov = _number(entry["fov"], f"{what}: fov")
        rotation = NGP_TO_NGVK @ quaternion_to_matrix(q) @ OPENCV_TO_OPENGL
        cameras.append(_from_matrix(rotation, NGP_TO_NGVK @ (t - NGP_CENTRE) + NGP_CENTRE, fov, what))
    fps = _number(data.get("ngvk_fps", DEFAULT_FPS), f"camera path {name}: ngvk_fps")
    duration = _number(data.get("duration_seconds", 0.0), f"camera path {name}: duration_seconds")
    n = len(cameras)
    if n < 2:
        return CameraPath([Keyframe(c, 0.0, e) for c, e in zip(cameras, extras)], fps)
    if not all(b > a for a, b in zip([0.0] + stamps, stamps)):
        stamps = [(i + 1) / n for i in range(n)]  # instant-ngp's make_keyframe_timestamps_equidistant()
    total = duration if duration > 0 else KEYFRAME_SPACING * (n - 1)
    scale = total / stamps[n - 2]
    times = [0.0] + [stamp * scale for stamp in stamps[:-1]]
    return CameraPath([Keyframe(c, t, e) for c, t, e in zip(cameras, times, extras)], fps)


def from_nerfstudio(data: dict, name: str) -> CameraPath:
    entries = data["camera_path"]
    if not isinstance(entries, list):
        raise NgvkError(f"camera path {name}: \"camera_path\" must be a list of frames")
    fps = _number(data.get("fps", DEFAULT_FPS), f"camera path {name}: fps")
    if not fps > 0:
        raise NgvkError(f"camera path {name}: fps must be positive")
    keyframes = []
    for i, entry in enumerate(entries):
        what = f"camera path {name}, frame {i}"
        if not isinstance(entry, dict):
            raise NgvkError(f"{what} must be an object")
        if "ngvk" in entry:
            keyframes.append(Keyframe(_camera_of(entry, what), i / fps, _extras_of(entry, what)))
            continue
        if "camera_to_world" not in entry or "fov" not in entry:
            raise NgvkError(f"{what} has no camera_to_world and fov (nerfstudio's frames have both)")
        matrix = _vector(entry["camera_to_world"], 16, f"{what}: camera_to_world").reshape(4, 4)
        rotation = matrix[:3, :3]
        if not np.allclose(rotation.T @ rotation, np.eye(3), atol=UNIT_TOLERANCE):
            raise NgvkError(f"{what}: camera_to_world's rotation is not orthonormal (a scaled or sheared camera)")
        keyframes.append(Keyframe(_from_matrix(rotation, matrix[:3, 3], _number(entry["fov"], f"{what}: fov"), what),
                                  i / fps, _extras_of(entry, what)))
    return CameraPath(keyframes, fps)


def load_path(file: str | Path, warn=None) -> CameraPath:
    """The camera path in `file`, either format, with a one-line error for anything wrong in it (no
    keyframes, numbers that are not finite, a quaternion far from unit length; `warn(message)` is
    told of one normalised)."""
    file = Path(file)
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        raise NgvkError(f"camera path {file} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise NgvkError(f"camera path {file} is not valid JSON ({error})") from None
    if not isinstance(data, dict) or not ({"path", "camera_path"} & set(data)):
        raise NgvkError(f"camera path {file}: not a camera path (instant-ngp's has \"path\", nerfstudio's "
                        "\"camera_path\")")
    try:
        path = from_instant_ngp(data, str(file), warn) if "path" in data else from_nerfstudio(data, str(file))
    except NgvkError as error:
        message = str(error)
        raise NgvkError(message if str(file) in message else f"camera path {file}: {message}") from None
    if not path.keyframes:
        raise NgvkError(f"camera path {file} has no keyframes: add some in the viewer (K) and save it (J)")
    return path
