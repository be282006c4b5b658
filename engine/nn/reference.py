"""NumPy references of every kernel: the readable specification the shaders are tested against.

Each function is written for clarity, vectorised over samples. Positions are handled in float32 exactly
as the shaders (and tcnn) compute them, so both pick the same grid cells; sums are accumulated in
float64 so the reference is the more accurate side of every comparison.
"""

from __future__ import annotations

import numpy as np

from ngvk.engine.nn.config import (
    HASH_PRIMES,
    LEVEL_HASHED,
    LEVEL_OFFSET,
    LEVEL_RESOLUTION,
    LEVEL_SIZE,
    GridConfig,
    MLPConfig,
)

# ---- grid encodings (hashgrid, densegrid, lowres) ----------------------------------------------


def grid_cell_index(cells: np.ndarray, resolution: int, size: int, hashed: bool) -> np.ndarray:
    """Entry index within a level of integer grid points `cells` [N, D] (uint32).

    Dense levels index row-major with x fastest; hashed levels use tcnn's coherent prime hash. All
    arithmetic wraps in uint32 like the GPU's, and the result is taken modulo the level's size.
    """
    cells = cells.astype(np.uint32)
    if hashed:
        index = np.zeros(len(cells), dtype=np.uint32)
        for dim in range(cells.shape[1]):
            index ^= cells[:, dim] * np.uint32(HASH_PRIMES[dim])
    else:
        index = np.zeros(len(cells), dtype=np.uint32)
        stride = np.uint32(1)
        for dim in range(cells.shape[1]):
            index += cells[:, dim] * stride
            stride = np.uint32(stride * resolution)
    return index % np.uint32(size)


def grid_corners(config: GridConfig, positions: np.ndarray, dtype=np.float64):
    """For each level and each of the 2^D grid points around every position: (level, entry index
    [N] into the parameters, d-linear weight [N] in `dtype`).

    Per level: pos = x * scale + 0.5 in float32, cell = floor(pos); corner bit d set means the upper
    neighbour along d, with weight frac_d, else the lower one with 1 - frac_d.
    """
    positions = np.asarray(positions, dtype=np.float32)
    n, dims = positions.shape
    assert dims == config.n_dims
    table = config.level_table()
    scales = config.scales()
    with np.errstate(over="ignore"):  # uint32 products wrap on purpose
        for level in range(config.n_levels):
            offset, size, resolution = (int(table[level, c]) for c in (LEVEL_OFFSET, LEVEL_SIZE, LEVEL_RESOLUTION))
            hashed = bool(table[level, LEVEL_HASHED])
            pos = positions * scales[level] + np.float32(0.5)
            floor = np.floor(pos)
            frac = (pos - floor).astype(dtype)
            cell = floor.astype(np.int32).view(np.uint32)  # tcnn: (uint32_t)(int)floorf(pos)
            for corner in range(1 << dims):
                weight = np.ones(n, dtype=dtype)
                corner_cell = cell.copy()
                for dim in range(dims):
                    if corner & (1 << dim):
                        weight *= frac[:, dim]
                        corner_cell[:, dim] += np.uint32(1)
                    else:
                        weight *= 1.0 - frac[:, dim]
                index = offset + grid_cell_index(corner_cell, resolution, size, hashed).astype(np.int64)
                yield level, index, weight


