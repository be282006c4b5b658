"""Built-in procedural volumes of the volume app (`volume:NAME`): density and albedo fields over the
unit cube, made of fractal (fBm) value noise, rasterised into grids (data.py).

- `cloud`: a cumulus-like cloud: a dense core inside a flattened, noise-eroded body whose domain is
  warped by a second noise, which draws out wisps at its edge and cuts holes through it.
- `nebula`: a ring of smoke around the y axis, thin and turbulent, its albedo shading from warm to
  cold around the ring.

Noise: value noise on a seeded integer lattice (LATTICE_SEED: the volumes are the same on every
machine), trilinear with a smoothstep fade, summed over octaves of doubling frequency and halving
amplitude.
"""

from __future__ import annotations

import numpy as np

LATTICE_SEED = 20231  # fixed: a built-in volume is data, the same everywhere
LATTICE = 64  # lattice points per axis (the noise repeats after this many cells)
DENSITY_SCALE = 60.0  # extinction per unit length where a field reaches 1


def _lattice(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((LATTICE, LATTICE, LATTICE)) * 2.0 - 1.0


def value_noise(p: np.ndarray, lattice: np.ndarray) -> np.ndarray:
    """Value noise in [-1, 1] at points p [..., 3] (lattice cells of size 1)."""
    cell = np.floor(p)
    f = p - cell
    f = f * f * (3.0 - 2.0 * f)  # smoothstep fade: no creases at cell faces
    i = cell.astype(np.int64) % LATTICE
    out = np.zeros(p.shape[:-1])
    for corner in range(8):
        pick = [(corner >> axis) & 1 for axis in range(3)]
        index = tuple((i[..., axis] + pick[axis]) % LATTICE for axis in range(3))
        weight = np.prod([f[..., axis] if pick[axis] else 1.0 - f[..., axis] for axis in range(3)], axis=0)
        out += weight * lattice[index]
    return out


def fbm(p: np.ndarray, octaves: int, lattice: np.ndarray) -> np.ndarray:
    """Fractal sum of value noise: octaves of doubling frequency, halving amplitude, about [-1, 1]."""
    total, amplitude, norm = np.zeros(p.shape[:-1]), 1.0, 0.0
    for octave in range(octaves):
        total += amplitude * value_noise(p * (2.0**octave) + 17.0 * octave, lattice)
        norm += amplitude
        amplitude *= 0.5
    return total / norm


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def cloud(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(density [...], albedo [..., 3]) of the cloud at points p [..., 3] of the unit cube."""
    lattice = _lattice(LATTICE_SEED)
    q = p - [0.5, 0.45, 0.5]
    warp = np.stack([fbm(p * 3.0 + offset, 3, lattice) for offset in (0.0, 31.7, 63.1)], axis=-1)
    w = q + 0.07 * warp  # the warp draws wisps out of the body's edge
    body = 1.0 - np.linalg.norm(w / [0.34, 0.2, 0.3], axis=-1)
    detail = fbm(p * 5.0 + 5.3, 5, lattice)
    field = body + 0.55 * detail - 0.05
    holes = _smoothstep(0.25, 0.45, fbm(p * 7.0 + 91.0, 2, lattice))  # tunnels through the body
    field = field - 0.8 * holes
    core = _smoothstep(0.12, 0.0, np.linalg.norm(q / [1.0, 0.8, 1.0], axis=-1))
    density = DENSITY_SCALE * (np.clip(field, 0.0, None) ** 1.5 + 0.8 * core)
    shade = np.clip(0.5 + 0.5 * detail, 0.0, 1.0)[..., None]
    albedo = (1 - shade) * [0.78, 0.82, 0.9] + shade * [0.95, 0.93, 0.9]
    return density, albedo


def nebula(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(density, albedo) of the smoke ring at points p [..., 3] of the unit cube."""
    lattice = _lattice(LATTICE_SEED + 1)
    q = p - 0.5
    around = np.arctan2(q[..., 2], q[..., 0])
    tube = np.hypot(np.linalg.norm(q[..., [0, 2]], axis=-1) - 0.28, q[..., 1])
    turbulence = fbm(p * 6.0, 5, lattice)
    field = 1.0 - tube / 0.11 + 0.7 * turbulence
    density = 0.6 * DENSITY_SCALE * np.clip(field, 0.0, None) ** 2
    t = (0.5 + 0.5 * np.sin(around))[..., None]
    albedo = (1 - t) * [0.95, 0.6, 0.3] + t * [0.45, 0.5, 0.95]
    return density, albedo


VOLUMES = {"cloud": cloud, "nebula": nebula}


def rasterise(name: str, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """(density [R, R, R], albedo [R, R, R, 3]) float32 of volume `name` at the voxel centres,
    (i + 0.5) / R along x, y and z (x first)."""
    axis = (np.arange(resolution) + 0.5) / resolution
    p = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1)
    density, albedo = VOLUMES[name](p)
    return density.astype(np.float32), np.clip(albedo, 0.0, 1.0).astype(np.float32)
