"""The volume app's data: what a neural volume is fitted to. Every source is a density grid over the
unit cube, with an RGB albedo grid beside it:

- `volume:NAME`: a built-in procedural volume (volumes.py), rasterised at RESOLUTION^3;
- a `.npy` file: a float array [X, Y, Z] of densities (albedo then a constant grey), or
  [X, Y, Z, 4] of density and RGB albedo;
- an OpenVDB `.vdb` file (the format Houdini, Blender and EmberGen write): its float grid named
  `density` (else its first float grid), read through OpenVDB's own Python module where it is
  installed (`openvdb`, or `pyopenvdb` before OpenVDB 11; conda-forge's `openvdb` package has it;
  PyPI has no maintained wheel). The active voxels' bounding box is cut out, centred in a cube
  (the unit cube's aspect is kept, empty space around) and box-filtered down by a whole factor so
  its side is at most VDB_MAX_SIDE voxels. NanoVDB (`.nvdb`, instant-ngp's volume input) has no
  Python reader: OpenVDB's `nanovdb_convert` turns it into a `.vdb`, as the error says.

Densities are extinction coefficients per unit length (non-negative, finite); albedo is in [0, 1].
The grid is sampled trilinearly between voxel centres, which lie at (i + 0.5) / X (and likewise for
y and z), with positions clamped to the centres of the outer voxels: `sample()` is the
specification of the device's sampling (the ground-truth render).

Training samples as instant-ngp draws them for volumes: part uniform in the cube, part where the
density is (voxels drawn in proportion to their density, a uniform point inside each), so the
network sees the cloud's structure and also learns that the rest is empty.
"""

from __future__ import annotations

import tokenize
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ngvk.apps.volume import volumes
from ngvk.engine.errors import NgvkError

VOLUME_PREFIX = "volume:"
RESOLUTION = 128  # of the built-in volumes' grids
DEFAULT_ALBEDO = 0.8  # of a grid given without one
UNIFORM_FRACTION = 0.5  # of the training samples; the rest follow the density
VDB_MAX_SIDE = 256  # voxels per side of a grid read from a .vdb (a dense copy: 64 MiB in float32)
VDB_MODULES = ("openvdb", "pyopenvdb")  # OpenVDB's Python module: its name from OpenVDB 11, and before


