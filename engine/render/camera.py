"""Cameras: the one camera file format of `ngvk render --camera` and `ngvk view --camera`, and the
rays a frame's pixels shoot.

A camera file is JSON:

    {"position": [x, y, z], "look_at": [x, y, z], "up": [x, y, z],
     "fov_y": 45.0,                    perspective: vertical field of view in degrees
     "orthographic_height": null,      or orthographic: the world height the frame shows
     "fov_x": null,                    optional: a horizontal field of view of its own, in degrees
     "principal_point": null}          optional: where the optical axis meets the frame, [x, y]

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
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ngvk.engine.errors import NgvkError


@dataclass
class Camera:
    position: tuple[float, float, float] = (0.0, 0.0, 1.0)
    look_at: tuple[float, float, float] = (0.0, 0.0, 0.0)
    up: tuple[float, float, float] = (0.0, 1.0, 0.0)
    fov_y: float = 45.0
    orthographic_height: float | None = None
    fov_x: float | None = None  # None: from fov_y and the frame's aspect ratio
    principal_point: tuple[float, float] | None = None  # None: the frame's centre

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

    @classmethod
    def from_pinhole(cls, camera_to_world, fx: float, fy: float, cx: float, cy: float, width: int,
                     height: int) -> "Camera":
        """The pinhole camera of a `width` x `height` image with focal lengths `fx`, `fy` and principal
        point (`cx`, `cy`) in pixels (0 at the image's left and top edges, so the centre is (W / 2,
        H / 2)), posed by a 4 x 4 (or 3 x 4) camera-to-world matrix of ngvk's world in the OpenGL
        convention: columns x right, y up, z backward (the camera looks along -z), then the position.
        The ray of pixel (u, v) goes along (u + 0.5 - cx) / fx right, (cy - v - 0.5) / fy up, and 1
        forward, exactly as rays() computes it."""
        matrix = np.asarray(camera_to_world, dtype=np.float64)
        position, up, backward = matrix[:3, 3], matrix[:3, 1], matrix[:3, 2]
        return cls(position=tuple(position), look_at=tuple(position - backward), up=tuple(up),
                   fov_y=math.degrees(2 * math.atan(height / (2 * fy))),
                   fov_x=math.degrees(2 * math.atan(width / (2 * fx))),
                   principal_point=(2 * cx / width - 1, 1 - 2 * cy / height))

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
        offset = x[:, None] * right + y[:, None] * up
        if self.orthographic:
            return position + offset, np.tile(forward, (len(pixels), 1))
        directions = forward + offset
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        return np.tile(position, (len(pixels), 1)), directions.astype(f32)

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


def camera_array(views) -> np.ndarray:
    """The blocks lib/camera.glsl camera_ray_indexed() reads, float32 [N, 5, 4], for `views`, a list
    of (camera, width, height): per camera its push-constant values (Camera.push_constants()), the
    frame size in the last vec4. Upload it as the CAMERA_ARRAY buffer."""
    blocks = np.zeros((len(views), 5, 4), np.float32)
    for block, (camera, width, height) in zip(blocks, views):
        push = camera.push_constants(width, height)
        block[:4] = [push["camera_position"], push["camera_right"], push["camera_up"], push["camera_forward"]]
        block[4, :2] = width, height
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
    except (TypeError, ValueError) as error:
        raise NgvkError(f"camera file {path}: {error}") from None
