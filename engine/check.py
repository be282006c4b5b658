"""`ngvk check`: every kernel on the selected device against its NumPy reference.

A user on a new GPU or driver runs this first. It covers every kernel of the engine (encodings, their
derivative, the MLP forward and training passes, losses, Adam, compaction) and those the apps
contribute (App.check_cases()); a test checks that the kernels it reports are all the kernels in
shaders/ of the engine and of the registered apps. Each case draws random
inputs plus the awkward ones (0, 1, points exactly on grid-cell boundaries; a sample count that is not
a multiple of the samples per invocation or of the workgroup), runs the kernel on output buffers
filled with NaN (so an output it skips fails), and compares with the reference:
the largest absolute error must be at most `RELATIVE_TOLERANCE * max|reference|` (fp32 arithmetic
against a float64 reference). The tests run the same cases, so `check` and the suite agree.

The MLP's three paths (engine/nn/layers.py mlp_path()) are all checked wherever they can run: the
portable kernels on every case, the portable-gpu block kernels (fp32, the same tolerance) on a
small and an app network, and the cooperative-matrix kernels (fp16) on the apps' networks
(PAPER_NETWORKS) and odd shapes with `fp16_tolerance()`. Where the device has no usable
cooperative matrices, their kernels are reported as not supported on this device: neither a pass
nor a failure (`CheckResult.unsupported`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from ngvk.engine.nn import reference
from ngvk.engine.nn.config import PAPER_NETWORKS, GridConfig, MLPConfig, grid_preset
from ngvk.engine.nn.layers import MLP, GridEncoding, SphericalHarmonics, cooperative_matrix_shape

RELATIVE_TOLERANCE = 1e-4
SAMPLES = 4093  # a prime: not a multiple of any invocation or workgroup size
FP16_UNIT_ROUNDOFF = 2.0**-11  # fp16's relative rounding error (10 stored mantissa bits)
COOPMAT_KERNELS = ("mlp_coopmat_forward", "mlp_coopmat_backward", "mlp_coopmat_weight_gradient")


@dataclass
class CheckResult:
    kernel: str
    case: str
    max_error: float
    tolerance: float
    seconds: float
    unsupported: str = ""  # why the case cannot run on this device: neither passed nor failed

    @property
    def passed(self) -> bool:
        return not self.unsupported and bool(self.max_error <= self.tolerance)

    @property
    def failed(self) -> bool:
        return not self.unsupported and not self.passed

    def as_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def compare(kernel: str, case: str, result: np.ndarray, expected: np.ndarray, seconds: float,
            relative_tolerance: float = RELATIVE_TOLERANCE) -> CheckResult:
    """The largest absolute error and its tolerance, relative to the reference's largest magnitude."""
    expected = np.asarray(expected, dtype=np.float64)
    error = float(np.max(np.abs(np.asarray(result, dtype=np.float64) - expected))) if expected.size else 0.0
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    return CheckResult(kernel, case, error, relative_tolerance * max(scale, 1e-30), seconds)


PIXEL_THRESHOLD = 0.02  # a pixel of a render is off when a channel differs by more than this
PIXELS_ALLOWED = 0.02  # and a render case allows this fraction of its pixels off


def compare_pixels(kernel: str, case: str, frame: np.ndarray, expected: np.ndarray, seconds: float) -> CheckResult:
    """A render (channels last) against its NumPy reference: the fraction of pixels off by more than
    PIXEL_THRESHOLD (or not finite), allowed up to PIXELS_ALLOWED. For iterative renderers, float32
    on the device against float64, where a sample or a collision decided by a hair can change a
    ray or a path."""
    off = np.max(np.abs(frame - expected), axis=-1) > PIXEL_THRESHOLD
    off |= ~np.isfinite(frame).all(axis=-1)
    return CheckResult(kernel, f"{case} (fraction of pixels off by > {PIXEL_THRESHOLD:g})", float(np.mean(off)),
                       PIXELS_ALLOWED, seconds)


