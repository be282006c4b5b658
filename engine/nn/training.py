"""Training on the device: backward passes, losses and Adam as compute kernels, and the Trainer
that composes them into a training step.

A training step is recorded once into a Sequence and resubmitted: for an encoding followed by an
MLP (grid_mlp_trainer), the app's batch kernel writes positions and targets, then encoding, MLP
forward, loss, MLP backward (per-sample deltas), the weight gradients (a two-stage reduction over
the batch), the grid's backward pass (float atomics), and Adam on both parameter groups. The step
counter lives in a small buffer the host writes before each submission, so nothing needs
re-recording. NumPy references of every kernel are in `engine/nn/reference.py`; the tests compare
each one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ngvk.engine.nn.layers import BLOCK_ROWS, MLP, GridEncoding, float_atomics, items_per_invocation, workgroup_grid
from ngvk.engine.nn.reference import LOSSES

# Weight-gradient tiles and chunks (shaders/mlp_weight_gradient.comp). lavapipe, 2 cores, 64 x 64
# layer over 2^16 samples: tiles of 4 x 8 weights took 17.3 ms, 4 x 16 14.0, 4 x 32 12.2, 4 x 64
# 10.8 but 13.4 for 64 x 32 (more tiles than registers); 8 x 8 20.4, 2 x 32 31.7 (a delta texel holds
# 4 rows). Chunks of 512 samples rather than 128 cut the summing of partial rows from 3.8 to 1.5 ms.
TILE_ROWS, TILE_COLS = 4, 32
CHUNK_SAMPLES = 512
LOSS_CODES = {"l2": 0, "relative_l2": 1, "mape": 2, "huber": 3}


@dataclass(frozen=True)
class AdamConfig:
    """tcnn's Adam with instant-ngp's defaults, its exponential learning-rate decay and its EMA.

    The decay is instant-ngp's ExponentialDecay over the fit's progress rather than its steps (a
    fit may be bounded by time, where the steps are not known beforehand): the rate is multiplied
    by `decay_base` for every `decay_interval` of progress past `decay_start` (progress 0 at the
    first step, 1 at the last step asked for or at the end of the time budget, whichever comes
    first). `average_decay` > 0 keeps tcnn's EMA of the parameters (the debiased average of the
    parameters after each step, engine/nn/reference.py average_step()), which the fit saves instead
    of the last step's parameters; 0 keeps none. By default neither: plain Adam."""

    learning_rate: float = 1e-2
    beta1: float = 0.9
    beta2: float = 0.99
    epsilon: float = 1e-15
    l2_reg: float = 1e-6  # on MLP weights only
    decay_start: float = 1.0
    decay_interval: float = 1.0
    decay_base: float = 1.0
    average_decay: float = 0.0

    def rate(self, progress: float) -> float:
        """The learning rate at `progress` (0 to 1) of the fit."""
        return self.learning_rate * self.decay_base ** (max(0.0, progress - self.decay_start) / self.decay_interval)


def _tile(extent: int, preferred: int) -> int:
    """The largest of `preferred`, 4, 3, 2, 1 that divides `extent`: a weight-gradient tile side."""
    return next(t for t in (preferred, 4, 3, 2, 1) if extent % t == 0)


def _texel_components(extent: int, tile: int) -> int:
    """Floats per texel when fetching a tile of `tile` values from rows of `extent`: 4 where both
    are multiples of 4 (then every fetch is one aligned RGBA32F texel), else 1."""
    return 4 if extent % 4 == 0 and tile % 4 == 0 else 1


