"""`ngvk check`: the inference kernels on the selected device against their NumPy references.

A user on a new GPU or driver runs this first. It covers the inference kernels (grid encoding, spherical
harmonics, MLP forward); the training kernels are checked by the test suite. Each case draws random
inputs plus the awkward ones (0, 1, points exactly on grid-cell boundaries; a sample count that is not
a multiple of the samples per invocation or of the workgroup), runs the kernel on output buffers
filled with NaN (so an output it skips fails), and compares with the reference:
the largest absolute error must be at most `RELATIVE_TOLERANCE * max|reference|` (fp32 arithmetic
against a float64 reference). The tests run the same cases, so `check` and the suite agree.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from ngvk.engine.nn import reference
from ngvk.engine.nn.config import PAPER_NETWORKS, GridConfig, MLPConfig, grid_preset
from ngvk.engine.nn.layers import MLP, GridEncoding, SphericalHarmonics

RELATIVE_TOLERANCE = 1e-4
SAMPLES = 4093  # a prime: not a multiple of any invocation or workgroup size


@dataclass
class CheckResult:
    kernel: str
    case: str
    max_error: float
    tolerance: float
    seconds: float

    @property
    def passed(self) -> bool:
        return bool(self.max_error <= self.tolerance)

    def as_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def compare(kernel: str, case: str, result: np.ndarray, expected: np.ndarray, seconds: float) -> CheckResult:
    """The largest absolute error and its tolerance, relative to the reference's largest magnitude."""
    expected = np.asarray(expected, dtype=np.float64)
    error = float(np.max(np.abs(np.asarray(result, dtype=np.float64) - expected))) if expected.size else 0.0
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    return CheckResult(kernel, case, error, RELATIVE_TOLERANCE * max(scale, 1e-30), seconds)


def grid_positions(config: GridConfig, rng: np.random.Generator, n: int = SAMPLES) -> np.ndarray:
    """Random positions in [0, 1]^D, then the corners 0 and 1 and points on every level's cell
    boundaries (where x * scale + 0.5 is an integer)."""
    random = rng.random((n, config.n_dims), dtype=np.float32)
    corners = np.array([[0.0] * config.n_dims, [1.0] * config.n_dims], dtype=np.float32)
    boundaries = []
    for scale in config.scales():
        k = rng.integers(1, int(scale) + 1, size=(16, config.n_dims))
        boundaries.append(((k - 0.5) / scale).astype(np.float32))
    return np.concatenate([random, corners, np.clip(np.concatenate(boundaries), 0, 1)])


def grid_cases() -> list[tuple[str, GridConfig]]:
    """Every encoding in 2D and 3D; the hashgrid both with a table that is dense at every level and
    with one small enough to hash."""
    cases = []
    for dims in (2, 3):
        dense_everywhere = GridConfig("hashgrid", dims, 4, 2, 8, 1.5, 22 if dims == 3 else 16)
        assert not dense_everywhere.level_table()[:, 4].any()
        cases.append((f"hashgrid {dims}D dense table", dense_everywhere))
        hashed = grid_preset("hashgrid", dims, finest_resolution=512, log2_table_size=14)
        assert hashed.level_table()[:, 4].any()
        cases.append((f"hashgrid {dims}D hashed T=2^14", hashed))
        cases.append((f"densegrid {dims}D", grid_preset("densegrid", dims)))
        cases.append((f"lowres {dims}D", grid_preset("lowres", dims)))
    return cases


def unit_directions(rng: np.random.Generator, n: int = SAMPLES) -> np.ndarray:
    d = rng.normal(size=(n, 3))
    axes = np.concatenate([np.eye(3), -np.eye(3)])
    d = np.concatenate([d / np.linalg.norm(d, axis=1, keepdims=True), axes])
    return d.astype(np.float32)


def mlp_cases() -> list[tuple[str, MLPConfig]]:
    """Every width, every output activation and every depth from 1 to 8 (lib/mlp.glsl's limit), the
    four apps' networks, and odd sizes (7 inputs: the weights are then read one at a time, not four;
    lib/mlp.glsl)."""
    return [
        ("width 16, 1 hidden, exp", MLPConfig(32, 4, 16, 1, "exp")),
        ("width 32, 3 hidden, relu", MLPConfig(32, 4, 32, 3, "relu")),
        ("width 64, 4 hidden, sigmoid", MLPConfig(32, 4, 64, 4, "sigmoid")),
        ("width 128, 2 hidden, none", MLPConfig(32, 4, 128, 2, "none")),
        ("width 16, 5 hidden, relu", MLPConfig(32, 4, 16, 5, "relu")),
        ("width 32, 6 hidden, none", MLPConfig(32, 4, 32, 6, "none")),
        ("width 16, 7 hidden, sigmoid", MLPConfig(16, 3, 16, 7, "sigmoid")),
        ("width 16, 8 hidden, exp", MLPConfig(32, 4, 16, 8, "exp")),
        *PAPER_NETWORKS.items(),
        ("odd sizes 7->16->5", MLPConfig(7, 5, 16, 1, "none")),
    ]


def check_grid(device, name: str, config: GridConfig, rng) -> CheckResult:
    params = rng.uniform(-1.0, 1.0, size=(config.n_entries, config.n_features)).astype(np.float32)
    positions = grid_positions(config, rng)
    start = time.perf_counter()
    encoding = GridEncoding(device, config, params)
    try:
        result = encoding.encode(positions)
    finally:
        encoding.close()
    seconds = time.perf_counter() - start
    return compare("grid_encode", name, result, reference.grid_encode(config, params, positions), seconds)


def check_sh(device, rng) -> CheckResult:
    directions = unit_directions(rng)
    start = time.perf_counter()
    result = SphericalHarmonics(device).encode(directions)
    seconds = time.perf_counter() - start
    return compare("sh_encode", "degree 4", result, reference.sh_encode(directions), seconds)


def check_mlp(device, name: str, config: MLPConfig, rng) -> CheckResult:
    params = config.init_params(rng)
    inputs = rng.normal(size=(SAMPLES, config.n_input)).astype(np.float32)
    if config.output_activation == "exp":
        params = params * 0.25  # keep exp() in a range where fp32 relative error is meaningful
    start = time.perf_counter()
    mlp = MLP(device, config, params)
    try:
        result = mlp.forward(inputs)
    finally:
        mlp.close()
    seconds = time.perf_counter() - start
    return compare("mlp_forward", name, result, reference.mlp_forward(config, params, inputs), seconds)


def run_checks(device, seed: int = 0, progress=None) -> list[CheckResult]:
    """Every kernel case; `progress(result)` is called after each one."""
    rng = np.random.default_rng(seed)
    jobs = [lambda n=n, c=c: check_grid(device, n, c, rng) for n, c in grid_cases()]
    jobs.append(lambda: check_sh(device, rng))
    jobs += [lambda n=n, c=c: check_mlp(device, n, c, rng) for n, c in mlp_cases()]
    results = []
    for job in jobs:
        result = job()
        results.append(result)
        if progress:
            progress(result)
    return results
