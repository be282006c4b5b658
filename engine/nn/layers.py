"""GPU layers: a grid encoding, spherical harmonics and the fully fused MLP on a Device.

Each layer owns its parameter buffers and knows the GLSL `#define`s and buffer bindings its include
file (shaders/lib/*.glsl) expects. A kernel that includes the layer's GLSL, standalone or fused with
other stages, takes `layer.defines()` and `layer.bindings()`; that is how the unfused and fused paths
share one implementation. `encode()` / `forward()` run the standalone kernel on numpy arrays, for
checks, tests and small jobs.
"""

from __future__ import annotations

import os

import numpy as np

from ngvk.engine.nn.config import SH_OUTPUTS, GridConfig, MLPConfig
from ngvk.engine.poison import POISON_WORD

ACTIVATION_CODES = {"none": 0, "relu": 1, "sigmoid": 2, "exp": 3}


def items_per_invocation(device, training: bool = False) -> int:
    """Samples each MLP invocation evaluates (MLP_ITEMS in lib/mlp.glsl).

    On a CPU driver an invocation is one SIMD lane and each weight fetch is a gather, so several
    samples share every fetch (lavapipe, 2 cores, 32-64-64-3 forward, weights in a texel buffer:
    49 GFLOP/s with 4, 59 with 8, 50 with 12, 58 with 16; 2.3 for the first one-sample kernel). The
    cost is pipeline-creation time, which grows faster than linearly, so the larger training kernels
    take 4 (8 there ran no faster and took 23 s to create, cold). GPUs have threads to spare and
    registers to save: 1.
    `NGVK_MLP_ITEMS` overrides.
    """
    override = os.environ.get("NGVK_MLP_ITEMS")
    if override:
        return max(1, int(override))
    if device.info.type != "CPU":
        return 1
    return 4 if training else 8


def float_atomics(device) -> int:
    """NGVK_FLOAT_ATOMICS for lib/atomics.glsl: 1 where buffers take float atomicAdd."""
    return int(device.info.float_atomic_add)


def run_kernel(
    device, kernel, n: int, inputs: dict, outputs: dict, push: dict | None = None, invocations: int | None = None
) -> dict:
    """Run `kernel` once over `n` items: `inputs` maps binding names to numpy arrays, Buffers or
    texel views, `outputs` maps binding names to (shape) of float32 results; returns the outputs as
    arrays. Outputs start as NaN (POISON_WORD), so whatever the kernel leaves unwritten reads as NaN.
    `invocations` (default n) is for kernels that take several items per invocation."""
    owned = []
    try:
        bound = {}
        for name, value in inputs.items():
            if isinstance(value, np.ndarray):
                value = device.buffer_from(np.ascontiguousarray(value, dtype=np.float32), name)
                owned.append(value)
            bound[name] = value
        for name, shape in outputs.items():
            buffer = device.buffer(max(int(np.prod(shape)) * 4, 4), name)
            owned.append(buffer)
            bound[name] = buffer
        with device.sequence() as sequence:
            for name in outputs:
                sequence.fill(bound[name], POISON_WORD)
            sequence.dispatch(kernel, n if invocations is None else invocations, bound, {"n": n, **(push or {})})
            sequence.run()
        return {name: bound[name].download(np.float32, shape) for name, shape in outputs.items()}
    finally:
        for buffer in owned:
            buffer.close()


def grid_level_table_glsl(config: GridConfig) -> str:
    """The level table as GLSL constructors for GRID_LEVEL_TABLE (lib/grid_types.glsl). Scales are
    written with 9 significant digits (%.8e), which round-trip float32 exactly."""
    rows = []
    for offset, size, resolution, scale_bits, hashed in config.level_table().tolist():
        scale = np.uint32(scale_bits).view(np.float32)
        rows.append(f"GridLevel({offset}u,{size}u,{resolution}u,{float(scale):.8e},{hashed}u)")
    return ",".join(rows)


