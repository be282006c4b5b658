"""Every inference kernel on the device against its NumPy reference, with the tolerance `ngvk check`
uses: max |gpu - reference| <= 1e-4 * max |reference| (fp32 against float64). The cases are `ngvk
check`'s: 2D and 3D, the three encodings, a hashgrid table that is dense at every level and one that
hashes, random positions plus 0, 1 and points exactly on cell boundaries; every MLP width, depth and
activation; and each kernel again at 1, 7 and 1029 items. Outputs start as NaN (engine/nn/layers.py
run_kernel), so an item a kernel skips fails the comparison."""

import numpy as np
import pytest

from ngvk.engine import check
from ngvk.engine.nn import reference
from ngvk.engine.nn.config import GridConfig, MLPConfig
from ngvk.engine.nn.layers import MLP, GridEncoding, SphericalHarmonics


@pytest.mark.parametrize("name,config", check.grid_cases(), ids=[n for n, _ in check.grid_cases()])
def test_grid_encoding_matches_reference(device, name, config, rng):
    result = check.check_grid(device, name, config, rng)
    assert result.passed, result


def test_spherical_harmonics_match_reference(device, rng):
    result = check.check_sh(device, rng)
    assert result.passed, result


@pytest.mark.parametrize("name,config", check.mlp_cases(), ids=[n for n, _ in check.mlp_cases()])
def test_mlp_matches_reference(device, name, config, rng):
    result = check.check_mlp(device, name, config, rng)
    assert result.passed, result


SHAPES = check.mlp_cases()[:8]  # every width and every depth


@pytest.mark.parametrize("name,config", SHAPES, ids=[n for n, _ in SHAPES])
def test_mlp_with_one_sample_per_invocation_matches_reference(device, name, config, rng, monkeypatch):
    # The variant GPUs run (engine/nn/layers.py items_per_invocation); lavapipe defaults to 8.
    monkeypatch.setenv("NGVK_MLP_ITEMS", "1")
    result = check.check_mlp(device, name, config, rng)
    assert result.passed, result


def test_check_positions_cover_the_edge_cases(rng):
    config = GridConfig("hashgrid", 3, 4, 2, 8, 1.5, 14)
    positions = check.grid_positions(config, rng)
    assert (positions == 0).all(axis=1).any() and (positions == 1).all(axis=1).any()
    # Boundary points: x * scale + 0.5 lands on an integer (up to float32 rounding) on some level.
    on_boundary = np.zeros(len(positions), bool)
    for scale in config.scales():
        p = positions.astype(np.float64) * scale + 0.5
        on_boundary |= (np.abs(p - np.round(p)) < 1e-4).all(axis=1)
    assert on_boundary.sum() >= 16 * config.n_levels


def test_grid_encoding_outside_the_unit_cube_matches_reference(device, rng):
    # Positions slightly outside [0, 1] give negative or overflowing cells; both sides wrap alike.
    config = GridConfig("hashgrid", 2, 4, 2, 8, 1.5, 10)
    params = rng.uniform(-1, 1, (config.n_entries, 2)).astype(np.float32)
    positions = rng.uniform(-0.2, 1.2, (2000, 2)).astype(np.float32)
    encoding = GridEncoding(device, config, params)
    try:
        result = encoding.encode(positions)
    finally:
        encoding.close()
    np.testing.assert_allclose(result, reference.grid_encode(config, params, positions), atol=1e-5)


@pytest.mark.parametrize("n", [1, 7, 1029])
def test_kernels_at_awkward_sizes(device, rng, n):
    # Counts that are not multiples of the samples per invocation (8 on lavapipe) or the workgroup.
    grid = GridConfig("hashgrid", 3, 4, 2, 8, 1.5, 10)
    params = rng.uniform(-1, 1, (grid.n_entries, 2)).astype(np.float32)
    positions = rng.random((n, 3), dtype=np.float32)
    encoding = GridEncoding(device, grid, params)
    try:
        encoded = encoding.encode(positions)
    finally:
        encoding.close()
    np.testing.assert_allclose(encoded, reference.grid_encode(grid, params, positions), atol=1e-5)

    directions = check.unit_directions(rng, n)[:n]
    np.testing.assert_allclose(SphericalHarmonics(device).encode(directions), reference.sh_encode(directions), atol=1e-5)

    network = MLPConfig(grid.n_output, 3, 64, 2, "sigmoid")
    weights = network.init_params(rng)
    mlp = MLP(device, network, weights)
    try:
        outputs = mlp.forward(encoded)
    finally:
        mlp.close()
    np.testing.assert_allclose(outputs, reference.mlp_forward(network, weights, encoded), atol=1e-5)


@pytest.mark.parametrize("name,config", check.grid_cases(), ids=[n for n, _ in check.grid_cases()])
def test_grid_jacobian_matches_reference(device, name, config, rng):
    # d encoded / d position (analytic SDF normals), with the positions `ngvk check` uses.
    params = rng.uniform(-1.0, 1.0, size=(config.n_entries, config.n_features)).astype(np.float32)
    positions = check.grid_positions(config, rng, 1029)
    encoding = GridEncoding(device, config, params)
    try:
        result = encoding.jacobian(positions)
    finally:
        encoding.close()
    expected = reference.grid_encode_jacobian(config, params, positions)
    assert not np.isnan(result).any()
    error = np.max(np.abs(result - expected))
    assert error <= check.RELATIVE_TOLERANCE * np.max(np.abs(expected)), f"max error {error:.3g}"
