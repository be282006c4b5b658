"""GPU layers: a grid encoding, spherical harmonics and the fully fused MLP on a Device.

Each layer owns its parameter buffers and knows the GLSL `#define`s and buffer bindings its include
file (shaders/lib/*.glsl) expects. A kernel that includes the layer's GLSL, standalone or fused with
other stages, takes `layer.defines()` and `layer.bindings()`; that is how the unfused and fused paths
share one implementation. `encode()` / `forward()` run the standalone kernel on numpy arrays, for
checks, tests and small jobs.

The MLP has three implementations of its standalone kernels (inference and training), chosen per
device and network by `mlp_path()` (the one place that decides; `NGVK_MLP` forces one):

- `portable`: lib/mlp.glsl, MLP_ITEMS samples per invocation, weights from texel buffers; tuned for
  CPU drivers, the default there;
- `portable-gpu`: lib/mlp_block.glsl in tcnn's design, fp32: a workgroup takes a block of 64 samples,
  the layer's weights and the block's activations staged in shared memory; the default on GPUs
  without usable cooperative matrices;
- `coopmat`: the same blocks on VK_KHR_cooperative_matrix tiles, fp16 weights and activations with
  fp32 accumulation, in the largest fp16 x fp16 -> fp32 subgroup shape the device lists; the default
  where one is listed (except on CPU devices, see `mlp_path()`), per network where its blocks fit the
  device's shared memory.

The fused app kernels include lib/mlp.glsl (`MLP.defines()`), per invocation, whatever the path;
the wavefront kernels too on the portable path, and otherwise run the network as an fp32 block of
their workgroup's queries (lib/mlp_rows.glsl, `MLP.rows_defines()`, `MLP.in_rows`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from ngvk.engine.errors import NgvkError
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


MLP_PATHS = ("portable", "portable-gpu", "coopmat")
# Samples per workgroup of the block kernels: engine/render/rays.py GROUP_SIZE, so that they can be
# dispatched through a ray counter's words 1..3 (one workgroup per GROUP_SIZE items).
BLOCK_ROWS = 64
BLOCK_THREADS = 64  # portable-gpu: invocations per workgroup,
BLOCK_TR = 8  # as 8 row groups x 8 column groups of each layer's output (shaders/lib/mlp_block_tiles.glsl)
# Why a CPU device keeps the portable path where it lists cooperative matrices: on lavapipe 26
# (2-core AMD EPYC, 32-64-64-3 forward over 2^16 samples) 16 GFLOP/s against coopmat's 3.3.
CPU_COOPMAT_NOTE = "slower on a CPU than the texel-buffer MLP (NGVK_MLP=coopmat forces it)"


@dataclass(frozen=True)
class MLPPath:
    """Which implementation an MLP's standalone kernels use, and why (`ngvk info` prints it)."""

    name: str  # one of MLP_PATHS
    reason: str
    shape: tuple[int, int, int] | None = None  # coopmat: the M, N, K of its tiles

    @property
    def precision(self) -> str:
        """The arithmetic of weights and activations: fp16 (fp32 accumulation) or fp32."""
        return "fp16" if self.name == "coopmat" else "fp32"

    def describe(self) -> str:
        """`coopmat 8x8x8 fp16->fp32`, `portable-gpu` or `portable`."""
        if self.shape:
            return f"{self.name} {'x'.join(map(str, self.shape))} fp16->fp32"
        return self.name


