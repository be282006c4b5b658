"""Configurations of the network building blocks: grid encodings, spherical harmonics, the MLP.

These are plain data (frozen dataclasses) shared by the NumPy reference, the GPU layers and the
model files. `GridConfig.level_table()` computes each level's scale, resolution, parameter offset and
whether it hashes, in float32 exactly as tcnn's GridEncoding does; both the reference and the shaders
read that table, so they cannot disagree about the grid.

The three encodings of the paper (instant-ngp's configs; see shared/reference/ngp-spec.md, section 2):

| encoding   | levels | features | table      | base resolution | per-level scale           |
|------------|--------|----------|------------|-----------------|---------------------------|
| hashgrid   | 16     | 2        | 2^19       | 16              | auto: finest / base over L-1 |
| densegrid  | 8      | 2        | dense      | 16              | 1.405 (16 -> 173)         |
| lowres     | 2      | 8        | dense      | 128             | 1.0                       |
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

ENCODINGS = ("hashgrid", "densegrid", "lowres")
ACTIVATIONS = ("none", "relu", "sigmoid", "exp")
MLP_WIDTHS = (16, 32, 64, 128)
MAX_HIDDEN_LAYERS = 8  # the forward pass is unrolled up to this depth (shaders/lib/mlp.glsl)
# tcnn's coherent prime hash: xor of cell coordinate times prime per dimension.
HASH_PRIMES = (1, 2654435761, 805459861)
SH_DEGREE = 4
SH_OUTPUTS = SH_DEGREE * SH_DEGREE

# Level table columns (one row of uint32 per level; `scale` holds float32 bits).
LEVEL_OFFSET, LEVEL_SIZE, LEVEL_RESOLUTION, LEVEL_SCALE, LEVEL_HASHED = range(5)
LEVEL_COLUMNS = 5


@dataclass(frozen=True)
class GridConfig:
    """A multi-resolution grid encoding of `n_dims`-D positions in [0, 1]^n_dims."""

    encoding: str  # "hashgrid" | "densegrid" | "lowres"
    n_dims: int
    n_levels: int
    n_features: int
    base_resolution: int
    per_level_scale: float
    log2_table_size: int | None = None  # hashgrid only: T = 2^log2_table_size entries per level

    def __post_init__(self):
        if self.encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {self.encoding!r}; choose one of {', '.join(ENCODINGS)}")
        # Whole numbers in the ranges the level table's uint32 columns and a device can hold (a
        # model file's header may say anything).
        for name, value, top in (("n_dims", self.n_dims, 3), ("n_levels", self.n_levels, 64),
                                 ("n_features", self.n_features, 64), ("base_resolution", self.base_resolution, 1 << 20),
                                 ("log2_table_size", self.log2_table_size or 1, 30)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= top:
                raise ValueError(f"{name} must be a whole number from 1 to {top}, not {value!r}")
        if isinstance(self.per_level_scale, bool) or not isinstance(self.per_level_scale, (int, float)) \
                or not 1 <= self.per_level_scale <= 64:
            raise ValueError(f"per_level_scale must be a number from 1 to 64, not {self.per_level_scale!r}")
        if self.n_dims not in (2, 3):
            raise ValueError(f"grid encodings take 2D or 3D positions, not {self.n_dims}D")
        if self.encoding == "hashgrid" and not self.log2_table_size:
            raise ValueError("a hashgrid needs log2_table_size")
        if self.n_levels < 1 or self.n_features < 1 or self.base_resolution < 2 or self.per_level_scale < 1:
            raise ValueError(f"invalid grid configuration {self}")

    @property
    def hashed(self) -> bool:
        return self.encoding == "hashgrid"

    @property
    def n_output(self) -> int:
        return self.n_levels * self.n_features

    def level_table(self) -> np.ndarray:
        """[n_levels, 5] uint32: entry offset, entries, resolution, scale (float32 bits), hashed."""
        table = np.zeros((self.n_levels, LEVEL_COLUMNS), dtype=np.uint32)
        log2_scale = np.float32(math.log2(self.per_level_scale))
        offset = 0
        for level in range(self.n_levels):
            # tcnn: exp2f(level * log2_per_level_scale) * base_resolution - 1, all in float32.
            scale = np.float32(np.exp2(np.float32(level) * log2_scale)) * np.float32(self.base_resolution) - np.float32(1)
            resolution = int(np.ceil(scale)) + 1
            dense = resolution**self.n_dims
            entries = min(dense, 2**31 - 1)
            entries = (entries + 7) // 8 * 8  # aligned, as tcnn does
            if self.hashed:
                entries = min(entries, 2**self.log2_table_size)
            table[level] = (offset, entries, resolution, np.float32(scale).view(np.uint32), dense > entries)
            offset += entries
        return table

    @property
    def n_entries(self) -> int:
        table = self.level_table()
        return int(table[-1, LEVEL_OFFSET]) + int(table[-1, LEVEL_SIZE])

    @property
    def n_params(self) -> int:
        return self.n_entries * self.n_features

    def scales(self) -> np.ndarray:
        return self.level_table()[:, LEVEL_SCALE].view(np.float32)

    def summary(self) -> str:
        """One line in instant-ngp's style: `hashgrid: L=16 F=2 T=2^19 Nmin=16 b=1.3819 (3D)`."""
        table = f"T=2^{self.log2_table_size} " if self.hashed else ""
        return (
            f"{self.encoding}: L={self.n_levels} F={self.n_features} {table}Nmin={self.base_resolution} "
            f"b={self.per_level_scale:.4f} ({self.n_dims}D, {self.n_params:,} params)"
        )

    def to_dict(self) -> dict:
        return asdict(self)

    def init_params(self, rng: np.random.Generator) -> np.ndarray:
        """[n_entries, n_features] float32, uniform in [-1e-4, 1e-4] as tcnn initialises grids."""
        return rng.uniform(-1e-4, 1e-4, size=(self.n_entries, self.n_features)).astype(np.float32)


