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
from ngvk.engine.fit import fit_loop
from ngvk.engine.model import Model
from ngvk.engine.nn.config import GridConfig, MLPConfig, grid_preset
from ngvk.engine.nn.layers import MLP, GridEncoding
from ngvk.engine.nn.training import grid_mlp_trainer

APP = "sdf"
LOSS = "mape"
POOL_SIZE = 1 << 20  # training samples computed on the host, drawn from on the device
EVALUATION_POINTS = 1 << 15


# The paper's 3D presets (instant-ngp's SDF config: hashgrid of 16 levels, 2 features, T = 2^19,
# finest 2048), made small enough to ship (a few MB each, parameters stored as float16; the shipped
# models' quality is in assets/README.md):
#   hashgrid   T = 2^16 instead of 2^19 (the finest levels hash more; 4 MB instead of 27 MB)
#   densegrid  6 levels instead of 8 (finest 88^3 instead of 175^3; 4 MB instead of 34 MB)
#   lowres     2 levels of 48^3 instead of 128^3 (3.5 MB instead of 67 MB)
HASHGRID_LOG2_TABLE = 16
DENSEGRID_LEVELS = 6
LOWRES_RESOLUTION = 48
PARAM_DTYPE = "float16"


def presets(encoding: str) -> tuple[GridConfig, MLPConfig]:
    """The shipped 3D presets (above) and the paper's network, 64 wide with 2 hidden layers."""
    grid = grid_preset(encoding, 3, log2_table_size=HASHGRID_LOG2_TABLE)
    if encoding == "densegrid":
        grid = GridConfig("densegrid", 3, DENSEGRID_LEVELS, grid.n_features, grid.base_resolution, grid.per_level_scale)
    elif encoding == "lowres":
        grid = GridConfig("lowres", 3, grid.n_levels, grid.n_features, LOWRES_RESOLUTION, grid.per_level_scale)
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
        pool_size: int = POOL_SIZE, configs: tuple[GridConfig, MLPConfig] | None = None, evaluate=None):
    """Fit a model to `data`: an engine.fit.FitResult. `configs` replaces the preset's grid and
    network (smaller ones, for quick fits)."""
    grid_config, network_config = configs or presets(encoding)
    ground = data.ground_height()
    rng = np.random.default_rng(seed)
    pool_positions, pool_distances = data.training_samples(pool_size, rng)
    encoding_layer = GridEncoding(device, grid_config, grid_config.init_params(rng))
    mlp = MLP(device, network_config, network_config.init_params(rng))
    pool = [device.buffer_from(pool_positions, "pool_positions"), device.buffer_from(pool_distances, "pool_targets")]
    trainer = None
    try:
        kernel = device.kernel("nn/pool_batch.comp", {"POOL_DIMS": 3, "POOL_CHANNELS": 1})

        def record_batch(sequence, state, positions, targets, n):
            buffers = {"pool_positions": pool[0], "pool_targets": pool[1], "training_state": state,
                       "positions": positions, "targets": targets}
            sequence.dispatch(kernel, n, buffers, {"n": n, "pool_size": pool_size})

        trainer = grid_mlp_trainer(encoding_layer, mlp, batch_size, LOSS, record_batch, seed=seed)

        def snapshot(training: dict) -> Model:
            # Rounded as the file stores them, so that the evaluation sees the model that is saved.
            params = {"encoding": encoding_layer.get_params(), "network": mlp.get_params()}
            params = {name: array.astype(PARAM_DTYPE).astype(np.float32) for name, array in params.items()}
            return Model(app=APP, encodings={"encoding": grid_config}, networks={"network": network_config},
                         params=params, param_dtype=PARAM_DTYPE, training=training,
                         app_data={"source": data.source, "transform": data.transform, "ground": ground})

        evaluate = evaluate or (lambda model: distance_metrics(device, model, data))
        return fit_loop(trainer, steps, snapshot, evaluate, evaluations,
                        max_seconds, progress, record={"loss": LOSS, "pool_size": pool_size})
    finally:
        if trainer is not None:
            trainer.close()
        for buffer in pool:
            buffer.close()
        encoding_layer.close()
        mlp.close()
