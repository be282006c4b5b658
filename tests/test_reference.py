"""The NumPy references and configurations on their own (no Vulkan): the specification is checked
against independent facts (exact interpolation of linear fields, the hash formula, orthonormality of
the spherical harmonics, explicit loops for the MLP), not against itself."""

import math

import numpy as np
import pytest

from engine import reference
from engine.config import (
    LEVEL_HASHED,
    LEVEL_OFFSET,
    LEVEL_RESOLUTION,
    LEVEL_SIZE,
    GridConfig,
    MLPConfig,
    grid_preset,
)


def test_hashgrid_preset_matches_instant_ngp():
    config = grid_preset("hashgrid", 3, finest_resolution=2048, log2_table_size=19)
    assert config.per_level_scale == pytest.approx(1.3819, abs=1e-4)
    table = config.level_table()
    assert table[0, LEVEL_RESOLUTION] == 16  # scale 15 -> ceil + 1
    assert config.scales()[0] == 15.0
    # Levels are contiguous, dense sizes are multiples of 8, no level exceeds T.
    assert np.all(table[1:, LEVEL_OFFSET] == np.cumsum(table[:-1, LEVEL_SIZE]))
    assert np.all(table[:, LEVEL_SIZE] <= 2**19)
    for row in table:
        dense = int(row[LEVEL_RESOLUTION]) ** 3
        assert bool(row[LEVEL_HASHED]) == (dense > 2**19)
        if not row[LEVEL_HASHED]:
            assert row[LEVEL_SIZE] == (dense + 7) // 8 * 8
    assert table[:, LEVEL_HASHED].any() and not table[:4, LEVEL_HASHED].any()


def test_densegrid_presets():
    dense = grid_preset("densegrid", 3)
    assert dense.level_table()[-1, LEVEL_RESOLUTION] == 173  # instant-ngp's 16 -> 173
    assert not dense.level_table()[:, LEVEL_HASHED].any()
    lowres = grid_preset("lowres", 2)
    assert list(lowres.level_table()[:, LEVEL_RESOLUTION]) == [128, 128]
    assert lowres.n_output == 16


def test_grid_reference_reproduces_a_linear_field_exactly(rng):
    # d-linear interpolation of grid values a . p + c reproduces a . (x * scale + 0.5) + c.
    for dims in (2, 3):
        config = GridConfig("densegrid", dims, 1, 1, 9, 1.0)
        res = int(config.level_table()[0, LEVEL_RESOLUTION])
        a, c = rng.normal(size=dims), 0.25
        points = np.stack(np.meshgrid(*[np.arange(res)] * dims, indexing="ij"), -1).reshape(-1, dims)
        index = sum(points[:, d] * res**d for d in range(dims))
        params = np.zeros((config.n_entries, 1), np.float32)
        params[index, 0] = points @ a + c
        x = rng.random((500, dims), dtype=np.float32) * 0.9  # keep the upper corner inside the grid
        expected = (x * config.scales()[0] + 0.5) @ a + c
        np.testing.assert_allclose(reference.grid_encode(config, params, x)[:, 0], expected, atol=1e-5)


def test_hash_is_tcnns_coherent_prime_hash():
    cells = np.array([[1, 2, 3], [7, 0, 11], [4000000000, 5, 1]], dtype=np.uint32)
    size = 2**19
    for cell, got in zip(cells, reference.grid_cell_index(cells, 0, size, hashed=True)):
        x, y, z = (int(v) for v in cell)
        expected = ((x * 1) ^ (y * 2654435761) ^ (z * 805459861)) % 2**32 % size
        assert got == expected


def test_grid_reference_level_layout(rng):
    # Each level's features come from that level's slice of the parameters only.
    config = GridConfig("hashgrid", 2, 3, 2, 4, 2.0, 10)
    params = np.zeros((config.n_entries, 2), np.float32)
    table = config.level_table()
    level1 = slice(int(table[1, LEVEL_OFFSET]), int(table[1, LEVEL_OFFSET] + table[1, LEVEL_SIZE]))
    params[level1] = 1.0
    out = reference.grid_encode(config, params, rng.random((100, 2), dtype=np.float32))
    np.testing.assert_allclose(out[:, 2:4], 1.0, atol=1e-6)  # weights sum to one
    np.testing.assert_array_equal(out[:, [0, 1, 4, 5]], 0.0)


def test_spherical_harmonics_are_orthonormal():
    # Fibonacci sphere: the mean over the sphere times 4 pi approximates the integral.
    n = 200_000
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    phi = math.pi * (1 + 5**0.5) * i
    r = np.sqrt(1 - z * z)
    d = np.stack([r * np.cos(phi), r * np.sin(phi), z], 1)
    sh = reference.sh_encode(d)
    gram = sh.T @ sh * (4 * math.pi / n)
    np.testing.assert_allclose(gram, np.eye(16), atol=2e-3)


def test_mlp_reference_matches_explicit_loops(rng):
    config = MLPConfig(5, 3, 16, 2, "sigmoid")
    params = config.init_params(rng)
    x = rng.normal(size=(4, 5))
    w0, w1, w2 = reference.mlp_weights(config, params)
    for sample, got in zip(x, reference.mlp_forward(config, params, x)):
        h = [max(sum(w0[r, c] * sample[c] for c in range(5)), 0.0) for r in range(16)]
        h = [max(sum(w1[r, c] * h[c] for c in range(16)), 0.0) for r in range(16)]
        y = [1 / (1 + math.exp(-sum(w2[r, c] * h[c] for c in range(16)))) for r in range(3)]
        np.testing.assert_allclose(got, y, rtol=1e-9)


def test_mlp_config_shapes():
    config = MLPConfig(32, 3, 64, 2)
    assert config.layer_shapes() == [(64, 32), (64, 64), (3, 64)]
    assert config.n_params == 64 * 32 + 64 * 64 + 3 * 64
    assert MLPConfig(32, 16, 64, 1).layer_shapes() == [(64, 32), (16, 64)]


@pytest.mark.parametrize(
    "make",
    [
        lambda: MLPConfig(32, 3, 48),
        lambda: MLPConfig(32, 3, 64, 0),
        lambda: MLPConfig(32, 3, 64, 2, "tanh"),
        lambda: GridConfig("octree", 3, 16, 2, 16, 1.5, 19),
        lambda: GridConfig("hashgrid", 4, 16, 2, 16, 1.5, 19),
        lambda: GridConfig("hashgrid", 3, 16, 2, 16, 1.5),
    ],
)
def test_invalid_configurations_are_rejected(make):
    with pytest.raises(ValueError):
        make()
