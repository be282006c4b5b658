"""NumPy references of every kernel: the readable specification the shaders are tested against.

Each function is written for clarity, vectorised over samples. Positions are handled in float32 exactly
as the shaders (and tcnn) compute them, so both pick the same grid cells; sums are accumulated in
float64 so the reference is the more accurate side of every comparison.
"""

from __future__ import annotations

import numpy as np

from .config import (
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


def grid_encode(config: GridConfig, params: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Encode `positions` [N, D] in [0, 1] with grid `params` [n_entries, F]: [N, L * F], level-major.

    Per level: pos = x * scale + 0.5, cell = floor(pos), and the features of the 2^D surrounding grid
    points are blended with d-linear weights (frac or 1 - frac per dimension).
    """
    positions = np.asarray(positions, dtype=np.float32)
    params = np.asarray(params, dtype=np.float32).reshape(-1, config.n_features)
    n, dims = positions.shape
    assert dims == config.n_dims
    table = config.level_table()
    scales = config.scales()
    out = np.zeros((n, config.n_levels, config.n_features), dtype=np.float64)
    with np.errstate(over="ignore"):  # uint32 products wrap on purpose
        for level in range(config.n_levels):
            offset, size, resolution = (int(table[level, c]) for c in (LEVEL_OFFSET, LEVEL_SIZE, LEVEL_RESOLUTION))
            hashed = bool(table[level, LEVEL_HASHED])
            pos = positions * scales[level] + np.float32(0.5)
            floor = np.floor(pos)
            frac = (pos - floor).astype(np.float64)
            cell = floor.astype(np.int32).view(np.uint32)  # tcnn: (uint32_t)(int)floorf(pos)
            for corner in range(1 << dims):
                weight = np.ones(n, dtype=np.float64)
                corner_cell = cell.copy()
                for dim in range(dims):
                    if corner & (1 << dim):
                        weight *= frac[:, dim]
                        corner_cell[:, dim] += np.uint32(1)
                    else:
                        weight *= 1.0 - frac[:, dim]
                index = grid_cell_index(corner_cell, resolution, size, hashed)
                out[:, level, :] += weight[:, None] * params[offset + index.astype(np.int64)]
    return out.reshape(n, config.n_output)


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


def mlp_forward(config: MLPConfig, params: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """[N, n_input] -> [N, n_output]: ReLU after each hidden layer, the output activation at the end."""
    h = np.asarray(inputs, dtype=np.float64)
    weights = mlp_weights(config, params)
    for w in weights[:-1]:
        h = np.maximum(h @ w.T.astype(np.float64), 0.0)
    return activation(config.output_activation, h @ weights[-1].T.astype(np.float64))
