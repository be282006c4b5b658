"""Fitting a neural SDF and measuring its distances (the SDF app's training side).

The network maps a point of the unit cube, through a 3D grid encoding, to its signed distance:
32 -> 64 -> 64 -> 1, no output activation, trained with the MAPE loss as instant-ngp does
(|d - t| / (|t| + 0.01): relative, so the small distances near the surface weigh most). Batches are
drawn on the device from a pool of samples whose distances were computed once on the host
(data.py; instant-ngp recomputes them every step on the GPU with its own BVH, which ngvk leaves to
libigl on the CPU).

Evaluation, on points held out from training (other seeds): the mean absolute distance error near
the surface (samples offset from it) and over the whole cube (uniform samples), both in unit-cube
units, and the IoU of inside (distance < 0) between the network and the ground truth on the
uniform points.
"""

from __future__ import annotations

import numpy as np

from ngvk.apps.sdf.data import SdfData
from ngvk.engine.fit import fit_to_pool
from ngvk.engine.model import Model
from ngvk.engine.nn.config import GridConfig, MLPConfig, shipped_3d_preset
from ngvk.engine.nn.layers import MLP, GridEncoding

APP = "sdf"
LOSS = "mape"
POOL_SIZE = 1 << 20  # training samples computed on the host, drawn from on the device
EVALUATION_POINTS = 1 << 15


PARAM_DTYPE = "float16"  # shipped models store their parameters so (engine/model.py)


def presets(encoding: str) -> tuple[GridConfig, MLPConfig]:
    """The shipped 3D grid (engine/nn/config.py shipped_3d_preset(): the paper's, made small enough
    to ship) and the paper's network, 64 wide with 2 hidden layers."""
    grid = shipped_3d_preset(encoding)
    return grid, MLPConfig(grid.n_output, 1, 64, 2, "none")


def network_distance(device, model: Model, positions: np.ndarray) -> np.ndarray:
    """The model's signed distance at `positions` [N, 3] (encoding, then MLP, on the device)."""
    encoding = GridEncoding(device, model.encoding, model.params["encoding"])
    mlp = MLP(device, model.networks["network"], model.params["network"])
    try:
        return mlp.forward(encoding.encode(positions))[:, 0]
    finally:
        encoding.close()
        mlp.close()


def distance_metrics(device, model: Model, data: SdfData, seed: int = 12345) -> dict:
    """Distance errors near the surface and over the cube, and the IoU of inside, on held-out points."""
    rng = np.random.default_rng(seed)
    n = EVALUATION_POINTS
    uniform = rng.random((n, 3)).astype(np.float32)
    near = data.training_samples(8 * n // 3, rng)[0][-n:]  # the offset part of a fresh draw
    truth_uniform, truth_near = data.distance(uniform), data.distance(near)
    predicted = network_distance(device, model, np.concatenate([uniform, near]))
    predicted_uniform, predicted_near = predicted[:n], predicted[n:]
    inside_truth, inside_model = truth_uniform < 0, predicted_uniform < 0
    union = np.count_nonzero(inside_truth | inside_model)
    return {
        "near_surface_error": float(np.mean(np.abs(predicted_near - truth_near))),
        "uniform_error": float(np.mean(np.abs(predicted_uniform - truth_uniform))),
        "iou": float(np.count_nonzero(inside_truth & inside_model) / union) if union else 1.0,
    }


def fit(device, data: SdfData, encoding: str = "hashgrid", steps: int = 1000, batch_size: int = 1 << 16,
        seed: int = 0, progress=None, max_seconds: float | None = None, evaluations: int = 10,
        pool_size: int = POOL_SIZE, configs: tuple[GridConfig, MLPConfig] | None = None, evaluate=None, live=None,
        initial=None):
    """Fit a model to `data`: an engine.fit.FitResult. `configs` replaces the preset's grid and
    network (smaller ones, for quick fits)."""
    grid_config, network_config = configs or presets(encoding)
    rng = np.random.default_rng(seed)
    positions, distances = data.training_samples(pool_size, rng)
    app_data = {"source": data.source, "transform": data.transform, "ground": data.ground_height()}
    return fit_to_pool(device, APP, grid_config, network_config, positions, distances, LOSS, steps, batch_size, seed,
                       evaluate or (lambda model: distance_metrics(device, model, data)), app_data, PARAM_DTYPE,
                       progress, max_seconds, evaluations, rng, live, initial)