def grid_encode(config: GridConfig, params: np.ndarray, positions: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Encode `positions` [N, D] in [0, 1] with grid `params` [n_entries, F]: [N, L * F], level-major.
    Each level's features are the d-linear blend of its 2^D surrounding grid points' features.
    `dtype` is the arithmetic's precision: float64 for checking kernels, float32 for timing NumPy."""
    params = np.asarray(params, dtype=np.float32).reshape(-1, config.n_features)
    n = len(positions)
    out = np.zeros((n, config.n_levels, config.n_features), dtype=dtype)
    for level, index, weight in grid_corners(config, positions, dtype):
        out[:, level, :] += weight[:, None] * params[index]
    return out.reshape(n, config.n_output)


def grid_encode_jacobian(config: GridConfig, params: np.ndarray, positions: np.ndarray, dtype=np.float64) -> np.ndarray:
    """d encoded / d position: [N, L * F, D]. Within a cell the encoding is d-linear in
    frac = x * scale + 0.5 - cell, so each corner's weight differentiates to the product of the other
    dimensions' factors, times +1 (upper neighbour) or -1 (lower), times the level's scale."""
    params = np.asarray(params, dtype=np.float32).reshape(-1, config.n_features)
    positions = np.asarray(positions, dtype=np.float32)
    n, dims = positions.shape
    table = config.level_table()
    out = np.zeros((n, config.n_levels, config.n_features, dims), dtype=dtype)
    with np.errstate(over="ignore"):
        for level, scale in enumerate(config.scales()):
            offset, size, resolution = (int(table[level, c]) for c in (LEVEL_OFFSET, LEVEL_SIZE, LEVEL_RESOLUTION))
            pos = positions * scale + np.float32(0.5)
            floor = np.floor(pos)
            frac = (pos - floor).astype(dtype)
            cell = floor.astype(np.int32).view(np.uint32)
            for corner in range(1 << dims):
                upper = [bool(corner & (1 << d)) for d in range(dims)]
                factors = [frac[:, d] if upper[d] else 1.0 - frac[:, d] for d in range(dims)]
                corner_cell = cell + np.array(upper, dtype=np.uint32)
                index = offset + grid_cell_index(corner_cell, resolution, size, bool(table[level, LEVEL_HASHED]))
                values = params[index.astype(np.int64)].astype(dtype)  # [N, F]
                for d in range(dims):
                    d_weight = np.full(n, float(scale) if upper[d] else -float(scale), dtype=dtype)
                    for e in range(dims):
                        if e != d:
                            d_weight = d_weight * factors[e]
                    out[:, level, :, d] += d_weight[:, None] * values
    return out.reshape(n, config.n_output, dims)


# ---- spherical harmonics ------------------------------------------------------------------------


def sh_encode(directions: np.ndarray) -> np.ndarray:
    """Real spherical harmonics of degree 4 (16 values) of unit `directions` [N, 3].

    tcnn's SphericalHarmonics takes (d + 1) / 2 and maps it back to d = 2 * in - 1; ngvk passes the
    direction itself. Constants and signs are tcnn's (generated from Sloan's recurrences).
    """
    d = np.asarray(directions, dtype=np.float64)
    x, y, z = d[:, 0], d[:, 1], d[:, 2]
    xy, xz, yz = x * y, x * z, y * z
    x2, y2, z2 = x * x, y * y, z * z
    return np.stack(
        [
            np.full_like(x, 0.28209479177387814),
            -0.48860251190291987 * y,
            0.48860251190291987 * z,
            -0.48860251190291987 * x,
            1.0925484305920792 * xy,
            -1.0925484305920792 * yz,
            0.94617469575755997 * z2 - 0.31539156525251999,
            -1.0925484305920792 * xz,
            0.54627421529603959 * x2 - 0.54627421529603959 * y2,
            0.59004358992664352 * y * (-3.0 * x2 + y2),
            2.8906114426405538 * xy * z,
            0.45704579946446572 * y * (1.0 - 5.0 * z2),
            0.3731763325901154 * z * (5.0 * z2 - 3.0),
            0.45704579946446572 * x * (1.0 - 5.0 * z2),
            1.4453057213202769 * z * (x2 - y2),
            0.59004358992664352 * x * (-x2 + 3.0 * y2),
        ],
        axis=1,
    )


# ---- fully fused MLP ----------------------------------------------------------------------------


def activation(name: str, x: np.ndarray) -> np.ndarray:
    if name == "none":
        return x
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if name == "exp":
        return np.exp(x)
    raise ValueError(f"unknown activation {name!r}")


def mlp_weights(config: MLPConfig, params: np.ndarray) -> list[np.ndarray]:
    """The flat parameter vector as the list of weight matrices, input layer first."""
    params = np.asarray(params).reshape(-1)
    if params.size != config.n_params:
        raise ValueError(f"{config.summary()} has {config.n_params} parameters, got {params.size}")
    weights, start = [], 0
    for rows, cols in config.layer_shapes():
        weights.append(params[start : start + rows * cols].reshape(rows, cols))
        start += rows * cols
    return weights


def mlp_forward(config: MLPConfig, params: np.ndarray, inputs: np.ndarray, dtype=np.float64) -> np.ndarray:
    """[N, n_input] -> [N, n_output]: ReLU after each hidden layer, the output activation at the end.
    `dtype` is the arithmetic's precision: float64 for checking kernels, float32 for timing NumPy."""
    return mlp_train_forward(config, params, inputs, dtype)[1]


def activation_derivative(name: str, y: np.ndarray) -> np.ndarray:
    """d activation / d input, written in terms of the activation's output y."""
    if name == "none":
        return np.ones_like(y)
    if name == "relu":
        return (y > 0).astype(y.dtype)
    if name == "sigmoid":
        return y * (1.0 - y)
    if name == "exp":
        return y
    raise ValueError(f"unknown activation {name!r}")


def mlp_train_forward(config: MLPConfig, params: np.ndarray, inputs: np.ndarray, dtype=np.float64):
    """The forward pass keeping what the backward pass needs: ([a_1 .. a_H], outputs), where a_l is
    the ReLU output of hidden layer l, each [N, width]."""
    h = np.asarray(inputs, dtype=dtype)
    weights = [w.astype(dtype) for w in mlp_weights(config, params)]
    activations = []
    for w in weights[:-1]:
        h = np.maximum(h @ w.T, 0)
        activations.append(h)
    return activations, activation(config.output_activation, h @ weights[-1].T)


def mlp_backward(config: MLPConfig, params: np.ndarray, inputs: np.ndarray, d_outputs: np.ndarray, dtype=np.float64):
    """Gradients of a loss given dL/d outputs [N, n_output]: (dL/d inputs [N, n_input], dL/d params
    flat in the parameter layout). Backpropagation through ReLU and the output activation."""
    activations, outputs = mlp_train_forward(config, params, inputs, dtype)
    return mlp_backward_from(config, params, inputs, activations, outputs, d_outputs, dtype)


def mlp_backward_from(config: MLPConfig, params, inputs, activations, outputs, d_outputs, dtype=np.float64):
    """mlp_backward() given the forward pass's activations and outputs (what the backward kernels
    read): the operation `ngvk bench kernels` times as the MLP's backward pass."""
    x = np.asarray(inputs, dtype=dtype)
    weights = [w.astype(dtype) for w in mlp_weights(config, params)]
    delta = np.asarray(d_outputs, dtype=dtype) * activation_derivative(config.output_activation, outputs)
    layer_inputs = [x] + list(activations)  # what each weight matrix multiplies
    grads = [None] * len(weights)
    for layer in range(len(weights) - 1, -1, -1):
        grads[layer] = delta.T @ layer_inputs[layer]
        upstream = delta @ weights[layer]
        if layer > 0:
            delta = upstream * (activations[layer - 1] > 0)
    return upstream, np.concatenate([g.reshape(-1) for g in grads])


def grid_backward(config: GridConfig, positions: np.ndarray, d_encoded: np.ndarray, dtype=np.float64) -> np.ndarray:
    """dL/d grid params [n_entries, F] given dL/d encoded [N, L * F]: each sample scatters its
    feature gradients to the 2^D grid points it interpolated, with the same d-linear weights."""
    d_encoded = np.asarray(d_encoded, dtype=dtype).reshape(len(positions), config.n_levels, config.n_features)
    grads = np.zeros((config.n_entries, config.n_features), dtype=dtype)
    for level, index, weight in grid_corners(config, positions, dtype):
        np.add.at(grads, index, weight[:, None] * d_encoded[:, level, :])
    return grads


# ---- losses and the optimizer ---------------------------------------------------------------------

LOSSES = ("l2", "relative_l2", "mape", "huber")
RELATIVE_L2_EPSILON = 0.01
MAPE_EPSILON = 0.01
HUBER_DELTA = 0.1


def loss(name: str, outputs: np.ndarray, targets: np.ndarray):
    """(loss per sample [N], dL/d outputs [N, C]) of the mean over all N * C elements of, with
    d = y - t:

    l2           d^2
    relative_l2  d^2 / (y^2 + 0.01), the denominator held constant (tcnn's; instant-ngp's image and
                 NeRF loss)
    mape         |d| / (|t| + 0.01) (tcnn's MAPE; instant-ngp's SDF loss); the gradient takes
                 sign(d), 0 where d is 0
    huber        d^2 / (2 delta) where |d| <= delta, else |d| - delta / 2, with delta 0.1: the
                 textbook Huber divided by delta, so that its gradient is d / delta clamped to
                 [-1, 1] (a NeRF option)
    """
    y = np.asarray(outputs, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64)
    total = y.size
    d = y - t
    if name == "l2":
        value, gradient = d * d, 2.0 * d
    elif name == "relative_l2":
        scale = 1.0 / (y * y + RELATIVE_L2_EPSILON)
        value, gradient = d * d * scale, 2.0 * d * scale
    elif name == "mape":
        scale = 1.0 / (np.abs(t) + MAPE_EPSILON)
        value, gradient = np.abs(d) * scale, np.sign(d) * scale
    elif name == "huber":
        inside = np.abs(d) <= HUBER_DELTA
        value = np.where(inside, d * d / (2 * HUBER_DELTA), np.abs(d) - HUBER_DELTA / 2)
        gradient = np.clip(d / HUBER_DELTA, -1.0, 1.0)
    else:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    return value.sum(axis=1) / total, gradient / total


def adam_step(params, grads, first, second, steps, *, learning_rate, beta1, beta2, epsilon, l2_reg, is_matrix):
    """One step of tcnn's Adam on one parameter group; returns (params, first, second, steps).

    Matrix (MLP) parameters get L2 regularisation; other (grid) parameters skip the update where the
    gradient is exactly zero, so entries no sample touched keep their moments and step counts. Each
    parameter counts its own steps for the bias correction, as tcnn does.
    """
    p = np.asarray(params, dtype=np.float64).copy()
    g = np.asarray(grads, dtype=np.float64).copy()
    m = np.asarray(first, dtype=np.float64).copy()
    v = np.asarray(second, dtype=np.float64).copy()
    t = np.asarray(steps, dtype=np.int64).copy()
    active = np.ones(p.shape, bool) if is_matrix else g != 0
    if is_matrix:
        g += l2_reg * p
    m[active] = beta1 * m[active] + (1 - beta1) * g[active]
    v[active] = beta2 * v[active] + (1 - beta2) * g[active] ** 2
    t[active] += 1
    tt = t[active].astype(np.float64)
    rate = learning_rate * np.sqrt(1 - beta2**tt) / (1 - beta1**tt)
    p[active] -= rate / (np.sqrt(v[active]) + epsilon) * m[active]
    return p, m, v, t


def average_step(average, params, *, decay: float, step: int):
    """tcnn's EMA optimiser after its step `step` (1, 2, ...): the parameters' exponential moving
    average, kept debiased (divided by 1 - decay^step, so that the first is the parameters
    themselves and no early average leans toward the zeros it starts from)."""
    a = np.asarray(average, dtype=np.float64)
    w = np.asarray(params, dtype=np.float64)
    return (a * decay * (1 - decay ** (step - 1)) + w * (1 - decay)) / (1 - decay**step)


# ---- random numbers -------------------------------------------------------------------------------

def pcg_hash(v) -> np.ndarray:
    """lib/random.glsl pcg_hash(): the PCG-based integer hash of Jarzynski and Olano (2020), in
    uint32 arithmetic that wraps like the GPU's."""
    v = np.asarray(v, dtype=np.uint32)
    with np.errstate(over="ignore"):
        state = v * np.uint32(747796405) + np.uint32(2891336453)
        word = ((state >> ((state >> np.uint32(28)) + np.uint32(4))) ^ state) * np.uint32(277803737)
    return (word >> np.uint32(22)) ^ word


def random_uniform(seed: int, step: int, index, k: int) -> np.ndarray:
    """lib/random.glsl random_uniform(): the k-th number in [0, 1) of item `index` (array) at
    training step `step`; the top 24 bits of the hash, so float32 holds it exactly."""
    index = np.asarray(index, dtype=np.uint32)
    with np.errstate(over="ignore"):
        inner = pcg_hash(index * np.uint32(4) + np.uint32(k))
    h = pcg_hash(np.uint32(seed) ^ pcg_hash(np.uint32(step) ^ inner))
    return (h >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / 16777216.0)


def pool_batch(pool_positions: np.ndarray, pool_targets: np.ndarray, seed: int, step: int, n: int):
    """nn/pool_batch.comp: (positions, targets) of a batch of `n` drawn from a pool: sample i is
    entry floor(random_uniform(seed, step, i, 0) * pool size), in float32 as the shader computes it."""
    size = len(pool_positions)
    u = random_uniform(seed, step, np.arange(n), 0)
    entry = np.minimum((u * np.float32(size)).astype(np.uint32), size - 1)
    return np.asarray(pool_positions)[entry], np.asarray(pool_targets)[entry]


# ---- colour ---------------------------------------------------------------------------------------


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(np.asarray(c, dtype=np.float64), 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)
