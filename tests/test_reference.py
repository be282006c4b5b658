"""The NumPy references and configurations on their own (no Vulkan): the specification is checked
against independent facts (exact interpolation of linear fields, the hash formula, orthonormality of
the spherical harmonics, explicit loops for the MLP), not against itself."""

import math

import numpy as np
import pytest

from ngvk.engine.nn import reference
from ngvk.engine.nn.config import (
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


# ---- backward passes, losses, Adam: the references against finite differences and formulas ----


def test_mlp_backward_reference_matches_finite_differences(rng):
    config = MLPConfig(5, 3, 16, 2, "sigmoid")
    params = config.init_params(rng).astype(np.float64)
    x = rng.normal(size=(7, 5))
    g = rng.normal(size=(7, 3))

    def objective(p, inputs):
        return float(np.sum(g * reference.mlp_forward(config, p, inputs)))

    d_inputs, d_params = reference.mlp_backward(config, params, x, g)
    eps = 1e-6
    for index in rng.choice(config.n_params, 25, replace=False):
        step = np.zeros_like(params)
        step[index] = eps
        numeric = (objective(params + step, x) - objective(params - step, x)) / (2 * eps)
        assert abs(numeric - d_params[index]) < 1e-6 * max(1.0, abs(numeric))
    for i, k in [(0, 0), (3, 4), (6, 2)]:
        step = np.zeros_like(x)
        step[i, k] = eps
        numeric = (objective(params, x + step) - objective(params, x - step)) / (2 * eps)
        assert abs(numeric - d_inputs[i, k]) < 1e-6 * max(1.0, abs(numeric))


@pytest.mark.parametrize("dims,hashed", [(2, True), (3, False)])
def test_grid_backward_reference_is_the_transpose_of_the_encoding(dims, hashed, rng):
    # The encoding is linear in its parameters: <d_enc, E(v)> must equal <backward(d_enc), v>.
    config = GridConfig("hashgrid" if hashed else "densegrid", dims, 3, 2, 4, 2.0, 8 if hashed else None)
    positions = rng.random((300, dims), dtype=np.float32)
    d_encoded = rng.normal(size=(300, config.n_output))
    v = rng.normal(size=(config.n_entries, 2))
    lhs = np.sum(d_encoded * reference.grid_encode(config, v, positions))
    rhs = np.sum(reference.grid_backward(config, positions, d_encoded) * v)
    assert lhs == pytest.approx(rhs, rel=1e-5)


@pytest.mark.parametrize("name", reference.LOSSES)
def test_loss_reference_gradient(name, rng):
    # Each loss written out from its definition, constants as literals (tcnn's and instant-ngp's).
    y = rng.random((6, 3))
    t = rng.random((6, 3)) * 2 - 0.5
    t[0, 0] = y[0, 0] + 0.05  # inside Huber's quadratic part
    d = y - t
    per_sample, grad = reference.loss(name, y, t)
    if name == "l2":
        expected, expected_grad = d**2, 2 * d
    elif name == "relative_l2":  # tcnn's: the denominator is a constant of the step
        expected, expected_grad = d**2 / (y * y + 0.01), 2 * d / (y * y + 0.01)
    elif name == "mape":
        expected, expected_grad = np.abs(d) / (np.abs(t) + 0.01), np.sign(d) / (np.abs(t) + 0.01)
    else:  # Huber, delta 0.1, divided by delta
        expected = np.where(np.abs(d) <= 0.1, 0.5 * d**2 / 0.1, np.abs(d) - 0.05)
        expected_grad = np.clip(d / 0.1, -1, 1)
    assert per_sample.sum() == pytest.approx(np.mean(expected))
    np.testing.assert_allclose(per_sample, expected.sum(axis=1) / y.size)
    np.testing.assert_allclose(grad, expected_grad / y.size)
    if name != "relative_l2":  # the others are differentiated exactly: check by finite differences
        eps = 1e-7
        for i, k in [(0, 0), (2, 1), (5, 2)]:
            step = np.zeros_like(y)
            step[i, k] = eps
            numeric = (reference.loss(name, y + step, t)[0].sum() - reference.loss(name, y - step, t)[0].sum()) / (2 * eps)
            assert numeric == pytest.approx(grad[i, k], rel=1e-5)


def test_adam_reference_step():
    p, g = np.array([1.0, -2.0, 0.5]), np.array([0.1, 0.0, -0.3])
    zero = np.zeros(3)
    hyper = dict(learning_rate=0.01, beta1=0.9, beta2=0.99, epsilon=1e-15, l2_reg=0.0)
    # Grid parameters: the zero-gradient entry is left alone entirely.
    q, m, v, t = reference.adam_step(p, g, zero, zero, np.zeros(3, int), is_matrix=False, **hyper)
    assert list(t) == [1, 0, 1] and q[1] == p[1] and m[1] == 0
    # First step: the bias-corrected update is lr * sign(g).
    np.testing.assert_allclose(q[[0, 2]], p[[0, 2]] - 0.01 * np.sign(g[[0, 2]]), rtol=1e-9)
    # Matrix parameters step everywhere and add l2_reg * w to the gradient.
    q, m, v, t = reference.adam_step(p, g, zero, zero, np.zeros(3, int), is_matrix=True, **{**hyper, "l2_reg": 1.0})
    assert list(t) == [1, 1, 1]
    np.testing.assert_allclose(m, 0.1 * (g + p))


def test_adam_reference_over_several_steps_matches_a_scalar_loop(rng):
    # tcnn's Adam written out one parameter at a time with instant-ngp's constants as literals:
    # m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, w -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps).
    lr, b1, b2, eps, l2 = 1e-2, 0.9, 0.99, 1e-15, 1e-6
    hyper = dict(learning_rate=lr, beta1=b1, beta2=b2, epsilon=eps, l2_reg=l2)
    n = 5
    p0 = rng.normal(size=n)
    gradients = [rng.normal(size=n) for _ in range(6)]
    gradients[2][1] = gradients[4][1] = gradients[4][3] = 0.0  # grid entries skip these steps
    for is_matrix in (False, True):
        state = (p0, np.zeros(n), np.zeros(n), np.zeros(n, int))
        for g in gradients:
            state = reference.adam_step(*state[:1], g, *state[1:], is_matrix=is_matrix, **hyper)
        for i in range(n):
            w, m, v, t = p0[i], 0.0, 0.0, 0
            for g in gradients:
                gi = g[i] + (l2 * w if is_matrix else 0.0)
                if not is_matrix and g[i] == 0.0:
                    continue
                t += 1
                m = b1 * m + (1 - b1) * gi
                v = b2 * v + (1 - b2) * gi * gi
                w -= lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (math.sqrt(v) + eps)
            assert (state[0][i], state[1][i], state[2][i], state[3][i]) == pytest.approx((w, m, v, t), rel=1e-12)
        assert list(state[3]) == ([6] * n if is_matrix else [6, 4, 6, 5, 6])


def test_random_reference_is_the_pcg_hash():
    # The hash in plain integer arithmetic (Jarzynski and Olano 2020, "Hash Functions for GPU
    # Rendering": PCG's output permutation), constants as literals.
    def pcg(v):
        state = (v * 747796405 + 2891336453) & 0xFFFFFFFF
        word = (((state >> ((state >> 28) + 4)) ^ state) * 277803737) & 0xFFFFFFFF
        return (word >> 22) ^ word

    seed, step = 12345, 678
    index = np.array([0, 1, 2, 1000, 2**32 // 4 - 1], dtype=np.uint32)
    for k in (0, 1, 3):
        got = reference.random_uniform(seed, step, index, k)
        for i, value in zip(index.tolist(), got):
            h = pcg(seed ^ pcg(step ^ pcg((i * 4 + k) & 0xFFFFFFFF)))
            assert value == (h >> 8) / 2**24
    assert reference.random_uniform(seed, step, index, 0).dtype == np.float32


def test_srgb_reference():
    # IEC 61966-2-1: 18 % grey is sRGB 0.4614 (118 of 255); the two pieces meet at 0.0031308.
    assert reference.linear_to_srgb(0.18) == pytest.approx(0.46136, abs=1e-5)
    assert reference.linear_to_srgb(0.0031308) == pytest.approx(0.0031308 * 12.92, rel=1e-6)
    assert reference.linear_to_srgb(0.001) == pytest.approx(0.01292)
    assert reference.linear_to_srgb(2.0) == pytest.approx(1.0) and reference.linear_to_srgb(-1.0) == 0.0
    x = np.linspace(0, 1, 101)
    np.testing.assert_allclose(reference.srgb_to_linear(reference.linear_to_srgb(x)), x, atol=1e-12)


@pytest.mark.parametrize("encoding,dims", [("hashgrid", 3), ("densegrid", 2)])
def test_grid_jacobian_reference_matches_finite_differences(encoding, dims, rng):
    # Central differences of the encoding at positions well inside their cells (the derivative jumps
    # across cell faces): coarse levels (scales 3, 7, 15), so a step of 1e-5 stays in its cell.
    config = GridConfig(encoding, dims, 3, 2, 4, 2.0, 8 if encoding == "hashgrid" else None)
    params = rng.normal(size=(config.n_entries, 2))
    positions = rng.uniform(0.05, 0.95, (200, dims))
    frac_ok = np.ones(len(positions), bool)
    for scale in config.scales():
        p = positions * scale + 0.5
        frac_ok &= np.all(np.abs(p - np.round(p)) > 0.01, axis=1)
    positions = positions[frac_ok]
    jacobian = reference.grid_encode_jacobian(config, params, positions)
    eps = 1e-5  # the reference rounds positions to float32 (spacing 6e-8): 1 % of the step at most
    for d in range(dims):
        step = np.zeros(dims)
        step[d] = eps
        plus = reference.grid_encode(config, params, positions + step)
        minus = reference.grid_encode(config, params, positions - step)
        numeric = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(jacobian[:, :, d], numeric, rtol=2e-2, atol=2e-2 * np.abs(numeric).max())


def test_average_reference_is_the_normalised_weighted_mean(rng):
    # tcnn's debiased EMA after t steps is sum_k d^(t-k) (1 - d) w_k / (1 - d^t): a weighted mean of
    # the parameters after each step whose weights sum to 1 (so the first average is w_1 itself).
    d = 0.95
    history = [rng.normal(size=4) for _ in range(7)]
    average = np.zeros(4)
    for step, w in enumerate(history, 1):
        average = reference.average_step(average, w, decay=d, step=step)
        if step == 1:
            np.testing.assert_allclose(average, w, rtol=1e-12)
    weights = np.array([d ** (len(history) - k) * (1 - d) for k in range(1, len(history) + 1)])
    np.testing.assert_allclose(weights.sum(), 1 - d ** len(history), rtol=1e-12)
    np.testing.assert_allclose(average, weights @ np.stack(history) / weights.sum(), rtol=1e-12)