@dataclass
class VolumeData:
    """A density grid [X, Y, Z] and an albedo grid [X, Y, Z, 3] over the unit cube."""

    source: str
    density: np.ndarray  # float32 [X, Y, Z], x first
    albedo: np.ndarray  # float32 [X, Y, Z, 3]

    @property
    def majorant(self) -> float:
        """The largest density: a bound of the trilinear interpolation anywhere."""
        return float(self.density.max())

    def grid(self) -> np.ndarray:
        """[X, Y, Z, 4] float32: albedo RGB then density (the device's layout, and the network's
        outputs)."""
        return np.ascontiguousarray(np.concatenate([self.albedo, self.density[..., None]], axis=-1), np.float32)

    def sample(self, positions: np.ndarray) -> np.ndarray:
        """[N, 4]: albedo RGB and density at `positions` [N, 3] in the unit cube, trilinear."""
        return sample_grid(self.grid(), positions)

    def training_samples(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(positions [n, 3], targets [n, 4]) float32: UNIFORM_FRACTION uniform, the rest in voxels
        drawn in proportion to their density."""
        n_uniform = int(n * UNIFORM_FRACTION)
        uniform = rng.random((n_uniform, 3))
        shape = np.array(self.density.shape)
        weights = self.density.reshape(-1).astype(np.float64)
        total = weights.sum()
        if total > 0:
            voxels = rng.choice(weights.size, size=n - n_uniform, p=weights / total)
            index = np.stack(np.unravel_index(voxels, self.density.shape), axis=-1)
            dense = (index + rng.random((n - n_uniform, 3))) / shape
        else:
            dense = rng.random((n - n_uniform, 3))
        positions = np.concatenate([uniform, dense]).astype(np.float32)
        return positions, self.sample(positions).astype(np.float32)


def sample_grid(grid: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Trilinear interpolation of grid [X, Y, Z, C] between voxel centres at `positions` [N, 3]."""
    shape = np.array(grid.shape[:3])
    p = np.clip(np.asarray(positions, np.float64) * shape - 0.5, 0.0, shape - 1.0)
    lower = np.minimum(np.floor(p).astype(np.int64), shape - 1)
    upper = np.minimum(lower + 1, shape - 1)
    f = p - lower
    out = np.zeros((len(p), grid.shape[3]))
    for corner in range(8):
        pick = [(corner >> axis) & 1 for axis in range(3)]
        index = tuple(np.where(pick[axis], upper[:, axis], lower[:, axis]) for axis in range(3))
        weight = np.prod([np.where(pick[axis], f[:, axis], 1 - f[:, axis]) for axis in range(3)], axis=0)
        out += weight[:, None] * grid[index]
    return out


def load_volume_data(source: str) -> VolumeData:
    """`volume:NAME` or a `.npy` grid, with a one-line NgvkError for anything unusable."""
    if source.startswith(VOLUME_PREFIX):
        name = source[len(VOLUME_PREFIX):]
        if name not in volumes.VOLUMES:
            raise NgvkError(f"no built-in volume {name!r}; the volumes are {', '.join(sorted(volumes.VOLUMES))}")
        density, albedo = cached_rasterise(name, RESOLUTION)
        return VolumeData(source, density, albedo)
    suffix = Path(source).suffix.lower()
    if suffix == ".vdb":
        return load_vdb(source)
    if suffix == ".nvdb":
        raise NgvkError(f"{source}: NanoVDB has no Python reader; convert it to OpenVDB with OpenVDB's tool "
                        f"(nanovdb_convert {source} {Path(source).with_suffix('.vdb').name}) and give the .vdb")
    return load_grid(source)


def _openvdb():
    import importlib

    for name in VDB_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise NgvkError("reading .vdb needs OpenVDB's Python module (conda install -c conda-forge openvdb; PyPI has "
                    "none), or convert the grid to .npy elsewhere (docs/volume.md)")


def load_vdb(path: str | Path) -> VolumeData:
    """The density grid of an OpenVDB file (module docstring): float32, cut to its active voxels,
    centred in a cube, at most VDB_MAX_SIDE per side; albedo a constant grey."""
    path = Path(path)
    if not path.is_file():
        raise NgvkError(f"volume {path} does not exist")
    vdb = _openvdb()
    try:
        grids, _ = vdb.readAll(str(path))
    except Exception as error:  # the module raises its own types (IOError, KeyError, RuntimeError)
        raise NgvkError(f"{path} is not an OpenVDB file OpenVDB can read ({error})") from None
    floats = [g for g in grids if type(g).__name__.startswith(("FloatGrid", "DoubleGrid"))]
    if not floats:
        kinds = ", ".join(sorted({type(g).__name__ for g in grids})) or "none"
        raise NgvkError(f"{path} has no float grid to take as density (its grids: {kinds})")
    grid = next((g for g in floats if g.name == "density"), floats[0])
    low, high = grid.evalActiveVoxelBoundingBox()
    shape = tuple(int(h) - int(l) + 1 for l, h in zip(low, high))
    if min(shape) < 1 or grid.activeVoxelCount() == 0:
        raise NgvkError(f"{path}: grid {grid.name!r} has no active voxels")
    side = max(shape)
    factor = -(-side // VDB_MAX_SIDE)  # the whole factor that brings the side under the cap
    side = -(-side // factor) * factor
    dense = np.zeros((side,) * 3, np.float32)
    start = [(side - n) // 2 for n in shape]
    box = np.zeros(shape, np.float32)
    grid.copyToArray(box, ijk=tuple(int(v) for v in low))
    dense[start[0]:start[0] + shape[0], start[1]:start[1] + shape[1], start[2]:start[2] + shape[2]] = box
    if factor > 1:
        n = side // factor
        dense = dense.reshape(n, factor, n, factor, n, factor).mean(axis=(1, 3, 5))
    if not np.isfinite(dense).all():
        raise NgvkError(f"{path}: grid {grid.name!r} holds NaN or infinite values")
    dense = np.maximum(dense, 0.0)  # a level set's outside is negative: no density there
    if not dense.max() > 0:
        raise NgvkError(f"{path}: grid {grid.name!r} holds no positive density")
    albedo = np.full(dense.shape + (3,), DEFAULT_ALBEDO, np.float32)
    return VolumeData(str(path), np.ascontiguousarray(dense, np.float32), albedo)


def cached_rasterise(name: str, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """volumes.rasterise(), kept on disk beside the compiled shaders (about 10 s to compute, read
    back in a fraction of that), keyed by volumes.py's source so that a change recomputes it."""
    import hashlib

    from ngvk.engine.files import write_atomically
    from ngvk.engine.gpu.compiler import cache_dir

    key = hashlib.sha256(Path(volumes.__file__).read_bytes()).hexdigest()[:16]
    path = cache_dir().parent / "volumes" / f"{name}_{resolution}_{key}.npz"
    try:
        with np.load(path) as archive:
            return archive["density"], archive["albedo"]
    except (OSError, ValueError, KeyError, EOFError):
        pass
    density, albedo = volumes.rasterise(name, resolution)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)

        def write(temporary):
            with open(temporary, "wb") as out:
                np.savez(out, density=density, albedo=albedo)

        write_atomically(path, write)
    except OSError:
        pass  # a cache that cannot be written costs only time
    return density, albedo


def load_grid(path: str | Path) -> VolumeData:
    """A density grid from a .npy file: [X, Y, Z], or [X, Y, Z, 4] with RGB albedo after density."""
    path = Path(path)
    if not path.is_file():
        raise NgvkError(f"volume {path} does not exist")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, SyntaxError, tokenize.TokenError, MemoryError) as error:
        # NumPy parses a .npy header with Python's literal parser: a damaged one raises its errors;
        # a damaged shape can ask for more memory than there is.
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise NgvkError(f"{path} is not a .npy array NumPy can read ({reason})") from None
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise NgvkError(f"{path}: a density grid holds real numbers, not {array.dtype}")
    if array.ndim == 4 and array.shape[3] != 4:
        raise NgvkError(f"{path} is {array.shape}: an albedo grid beside the density must make it [X, Y, Z, 4] "
                        f"(density, then RGB)")
    if array.ndim not in (3, 4):
        raise NgvkError(f"{path} has rank {array.ndim}: a density grid is [X, Y, Z] or [X, Y, Z, 4]")
    if min(array.shape[:3]) < 2:
        raise NgvkError(f"{path} is {array.shape}: a density grid needs at least 2 voxels along each axis")
    array = array.astype(np.float32)
    density = array if array.ndim == 3 else array[..., 0]
    if not np.isfinite(array).all():
        raise NgvkError(f"{path} holds NaN or infinite values")
    if (density < 0).any():
        raise NgvkError(f"{path} holds negative densities (the smallest is {float(density.min()):.4g})")
    if not density.max() > 0:
        raise NgvkError(f"{path} is empty: every density is 0")
    if array.ndim == 4:
        albedo = array[..., 1:]
        if albedo.min() < 0 or albedo.max() > 1:
            raise NgvkError(f"{path}: albedo must lie in [0, 1] (found {float(albedo.min()):.4g} to "
                            f"{float(albedo.max()):.4g})")
    else:
        albedo = np.full(density.shape + (3,), DEFAULT_ALBEDO, np.float32)
    return VolumeData(str(path), np.ascontiguousarray(density), np.ascontiguousarray(albedo))