def cooperative_matrix_shape(device) -> tuple[tuple[int, int, int] | None, str]:
    """The best cooperative-matrix shape for the MLP and why, or (None, why not).

    Shapes come from the device's list (DeviceInfo.cooperative_matrix_shapes), never assumed: fp16 A
    and B, fp32 C and result, subgroup scope, with M dividing a block of 64 samples and N and K
    dividing 16 (every MLP width is a multiple of 16); the largest M x N x K wins (8x8x8 on lavapipe
    26, 16x16x16 on NVIDIA)."""
    info = device.info
    if not info.cooperative_matrix:
        if "VK_KHR_cooperative_matrix" in info.extensions:
            return None, "not supported on this device (VK_KHR_cooperative_matrix is listed but not usable here)"
        return None, "not supported on this device (no VK_KHR_cooperative_matrix)"
    if not info.float16:
        return None, "not supported on this device (no fp16 arithmetic)"
    fitting = [
        (m, n, k)
        for m, n, k, a, b, c, result, scope in info.cooperative_matrix_shapes
        if (a, b, c, result, scope) == ("float16", "float16", "float32", "float32", "subgroup")
        and BLOCK_ROWS % m == 0 and 16 % n == 0 and 16 % k == 0
    ]
    if not fitting:
        return None, ("not supported on this device (VK_KHR_cooperative_matrix lists no subgroup fp16 x fp16 -> "
                      "fp32 shape with M dividing 64 and N, K dividing 16)")
    shape = max(fitting, key=lambda s: (s[0] * s[1] * s[2], s[2]))
    return shape, f"VK_KHR_cooperative_matrix lists {'x'.join(map(str, shape))} fp16 x fp16 -> fp32"