class GridEncoding:
    """A multi-resolution grid encoding (hashgrid, densegrid or lowres) with its parameters."""

    def __init__(self, device, config: GridConfig, params: np.ndarray | None = None):
        self.device = device
        self.config = config
        self.params = device.buffer(config.n_params * 4, "grid_params")
        # Floats per texel when the shaders fetch the parameters (lib/grid_types.glsl).
        self.texel_components = next(c for c in (4, 2, 1) if config.n_features % c == 0)
        if params is not None:
            self.set_params(params)

    def set_params(self, params: np.ndarray) -> None:
        params = np.asarray(params, dtype=np.float32)
        if params.size != self.config.n_params:
            raise ValueError(f"{self.config.summary()}: expected {self.config.n_params} parameters, got {params.size}")
        self.params.upload(params)

    def get_params(self) -> np.ndarray:
        return self.params.download(np.float32, (self.config.n_entries, self.config.n_features))

    def defines(self, instance: str | None = None) -> dict:
        """The `#define`s of lib/grid_encoding.glsl for this grid: as the kernel's only grid
        (GRID_DIMS, ...), or as the named instance `instance` (INSTANCE_DIMS, ...) beside others."""
        c = self.config
        prefix = f"{instance}_" if instance else "GRID_"
        values = {
            "DIMS": c.n_dims,
            "LEVELS": c.n_levels,
            "FEATURES": c.n_features,
            "LEVEL_TABLE": grid_level_table_glsl(c),
            "TEXEL_COMPONENTS": self.texel_components,
        }
        return {prefix + k: v for k, v in values.items()}

    def bindings(self, instance: str | None = None) -> dict:
        """The parameters' binding: `grid_params`, or `INSTANCE_params` for a named instance."""
        return {f"{instance}_params" if instance else "grid_params": self.params.texels(self.texel_components)}

    def kernel(self, item_counter: bool = False):
        return self.device.kernel("nn/grid_encode.comp", {**self.defines(), "ITEM_COUNTER": int(item_counter)})

    def record_encode(self, sequence, positions, encoded, n: int, counter=None) -> None:
        """Record the encoding of `n` positions from buffer `positions` into buffer `encoded`; with
        `counter` (engine/render/rays.py), of as many as counter[0] says, dispatched through it."""
        buffers = {"positions": positions, "encoded": encoded, **self.bindings()}
        if counter is None:
            sequence.dispatch(self.kernel(), n, buffers, {"n": n})
        else:
            sequence.dispatch(self.kernel(True), buffers={**buffers, "item_counter": counter}, push={"n": n},
                              indirect=counter)

    def encode(self, positions: np.ndarray) -> np.ndarray:
        """[N, D] positions in [0, 1] -> [N, L * F] features."""
        positions = np.asarray(positions, dtype=np.float32)
        n = len(positions)
        out = run_kernel(
            self.device, self.kernel(), n, {"positions": positions, **self.bindings()}, {"encoded": (n, self.config.n_output)}
        )
        return out["encoded"]

    def jacobian(self, positions: np.ndarray) -> np.ndarray:
        """[N, D] positions -> d encoded / d position, [N, L * F, D] (nn/grid_encode_jacobian.comp)."""
        positions = np.asarray(positions, dtype=np.float32)
        n, c = len(positions), self.config
        kernel = self.device.kernel("nn/grid_encode_jacobian.comp", self.defines())
        out = run_kernel(self.device, kernel, n, {"positions": positions, **self.bindings()},
                         {"jacobian": (n, c.n_output, c.n_dims)})
        return out["jacobian"]

    def close(self) -> None:
        self.params.close()


class SphericalHarmonics:
    """Degree-4 spherical harmonics of directions (no parameters)."""

    def __init__(self, device):
        self.device = device

    def defines(self) -> dict:
        return {}

    def bindings(self) -> dict:
        return {}

    def encode(self, directions: np.ndarray) -> np.ndarray:
        """[N, 3] unit directions -> [N, 16]."""
        directions = np.asarray(directions, dtype=np.float32)
        n = len(directions)
        kernel = self.device.kernel("nn/sh_encode.comp")
        return run_kernel(self.device, kernel, n, {"directions": directions}, {"encoded": (n, SH_OUTPUTS)})["encoded"]

    def close(self) -> None:
        pass