def fp16_tolerance(config: MLPConfig) -> float:
    """The coopmat path's tolerance, relative to max |reference| like RELATIVE_TOLERANCE:
    4 u (L + 1), u = 2^-11 fp16's unit roundoff and L + 1 the network's layers (1.2e-2 of the
    largest output for the apps' two-hidden-layer networks).

    Per layer the kernels round the weights and the layer's input activations to fp16 (relative
    error at most u each, so at most 2u per product) and sum the products in fp32 (2^-24: nothing
    next to u); the layer's output is rounded to fp16 once more for the next layer (u). Summed over
    K products of random signs the rounding errors grow like the sum itself (both random walks of K
    steps), so relative to the outputs' magnitude a layer adds about 3u, and 4u leaves room for the
    largest of thousands of outputs; the layers' errors add up. The backward pass and the weight
    gradients are sums of the same kind (over a layer's outputs, over the samples: the weight-
    gradient kernel scales each block of deltas and inputs by a power of two first, so small
    gradients keep fp16's full precision) and take the same tolerance. Measured on lavapipe 26
    (docs/gpu.md, "Cooperative-matrix MLP"): at most 0.15 of it. What a bug does (a wrong or missing tile,
    a slice of a sum left out, padding that is not zero) is tens of per cent.
    """
    return 4 * FP16_UNIT_ROUNDOFF * (config.n_hidden_layers + 1)


MLP_KERNELS = {  # the inference kernel of each path
    "portable": "mlp_forward",
    "portable-gpu": "mlp_block_forward",
    "coopmat": "mlp_coopmat_forward",
}


def path_unsupported(kernels, case: str, reason: str) -> list[CheckResult]:
    """Results that say `case` of these kernels cannot run here, and why."""
    return [CheckResult(kernel, case, 0.0, 0.0, 0.0, unsupported=reason) for kernel in kernels]


def coopmat_cases() -> list[tuple[str, MLPConfig]]:
    """The cooperative-matrix MLP's cases: the apps' networks, then shapes whose inputs and outputs
    are not multiples of any tile (7 -> 5: padded), the narrowest width and the deepest network."""
    return [
        *PAPER_NETWORKS.items(),
        ("odd sizes 7->16->5 exp", MLPConfig(7, 5, 16, 1, "exp")),
        ("width 32, 8 hidden, relu", MLPConfig(16, 4, 32, 8, "relu")),
    ]


# The portable-gpu kernels' cases: a small network with odd sizes and an app's (few, because on a
# CPU driver each is a pipeline to build; the kernels are the same code at every size).
BLOCK_CASES = [
    ("odd sizes 7->16->5 exp", MLPConfig(7, 5, 16, 1, "exp")),
    ("32-64-64-3 sigmoid", MLPConfig(32, 3, 64, 2, "sigmoid")),
]


def grid_positions(config: GridConfig, rng: np.random.Generator, n: int = SAMPLES) -> np.ndarray:
    """Random positions in [0, 1]^D, then the corners 0 and 1 and points on every level's cell
    boundaries (where x * scale + 0.5 is an integer)."""
    random = rng.random((n, config.n_dims), dtype=np.float32)
    corners = np.array([[0.0] * config.n_dims, [1.0] * config.n_dims], dtype=np.float32)
    boundaries = []
    for scale in config.scales():
        k = rng.integers(1, int(scale) + 1, size=(16, config.n_dims))
        boundaries.append(((k - 0.5) / scale).astype(np.float32))
    return np.concatenate([random, corners, np.clip(np.concatenate(boundaries), 0, 1)])


def grid_cases() -> list[tuple[str, GridConfig]]:
    """Every encoding in 2D and 3D; the hashgrid both with a table that is dense at every level and
    with one small enough to hash."""
    cases = []
    for dims in (2, 3):
        dense_everywhere = GridConfig("hashgrid", dims, 4, 2, 8, 1.5, 22 if dims == 3 else 16)
        assert not dense_everywhere.level_table()[:, 4].any()
        cases.append((f"hashgrid {dims}D dense table", dense_everywhere))
        hashed = grid_preset("hashgrid", dims, finest_resolution=512, log2_table_size=14)
        assert hashed.level_table()[:, 4].any()
        cases.append((f"hashgrid {dims}D hashed T=2^14", hashed))
        cases.append((f"densegrid {dims}D", grid_preset("densegrid", dims)))
        cases.append((f"lowres {dims}D", grid_preset("lowres", dims)))
    return cases