def auto_per_level_scale(n_levels: int, base_resolution: int, finest_resolution: float) -> float:
    """instant-ngp's b = exp(ln(finest / base) / (L - 1))."""
    if n_levels <= 1:
        return 1.0
    return math.exp(math.log(finest_resolution / base_resolution) / (n_levels - 1))


def grid_preset(encoding: str, n_dims: int, finest_resolution: float = 2048, log2_table_size: int = 19) -> GridConfig:
    """The paper's three encodings; `finest_resolution` sets the hashgrid's per-level scale."""
    if encoding == "hashgrid":
        return GridConfig(
            "hashgrid", n_dims, 16, 2, 16, auto_per_level_scale(16, 16, finest_resolution), log2_table_size
        )
    if encoding == "densegrid":
        return GridConfig("densegrid", n_dims, 8, 2, 16, 1.405)
    if encoding == "lowres":
        return GridConfig("lowres", n_dims, 2, 8, 128, 1.0)
    raise ValueError(f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")


# The paper's 3D presets made small enough to ship (a few MB each in float16), for the SDF and
# volume apps' models; every change is documented in assets/README.md:
#   hashgrid   T = 2^16 instead of 2^19 (the finest levels hash more; 3.6 MB instead of 27 MB)
#   densegrid  6 levels instead of 8 (finest 88^3 instead of 173^3; 4.3 MB instead of 34 MB)
#   lowres     2 levels of 48^3 instead of 128^3 (3.5 MB instead of 67 MB)
SHIPPED_3D_LOG2_TABLE = 16
SHIPPED_3D_DENSEGRID_LEVELS = 6
SHIPPED_3D_LOWRES_RESOLUTION = 48


def shipped_3d_preset(encoding: str) -> "GridConfig":
    """The 3D grid of a shipped model of `encoding` (above)."""
    grid = grid_preset(encoding, 3, log2_table_size=SHIPPED_3D_LOG2_TABLE)
    if encoding == "densegrid":
        return GridConfig("densegrid", 3, SHIPPED_3D_DENSEGRID_LEVELS, grid.n_features, grid.base_resolution,
                          grid.per_level_scale)
    if encoding == "lowres":
        return GridConfig("lowres", 3, grid.n_levels, grid.n_features, SHIPPED_3D_LOWRES_RESOLUTION,
                          grid.per_level_scale)
    return grid


@dataclass(frozen=True)
class MLPConfig:
    """A fully fused MLP in tcnn's form: no biases, ReLU hidden layers of one width."""

    n_input: int
    n_output: int
    width: int = 64
    n_hidden_layers: int = 2
    output_activation: str = "none"

    def __post_init__(self):
        for name, value in (("n_input", self.n_input), ("n_output", self.n_output),
                            ("n_hidden_layers", self.n_hidden_layers)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 4096:
                raise ValueError(f"{name} must be a whole number from 1 to 4096, not {value!r}")
        if self.width not in MLP_WIDTHS:
            raise ValueError(f"MLP width must be one of {MLP_WIDTHS}, not {self.width}")
        if not 1 <= self.n_hidden_layers <= MAX_HIDDEN_LAYERS:
            raise ValueError(f"an MLP has 1 to {MAX_HIDDEN_LAYERS} hidden layers (shaders/lib/mlp.glsl), not {self.n_hidden_layers}")
        if self.output_activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.output_activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        if self.n_input < 1 or self.n_output < 1:
            raise ValueError(f"invalid MLP shape {self}")

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(rows, columns) of each weight matrix, input layer first: y = W @ x."""
        shapes = [(self.width, self.n_input)]
        shapes += [(self.width, self.width)] * (self.n_hidden_layers - 1)
        shapes.append((self.n_output, self.width))
        return shapes

    @property
    def n_params(self) -> int:
        return sum(r * c for r, c in self.layer_shapes())

    def flops_per_sample(self) -> int:
        """Multiply-adds times two, over all layers."""
        return 2 * self.n_params

    def summary(self) -> str:
        hidden = " -> ".join([str(self.width)] * self.n_hidden_layers)
        return f"MLP {self.n_input} -> {hidden} -> {self.n_output} ({self.output_activation}, {self.n_params:,} params)"

    def to_dict(self) -> dict:
        return asdict(self)

    def init_params(self, rng: np.random.Generator) -> np.ndarray:
        """Flat float32 weights, Xavier-uniform per layer (tcnn's default initialisation)."""
        parts = []
        for rows, cols in self.layer_shapes():
            bound = math.sqrt(6.0 / (rows + cols))
            parts.append(rng.uniform(-bound, bound, size=rows * cols))
        return np.concatenate(parts).astype(np.float32)


# The networks of the paper's four apps after a 32-wide encoding (shared/reference/ngp-spec.md,
# section 3; instant-ngp's configs): what `ngvk check` and `ngvk bench kernels` run. NeRF's density
# network has no output activation: the density is exp() of its first output, applied where the
# samples are composited, not in the MLP.
PAPER_NETWORKS = {
    "image 32-64-64-3": MLPConfig(32, 3, 64, 2, "none"),
    "sdf 32-64-64-1": MLPConfig(32, 1, 64, 2, "none"),
    "volume 32-64-64-4 relu": MLPConfig(32, 4, 64, 2, "relu"),
    "nerf density 32-64-16": MLPConfig(32, 16, 64, 1, "none"),
    "nerf color 32-64-64-3 sigmoid": MLPConfig(32, 3, 64, 2, "sigmoid"),
}
