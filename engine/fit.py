"""The fitting loop every app shares: steps, the evaluation schedule, history, progress, the time
budget, Ctrl-C, and the model's training record.

`fit_to_pool()` is the whole fit of an app whose samples are computed once on the host (the SDF
and volume apps): an encoding and an MLP trained on batches drawn on the device from that pool.

An app supplies a Trainer (engine/nn/training.py: its training graph), `snapshot(training)`, which
makes a Model of the current parameters with the training record given, and `evaluate(model)`,
which returns the app's metrics as a dict (the first is the headline one, e.g. PSNR). The loop runs
the steps, evaluates `evaluations` times along the way and always after the last step, and stops
early at a wall-clock budget (`max_seconds`) or on Ctrl-C: either way the model of the last finished
step is returned, with the reason recorded in `training["stopped"]`. `live(step, loss, metrics,
model)` after each step (the viewer's live training, apps/viewer.py) gets `model()`, which makes the
model of the parameters then; a KeyboardInterrupt it raises stops the fit as Ctrl-C does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

COMPLETED = "completed"
TIME_BUDGET = "time budget"
INTERRUPTED = "interrupted"


def starting_params(configs: dict, rng, initial=None) -> dict:
    """The parameters a fit starts from, by the model's names ({"encoding": GridConfig, "network":
    MLPConfig, ...} -> {name: float32 array}): drawn from `rng`, or `initial`'s (an engine.model.Model
    to continue training: Adam's moments and the learning-rate schedule start afresh), whose
    encoding and networks must be those the fit builds."""
    import numpy as np

    from ngvk.engine.errors import NgvkError

    if initial is None:
        return {name: config.init_params(rng) for name, config in configs.items()}
    for name, config in configs.items():
        have = {**initial.encodings, **initial.networks}.get(name)
        if have != config:
            built = config.summary()
            raise NgvkError(f"the model to continue has {have.summary() if have else f'no {name}'} where this fit "
                            f"builds {built}: give the --encoding it was fitted with and data of its kind, "
                            "or fit a new model")
    return {name: np.array(initial.params[name], np.float32) for name in configs}


def continued_record(initial) -> dict:
    """What a fit's training record says of the model it continued (nothing for a new one)."""
    return {} if initial is None else {"continued_from_steps": initial.training.get("steps", 0)}


@dataclass
class FitResult:
    model: object  # engine.model.Model
    metrics: dict  # the app's metrics after the last step
    seconds: float
    steps: int  # steps run (fewer than asked for when stopped early)
    stopped: str  # COMPLETED, TIME_BUDGET or INTERRUPTED
    history: list[dict] = field(default_factory=list)  # {"step", "loss", "seconds", **metrics} per evaluation