def unit_directions(rng: np.random.Generator, n: int = SAMPLES) -> np.ndarray:
    d = rng.normal(size=(n, 3))
    axes = np.concatenate([np.eye(3), -np.eye(3)])
    d = np.concatenate([d / np.linalg.norm(d, axis=1, keepdims=True), axes])
    return d.astype(np.float32)


def mlp_cases() -> list[tuple[str, MLPConfig]]:
    """Every width, every output activation and every depth from 1 to 8 (lib/mlp.glsl's limit), the
    four apps' networks, and odd sizes (7 inputs: the weights are then read one at a time, not four;
    lib/mlp.glsl)."""
    return [
        ("width 16, 1 hidden, exp", MLPConfig(32, 4, 16, 1, "exp")),
        ("width 32, 3 hidden, relu", MLPConfig(32, 4, 32, 3, "relu")),
        ("width 64, 4 hidden, sigmoid", MLPConfig(32, 4, 64, 4, "sigmoid")),
        ("width 128, 2 hidden, none", MLPConfig(32, 4, 128, 2, "none")),
        ("width 16, 5 hidden, relu", MLPConfig(32, 4, 16, 5, "relu")),
        ("width 32, 6 hidden, none", MLPConfig(32, 4, 32, 6, "none")),
        ("width 16, 7 hidden, sigmoid", MLPConfig(16, 3, 16, 7, "sigmoid")),
        ("width 16, 8 hidden, exp", MLPConfig(32, 4, 16, 8, "exp")),
        *PAPER_NETWORKS.items(),
        ("odd sizes 7->16->5", MLPConfig(7, 5, 16, 1, "none")),
    ]


def check_grid(device, name: str, config: GridConfig, rng) -> CheckResult:
    params = rng.uniform(-1.0, 1.0, size=(config.n_entries, config.n_features)).astype(np.float32)
    positions = grid_positions(config, rng)
    start = time.perf_counter()
    encoding = GridEncoding(device, config, params)
    try:
        result = encoding.encode(positions)
    finally:
        encoding.close()
    seconds = time.perf_counter() - start
    return compare("grid_encode", name, result, reference.grid_encode(config, params, positions), seconds)


def check_sh(device, rng) -> CheckResult:
    directions = unit_directions(rng)
    start = time.perf_counter()
    result = SphericalHarmonics(device).encode(directions)
    seconds = time.perf_counter() - start
    return compare("sh_encode", "degree 4", result, reference.sh_encode(directions), seconds)


def path_tolerance(path: str, config: MLPConfig) -> float:
    return fp16_tolerance(config) if path == "coopmat" else RELATIVE_TOLERANCE


def check_mlp(device, name: str, config: MLPConfig, rng, path: str = "portable") -> CheckResult:
    """The inference kernel of MLP path `path` (engine/nn/layers.py MLP_PATHS)."""
    params = config.init_params(rng)
    inputs = rng.normal(size=(SAMPLES, config.n_input)).astype(np.float32)
    if config.output_activation == "exp":
        params = params * 0.25  # keep exp() in a range where fp32 relative error is meaningful
    start = time.perf_counter()
    mlp = MLP(device, config, params, path=path)
    try:
        if mlp.path.name != path:  # the network does not fit this path here (shared memory)
            return path_unsupported([MLP_KERNELS[path]], name, mlp.path.reason)[0]
        result = mlp.forward(inputs)
    finally:
        mlp.close()
    seconds = time.perf_counter() - start
    return compare(MLP_KERNELS[path], name, result, reference.mlp_forward(config, params, inputs), seconds,
                   path_tolerance(path, config))


