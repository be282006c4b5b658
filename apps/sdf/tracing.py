"""The SDF app's sphere tracer in NumPy: its constants (passed to the shaders as defines) and the
specification of sdf/sdf_trace.glsl, function for function, on arrays of rays.

A pixel's camera ray enters the unit cube and marches: at each step the distance d at its position
is queried; d <= HIT_DISTANCE is a hit, else the ray moves STEP_SCALE * d (0.95: a network's
distance is not exact, and a step a little short of it rarely tunnels through thin parts); leaving
the cube, or MAX_STEPS steps without a hit, is a miss. Where it hits, the normal comes from central
differences on a tetrahedron: four distance queries at hit + NORMAL_EPSILON * corner, summed with
the corners as weights (Inigo Quilez's tetrahedron technique). Central differences rather than the
grid's analytic derivative because one formula then serves the network and an analytic shape
alike (the reference render shades its normals the same way), the network's derivative would need
a backward pass through the MLP in every renderer, and a difference over NORMAL_EPSILON (about two
cells of the finest hashgrid level) smooths the facets of the grid's trilinear interpolation. The
shadow ray then marches from the hit (moved SHADOW_OFFSET off the surface) or from the ground plane
toward the light, and shading mixes AMBIENT light with the lit diffuse term.
"""

from __future__ import annotations

import numpy as np

from ngvk.engine.nn.reference import linear_to_srgb

RENDER_MODES = ("shaded", "normals", "depth", "steps")  # sdf/sdf_ray.glsl SDF_MODE_*

MAX_STEPS = 128
HIT_DISTANCE = 5e-5
STEP_SCALE = 0.95
NORMAL_EPSILON = 1e-3
SHADOW_OFFSET = 2e-3
AMBIENT = 0.25
LIGHT = (0.45, 0.8, 0.35)  # toward the light (normalised where used)
GROUND_EXTENT = 1.5  # the ground plane reaches this far from the cube's centre along x and z

MARCHING, HIT, MISSED = 0, 1, 2  # status of the ray being marched
SKY, SURFACE, GROUND = 0, 1, 2  # what the camera ray saw

PROBE_CORNERS = np.array([[1, -1, -1], [-1, -1, 1], [-1, 1, -1], [1, 1, 1]], dtype=np.float64)
OBJECT_ALBEDO = np.array([0.80, 0.56, 0.36])
SKY_LOW, SKY_HIGH = np.array([0.60, 0.70, 0.85]), np.array([0.25, 0.40, 0.70])
CHECKER = (0.50, 0.40)  # the ground's two greys, in cells of 1/10

# SdfRay of sdf/sdf_ray.glsl in std430: 64 bytes.
RAY_DTYPE = np.dtype([("origin", "<f4", 3), ("t", "<f4"), ("direction", "<f4", 3), ("t_exit", "<f4"),
                      ("normal", "<f4", 3), ("steps", "<u4"), ("status", "<u4"), ("kind", "<u4"),
                      ("camera_steps", "<u4"), ("depth", "<f4")])
assert RAY_DTYPE.itemsize == 64
# SdfSlot of sdf/sdf_ray.glsl (a wavefront slot): the ray and its phase, 80 bytes.
SLOT_DTYPE = np.dtype([("ray", RAY_DTYPE), ("phase", "<u4"), ("pad", "<u4", 3)])
assert SLOT_DTYPE.itemsize == 80


def light() -> np.ndarray:
    return np.asarray(LIGHT) / np.linalg.norm(LIGHT)


def defines() -> dict:
    """The tracer's constants as the shaders' defines (floats written to round-trip float32)."""
    values = {"MAX_STEPS": MAX_STEPS, "HIT_DISTANCE": HIT_DISTANCE, "STEP_SCALE": STEP_SCALE,
              "NORMAL_EPSILON": NORMAL_EPSILON, "SHADOW_OFFSET": SHADOW_OFFSET, "AMBIENT": AMBIENT,
              "LIGHT_X": LIGHT[0], "LIGHT_Y": LIGHT[1], "LIGHT_Z": LIGHT[2], "GROUND_EXTENT": GROUND_EXTENT}
    return {f"SDF_{name}": (str(value) if isinstance(value, int) else f"{value:.9e}") for name, value in values.items()}