class MLPTraining:
    """Buffers and kernels to run an MLP forward and backward on batches of up to `batch_size`
    samples, leaving dL/d weights in `gradients` and dL/d inputs in `d_inputs`.

    The kernels are those of the MLP's path (engine/nn/layers.py mlp_path()): portable
    (mlp_train_forward, mlp_backward: samples per invocation, texel buffers), portable-gpu
    (mlp_block_forward with MLP_TRAINING, mlp_block_backward) or coopmat (mlp_coopmat_forward,
    _backward, _weight_gradient); the buffers and their layouts are the same for all three. The
    weight gradients are mlp_weight_gradient.comp's tiles (mlp_coopmat_weight_gradient.comp's on
    the coopmat path) over chunks of samples, then reduce_partials.comp."""

    def __init__(self, mlp: MLP, batch_size: int):
        self.mlp = mlp
        self.device = device = mlp.device
        c = mlp.config
        self.batch_size = batch_size
        self.items = items_per_invocation(device, training=True)
        f = 4  # bytes per float
        self.activations = device.buffer(c.n_hidden_layers * batch_size * c.width * f, "activations")
        self.outputs = device.buffer(batch_size * c.n_output * f, "outputs")
        self.output_deltas = device.buffer(batch_size * c.n_output * f, "output_deltas")
        self.deltas = device.buffer(c.n_hidden_layers * batch_size * c.width * f, "deltas")
        self.d_inputs = device.buffer(batch_size * c.n_input * f, "d_inputs")
        self.d_outputs = device.buffer(batch_size * c.n_output * f, "d_outputs")
        self.gradients = device.buffer(c.n_params * f, "mlp_gradients")
        # Weight gradients: tiles of each layer's matrix summed over chunks of samples, one row of
        # partial sums per chunk (shaders/mlp_weight_gradient.comp), then rows summed.
        self.chunk_samples = CHUNK_SAMPLES
        largest = max(r * k for r, k in c.layer_shapes())
        self.partials = device.buffer(self._chunks(batch_size) * largest * f, "weight_gradient_partials")
        self.path = mlp.path.name
        if self.path == "portable":
            defines = {**mlp.defines(), "MLP_ITEMS": self.items}
            self.forward_kernel = device.kernel("nn/mlp_train_forward.comp", defines)
            self.backward_kernel = device.kernel("nn/mlp_backward.comp", defines)
        else:
            self.forward_kernel = mlp.path_kernel("forward", {"ITEM_COUNTER": 0, "MLP_TRAINING": 1})
            self.backward_kernel = mlp.path_kernel("backward")
        self.reduce_kernel = device.kernel("nn/reduce_partials.comp")
        self.weight_gradient_kernels = {}
        for rows, cols in set(c.layer_shapes()):
            if self.path == "coopmat":
                defines = {k: v for k, v in mlp.block_defines().items() if k.startswith("CM_") or k == "MLP_BLOCK"}
                self.weight_gradient_kernels[(rows, cols)] = device.kernel(
                    "nn/mlp_coopmat_weight_gradient.comp", {**defines, "WG_ROWS": rows, "WG_COLS": cols},
                    local_size=mlp.block_threads,
                )
                continue
            tile_rows, tile_cols = _tile(rows, TILE_ROWS), _tile(cols, TILE_COLS)
            self.weight_gradient_kernels[(rows, cols)] = device.kernel(
                "nn/mlp_weight_gradient.comp",
                {
                    "WG_ROWS": rows,
                    "WG_COLS": cols,
                    "WG_TILE_ROWS": tile_rows,
                    "WG_TILE_COLS": tile_cols,
                    "WG_DELTA_COMPONENTS": _texel_components(rows, tile_rows),
                    "WG_INPUT_COMPONENTS": _texel_components(cols, tile_cols),
                },
            )

    def _invocations(self, n: int) -> int:
        return -(-n // self.items)

    def _chunks(self, n: int) -> int:
        """Chunks of samples the weight-gradient kernel sums separately: one partial row each."""
        return -(-n // self.chunk_samples)

    def record_forward(self, sequence, inputs, n: int) -> None:
        """Forward pass of `n` samples of `inputs`, keeping activations; outputs in `self.outputs`."""
        if self.path != "portable":
            buffers = {"inputs": inputs, "activations": self.activations, "outputs": self.outputs, **self.mlp.bindings()}
            sequence.dispatch(self.forward_kernel, buffers=buffers, push={"n": n},
                              groups=workgroup_grid(self.device, -(-n // BLOCK_ROWS)))
            return
        buffers = {
            "inputs": self.mlp.input_texels(inputs),
            "activations": self.activations.texels(4),
            "outputs": self.outputs,
            **self.mlp.bindings(),
        }
        sequence.dispatch(self.forward_kernel, self._invocations(n), buffers, {"n": n})

    def record_backward(self, sequence, inputs, n: int) -> None:
        """Backward pass from dL/d outputs in `self.d_outputs`: fills `gradients` and `d_inputs`."""
        c = self.mlp.config
        if self.path != "portable":
            buffers = {
                "activations": self.activations,
                "outputs": self.outputs,
                "d_outputs": self.d_outputs,
                "output_deltas": self.output_deltas,
                "deltas": self.deltas,
                "d_inputs": self.d_inputs,
                **self.mlp.bindings(),
            }
            sequence.dispatch(self.backward_kernel, buffers=buffers, push={"n": n},
                              groups=workgroup_grid(self.device, -(-n // BLOCK_ROWS)))
            self._record_weight_gradients(sequence, inputs, n)
            return
        buffers = {
            "activations": self.activations.texels(4),
            "outputs": self.outputs.texels(self.mlp.output_components),
            "d_outputs": self.d_outputs.texels(self.mlp.output_components),
            "output_deltas": self.output_deltas,
            "deltas": self.deltas.texels(4),
            "d_inputs": self.d_inputs.texels(4) if c.n_input % 4 == 0 else self.d_inputs,
            **self.mlp.bindings(),
        }
        sequence.dispatch(self.backward_kernel, self._invocations(n), buffers, {"n": n})
        self._record_weight_gradients(sequence, inputs, n)

    def _record_weight_gradients(self, sequence, inputs, n: int) -> None:
        """Weight gradients, layer by layer: dW = delta^T (what the layer multiplied), as partial
        sums over chunks of samples, then the chunks summed into `gradients`."""
        c = self.mlp.config
        shapes = c.layer_shapes()
        layer_size = n * c.width
        weight_offset = 0
        for layer, (rows, cols) in enumerate(shapes):
            if layer == 0:
                deltas, delta_offset, layer_inputs, input_offset = self.deltas, 0, inputs, 0
            elif layer < len(shapes) - 1:
                deltas, delta_offset = self.deltas, layer * layer_size
                layer_inputs, input_offset = self.activations, (layer - 1) * layer_size
            else:
                deltas, delta_offset = self.output_deltas, 0
                layer_inputs, input_offset = self.activations, (layer - 1) * layer_size
            entries = rows * cols
            push = {"n": n, "chunk_samples": self.chunk_samples, "delta_offset": delta_offset, "input_offset": input_offset}
            if self.path == "coopmat":
                sequence.dispatch(
                    self.weight_gradient_kernels[(rows, cols)],
                    buffers={"deltas": deltas, "layer_inputs": layer_inputs, "partials": self.partials},
                    push=push,
                    groups=workgroup_grid(self.device, self._chunks(n)),
                )
            else:
                tiles = (rows // _tile(rows, TILE_ROWS)) * (cols // _tile(cols, TILE_COLS))
                sequence.dispatch(
                    self.weight_gradient_kernels[(rows, cols)],
                    tiles * self._chunks(n),
                    {
                        "deltas": deltas.texels(_texel_components(rows, _tile(rows, TILE_ROWS))),
                        "layer_inputs": layer_inputs.texels(_texel_components(cols, _tile(cols, TILE_COLS))),
                        "partials": self.partials,
                    },
                    push,
                )
            sequence.dispatch(
                self.reduce_kernel,
                entries,
                {"partials": self.partials, "sums": self.gradients},
                {"n": entries, "rows": self._chunks(n), "out_offset": weight_offset},
            )
            weight_offset += entries

    def close(self) -> None:
        for buffer in (
            self.activations,
            self.outputs,
            self.output_deltas,
            self.deltas,
            self.d_inputs,
            self.d_outputs,
            self.gradients,
            self.partials,
        ):
            buffer.close()


class GridTraining:
    """The grid encoding's gradient buffer and backward kernel."""

    def __init__(self, encoding: GridEncoding):
        self.encoding = encoding
        device = encoding.device
        self.gradients = device.buffer(encoding.config.n_params * 4, "grid_gradients")
        self.kernel = device.kernel(
            "nn/grid_backward.comp", {**encoding.defines(), "NGVK_FLOAT_ATOMICS": float_atomics(device)}
        )

    def record_backward(self, sequence, positions, d_encoded, n: int) -> None:
        sequence.fill(self.gradients, 0)
        sequence.dispatch(
            self.kernel,
            n,
            {
                "positions": positions,
                "d_encoded": d_encoded,
                "grid_gradients": self.gradients,
            },
            {"n": n},
        )

    def close(self) -> None:
        self.gradients.close()


class Adam:
    """Adam state (moments and per-parameter step counts) for parameter groups on the device, and
    with the config's `average_decay` each group's moving average. The host writes the step's
    learning rate and the average's debiasing factors into `schedule` before each step
    (`schedule_step()`); until then the rate is the config's."""

    def __init__(self, device, config: AdamConfig = AdamConfig()):
        self.device = device
        self.config = config
        self.averaged = config.average_decay > 0.0
        self.kernel = device.kernel("nn/adam_step.comp", {"ADAM_AVERAGE": 1} if self.averaged else None)
        self.schedule = device.buffer_from(np.array([config.learning_rate, 0.0, 1.0], np.float32), "schedule")
        self.groups: list[tuple] = []
        self.averages: dict[int, object] = {}  # id(params) -> its average's buffer

    def add(self, params, gradients, n: int, is_matrix: bool, name: str) -> None:
        """Optimise `n` floats of buffer `params` using `gradients`; `is_matrix` for MLP weights."""
        first = self.device.buffer(n * 4, f"{name}_adam_first")
        second = self.device.buffer(n * 4, f"{name}_adam_second")
        steps = self.device.buffer(n * 4, f"{name}_adam_steps")
        for buffer in (first, second, steps):
            buffer.fill(0)
        average = None
        if self.averaged:
            average = self.averages[id(params)] = self.device.buffer(n * 4, f"{name}_average")
            average.fill(0)
        self.groups.append((params, gradients, first, second, steps, average, n, is_matrix))

    def schedule_step(self, step: int, learning_rate: float) -> None:
        """Before step `step` (1, 2, ...): its learning rate and the average's debiasing factors."""
        d = self.config.average_decay
        self.schedule.upload(np.array([learning_rate, 1.0 - d ** (step - 1), 1.0 / (1.0 - d**step)], np.float32))

    def average_of(self, params):
        """The buffer of the moving average of `params` (None without one)."""
        return self.averages.get(id(params))

    def record_step(self, sequence) -> None:
        c = self.config
        for params, gradients, first, second, steps, average, n, is_matrix in self.groups:
            buffers = {"params": params, "gradients": gradients, "first": first, "second": second, "steps": steps,
                       "schedule": self.schedule, **({"average": average} if average is not None else {})}
            sequence.dispatch(self.kernel, n, buffers,
                              {"n": n, "is_matrix": int(is_matrix), "beta1": c.beta1, "beta2": c.beta2,
                               "epsilon": c.epsilon, "l2_reg": c.l2_reg, "average_decay": c.average_decay})

    def state(self) -> list[dict]:
        """Each group's moments, step counts and average (None without one) as arrays (for tests)."""
        return [
            {
                "first": first.download(np.float32, (n,)),
                "second": second.download(np.float32, (n,)),
                "steps": steps.download(np.uint32, (n,)),
                "average": None if average is None else average.download(np.float32, (n,)),
            }
            for _, _, first, second, steps, average, n, _ in self.groups
        ]

    def close(self) -> None:
        for _, _, first, second, steps, average, _, _ in self.groups:
            for buffer in (first, second, steps, average):
                if buffer is not None:
                    buffer.close()
        self.groups.clear()
        self.averages.clear()
        self.schedule.close()


def record_loss(sequence, device, name: str, outputs, targets, d_outputs, losses, n: int, channels: int) -> None:
    """dL/d outputs and each sample's share of the loss (engine/nn/reference.py loss())."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    kernel = device.kernel("nn/loss.comp", {"LOSS": LOSS_CODES[name], "LOSS_CHANNELS": channels})
    sequence.dispatch(
        kernel, n, {"outputs": outputs, "targets": targets, "d_outputs": d_outputs, "losses": losses}, {"n": n}
    )


class Trainer:
    """A training step as a small graph of named stages, recorded once into a Sequence and
    resubmitted each step; Adam on the parameter groups at the end.

    An app composes the graph from engine pieces (its batch kernel, layers' forward and backward
    passes, a loss) with `stage(name, record)`: each `record(sequence)` records its dispatches and
    is timed under `name`. The batch kernel reads the step and seed from `state` (uint [2], written
    before every step), so nothing is re-recorded. The stage that computes the loss writes each
    sample's share into `losses`. `grid_mlp_trainer()` builds the graph of an encoding followed by
    one MLP; a NeRF-like graph (two networks, the loss after volume rendering) adds more stages.
    """

    def __init__(self, device, batch_size: int, seed: int = 0, adam: AdamConfig = AdamConfig()):
        self.device = device
        self.batch_size = batch_size
        self.seed = seed
        self.step = 0
        self.progress = 0.0  # of the fit, 0 to 1: the fit loop sets it before each step (AdamConfig.rate())
        self.state = device.buffer(8, "training_state")
        self.losses = device.buffer(batch_size * 4, "losses")
        self.adam = Adam(device, adam)
        self.sequence = device.sequence()
        self._owned = []
        self._finished = False

    def own(self, *objects):
        """Close these (buffers, layers' training state) with the trainer; returns the first."""
        self._owned.extend(objects)
        return objects[0]

    def stage(self, name: str, record) -> None:
        """Record stage `name`: `record(sequence)`, timed under that name."""
        if self._finished:
            raise RuntimeError("the training graph was finished: add stages before the first step")
        with self.sequence.timed(name):
            record(self.sequence)

    def optimise(self, params, gradients, n: int, is_matrix: bool, name: str) -> None:
        """Let Adam update `n` floats of `params` from `gradients` after the stages."""
        self.adam.add(params, gradients, n, is_matrix, name)

    def run_step(self) -> None:
        """One training step (waits for it to finish)."""
        if not self._finished:
            self.stage("adam", self.adam.record_step)
            self._finished = True
        self.step += 1
        self.state.upload(np.array([self.step, self.seed], dtype=np.uint32))
        self.adam.schedule_step(self.step, self.adam.config.rate(self.progress))
        self.sequence.run()

    def params(self, layer) -> np.ndarray:
        """What a model saves of `layer` (whose parameters this trainer optimises): their moving
        average where Adam keeps one (AdamConfig.average_decay), else the parameters."""
        return layer.get_params(self.adam.average_of(layer.params if isinstance(layer, GridEncoding) else layer.weights))

    def status(self) -> dict:
        """Live values of the training beside its loss, for a progress bar (none by default)."""
        return {}

    def last_loss(self) -> float:
        """The mean loss of the last step's batch."""
        return float(self.losses.download(np.float32, (self.batch_size,)).astype(np.float64).sum())

    def timings(self) -> dict[str, float]:
        """GPU milliseconds of each stage in the last step."""
        return self.sequence.timings()

    def close(self) -> None:
        self.sequence.close()
        self.adam.close()
        for thing in reversed(self._owned):
            thing.close()
        self._owned.clear()
        self.state.close()
        self.losses.close()


def grid_mlp_trainer(encoding: GridEncoding, mlp: MLP, batch_size: int, loss: str, record_batch, seed: int = 0,
                     adam: AdamConfig = AdamConfig()) -> Trainer:
    """The graph of the image, SDF and volume apps: batch -> grid encoding -> MLP -> loss, then
    back through the MLP and the grid. `record_batch(sequence, state, positions, targets, n)`
    records the app's batch kernel, which writes `n` positions and targets. The trainer's
    `positions` and `targets` are those buffers."""
    device = encoding.device
    n = batch_size
    trainer = Trainer(device, n, seed, adam)
    try:
        positions = trainer.positions = trainer.own(device.buffer(n * encoding.config.n_dims * 4, "positions"))
        targets = trainer.targets = trainer.own(device.buffer(n * mlp.config.n_output * 4, "targets"))
        encoded = trainer.own(device.buffer(n * encoding.config.n_output * 4, "encoded"))
        m = trainer.own(MLPTraining(mlp, n))
        grid = trainer.own(GridTraining(encoding))
        trainer.optimise(encoding.params, grid.gradients, encoding.config.n_params, False, "grid")
        trainer.optimise(mlp.weights, m.gradients, mlp.config.n_params, True, "mlp")
        outputs = mlp.config.n_output
        trainer.stage("batch", lambda s: record_batch(s, trainer.state, positions, targets, n))
        trainer.stage("encoding", lambda s: encoding.record_encode(s, positions, encoded, n))
        trainer.stage("mlp_forward", lambda s: m.record_forward(s, encoded, n))
        trainer.stage("loss", lambda s: record_loss(s, device, loss, m.outputs, targets, m.d_outputs, trainer.losses, n, outputs))
        trainer.stage("mlp_backward", lambda s: m.record_backward(s, encoded, n))
        trainer.stage("encoding_backward", lambda s: grid.record_backward(s, positions, m.d_inputs, n))
    except BaseException:
        trainer.close()
        raise
    return trainer
