"""Built-in procedural objects of the SDF app (`shape:NAME`): analytic signed distance functions in
NumPy, the ground truth a neural SDF is fitted to and judged against.

Positions are in the unit cube [0, 1]^3 (the model's domain); distances are in the same units,
negative inside. The primitives and operations are the standard exact (or bounded) ones of
Inigo Quilez's catalogue of distance functions; a union or a subtraction of exact distances is a
bound (never larger than the true distance), which is what sphere tracing needs. The same
functions in GLSL (shaders/sdf/sdf_shapes.glsl) give the reference render on the device.

The objects are chosen to look like objects and to be hard in the ways the paper's meshes are: thin
parts, sharp edges and smooth blends.
"""

from __future__ import annotations

import numpy as np


# ---- primitives, centred on the origin ------------------------------------------------------------------


def sphere(p: np.ndarray, radius: float) -> np.ndarray:
    return np.linalg.norm(p, axis=-1) - radius


def box(p: np.ndarray, half: tuple[float, float, float], rounding: float = 0.0) -> np.ndarray:
    """A box of half-extents `half`, its edges rounded by `rounding` (inside the extents)."""
    q = np.abs(p) - (np.asarray(half) - rounding)
    outside = np.linalg.norm(np.maximum(q, 0.0), axis=-1)
    inside = np.minimum(np.max(q, axis=-1), 0.0)
    return outside + inside - rounding


def torus(p: np.ndarray, major: float, minor: float) -> np.ndarray:
    """A torus around the y axis."""
    ring = np.linalg.norm(p[..., [0, 2]], axis=-1) - major
    return np.hypot(ring, p[..., 1]) - minor


def cylinder(p: np.ndarray, radius: float, half_height: float) -> np.ndarray:
    """A capped cylinder along the y axis."""
    d = np.stack([np.linalg.norm(p[..., [0, 2]], axis=-1) - radius, np.abs(p[..., 1]) - half_height], axis=-1)
    return np.minimum(np.max(d, axis=-1), 0.0) + np.linalg.norm(np.maximum(d, 0.0), axis=-1)


# ---- operations --------------------------------------------------------------------------------------


def union(*distances: np.ndarray) -> np.ndarray:
    return np.minimum.reduce(distances)


def subtract(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a without b."""
    return np.maximum(a, -b)


def smooth_union(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """The polynomial smooth minimum: a fillet of size about k where a and b meet."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b * (1 - h) + a * h - k * h * (1 - h)


def swap_axes(p: np.ndarray, first: int, second: int) -> np.ndarray:
    """p with two coordinates exchanged: turns a primitive along y into one along another axis."""
    q = p.copy()
    q[..., [first, second]] = p[..., [second, first]]
    return q


# ---- the objects ----------------------------------------------------------------------------------


def mug(p: np.ndarray) -> np.ndarray:
    """A mug: a thin-walled cylinder with a flat bottom (sharp rims), a torus handle blended in."""
    q = p - 0.5
    body = cylinder(q, 0.22, 0.25)
    hollow = cylinder(q - [0.0, 0.04, 0.0], 0.19, 0.25)  # walls 0.03 thick, a bottom 0.04 thick
    cup = subtract(body, hollow)
    handle = torus(swap_axes(q - [0.26, 0.0, 0.0], 1, 2), 0.11, 0.025)  # in the x-y plane
    handle = subtract(handle, cylinder(q, 0.2, 0.3))  # only the part outside the cup
    return smooth_union(cup, handle, 0.02)


def bracket(p: np.ndarray) -> np.ndarray:
    """An L-shaped bracket with rounded edges, two drilled holes and a thin diagonal rib."""
    q = p - 0.5
    base = box(q - [0.0, -0.3, 0.0], (0.35, 0.05, 0.2), 0.01)
    upright = box(q - [-0.3, 0.0, 0.0], (0.05, 0.35, 0.2), 0.01)
    rib = box(_rotate_z(q - [-0.12, -0.12, 0.0], np.pi / 4), (0.22, 0.012, 0.012))
    body = union(base, upright, rib)
    holes = union(cylinder(q - [0.15, -0.3, 0.08], 0.045, 0.2),
                  cylinder(swap_axes(q - [-0.3, 0.15, 0.08], 0, 1), 0.045, 0.2))
    return subtract(body, holes)


def ring(p: np.ndarray) -> np.ndarray:
    """A torus lying flat: the simplest object, for quick tests."""
    return torus(p - 0.5, 0.25, 0.08)


def _rotate_z(p: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    q = p.copy()
    q[..., 0] = c * p[..., 0] + s * p[..., 1]
    q[..., 1] = -s * p[..., 0] + c * p[..., 1]
    return q


SHAPES = {"mug": mug, "bracket": bracket, "ring": ring}
SHAPE_CODES = {"mug": 0, "bracket": 1, "ring": 2}  # SDF_SHAPE in shaders/sdf/sdf_shapes.glsl