def new_rays(n: int) -> np.ndarray:
    return np.zeros(n, RAY_DTYPE)


def ray_begin(rays: np.ndarray, origin: np.ndarray, direction: np.ndarray) -> None:
    """sdf_ray_begin: t at the entry into the unit cube, or missed."""
    rays["origin"], rays["direction"] = origin, direction
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = 1.0 / np.asarray(direction, np.float64)
        t0, t1 = (0.0 - origin) * inverse, (1.0 - origin) * inverse
    enter = np.maximum(np.max(np.minimum(t0, t1), axis=-1), 0.0)
    leave = np.min(np.maximum(t0, t1), axis=-1)
    rays["t"], rays["t_exit"], rays["steps"] = enter, leave, 0
    rays["status"] = np.where(enter < leave, MARCHING, MISSED)


def camera_rays(camera, width: int, height: int) -> np.ndarray:
    """sdf_camera_ray for every pixel of the frame, row by row."""
    origin, direction = camera.rays(width, height)
    rays = new_rays(width * height)
    ray_begin(rays, origin.reshape(-1, 3), direction.reshape(-1, 3))
    return rays


def position(rays: np.ndarray) -> np.ndarray:
    return np.clip(rays["origin"] + rays["t"][:, None] * rays["direction"], 0.0, 1.0)


def probe_position(rays: np.ndarray, k: int) -> np.ndarray:
    """sdf_probe_position: where probe k of the normal queries the distance around the hit."""
    hit = rays["origin"] + rays["t"][:, None] * rays["direction"]
    return np.clip(hit + NORMAL_EPSILON * PROBE_CORNERS[k], 0.0, 1.0)


def advance(rays: np.ndarray, d: np.ndarray) -> None:
    """sdf_advance, for rays (a copy of the marching ones) given their distances."""
    rays["steps"] += 1
    hit = d <= HIT_DISTANCE
    t = np.where(hit, rays["t"], rays["t"] + STEP_SCALE * d)
    rays["t"] = t
    missed = ~hit & ((rays["t"] > rays["t_exit"]) | (rays["steps"] >= MAX_STEPS))
    rays["status"] = np.where(hit, HIT, np.where(missed, MISSED, MARCHING))


def march(rays: np.ndarray, distance) -> int:
    """March the rays that are marching until none is; returns the distance queries made."""
    queries = 0
    for _ in range(MAX_STEPS):
        live = np.flatnonzero(rays["status"] == MARCHING)
        if not len(live):
            break
        group = rays[live]
        d = np.asarray(distance(position(group)), np.float64)
        queries += len(live)
        advance(group, d)
        rays[live] = group
    return queries


def add_normals(rays: np.ndarray, distance) -> None:
    """The probes: normal = sum over the tetrahedron's corners of corner * d(hit + eps * corner)."""
    hit = np.flatnonzero(rays["status"] == HIT)
    group = rays[hit]
    for k, corner in enumerate(PROBE_CORNERS):
        d = np.asarray(distance(probe_position(group, k)), np.float64)
        group["normal"] = group["normal"] + corner * d[:, None]
    rays[hit] = group


