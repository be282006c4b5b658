"""Cameras: the one camera file format of `ngvk render --camera` and `ngvk view --camera`, and the
rays a frame's pixels shoot.

A camera file is JSON:

    {"position": [x, y, z], "look_at": [x, y, z], "up": [x, y, z],
     "fov_y": 45.0,                    perspective: vertical field of view in degrees
     "orthographic_height": null,      or orthographic: the world height the frame shows
     "fov_x": null,                    optional: a horizontal field of view of its own, in degrees
     "principal_point": null,          optional: where the optical axis meets the frame, [x, y]
     "lens": null}                     optional: lens distortion, {"model": "opencv", "k1": ..., ...}

World space is right-handed with y up. The image app puts its image on the plane z = 0, centred on
the origin, one unit high; 3D apps put their scene in the unit cube. `Camera.rays()` is the NumPy
reference of lib/camera.glsl's camera_ray(): pixel (x, y) of a W x H frame, row 0 at the top, shoots
through its centre.

The last two fields make a dataset's pinhole camera (focal lengths fx, fy and principal point cx, cy
in pixels) exact: `Camera.from_pinhole()`. Without them the frame is centred on the optical axis and
its horizontal extent follows from fov_y and the frame's aspect ratio (square pixels).
`principal_point` is in the frame's normalised coordinates: x right and y up, -1 to 1 across the
frame, [0, 0] at its centre. Both are frame-relative, so a pinhole camera drawn at another size
keeps its field of view and stretches with the frame.

`lens` (a `Lens`) makes a perspective camera a real one: the image it took is distorted, so the
ray of a pixel is not the pinhole ray through it. OpenCV's two models, with instant-ngp's formulas
(include/neural-graphics-primitives/common_device.cuh), both on normalised camera coordinates in
OpenCV's convention, x right, y DOWN (the coefficients are fitted in it), z forward:

    "opencv"   radial-tangential: r2 = x^2 + y^2, radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3,
               x_d = x radial + 2 p1 x y + p2 (r2 + 2 x^2),  y_d = y radial + 2 p2 x y + p1 (r2 + 2 y^2)
    "fisheye"  equidistant: r = |(x, y)|, theta = atan r,
               theta_d = theta (1 + k1 theta^2 + k2 theta^4 + k3 theta^6 + k4 theta^8),
               (x_d, y_d) = (x, y) theta_d / r

The pixel (u, v)'s centre is the distorted point ((u + 0.5 - cx) / fx, (v + 0.5 - cy) / fy); its
ray goes through the undistorted point (x, y, 1), found as instant-ngp's iterative_lens_undistortion
finds it: Newton's method on (x, y) + delta(x, y) = the distorted point, the Jacobian by central
differences (steps of max(float32 epsilon, 1e-6 |x|)), at most LENS_ITERATIONS steps, stopping
after the first step whose squared length is under LENS_STOP. rays() runs it in float64 and rounds
the result to float32, where lib/camera.glsl runs the same iteration in float32. A lens whose
coefficients are all zero is the pinhole.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ngvk.engine.errors import NgvkError

LENS_MODELS = ("opencv", "fisheye")  # Lens.model; lib/camera.glsl's lens mode is the index + 1 (0: none)
LENS_COEFFICIENTS = ("k1", "k2", "k3", "k4", "p1", "p2")
LENS_ITERATIONS = 100  # instant-ngp's iterative_lens_undistortion: kNumIterations
LENS_STOP = 1e-10  # ... kMaxStepNorm, against the squared length of a step
LENS_RELATIVE_STEP = 1e-6  # ... kRelStepSize, the central differences' step relative to x
LENS_VEC4S = 3  # Camera.lens_block(): the lens as lib/camera.glsl reads it


@dataclass
class Lens:
    """Lens distortion in one of OpenCV's models (module docstring): "opencv" (radial-tangential:
    k1, k2, k3, p1, p2; k4 must be 0) or "fisheye" (equidistant: k1 to k4; p1, p2 must be 0).

    instant-ngp's loader keeps only k1, k2, p1, p2 of the radial-tangential model: it reads k3 into
    the parameter slot that p1 then overwrites (src/nerf_loader.cu read_lens). OpenCV's model has k3
    (the r^6 term), and so has this one, so that a lens calibrated with it is modelled whole."""

    model: str = "opencv"
    k1: float = 0.0
    k2: float = 0.0
    k3: float = 0.0
    k4: float = 0.0
    p1: float = 0.0
    p2: float = 0.0

    def __post_init__(self):
        if self.model not in LENS_MODELS:
            raise NgvkError(f"lens: model must be one of {', '.join(LENS_MODELS)}, not {self.model!r}")
        for name in LENS_COEFFICIENTS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or \
                    not math.isfinite(value):
                raise NgvkError(f"lens: {name} must be a finite number, not {value!r}")
            setattr(self, name, float(value))
        if self.model == "opencv" and self.k4 != 0:
            raise NgvkError(f"lens: k4 ({self.k4:g}) belongs to the fisheye model; the opencv model has k1, k2, "
                            "k3, p1 and p2")
        if self.model == "fisheye" and (self.p1 != 0 or self.p2 != 0):
            raise NgvkError(f"lens: p1, p2 ({self.p1:g}, {self.p2:g}) belong to the opencv model; the fisheye model "
                            "has k1 to k4")

    @property
    def pinhole(self) -> bool:
        """Whether every coefficient is zero (no distortion)."""
        return all(getattr(self, name) == 0 for name in LENS_COEFFICIENTS)

    def distortion(self, x, y):
        """(dx, dy): the distorted point minus (x, y), float64 arrays; x right, y down (instant-ngp's
        opencv_lens_distortion_delta and opencv_fisheye_lens_distortion_delta)."""
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        if self.model == "fisheye":
            r = np.sqrt(x * x + y * y)
            theta = np.arctan(r)
            theta2 = theta * theta
            theta4 = theta2 * theta2
            theta_d = theta * (1 + self.k1 * theta2 + self.k2 * theta4 + self.k3 * theta4 * theta2 +
                               self.k4 * theta4 * theta4)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(r > np.finfo(np.float64).eps, theta_d / r, 1.0)
            return x * ratio - x, y * ratio - y
        u2, uv, v2 = x * x, x * y, y * y
        r2 = u2 + v2
        radial = self.k1 * r2 + self.k2 * r2 * r2 + self.k3 * r2 * r2 * r2
        return (x * radial + 2 * self.p1 * uv + self.p2 * (r2 + 2 * u2),
                y * radial + 2 * self.p2 * uv + self.p1 * (r2 + 2 * v2))

    def undistort(self, x, y):
        """The undistorted points (float64 arrays) of distorted ones: Newton's method, each point
        stopping on its own (module docstring); x right, y down."""
        x0, y0 = np.asarray(x, np.float64), np.asarray(y, np.float64)
        x, y = x0.copy(), y0.copy()
        active = np.ones(x.shape, bool)
        epsilon = float(np.finfo(np.float32).eps)
        for _ in range(LENS_ITERATIONS):
            hx = np.maximum(epsilon, np.abs(LENS_RELATIVE_STEP * x))
            hy = np.maximum(epsilon, np.abs(LENS_RELATIVE_STEP * y))
            dx, dy = self.distortion(x, y)
            dx_xb, dy_xb = self.distortion(x - hx, y)
            dx_xf, dy_xf = self.distortion(x + hx, y)
            dx_yb, dy_yb = self.distortion(x, y - hy)
            dx_yf, dy_yf = self.distortion(x, y + hy)
            j00 = 1 + (dx_xf - dx_xb) / (2 * hx)
            j01 = (dx_yf - dx_yb) / (2 * hy)
            j10 = (dy_xf - dy_xb) / (2 * hx)
            j11 = 1 + (dy_yf - dy_yb) / (2 * hy)
            rx, ry = x + dx - x0, y + dy - y0
            with np.errstate(divide="ignore", invalid="ignore"):
                det = j00 * j11 - j01 * j10
                step_x = np.where(active, (j11 * rx - j01 * ry) / det, 0.0)
                step_y = np.where(active, (j00 * ry - j10 * rx) / det, 0.0)
            x, y = x - step_x, y - step_y
            active &= ~(step_x * step_x + step_y * step_y < LENS_STOP)
            if not active.any():
                break
        return x, y


@dataclass
class Camera:
    position: tuple[float, float, float] = (0.0, 0.0, 1.0)
    look_at: tuple[float, float, float] = (0.0, 0.0, 0.0)
    up: tuple[float, float, float] = (0.0, 1.0, 0.0)
    fov_y: float = 45.0
    orthographic_height: float | None = None
    fov_x: float | None = None  # None: from fov_y and the frame's aspect ratio
    principal_point: tuple[float, float] | None = None  # None: the frame's centre
    lens: Lens | None = None  # None: a pinhole (a dict of Lens's fields is taken too: camera files)

    def __post_init__(self):
        self.position = tuple(float(v) for v in self.position)
        self.look_at = tuple(float(v) for v in self.look_at)
        self.up = tuple(float(v) for v in self.up)
        if len(self.position) != 3 or len(self.look_at) != 3 or len(self.up) != 3:
            raise NgvkError("camera: position, look_at and up take three numbers each")
        forward = np.subtract(self.look_at, self.position)
        if np.linalg.norm(forward) < 1e-9:
            raise NgvkError("camera: position and look_at must differ")
        if np.linalg.norm(np.cross(forward, self.up)) < 1e-9 * np.linalg.norm(forward):
            raise NgvkError("camera: up must not be parallel to the viewing direction")
        if self.orthographic_height is not None:
            self.orthographic_height = float(self.orthographic_height)
            if not self.orthographic_height > 0:
                raise NgvkError("camera: orthographic_height must be positive")
        elif not 0 < self.fov_y < 180:
            raise NgvkError("camera: fov_y must be between 0 and 180 degrees")
        if self.fov_x is not None:
            self.fov_x = float(self.fov_x)
            if self.orthographic:
                raise NgvkError("camera: fov_x is for perspective cameras; drop it or orthographic_height")
            if not 0 < self.fov_x < 180:
                raise NgvkError("camera: fov_x must be between 0 and 180 degrees")
        if self.principal_point is not None:
            self.principal_point = tuple(float(v) for v in self.principal_point)
            if len(self.principal_point) != 2:
                raise NgvkError("camera: principal_point takes two numbers, x and y from -1 to 1 across the frame")
        if isinstance(self.lens, dict):
            unknown = set(self.lens) - set(Lens.__dataclass_fields__)
            if unknown:
                raise NgvkError(f"camera: lens: unknown fields {sorted(unknown)} (known: "
                                f"{sorted(Lens.__dataclass_fields__)})")
            try:
                self.lens = Lens(**self.lens)
            except NgvkError as error:
                raise NgvkError(f"camera: {error}") from None
        if self.lens is not None:
            if not isinstance(self.lens, Lens):
                raise NgvkError(f"camera: lens must be an object of lens coefficients or null, not {self.lens!r}")
            if self.orthographic:
                raise NgvkError("camera: a lens is for perspective cameras; drop it or orthographic_height")

    @classmethod
    def from_pinhole(cls, camera_to_world, fx: float, fy: float, cx: float, cy: float, width: int,
                     height: int, lens: Lens | None = None) -> "Camera":
        """The pinhole camera of a `width` x `height` image with focal lengths `fx`, `fy` and principal
        point (`cx`, `cy`) in pixels (0 at the image's left and top edges, so the centre is (W / 2,
        H / 2)), posed by a 4 x 4 (or 3 x 4) camera-to-world matrix of ngvk's world in the OpenGL
        convention: columns x right, y up, z backward (the camera looks along -z), then the position.
        The ray of pixel (u, v) goes along (u + 0.5 - cx) / fx right, (cy - v - 0.5) / fy up, and 1
        forward, exactly as rays() computes it; with a `lens`, along the undistorted point of
        ((u + 0.5 - cx) / fx, (v + 0.5 - cy) / fy) (OpenCV's y down; module docstring)."""
        matrix = np.asarray(camera_to_world, dtype=np.float64)
        position, up, backward = matrix[:3, 3], matrix[:3, 1], matrix[:3, 2]
        return cls(position=tuple(position), look_at=tuple(position - backward), up=tuple(up),
                   fov_y=math.degrees(2 * math.atan(height / (2 * fy))),
                   fov_x=math.degrees(2 * math.atan(width / (2 * fx))),
                   principal_point=(2 * cx / width - 1, 1 - 2 * cy / height), lens=lens)

    @property
    def orthographic(self) -> bool:
        return self.orthographic_height is not None

    def basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(right, up, forward) unit vectors."""
        forward = np.subtract(self.look_at, self.position).astype(np.float64)
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, self.up)
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        return right, up, forward

    def half_extents(self, width: int, height: int) -> tuple[float, float]:
        """Half the frame's extent at unit distance (perspective) or in world units (orthographic)."""
        half_height = self.orthographic_height / 2 if self.orthographic else math.tan(math.radians(self.fov_y) / 2)
        if self.fov_x is not None:
            return math.tan(math.radians(self.fov_x) / 2), half_height
        return half_height * width / height, half_height

    def push_constants(self, width: int, height: int) -> dict:
        """The camera block lib/camera.glsl reads, by push-constant member name."""
        right, up, forward = self.basis()
        half_x, half_y = self.half_extents(width, height)
        right, up, position = right * half_x, up * half_y, self.position
        if self.principal_point is not None:
            # The ray at normalised (x, y) goes along forward + (x - px) right + (y - py) up: the shift
            # by the principal point folds into forward for a perspective camera (camera_ray_of()
            # adds forward to the offset and normalises only the sum, so forward need not be unit
            # length) and into the position for an orthographic one (where the offset moves the
            # origin and forward stays the unit direction).
            px, py = self.principal_point
            if self.orthographic:
                position = tuple(np.asarray(position) - px * right - py * up)
            else:
                forward = forward - px * right - py * up
        return {
            "camera_position": (*position, 1.0 if self.orthographic else 0.0),
            "camera_right": (*right, 0.0),
            "camera_up": (*up, 0.0),
            "camera_forward": (*forward, 0.0),
            "frame_width": width,
            "frame_height": height,
        }

    def lens_block(self, width: int, height: int) -> np.ndarray:
        """The lens as lib/camera.glsl reads it, float32 [LENS_VEC4S, 4]: (k1, k2, k3, k4), (p1, p2,
        mode, 0) with mode 0 for none (no lens, or a lens without distortion: the pinhole, exactly),
        1 opencv, 2 fisheye; then (px, py, half_x, half_y), which take the frame's normalised
        coordinates (x, y) (-1 to 1, y up) to the lens's, ((x - px) half_x, (py - y) half_y) (y down),
        and back. All zeros for a pinhole."""
        block = np.zeros((LENS_VEC4S, 4), np.float32)
        lens = self.lens
        if lens is None or lens.pinhole:
            return block
        px, py = self.principal_point or (0.0, 0.0)
        block[0] = lens.k1, lens.k2, lens.k3, lens.k4
        block[1] = lens.p1, lens.p2, LENS_MODELS.index(lens.model) + 1, 0.0
        block[2] = (px, py, *self.half_extents(width, height))
        return block

    def rays(self, width: int, height: int, pixels: np.ndarray | None = None):
        """(origins [N, 3], directions [N, 3]) of `pixels` (indices y * width + x; default all), in
        float32 as the shader computes them."""
        if pixels is None:
            pixels = np.arange(width * height)
        pixels = np.asarray(pixels, dtype=np.int64)
        push = self.push_constants(width, height)
        f32 = np.float32
        position = np.array(push["camera_position"][:3], f32)
        right = np.array(push["camera_right"][:3], f32)
        up = np.array(push["camera_up"][:3], f32)
        forward = np.array(push["camera_forward"][:3], f32)
        x = ((pixels % width).astype(f32) + f32(0.5)) / f32(width) * f32(2) - f32(1)
        y = f32(1) - ((pixels // width).astype(f32) + f32(0.5)) / f32(height) * f32(2)
        if self.lens is not None and not self.lens.pinhole:
            x, y = self._undistorted(x, y, width, height)
        offset = x[:, None] * right + y[:, None] * up
        if self.orthographic:
            return position + offset, np.tile(forward, (len(pixels), 1))
        directions = forward + offset
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        return np.tile(position, (len(pixels), 1)), directions.astype(f32)

    def _undistorted(self, x: np.ndarray, y: np.ndarray, width: int, height: int):
        """The frame coordinates (float32, y up) whose pinhole rays are the lens's rays of the pixels
        at (x, y): to the lens's normalised coordinates (lens_block()), undistorted in float64,
        back, rounded to float32 (where lib/camera.glsl computes all of it in float32)."""
        px, py = self.principal_point or (0.0, 0.0)
        half_x, half_y = self.half_extents(width, height)
        u, v = self.lens.undistort((x.astype(np.float64) - px) * half_x, (py - y.astype(np.float64)) * half_y)
        return (px + u / half_x).astype(np.float32), (py - v / half_y).astype(np.float32)

    # ---- interactive control (the viewer's mouse and keys) ----------------------------------------

    def orbit(self, yaw: float, pitch: float) -> "Camera":
        """Turn the position around look_at: `yaw` radians about the up vector, and `pitch` radians
        towards up (negative: away), stopping a degree short of looking straight along it."""
        offset = np.subtract(self.position, self.look_at)
        up = np.asarray(self.up, dtype=np.float64)
        up /= np.linalg.norm(up)
        offset = _rotate(offset, up, yaw)
        axis = np.cross(offset, up)  # rotating about it by a positive angle moves towards up
        if np.linalg.norm(axis) > 1e-12:
            angle = math.acos(np.clip(np.dot(offset / np.linalg.norm(offset), up), -1, 1))
            limit = math.radians(1.0)
            pitch = min(max(pitch, angle - (math.pi - limit)), angle - limit)
            offset = _rotate(offset, axis / np.linalg.norm(axis), pitch)
        return replace(self, position=tuple(np.add(self.look_at, offset)))

    def view_extent(self, width: int, height: int) -> tuple[float, float]:
        """The world width and height the frame shows at the look_at distance."""
        half_x, half_y = self.half_extents(width, height)
        if not self.orthographic:
            distance = float(np.linalg.norm(np.subtract(self.look_at, self.position)))
            half_x, half_y = half_x * distance, half_y * distance
        return 2 * half_x, 2 * half_y

    def pan(self, dx: float, dy: float, width: int, height: int) -> "Camera":
        """Slide position and look_at by (dx, dy) frame widths / heights, right and up."""
        right, up, _ = self.basis()
        extent_x, extent_y = self.view_extent(width, height)
        shift = right * dx * extent_x + up * dy * extent_y
        return replace(self, position=tuple(np.add(self.position, shift)), look_at=tuple(np.add(self.look_at, shift)))

    def zoom(self, factor: float) -> "Camera":
        """Zoom in by `factor` (> 1) or out (< 1): a smaller orthographic height, or a position
        closer to look_at."""
        if self.orthographic:
            return replace(self, orthographic_height=self.orthographic_height / factor)
        offset = np.subtract(self.position, self.look_at) / factor
        return replace(self, position=tuple(np.add(self.look_at, offset)))

    def move(self, forward: float, right: float, up: float) -> "Camera":
        """Fly: move position and look_at by world distances along the view's axes."""
        r, u, f = self.basis()
        shift = f * forward + r * right + u * up
        return replace(self, position=tuple(np.add(self.position, shift)), look_at=tuple(np.add(self.look_at, shift)))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json())


CAMERA_ARRAY_VEC4S = 5 + LENS_VEC4S  # lib/camera.glsl CAMERA_ARRAY_VEC4S


def camera_array(views) -> np.ndarray:
    """The blocks lib/camera.glsl camera_ray_indexed() reads, float32 [N, CAMERA_ARRAY_VEC4S, 4],
    for `views`, a list of (camera, width, height): per camera its push-constant values
    (Camera.push_constants()), then (width, height, 0, 0), then its lens_block(). Upload it as the
    CAMERA_ARRAY buffer."""
    blocks = np.zeros((len(views), CAMERA_ARRAY_VEC4S, 4), np.float32)
    for block, (camera, width, height) in zip(blocks, views):
        push = camera.push_constants(width, height)
        block[:4] = [push["camera_position"], push["camera_right"], push["camera_up"], push["camera_forward"]]
        block[4, :2] = width, height
        block[5:] = camera.lens_block(width, height)
    return blocks


def _rotate(v: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues' rotation of v about the unit `axis`."""
    c, s = math.cos(angle), math.sin(angle)
    return v * c + np.cross(axis, v) * s + axis * np.dot(axis, v) * (1 - c)


def load_camera(path: str | Path) -> Camera:
    """A camera from a JSON file, with a one-line error for anything wrong in it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise NgvkError(f"camera file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NgvkError(f"camera file {path} is not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise NgvkError(f"camera file {path} must hold a JSON object")
    known = set(Camera.__dataclass_fields__)
    unknown = set(data) - known
    if unknown:
        raise NgvkError(f"camera file {path}: unknown fields {sorted(unknown)} (known: {sorted(known)})")
    try:
        return Camera(**data)
    except (TypeError, ValueError, NgvkError) as error:
        raise NgvkError(f"camera file {path}: {error}") from None