def fit_loop(trainer, steps: int, snapshot, evaluate, evaluations: int = 10, max_seconds: float | None = None,
             progress=None, record: dict | None = None, live=None) -> FitResult:
    """Run up to `steps` training steps. `progress(step, loss, metrics, status)` after each step
    (metrics is None except at evaluations; status is the trainer's status(), what a progress bar
    shows beside the loss). `record` is merged into the model's training record, after what
    the loop records itself (steps, seconds, stopped, step_ms, the metrics)."""
    if steps < 1:
        raise ValueError("steps must be at least 1")
    history = []
    every = max(1, steps // max(1, evaluations))
    start = time.perf_counter()
    done, loss, stopped = 0, float("nan"), COMPLETED
    metrics = None
    try:
        for step in range(1, steps + 1):
            # The fit's progress (AdamConfig.rate()): by steps, or by time where that comes first.
            trainer.progress = (step - 1) / steps
            if max_seconds is not None:
                elapsed = time.perf_counter() - start
                trainer.progress = max(trainer.progress, elapsed / max_seconds if max_seconds > 0 else 1.0)
            trainer.run_step()
            done = step
            loss = trainer.last_loss()
            metrics = None
            if step % every == 0 or step == steps:
                metrics = evaluate(snapshot({}))
                history.append({"step": step, "loss": loss, "seconds": time.perf_counter() - start, **metrics})
            if progress:
                progress(step, loss, metrics, trainer.status())
            if live:
                live(step, loss, metrics, lambda: snapshot({}))
            if max_seconds is not None and step < steps and time.perf_counter() - start >= max_seconds:
                stopped = TIME_BUDGET
                break
    except KeyboardInterrupt:
        stopped = INTERRUPTED
        trainer.device.wait_idle()  # a step interrupted after its submission still runs to its end
        done = trainer.step
    if done == 0:
        raise KeyboardInterrupt  # nothing to keep: interrupted during the first step
    seconds = time.perf_counter() - start
    if metrics is None:  # stopped early between evaluations: evaluate the model that is kept
        metrics = evaluate(snapshot({}))
        history.append({"step": done, "loss": loss, "seconds": seconds, **metrics})
    device = trainer.device.info
    training = {
        "steps": done,
        "steps_asked": steps,
        "stopped": stopped,
        "batch_size": trainer.batch_size,
        "seed": trainer.seed,
        "seconds": round(seconds, 2),
        "device": device.name,
        "driver": f"{device.driver_name} {device.driver_info}".strip(),
        "step_ms": {k: round(v, 3) for k, v in trainer.timings().items()},
        **{k: float(f"{v:.5g}") for k, v in metrics.items()},  # significant digits: errors can be 1e-4
        **(record or {}),
    }
    return FitResult(snapshot(training), metrics, seconds, done, stopped, history)


def fit_to_pool(device, app: str, grid_config, network_config, pool_positions, pool_targets, loss: str, steps: int,
                batch_size: int, seed: int, evaluate, app_data: dict, param_dtype: str = "float32",
                progress=None, max_seconds: float | None = None, evaluations: int = 10, rng=None,
                live=None, initial=None) -> FitResult:
    """Fit a grid encoding and an MLP (initialised from `rng`, default seeded by `seed`, or continued
    from `initial`: starting_params()) to a pool of
    samples computed on the host: positions [N, D] and targets [N, C], batches drawn on the device
    (nn/pool_batch.comp), the `loss` between the MLP's outputs and the targets. `evaluate(model)`
    gives the app's metrics; the model's parameters are rounded to `param_dtype` in every snapshot,
    so that evaluations see the model that is saved."""
    import numpy as np

    from ngvk.engine.model import Model
    from ngvk.engine.nn.layers import MLP, GridEncoding
    from ngvk.engine.nn.training import grid_mlp_trainer

    rng = np.random.default_rng(seed) if rng is None else rng
    pool_positions = np.ascontiguousarray(pool_positions, np.float32)
    pool_targets = np.ascontiguousarray(pool_targets, np.float32).reshape(len(pool_positions), -1)
    pool_size = len(pool_positions)
    start = starting_params({"encoding": grid_config, "network": network_config}, rng, initial)
    encoding_layer = GridEncoding(device, grid_config, start["encoding"])
    mlp = MLP(device, network_config, start["network"])
    pool = [device.buffer_from(pool_positions, "pool_positions"), device.buffer_from(pool_targets, "pool_targets")]
    trainer = None
    try:
        kernel = device.kernel("nn/pool_batch.comp", {"POOL_DIMS": pool_positions.shape[1],
                                                       "POOL_CHANNELS": pool_targets.shape[1]})

        def record_batch(sequence, state, positions, targets, n):
            buffers = {"pool_positions": pool[0], "pool_targets": pool[1], "training_state": state,
                       "positions": positions, "targets": targets}
            sequence.dispatch(kernel, n, buffers, {"n": n, "pool_size": pool_size})

        trainer = grid_mlp_trainer(encoding_layer, mlp, batch_size, loss, record_batch, seed=seed)

        def snapshot(training: dict) -> Model:
            params = {"encoding": trainer.params(encoding_layer), "network": trainer.params(mlp)}
            params = {name: array.astype(param_dtype).astype(np.float32) for name, array in params.items()}
            return Model(app=app, encodings={"encoding": grid_config}, networks={"network": network_config},
                         params=params, param_dtype=param_dtype, training=training, app_data=dict(app_data))

        return fit_loop(trainer, steps, snapshot, evaluate, evaluations, max_seconds, progress,
                        record={"loss": loss, "pool_size": pool_size, **continued_record(initial)}, live=live)
    finally:
        if trainer is not None:
            trainer.close()
        for buffer in pool:
            buffer.close()
        encoding_layer.close()
        mlp.close()