def shadow_begin(rays: np.ndarray, ground_height: float) -> None:
    """sdf_shadow_begin: what the camera ray saw, and the shadow ray from there toward the light."""
    origin, direction = rays["origin"].astype(np.float64), rays["direction"].astype(np.float64)
    rays["camera_steps"] = rays["steps"]
    hit = rays["status"] == HIT
    length = np.linalg.norm(rays["normal"], axis=-1, keepdims=True)
    normal = np.where(length > 0, rays["normal"] / np.where(length > 0, length, 1), [0.0, 1.0, 0.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(direction[:, 1] < 0, (ground_height - origin[:, 1]) / direction[:, 1], -1.0)
    p = origin + t[:, None] * direction
    ground = ~hit & (t > 0) & (np.abs(p[:, 0] - 0.5) <= GROUND_EXTENT) & (np.abs(p[:, 2] - 0.5) <= GROUND_EXTENT)
    rays["kind"] = np.where(hit, SURFACE, np.where(ground, GROUND, SKY))
    rays["depth"] = np.where(hit, rays["t"], np.where(ground, t, 0.0))
    rays["normal"] = np.where(hit[:, None], normal, [0.0, 1.0, 0.0])
    surface = origin + rays["t"][:, None] * direction + SHADOW_OFFSET * rays["normal"]
    start = np.where(hit[:, None], surface, p)
    ray_begin(rays, np.nan_to_num(start), np.broadcast_to(light(), start.shape))
    rays["status"] = np.where(rays["kind"] == SKY, MISSED, rays["status"])


def shade(rays: np.ndarray, eye: np.ndarray, view: np.ndarray, mode: str) -> np.ndarray:
    """sdf_shade: RGBA in [0, 1] of each pixel, [N, 4]; eye and view are the camera rays."""
    n = len(rays)
    kind = rays["kind"]
    out = np.ones((n, 4))
    if mode == "normals":
        out[:, :3] = np.where((kind == SURFACE)[:, None], rays["normal"] * 0.5 + 0.5, 0.0)
        return out
    if mode == "depth":
        middle = np.linalg.norm(eye - 0.5, axis=-1)
        near, far = np.maximum(middle - 0.8660254, 0.0), middle + 0.8660254
        grey = np.where(kind == SURFACE, 1.0 - np.clip((rays["depth"] - near) / (far - near), 0.0, 1.0), 0.0)
        out[:, :3] = grey[:, None]
        return out
    if mode == "steps":
        x = rays["camera_steps"] / MAX_STEPS
        heat = np.clip(np.stack([2 * x - 0.5, 1 - np.abs(2 * x - 1), 1 - 2 * x], axis=-1), 0.0, 1.0)
        out[:, :3] = np.where((rays["camera_steps"] > 0)[:, None], heat, 0.0)
        return out
    lit = np.where(rays["status"] == HIT, 0.0, 1.0)
    diffuse = np.maximum(rays["normal"] @ light(), 0.0)
    surface = OBJECT_ALBEDO * (AMBIENT + (1 - AMBIENT) * lit * diffuse)[:, None]
    p = eye + rays["depth"][:, None] * view
    cell = np.floor(p[:, [0, 2]] * 10.0)
    checker = np.where(np.mod(cell[:, 0] + cell[:, 1], 2.0) == 0.0, CHECKER[0], CHECKER[1])
    ground = (checker * (AMBIENT + (1 - AMBIENT) * lit * light()[1]))[:, None] * np.ones(3)
    sky = SKY_LOW + (SKY_HIGH - SKY_LOW) * np.clip(view[:, 1], 0.0, 1.0)[:, None]
    colour = np.where((kind == SURFACE)[:, None], surface, np.where((kind == GROUND)[:, None], ground, sky))
    out[:, :3] = linear_to_srgb(colour)
    return out


def trace(camera, width: int, height: int, distance, mode: str, ground_height: float):
    """The whole render of a distance function (positions [N, 3] -> distances [N]): the frame,
    RGBA float [height, width, 4], and the distance queries it took."""
    rays = camera_rays(camera, width, height)
    queries = march(rays, distance)
    before = np.count_nonzero(rays["status"] == HIT)
    add_normals(rays, distance)
    queries += 4 * before
    shadow_begin(rays, ground_height)
    if mode == "shaded":
        queries += march(rays, distance)
    eye, view = camera.rays(width, height)
    frame = shade(rays, eye.reshape(-1, 3), view.reshape(-1, 3), mode)
    return frame.reshape(height, width, 4), queries