def coopmat_subgroups(device) -> int:
    """Subgroups per workgroup of the coopmat kernels: up to 128 invocations in at most 8 subgroups
    (4 warps of 32 on NVIDIA, 8 subgroups of 8 on lavapipe)."""
    return max(1, min(8, 128 // max(1, device.info.subgroup_size)))


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def coopmat_pad(shape) -> int:
    """The granule matrices are padded to in the coopmat kernels (CM_PAD)."""
    m, n, k = shape
    return math.lcm(m, n, k)


def coopmat_shared_bytes(config: MLPConfig, shape, subgroups: int) -> int:
    """Shared memory of the largest coopmat kernel for `config` (the arrays the shaders declare:
    nn/mlp_coopmat_forward.comp, _backward.comp, _weight_gradient.comp)."""
    m, n, _ = shape
    pad = coopmat_pad(shape)
    w, in_pad, out_pad = config.width, _round_up(config.n_input, pad), _round_up(config.n_output, pad)
    scratch = subgroups * m * n * 4
    weights = max(w, out_pad) * (max(in_pad, w) + 8) * 2
    forward = 2 * BLOCK_ROWS * (max(in_pad, w) + 8) * 2 + weights + scratch
    backward = 2 * BLOCK_ROWS * (max(out_pad, w) + 8) * 2 + weights + scratch + 4
    gradient = max(BLOCK_ROWS * (_round_up(r, pad) + 8) * 2 + BLOCK_ROWS * (_round_up(c, pad) + 8) * 2
                   for r, c in config.layer_shapes()) + scratch + 8
    return max(forward, backward, gradient)


def block_shared_bytes(config: MLPConfig, rows: int) -> int:
    """Shared memory of the larger portable-gpu kernel for `config` with `rows` samples per pass
    (shaders/lib/mlp_block_tiles.glsl's arrays)."""
    i, w, o = config.n_input, config.width, config.n_output
    weights = max(w, o) * (max(i, w) + 1) * 4
    return max(rows * (max(i, w) + 1), rows * (max(o, w) + 1)) * 4 + weights


def block_rows(device, config: MLPConfig) -> int | None:
    """Samples per pass of the portable-gpu kernels: the most of 64, 32, 16, 8 whose activations and
    weights fit the device's shared memory (None if none does)."""
    for rows in (64, 32, 16, 8):
        if block_shared_bytes(config, rows) <= device.info.max_shared_memory:
            return rows
    return None


def mlp_path(device, config: MLPConfig | None = None, requested: str | None = None) -> MLPPath:
    """The MLP implementation for `config` on `device` (or for the device in general, config None).

    `requested` (default: `$NGVK_MLP`, else automatic) is one of MLP_PATHS or "auto". Automatic:
    coopmat where the device lists a usable cooperative-matrix shape, unless the device is a CPU
    (lavapipe 26 lists 8x8x8, but there the tuned texel-buffer MLP is faster: docs/gpu.md,
    "Cooperative-matrix MLP"); otherwise portable-gpu on GPUs and portable on CPUs. A network whose
    blocks do not fit the device's shared memory falls back (coopmat -> portable-gpu on GPUs or
    portable on CPUs; portable-gpu -> portable), with the reason. Forcing coopmat on a device
    without usable cooperative matrices is an NgvkError.
    """
    requested = (requested or os.environ.get("NGVK_MLP", "")).strip().lower() or "auto"
    if requested not in (*MLP_PATHS, "auto"):
        raise NgvkError(f"NGVK_MLP={requested}: choose one of {', '.join(MLP_PATHS)} or auto")
    info = device.info
    cpu = info.type == "CPU"
    shape, why = cooperative_matrix_shape(device)
    if requested == "coopmat" and shape is None:
        raise NgvkError(f"NGVK_MLP=coopmat: the cooperative-matrix MLP is {why}")
    fallback = "portable" if cpu else "portable-gpu"
    notes = []
    choice = requested
    if requested == "auto":
        choice = "coopmat" if shape and not cpu else fallback
        if choice != "coopmat":
            notes.append(f"cooperative matrices: {why}; {CPU_COOPMAT_NOTE}" if shape else f"cooperative matrices: {why}")
    forced = f"NGVK_MLP={requested}" if requested != "auto" else ""
    if choice == "coopmat":
        needed = coopmat_shared_bytes(config, shape, coopmat_subgroups(device)) if config else 0
        if needed <= info.max_shared_memory:
            return MLPPath("coopmat", why + (f" ({forced})" if forced else ""), shape)
        notes.append(f"coopmat: {config.summary()} needs {needed / 1024:.1f} KiB of shared memory, "
                     f"the device has {info.max_shared_memory // 1024} KiB")
        choice = fallback
    if choice == "portable-gpu":
        if config is None or block_rows(device, config):
            base = forced if forced == "NGVK_MLP=portable-gpu" else f"a {info.type}: blocks of {BLOCK_ROWS} samples in shared memory"
            return MLPPath("portable-gpu", "; ".join([base, *notes]))
        notes.append(f"portable-gpu: {config.summary()} does not fit {info.max_shared_memory // 1024} KiB of shared memory")
    if forced == "NGVK_MLP=portable":
        base = forced
    else:
        base = "a CPU device: the tuned texel-buffer MLP" if cpu else "the texel-buffer MLP"
    return MLPPath("portable", "; ".join([base, *notes]))


def workgroup_grid(device, groups: int) -> tuple[int, int, int]:
    """`groups` workgroups as a dispatch grid, folded into 2D beyond the device's x limit (as
    Kernel.groups() does; shaders/lib/mlp_block.glsl workgroup_index() unfolds it)."""
    max_x = device.info.max_workgroup_count[0]
    if groups <= max_x:
        return (groups, 1, 1)
    return (max_x, -(-groups // max_x), 1)


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

    def get_params(self, buffer=None) -> np.ndarray:
        """The parameters, or those of `buffer` laid out as they are (e.g. their training average)."""
        return (self.params if buffer is None else buffer).download(np.float32, (self.config.n_entries, self.config.n_features))

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
    """A fully fused MLP with its weights (fp32: Adam updates them; the coopmat kernels convert
    them to fp16 as they stage them). `path` (default: mlp_path()'s choice) picks the
    implementation of its standalone kernels, `self.path` (an MLPPath) says which and why."""

    def __init__(self, device, config: MLPConfig, params: np.ndarray | None = None, path: str | None = None):
        self.device = device
        self.config = config
        self.path = mlp_path(device, config, path)
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

    def get_params(self, buffer=None) -> np.ndarray:
        """The weights, or those of `buffer` laid out as they are (e.g. their training average)."""
        return (self.weights if buffer is None else buffer).download(np.float32, (self.config.n_params,))

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
        """The inference kernel of the MLP's path."""
        if self.path.name == "portable":
            return self.device.kernel("nn/mlp_forward.comp", {**self.defines(), "ITEM_COUNTER": int(item_counter)})
        return self.path_kernel("forward", {"ITEM_COUNTER": int(item_counter), "MLP_TRAINING": 0})

    def block_defines(self) -> dict:
        """The `#define`s of the block kernels (portable-gpu and coopmat paths, lib/mlp_block.glsl)."""
        c = self.config
        defines = {
            "MLP_INPUTS": c.n_input,
            "MLP_WIDTH": c.width,
            "MLP_OUTPUTS": c.n_output,
            "MLP_HIDDEN_LAYERS": c.n_hidden_layers,
            "MLP_OUTPUT_ACTIVATION": ACTIVATION_CODES[c.output_activation],
            "MLP_BLOCK": BLOCK_ROWS,
        }
        if self.path.name == "coopmat":
            m, n, k = self.path.shape
            defines.update(CM_M=m, CM_N=n, CM_K=k, CM_SUBGROUPS=coopmat_subgroups(self.device),
                           CM_PAD=coopmat_pad(self.path.shape))
        else:
            defines.update(MLP_ROWS=block_rows(self.device, c), MLP_THREADS=BLOCK_THREADS, BLOCK_TR=BLOCK_TR)
        return defines

    @property
    def block_threads(self) -> int:
        """Invocations per workgroup of the block kernels."""
        if self.path.name == "coopmat":
            return coopmat_subgroups(self.device) * self.device.info.subgroup_size
        return BLOCK_THREADS

    @property
    def in_rows(self) -> bool:
        """Whether kernels with one sample per invocation (the wavefront kernels) run this network
        as a block of the workgroup's samples (lib/mlp_rows.glsl): where its standalone kernels do
        (portable-gpu, coopmat: GPUs), and there is shared memory for the block. fp32 on every path,
        as the fused kernels' MLP: the same numbers as the portable paths."""
        return self.path.name != "portable" and self.rows_per_pass() is not None

    def rows_per_pass(self) -> int | None:
        """lib/mlp_rows.glsl's MLP_ROWS: the most of 64, 32, 16, 8 samples whose activations and
        weights fit shared memory beside the workgroup's outputs."""
        outputs = BLOCK_THREADS * self.config.n_output * 4
        for rows in (64, 32, 16, 8):
            if block_shared_bytes(self.config, rows) + outputs <= self.device.info.max_shared_memory:
                return rows
        return None

    def rows_defines(self) -> dict:
        """The `#define`s of lib/mlp_rows.glsl (with MLP_ITEMS 1), for a workgroup of BLOCK_THREADS."""
        return {**self.defines(), "MLP_ITEMS": 1, "MLP_ROWS_BLOCK": 1, "MLP_THREADS": BLOCK_THREADS,
                "MLP_ROWS": self.rows_per_pass(), "BLOCK_TR": BLOCK_TR}

    def path_kernel(self, stage: str, defines: dict | None = None):
        """The block kernel of `stage` (forward, backward) of the MLP's portable-gpu or coopmat path."""
        folder = "mlp_coopmat" if self.path.name == "coopmat" else "mlp_block"
        return self.device.kernel(f"nn/{folder}_{stage}.comp", {**self.block_defines(), **(defines or {})},
                                  local_size=self.block_threads)

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

        if self.path.name != "portable":
            # Blocks of BLOCK_ROWS = GROUP_SIZE samples: through a counter, its words 1..3.
            buffers = {"inputs": inputs, "outputs": outputs, **self.bindings()}
            if counter is None:
                groups = workgroup_grid(self.device, -(-n // BLOCK_ROWS))
                sequence.dispatch(self.kernel(), buffers=buffers, push={"n": n}, groups=groups)
            else:
                sequence.dispatch(self.kernel(True), buffers={**buffers, "item_counter": counter}, push={"n": n},
                                  indirect=counter)
            return
        items = items_per_invocation(self.device)
        buffers = {"inputs": self.input_texels(inputs), "outputs": outputs, **self.bindings()}
        if counter is None:
            sequence.dispatch(self.kernel(), -(-n // items), buffers, {"n": n})
        else:
            sequence.dispatch(self.kernel(True), buffers={**buffers, "item_counter": counter}, push={"n": n},
                              indirect=batched(counter))

    def close(self) -> None:
        self.weights.close()