def check_grid_jacobian(device, name: str, config: GridConfig, rng) -> CheckResult:
    params = rng.uniform(-1.0, 1.0, size=(config.n_entries, config.n_features)).astype(np.float32)
    positions = grid_positions(config, rng, 1029)
    start = time.perf_counter()
    encoding = GridEncoding(device, config, params)
    try:
        result = encoding.jacobian(positions)
    finally:
        encoding.close()
    seconds = time.perf_counter() - start
    expected = reference.grid_encode_jacobian(config, params, positions)
    return compare("grid_encode_jacobian", name, result, expected, seconds)


TRAINING_KERNELS = {  # forward for training, backward, weight gradients, per path
    "portable": ("mlp_train_forward", "mlp_backward", "mlp_weight_gradient"),
    "portable-gpu": ("mlp_block_forward", "mlp_block_backward", "mlp_weight_gradient"),
    "coopmat": COOPMAT_KERNELS,
}


def mlp_training_pass(mlp, x: np.ndarray, d_outputs: np.ndarray):
    """One training forward and backward pass of `mlp` on inputs x [n, n_input] with dL/d outputs
    given: (outputs, hidden activations [H, n, width], dL/d inputs, dL/d weights), each from an
    output buffer poisoned first (engine/poison.py), so a value a kernel skips reads as NaN."""
    from ngvk.engine.nn.training import MLPTraining
    from ngvk.engine.poison import POISON_WORD

    device, config, n = mlp.device, mlp.config, len(x)
    training = MLPTraining(mlp, n)
    inputs = device.buffer_from(np.ascontiguousarray(x, np.float32), "inputs")
    try:
        for buffer in (training.outputs, training.activations, training.d_inputs, training.gradients):
            buffer.fill(POISON_WORD)
        training.d_outputs.upload(np.ascontiguousarray(d_outputs, np.float32))
        with device.sequence() as sequence:
            training.record_forward(sequence, inputs, n)
            training.record_backward(sequence, inputs, n)
            sequence.run()
        return (training.outputs.download(np.float32, (n, config.n_output)),
                training.activations.download(np.float32, (config.n_hidden_layers, n, config.width)),
                training.d_inputs.download(np.float32, (n, config.n_input)),
                training.gradients.download(np.float32, (config.n_params,)))
    finally:
        inputs.close()
        training.close()


def check_mlp_training(device, name: str, config: MLPConfig, rng, n: int = 1029,
                       path: str = "portable") -> list[CheckResult]:
    """The training passes of MLP path `path`: forward keeping activations, backward to the
    inputs, weight gradients (tiles over chunks, then the chunks summed), each against
    mlp_backward(). On the coopmat path the backward pass and the weight gradients are checked
    against the reference's backward pass from the kernel's own forward activations
    (mlp_backward_from(), the backward kernels' specification): ReLU's derivative is a step, and an
    fp16 forward pass moves the pre-activations within its rounding of zero across it; the forward
    pass, activations included, is checked against the reference on its own."""
    forward_kernel, backward_kernel, gradient_kernel = TRAINING_KERNELS[path]
    params = config.init_params(rng)
    x = rng.normal(size=(n, config.n_input)).astype(np.float32)
    d_outputs = rng.normal(size=(n, config.n_output)).astype(np.float32)
    start = time.perf_counter()
    mlp = MLP(device, config, params, path=path)
    if mlp.path.name != path:  # the network does not fit this path here (shared memory)
        mlp.close()
        return path_unsupported(TRAINING_KERNELS[path], name + " (training)", mlp.path.reason)
    try:
        outputs, activations, d_inputs, gradients = mlp_training_pass(mlp, x, d_outputs)
    finally:
        mlp.close()
    seconds = time.perf_counter() - start
    tolerance = path_tolerance(path, config)
    expected_activations, expected_outputs = reference.mlp_train_forward(config, params, x)
    if path == "coopmat":
        expected_d_inputs, expected_gradients = reference.mlp_backward_from(config, params, x, activations, outputs,
                                                                            d_outputs)
    else:
        expected_d_inputs, expected_gradients = reference.mlp_backward(config, params, x, d_outputs)
    training_case = name if path == "portable" else name + " (training)"
    results = [compare(forward_kernel, training_case, outputs, expected_outputs, seconds, tolerance)]
    if path != "portable":
        results.append(compare(forward_kernel, name + " (training: activations kept)", activations,
                               np.asarray(expected_activations), 0.0, tolerance))
    gradient_case = name + (" (portable-gpu deltas)" if path == "portable-gpu" else "")
    results += [
        compare(backward_kernel, name, d_inputs, expected_d_inputs, 0.0, tolerance),
        compare(gradient_kernel, gradient_case, gradients, expected_gradients, 0.0, tolerance),
    ]
    if path == "portable":
        results.append(compare("reduce_partials", name + " (the weight gradients' sums)", gradients,
                               expected_gradients, 0.0))
    return results


