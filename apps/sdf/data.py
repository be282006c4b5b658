"""The SDF app's data: what a neural SDF is fitted to. `shape:NAME` is a built-in object with an
analytic distance (shapes.py); anything else is a mesh file (OBJ, PLY, STL, GLB, ... as trimesh
reads them) whose signed distance libigl computes (fast winding numbers for the sign: robust where a
mesh is not watertight, where the sign then says whether a point is mostly enclosed).

A mesh is normalised into the unit cube: centred, its largest side scaled to 1 - 2 * MARGIN; the
transform (unit = mesh * scale + offset) is kept so that a model can be mapped back to the mesh.

Training samples follow instant-ngp's testbed (generate_training_samples_sdf): 1/8 uniform in the
cube, 4/8 exactly on the surface (distance 0), 3/8 on the surface moved by a random offset. Where
instant-ngp draws one logistic offset of scale radius / 1024, ngvk draws Gaussian offsets at two
scales, half with SURFACE_SIGMAS[0] and half with SURFACE_SIGMAS[1], so that the network also sees
distances a little way off the surface (where sphere tracing takes its steps).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ngvk.apps.sdf import shapes
from ngvk.engine.errors import NgvkError

SHAPE_PREFIX = "shape:"
MARGIN = 0.1  # of the unit cube, left free on every side of a normalised mesh
SURFACE_SIGMAS = (1.0 / 1024, 1.0 / 128)  # standard deviations of the offsets off the surface


@dataclass
class SdfData:
    """A signed distance function on the unit cube and how to sample its surface."""

    source: str  # "shape:NAME" or the mesh file
    distance_function: object  # positions [N, 3] in the unit cube -> signed distances [N] (negative inside)
    surface_sampler: object  # (n, rng) -> n points on the surface, [n, 3]
    transform: dict = field(default_factory=dict)  # meshes: {"scale": s, "offset": [x, y, z]}, unit = mesh * s + offset
    mesh: object = None  # the normalised trimesh.Trimesh, for meshes

    def ground_height(self) -> float:
        """Where the ground plane of the renders lies: the lowest of 2^16 surface points (seed 0),
        so the object stands on it (the same for the model and the reference render)."""
        return float(np.min(self.surface_sampler(1 << 16, np.random.default_rng(0))[:, 1]))

    def distance(self, positions: np.ndarray) -> np.ndarray:
        return np.asarray(self.distance_function(np.asarray(positions, dtype=np.float64)), dtype=np.float64)

    def training_samples(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(positions [n, 3] float32, signed distances [n] float32), in instant-ngp's proportions."""
        n_uniform = n // 8
        n_exact = n // 2
        n_offset = n - n_uniform - n_exact
        uniform = rng.random((n_uniform, 3))
        exact = self.surface_sampler(n_exact, rng)
        sigmas = np.where(np.arange(n_offset) < n_offset // 2, SURFACE_SIGMAS[0], SURFACE_SIGMAS[1])
        offset = np.clip(self.surface_sampler(n_offset, rng) + rng.normal(size=(n_offset, 3)) * sigmas[:, None], 0, 1)
        positions = np.concatenate([uniform, exact, offset])
        distances = np.concatenate([self.distance(uniform), np.zeros(n_exact), self.distance(offset)])
        return positions.astype(np.float32), distances.astype(np.float32)


def load_sdf_data(source: str) -> SdfData:
    """`shape:NAME` or a mesh file, with a one-line NgvkError for anything unusable."""
    if source.startswith(SHAPE_PREFIX):
        name = source[len(SHAPE_PREFIX):]
        if name not in shapes.SHAPES:
            raise NgvkError(f"no built-in shape {name!r}; the shapes are {', '.join(sorted(shapes.SHAPES))}")
        function = shapes.SHAPES[name]
        return SdfData(source, function, lambda n, rng: sample_implicit_surface(function, n, rng))
    return load_mesh(source)


def sample_implicit_surface(distance, n: int, rng: np.random.Generator, steps: int = 6) -> np.ndarray:
    """n points on the zero level set of `distance`: points drawn uniformly where |distance| is
    small, then moved onto the surface by Newton steps along the (central-difference) gradient.
    Uniform in the band, so close to uniform over the surface area."""
    found, band = [], 0.02
    while sum(len(f) for f in found) < n:
        p = rng.random((max(4 * n, 4096), 3))
        d = distance(p)
        found.append(p[np.abs(d) < band])
    p = np.concatenate(found)[:n]
    eps = 1e-5
    for _ in range(steps):
        d = distance(p)
        gradient = np.stack([(distance(p + e) - distance(p - e)) / (2 * eps) for e in np.eye(3) * eps], axis=-1)
        p = p - d[:, None] * gradient / np.maximum(np.sum(gradient**2, axis=-1, keepdims=True), 1e-12)
    return p


def load_mesh(path: str | Path) -> SdfData:
    """A mesh file, normalised into the unit cube, with libigl's signed distance to it."""
    import igl
    import trimesh

    path = Path(path)
    if not path.is_file():
        raise NgvkError(f"mesh {path} does not exist")
    try:
        # Unprocessed first, so that NaN vertices are seen before trimesh's processing drops them.
        mesh = trimesh.load(path, force="mesh", process=False)
    except Exception as error:  # trimesh raises many kinds for unreadable files
        raise NgvkError(f"{path} is not a mesh trimesh can read ({type(error).__name__}: {error})") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0 or len(mesh.vertices) == 0:
        raise NgvkError(f"mesh {path} has no faces")
    if not np.isfinite(np.asarray(mesh.vertices)).all():
        raise NgvkError(f"mesh {path} has vertices that are NaN or infinite")
    mesh.process()  # merge duplicate vertices (OBJ and STL split them), so that watertightness shows
    vertices, faces = np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    extent = float(np.max(high - low))
    if not extent > 0:
        raise NgvkError(f"mesh {path} has no extent (all its vertices are one point)")
    if not mesh.is_watertight:
        warnings.warn(
            f"mesh {path} is not watertight: the sign of its distance comes from winding numbers, so "
            "points are 'inside' where the mesh mostly encloses them, and open parts have no inside",
            stacklevel=2,
        )
    scale = (1.0 - 2 * MARGIN) / extent
    offset = 0.5 - (low + high) / 2 * scale
    unit = trimesh.Trimesh(vertices * scale + offset, faces, process=False)
    unit_vertices, unit_faces = np.asarray(unit.vertices), np.asarray(unit.faces)

    def distance(positions):
        signed, _, _, _ = igl.signed_distance(np.ascontiguousarray(positions, dtype=np.float64), unit_vertices,
                                              unit_faces, sign_type=igl.SIGNED_DISTANCE_TYPE_FAST_WINDING_NUMBER)
        return signed

    def surface(n, rng):
        points, _ = trimesh.sample.sample_surface(unit, n, seed=int(rng.integers(2**31)))
        return np.asarray(points)

    return SdfData(str(path), distance, surface, {"scale": scale, "offset": offset.tolist()}, unit)