class MLP:
    """A fully fused MLP with its weights."""

    def __init__(self, device, config: MLPConfig, params: np.ndarray | None = None):
        self.device = device
        self.config = config
        # Whole RGBA32F texels: the kernels fetch the weights four at a time (lib/mlp_weights.glsl).
        self.weight_vec4s = -(-config.n_params // 4)
        self.weights = device.buffer(self.weight_vec4s * 16, "mlp_weights")
        self.weights.fill(0)
        # Floats per texel when kernels fetch inputs or outputs (4 where rows are whole texels).
        self.input_components = 4 if config.n_input % 4 == 0 else 1
        self.output_components = 4 if config.n_output % 4 == 0 else 1
        if params is not None:
            self.set_params(params)

    def set_params(self, params: np.ndarray) -> None:
        params = np.asarray(params, dtype=np.float32)
        if params.size != self.config.n_params:
            raise ValueError(f"{self.config.summary()}: expected {self.config.n_params} parameters, got {params.size}")
        self.weights.upload(params)

    def get_params(self) -> np.ndarray:
        return self.weights.download(np.float32, (self.config.n_params,))

    def defines(self, instance: str | None = None) -> dict:
        """The `#define`s of lib/mlp.glsl for this network: as the kernel's only MLP (MLP_INPUTS,
        ...), or as the named instance `instance` (INSTANCE_INPUTS, ...) beside others. MLP_ITEMS,
        the samples per invocation, is the kernel's, shared by its instances."""
        c = self.config
        prefix = f"{instance}_" if instance else "MLP_"
        values = {
            "INPUTS": c.n_input,
            "WIDTH": c.width,
            "OUTPUTS": c.n_output,
            "HIDDEN_LAYERS": c.n_hidden_layers,
            "OUTPUT_ACTIVATION": ACTIVATION_CODES[c.output_activation],
            "INPUT_COMPONENTS": self.input_components,
            "OUTPUT_COMPONENTS": self.output_components,
        }
        return {"MLP_ITEMS": items_per_invocation(self.device), **{prefix + k: v for k, v in values.items()}}

    def bindings(self, instance: str | None = None) -> dict:
        """The weights' binding: `mlp_weights`, or `INSTANCE_weights` for a named instance."""
        return {f"{instance}_weights" if instance else "mlp_weights": self.weights.texels(4)}

    def kernel(self, item_counter: bool = False):
        return self.device.kernel("nn/mlp_forward.comp", {**self.defines(), "ITEM_COUNTER": int(item_counter)})

    def forward(self, inputs: np.ndarray) -> np.ndarray:
        """[N, n_input] -> [N, n_output] (outputs start as NaN, as in run_kernel())."""
        inputs = np.asarray(inputs, dtype=np.float32)
        n = len(inputs)
        with self.device.buffer_from(inputs, "inputs") as buffer, self.device.buffer(
            n * self.config.n_output * 4, "outputs"
        ) as outputs:
            with self.device.sequence() as sequence:
                sequence.fill(outputs, POISON_WORD)
                self.record_forward(sequence, buffer, outputs, n)
                sequence.run()
            return outputs.download(np.float32, (n, self.config.n_output))

    def input_texels(self, inputs):
        """Buffer `inputs` [n, n_input] as the texels the kernels fetch."""
        return inputs.texels(self.input_components)

    def record_forward(self, sequence, inputs, outputs, n: int, counter=None) -> None:
        """Record the forward pass of `n` samples from buffer `inputs` into buffer `outputs`; with
        `counter` (engine/render/rays.py, its arguments written for items_per_invocation()), of as
        many as counter[0] says, dispatched through it."""
        from ngvk.engine.render.rays import batched

        items = items_per_invocation(self.device)
        buffers = {"inputs": self.input_texels(inputs), "outputs": outputs, **self.bindings()}
        if counter is None:
            sequence.dispatch(self.kernel(), -(-n // items), buffers, {"n": n})
        else:
            sequence.dispatch(self.kernel(True), buffers={**buffers, "item_counter": counter}, push={"n": n},
                              indirect=batched(counter))

    def close(self) -> None:
        self.weights.close()