def check_grid_backward(device, name: str, config: GridConfig, rng, n: int = 1029) -> CheckResult:
    from ngvk.engine.nn.training import GridTraining

    positions = rng.random((n, config.n_dims), dtype=np.float32)
    d_encoded = rng.normal(size=(n, config.n_output)).astype(np.float32)
    start = time.perf_counter()
    encoding = GridEncoding(device, config, config.init_params(rng))
    training = GridTraining(encoding)
    buffers = [device.buffer_from(positions, "positions"), device.buffer_from(d_encoded, "d_encoded")]
    try:
        with device.sequence() as sequence:
            training.record_backward(sequence, buffers[0], buffers[1], n)
            sequence.run()
        result = training.gradients.download(np.float32, (config.n_entries, config.n_features))
    finally:
        for buffer in buffers:
            buffer.close()
        training.close()
        encoding.close()
    seconds = time.perf_counter() - start
    return compare("grid_backward", name, result, reference.grid_backward(config, positions, d_encoded), seconds)


def check_loss(device, name: str, rng, n: int = 1029, channels: int = 3) -> list[CheckResult]:
    from ngvk.engine.nn.layers import run_kernel
    from ngvk.engine.nn.training import LOSS_CODES

    y = rng.normal(size=(n, channels)).astype(np.float32)
    t = rng.random((n, channels), dtype=np.float32)
    start = time.perf_counter()
    kernel = device.kernel("nn/loss.comp", {"LOSS": LOSS_CODES[name], "LOSS_CHANNELS": channels})
    out = run_kernel(device, kernel, n, {"outputs": y, "targets": t}, {"d_outputs": (n, channels), "losses": (n,)})
    seconds = time.perf_counter() - start
    per_sample, gradient = reference.loss(name, y, t)
    return [compare("loss", f"{name}: per sample", out["losses"], per_sample, seconds),
            compare("loss", f"{name}: gradient", out["d_outputs"], gradient, 0.0)]


