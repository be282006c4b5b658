"""Fitting a neural volume and measuring its densities (the volume app's training side).

The network maps a point of the unit cube, through a 3D grid encoding, to albedo RGB and density
(32 -> 64 -> 64 -> 4, ReLU output: neither may be negative), trained on batches drawn on the device
from a pool of samples whose targets were interpolated once on the host (data.py). LOSS: see below.

Evaluation, on points held out from training (another seed, drawn as the training samples are):
the mean absolute density error, the same relative to the mean density there, and the mean
absolute albedo error where the density is above 1 (elsewhere albedo hardly shows).
"""

from __future__ import annotations

import numpy as np

from ngvk.apps.volume.data import VolumeData
from ngvk.engine.fit import fit_to_pool
from ngvk.engine.model import Model
from ngvk.engine.nn.config import GridConfig, MLPConfig, shipped_3d_preset
from ngvk.engine.nn.layers import MLP, GridEncoding

APP = "volume"
# L2, as instant-ngp's volume config. Measured against relative L2 on volume:cloud (shipped hashgrid
# preset, 400 steps of 65,536, lavapipe): relative density error 0.015 with L2 against 0.129 with
# relative L2, albedo error 0.052 against 0.021. Relative L2 divides by the squared output, so it
# gives the dense core (densities near 90) almost no weight; the density is what shapes a render.
LOSS = "l2"
POOL_SIZE = 1 << 20
EVALUATION_POINTS = 1 << 15
OUTPUTS = 4  # albedo RGB, density
PARAM_DTYPE = "float16"  # shipped models store their parameters so (engine/model.py)


def presets(encoding: str) -> tuple[GridConfig, MLPConfig]:
    """The shipped 3D grid (engine/nn/config.py shipped_3d_preset()) and instant-ngp's volume
    network, 64 wide with 2 hidden layers."""
    grid = shipped_3d_preset(encoding)
    return grid, MLPConfig(grid.n_output, OUTPUTS, 64, 2, "relu")


def network_outputs(device, model: Model, positions: np.ndarray) -> np.ndarray:
    """The model's albedo RGB and density at `positions` [N, 3], [N, 4] (on the device)."""
    encoding = GridEncoding(device, model.encoding, model.params["encoding"])
    mlp = MLP(device, model.networks["network"], model.params["network"])
    try:
        return mlp.forward(encoding.encode(positions))
    finally:
        encoding.close()
        mlp.close()


def add_occupancy(device, model: Model, resolution: int | None = None) -> None:
    """Give the model its occupancy grid (extra "occupancy": the bits packed into uint32 words) and
    its majorant (app_data: the largest density probed, times tracing.MAJORANT_MARGIN, since the
    network may exceed it between probes), from the network on the device."""
    from ngvk.apps.volume import tracing

    resolution = resolution or tracing.OCCUPANCY_RESOLUTION
    occupied, largest = tracing.occupancy_grid(
        lambda p: network_outputs(device, model, p.astype(np.float32))[:, 3], resolution)
    model.extras["occupancy"] = tracing.pack_occupancy(occupied)
    model.descriptions["occupancy"] = (f"occupancy grid {resolution}^3: bit (x * R + y) * R + z (LSB first) set where "
                                       f"the density exceeds {tracing.OCCUPANCY_THRESHOLD} (apps/volume/tracing.py)")
    model.app_data.update({"occupancy_resolution": resolution, "majorant": largest * tracing.MAJORANT_MARGIN})


def density_metrics(device, model: Model, data: VolumeData, seed: int = 12345) -> dict:
    """Density errors (absolute, and relative to the mean density) and the albedo error where the
    density is above 1, on held-out points."""
    positions, truth = data.training_samples(EVALUATION_POINTS, np.random.default_rng(seed))
    predicted = network_outputs(device, model, positions).astype(np.float64)
    truth = truth.astype(np.float64)
    error = np.abs(predicted[:, 3] - truth[:, 3])
    dense = truth[:, 3] > 1.0
    albedo = np.abs(predicted[dense, :3] - truth[dense, :3]).mean() if dense.any() else 0.0
    return {
        "density_error": float(error.mean()),
        "relative_density_error": float(error.mean() / max(truth[:, 3].mean(), 1e-12)),
        "albedo_error": float(albedo),
    }


def fit(device, data: VolumeData, encoding: str = "hashgrid", steps: int = 1000, batch_size: int = 1 << 16,
        seed: int = 0, progress=None, max_seconds: float | None = None, evaluations: int = 10,
        pool_size: int = POOL_SIZE, configs: tuple[GridConfig, MLPConfig] | None = None, evaluate=None,
        loss: str = LOSS, live=None, initial=None):
    """Fit a model to `data`: an engine.fit.FitResult. `configs` replaces the preset's grid and
    network (smaller ones, for quick fits); `loss` the loss (for measuring the choice)."""
    grid_config, network_config = configs or presets(encoding)
    rng = np.random.default_rng(seed)
    positions, targets = data.training_samples(pool_size, rng)
    return fit_to_pool(device, APP, grid_config, network_config, positions, targets, loss, steps, batch_size, seed,
                       evaluate or (lambda model: density_metrics(device, model, data)), {"source": data.source},
                       PARAM_DTYPE, progress, max_seconds, evaluations, rng, live, initial)
