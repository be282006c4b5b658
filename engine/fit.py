"""The fitting loop every app shares: steps, the evaluation schedule, history, progress, the time
budget, Ctrl-C, and the model's training record.

An app supplies a Trainer (engine/nn/training.py: its training graph), `snapshot(training)`, which
makes a Model of the current parameters with the training record given, and `evaluate(model)`,
which returns the app's metrics as a dict (the first is the headline one, e.g. PSNR). The loop runs
the steps, evaluates `evaluations` times along the way and always after the last step, and stops
early at a wall-clock budget (`max_seconds`) or on Ctrl-C: either way the model of the last finished
step is returned, with the reason recorded in `training["stopped"]`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

COMPLETED = "completed"
TIME_BUDGET = "time budget"
INTERRUPTED = "interrupted"


@dataclass
class FitResult:
    model: object  # engine.model.Model
    metrics: dict  # the app's metrics after the last step
    seconds: float
    steps: int  # steps run (fewer than asked for when stopped early)
    stopped: str  # COMPLETED, TIME_BUDGET or INTERRUPTED
    history: list[dict] = field(default_factory=list)  # {"step", "loss", "seconds", **metrics} per evaluation


def fit_loop(trainer, steps: int, snapshot, evaluate, evaluations: int = 10, max_seconds: float | None = None,
             progress=None, record: dict | None = None) -> FitResult:
    """Run up to `steps` training steps. `progress(step, loss, metrics)` after each step (metrics is
    None except at evaluations). `record` is merged into the model's training record, after what
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
            trainer.run_step()
            done = step
            loss = trainer.last_loss()
            metrics = None
            if step % every == 0 or step == steps:
                metrics = evaluate(snapshot({}))
                history.append({"step": step, "loss": loss, "seconds": time.perf_counter() - start, **metrics})
            if progress:
                progress(step, loss, metrics)
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