def check_adam(device, rng, n: int = 1029, steps: int = 4) -> list[CheckResult]:
    """Several steps with instant-ngp's settings (beta2 only shows after the first), grid and MLP
    groups: the parameters' change and the second moments."""
    from ngvk.engine.nn.training import Adam, AdamConfig

    config = AdamConfig()
    hyper = dict(learning_rate=config.learning_rate, beta1=config.beta1, beta2=config.beta2,
                 epsilon=config.epsilon, l2_reg=config.l2_reg)
    start_params = [rng.normal(size=n).astype(np.float32) for _ in range(2)]
    gradients = [rng.normal(size=n).astype(np.float32) * (rng.random(n) > 0.2) for _ in range(steps)]
    start = time.perf_counter()
    buffers = [device.buffer_from(p, name) for p, name in zip(start_params, ("grid", "mlp"))]
    grads = [device.buffer(n * 4, "grid_gradients"), device.buffer(n * 4, "mlp_gradients")]
    adam = Adam(device, config)
    expected = [(p, np.zeros(n), np.zeros(n), np.zeros(n, int)) for p in start_params]
    try:
        adam.add(buffers[0], grads[0], n, False, "grid")
        adam.add(buffers[1], grads[1], n, True, "mlp")
        with device.sequence() as sequence:
            adam.record_step(sequence)
            for g in gradients:
                for buffer in grads:
                    buffer.upload(g)
                sequence.run()
                expected = [reference.adam_step(*e[:1], g, *e[1:], is_matrix=m, **hyper)
                            for e, m in zip(expected, (False, True))]
        results = [b.download(np.float32, (n,)) for b in buffers]
        states = adam.state()
    finally:
        adam.close()
        for buffer in buffers + grads:
            buffer.close()
    seconds = time.perf_counter() - start
    out = []
    for group, result, p0, state, (p, _, v, _) in zip(("grid", "mlp"), results, start_params, states, expected):
        out.append(compare("adam_step", f"{group} parameters' change, {steps} steps", result - p0, p - p0, seconds))
        out.append(compare("adam_step", f"{group} second moments", state["second"], v, 0.0))
    return out


def check_compaction(device, rng, n: int = 1029) -> list[CheckResult]:
    """Stream compaction of live items and the indirect dispatch arguments of what is left."""
    from ngvk.engine.render.rays import GROUP_SIZE, compact_reference, counter, record_compact, record_dispatch_args

    alive = (rng.random(n) < 0.6).astype(np.uint32)
    indices = rng.permutation(n).astype(np.uint32)
    start = time.perf_counter()
    owned = [device.buffer_from(alive, "alive"), device.buffer_from(indices, "indices_in"),
             counter(device, "count_in", n), device.buffer(n * 4, "indices_out"), counter(device, "count_out")]
    try:
        with device.sequence() as sequence:
            record_dispatch_args(sequence, device, owned[2])
            record_compact(sequence, device, *owned, items_per_invocation=8)
            sequence.run()
        count = owned[4].download(np.uint32, (8,))
        kept = np.sort(owned[3].download(np.uint32, (int(count[0]),))) if count[0] else np.zeros(0, np.uint32)
    finally:
        for buffer in owned:
            buffer.close()
    seconds = time.perf_counter() - start
    expected = compact_reference(alive, indices)
    groups = -(-len(expected) // GROUP_SIZE)
    batched_groups = -(-len(expected) // (8 * GROUP_SIZE))
    wrong = len(set(kept.tolist()) ^ set(expected.tolist())) + abs(len(kept) - len(expected))
    return [
        CheckResult("compact", "live indices (count of wrong ones)", float(wrong), 0.0, seconds),
        CheckResult("dispatch_args", "workgroups of what is left (exact)",
                    float(np.max(np.abs(count.astype(np.int64) - [len(expected), groups, 1, 1, 8, batched_groups, 1, 1]))),
                    0.0, 0.0),
    ]


def check_hud(device, rng) -> list[CheckResult]:
    """The viewer's display pass: a random frame scaled to a window of another size, with text."""
    from ngvk.engine.render.hud import Hud, hud_reference

    frame = rng.integers(0, 256, (23, 37, 4), dtype=np.uint8)
    lines = ["12.3 ms 81 fps", "*fused 12 unfused -", "~{}|"]
    start = time.perf_counter()
    hud = Hud(device)
    try:
        with device.buffer_from(frame.reshape(-1).view(np.uint32), "frame") as buffer:
            got = hud.compose(buffer, 37, 23, 150, 71, lines, 2).download(np.uint8, (71, 150, 4))
    finally:
        hud.close()
    expected = hud_reference(frame, 150, 71, lines, 2)
    wrong = float(np.count_nonzero(np.any(got != expected, axis=-1)))
    return [CheckResult("hud", "window pixels (count of wrong ones)", wrong, 0.0, time.perf_counter() - start)]


def check_pool_batch(device, rng, n: int = 1029, pool: int = 5000) -> list[CheckResult]:
    """A training batch drawn from a pool on the device (the random sequence picks the entries)."""
    from ngvk.engine.nn.layers import run_kernel

    pool_positions = rng.random((pool, 3), dtype=np.float32)
    pool_targets = rng.normal(size=(pool, 1)).astype(np.float32)
    step, seed = 5, 2
    start = time.perf_counter()
    kernel = device.kernel("nn/pool_batch.comp", {"POOL_DIMS": 3, "POOL_CHANNELS": 1})
    with device.buffer_from(np.array([step, seed], np.uint32), "training_state") as state:
        out = run_kernel(device, kernel, n, {"pool_positions": pool_positions, "pool_targets": pool_targets,
                                             "training_state": state},
                         {"positions": (n, 3), "targets": (n, 1)}, {"pool_size": pool})
    seconds = time.perf_counter() - start
    positions, targets = reference.pool_batch(pool_positions, pool_targets, seed, step, n)
    return [compare("pool_batch", "positions (exact entries)", out["positions"], positions, seconds),
            compare("pool_batch", "targets", out["targets"], targets, 0.0)]


def mlp_path_checks(device, rng) -> list:
    """The portable-gpu kernels' cases, and the cooperative-matrix kernels' wherever the device has
    usable cooperative matrices (else one 'not supported on this device' result per kernel)."""
    jobs = [lambda n=n, c=c: check_mlp(device, n, c, rng, "portable-gpu") for n, c in BLOCK_CASES]
    jobs += [lambda n=n, c=c: check_mlp_training(device, n, c, rng, path="portable-gpu") for n, c in BLOCK_CASES]
    shape, why = cooperative_matrix_shape(device)
    if shape is None:
        jobs.append(lambda: path_unsupported(COOPMAT_KERNELS, "cooperative-matrix MLP", why))
        return jobs
    jobs += [lambda n=n, c=c: check_mlp(device, n, c, rng, "coopmat") for n, c in coopmat_cases()]
    jobs += [lambda n=n, c=c: check_mlp_training(device, n, c, rng, path="coopmat") for n, c in coopmat_cases()]
    return jobs


def engine_checks(device, rng) -> list:
    """Every engine kernel's cases, as callables returning a result or a list of them."""
    jobs = [lambda n=n, c=c: check_grid(device, n, c, rng) for n, c in grid_cases()]
    jobs += [lambda n=n, c=c: check_grid_jacobian(device, n, c, rng) for n, c in grid_cases()[:2]]
    jobs.append(lambda: check_sh(device, rng))
    jobs += [lambda n=n, c=c: check_mlp(device, n, c, rng) for n, c in mlp_cases()]
    jobs += [lambda: check_mlp_training(device, "32-64-64-3 sigmoid", MLPConfig(32, 3, 64, 2, "sigmoid"), rng),
             lambda: check_mlp_training(device, "odd sizes 7->16->5 exp", MLPConfig(7, 5, 16, 1, "exp"), rng)]
    jobs += mlp_path_checks(device, rng)
    jobs += [lambda n=n, c=c: check_grid_backward(device, n, c, rng) for n, c in grid_cases()[:2]]
    jobs += [lambda name=name: check_loss(device, name, rng) for name in reference.LOSSES]
    jobs.append(lambda: check_adam(device, rng))
    jobs.append(lambda: check_compaction(device, rng))
    jobs.append(lambda: check_hud(device, rng))
    jobs.append(lambda: check_pool_batch(device, rng))
    return jobs


def run_checks(device, seed: int = 0, progress=None, apps=()) -> list[CheckResult]:
    """Every engine kernel's cases, then those the apps in `apps` contribute (App.check_cases());
    `progress(result)` is called after each one."""
    rng = np.random.default_rng(seed)
    jobs = engine_checks(device, rng)
    for app in apps:
        jobs += [lambda job=job: job(device, rng) for job in app.check_cases()]
    results = []
    for job in jobs:
        outcome = job()
        for result in outcome if isinstance(outcome, list) else [outcome]:
            results.append(result)
            if progress:
                progress(result)
    return results
