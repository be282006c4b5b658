"""`ngvk bench kernels`: the encoding and MLP kernels alone, beside NumPy doing the same operation.

For each case (an operation, a configuration and a batch of 2^k samples) the kernel runs once as a
warm-up (lavapipe compiles pipelines at their first dispatch), then `repeat` times, each timed with
GPU timestamps; NumPy runs the float32 version of the reference (engine/nn/reference.py) on the same
data, timed with the wall clock, on the CPU's BLAS. Before timing, the kernel's result is compared
with NumPy's (max |ngvk - numpy| <= 1e-3 x max |numpy|), so only correct work is timed.

Operations: grid encoding forward and backward (the encodings of the models the apps ship, and 3D
with the paper's presets), MLP forward and backward for the networks of the four apps. The MLP's
backward pass is what training runs after the forward pass: from the stored activations and dL/d
outputs to dL/d inputs and dL/d weights; its FLOPs are twice the forward's. Positions are uniform
random in the unit square or cube: for a hashgrid the worst case for caches (see docs/benchmarks.md).
The JSON written with `--json` has the schema documented in docs/benchmarks.md ("Kernel benchmark JSON").
"""

from __future__ import annotations

import time

import numpy as np

from ngvk.engine.nn import reference
from ngvk.engine.nn.config import ENCODINGS, PAPER_NETWORKS, GridConfig, MLPConfig, grid_preset
from ngvk.engine.nn.layers import MLP, GridEncoding
from ngvk.engine.nn.training import GridTraining, MLPTraining

from ngvk.apps.bench import run_header, statistics

SCHEMA = "ngvk-bench-kernels"
SCHEMA_VERSION = 1
DEFAULT_BATCHES = (16, 18)  # log2 of the samples per batch
AGREEMENT_TOLERANCE = 1e-3  # relative to NumPy's float32 result's largest magnitude
NUMPY_SECONDS = 3.0  # NumPy repeats a slow case fewer times, to keep the whole run to minutes


def grid_configs(on_error=None) -> dict[str, GridConfig]:
    """The encodings of every model the apps ship (read from the model files), then the paper's
    3D presets. A model file that cannot be read raises, or with `on_error` is passed to
    `on_error(app, encoding, path, error)` and left out."""
    from ngvk.apps import AVAILABLE, get_app
    from ngvk.engine.errors import NgvkError

    configs = {}
    for app in map(get_app, AVAILABLE):
        for encoding in ENCODINGS:
            path = app.default_model_path(encoding)
            if path.is_file():
                try:
                    config = app.load_model(path).encoding
                except NgvkError as error:
                    if on_error is None:
                        raise
                    on_error(app, encoding, path, error)
                    continue
                configs[f"{app.name} {encoding} {config.n_dims}D"] = config
    configs.update({f"{e} 3D": grid_preset(e, 3) for e in ENCODINGS})
    return configs


def time_gpu(device, record, warmup: int, repeat: int) -> dict:
    """GPU time of the commands `record(sequence)` records, over `repeat` submissions."""
    with device.sequence() as sequence:
        with sequence.timed("kernel"):
            record(sequence)
        for _ in range(warmup):
            sequence.run()
        times = []
        for _ in range(repeat):
            sequence.run()
            times.append(sequence.timings()["kernel"])
    return statistics(times)


def time_numpy(function, repeat: int):
    """Wall-clock time of `function()` and its result; fewer repeats when one run is slow."""
    start = time.perf_counter()
    result = function()
    first = time.perf_counter() - start
    times = [first * 1e3]
    for _ in range(min(repeat, int(NUMPY_SECONDS / max(first, 1e-9))) - 1):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics(times), result


def agreement(results, expected, tolerance: float = AGREEMENT_TOLERANCE) -> dict:
    errors = []
    for got, want in zip(results, expected):
        want = np.asarray(want, dtype=np.float64)
        scale = max(float(np.max(np.abs(want))), 1e-30)
        errors.append(float(np.max(np.abs(np.asarray(got, dtype=np.float64) - want))) / scale)
    error = max(errors)
    return {"max_relative_error": error, "tolerance": tolerance, "passed": error <= tolerance}


def _case(operation: str, name: str, n: int, gpu: dict, numpy_stats: dict, agree: dict, flops: float | None) -> dict:
    case = {
        "operation": operation,
        "case": name,
        "batch": n,
        "ngvk": gpu,
        "numpy": numpy_stats,
        "agreement": agree,
        "samples_per_second": n / (gpu["median_ms"] * 1e-3),
        "numpy_samples_per_second": n / (numpy_stats["median_ms"] * 1e-3),
        # > 1: ngvk is faster than NumPy on this operation.
        "ratio": numpy_stats["median_ms"] / gpu["median_ms"],
    }
    if flops is not None:
        case["gflops"] = flops / (gpu["median_ms"] * 1e-3) / 1e9
        case["numpy_gflops"] = flops / (numpy_stats["median_ms"] * 1e-3) / 1e9
    return case


def bench_grid(device, name: str, config: GridConfig, n: int, warmup: int, repeat: int, rng) -> list[dict]:
    params = rng.uniform(-1.0, 1.0, (config.n_entries, config.n_features)).astype(np.float32)
    positions = rng.random((n, config.n_dims), dtype=np.float32)
    d_encoded = rng.normal(size=(n, config.n_output)).astype(np.float32)
    encoding = GridEncoding(device, config, params)
    training = GridTraining(encoding)
    buffers = [
        device.buffer_from(positions, "positions"),
        device.buffer(n * config.n_output * 4, "encoded"),
        device.buffer_from(d_encoded, "d_encoded"),
    ]
    positions_buffer, encoded, d_encoded_buffer = buffers
    try:
        cases = []
        gpu = time_gpu(device, lambda s: encoding.record_encode(s, positions_buffer, encoded, n), warmup, repeat)
        numpy_stats, expected = time_numpy(lambda: reference.grid_encode(config, params, positions, np.float32), repeat)
        agree = agreement([encoded.download(np.float32, (n, config.n_output))], [expected])
        cases.append(_case("encoding forward", name, n, gpu, numpy_stats, agree, None))

        record = lambda s: training.record_backward(s, positions_buffer, d_encoded_buffer, n)  # noqa: E731
        gpu = time_gpu(device, record, warmup, repeat)
        numpy_stats, expected = time_numpy(
            lambda: reference.grid_backward(config, positions, d_encoded, np.float32), repeat
        )
        got = training.gradients.download(np.float32, (config.n_entries, config.n_features))
        cases.append(_case("encoding backward", name, n, gpu, numpy_stats, agreement([got], [expected]), None))
        return cases
    finally:
        for buffer in buffers:
            buffer.close()
        training.gradients.close()
        encoding.close()


def bench_mlp(device, name: str, config: MLPConfig, n: int, warmup: int, repeat: int, rng) -> list[dict]:
    params = config.init_params(rng)
    if config.output_activation == "exp":
        params = params * 0.25  # keep exp() in a range where fp32 comparisons mean something
    x = rng.normal(size=(n, config.n_input)).astype(np.float32)
    d_outputs = rng.normal(size=(n, config.n_output)).astype(np.float32)
    mlp = MLP(device, config, params)
    training = MLPTraining(mlp, n)
    inputs = device.buffer_from(x, "inputs")
    outputs = device.buffer(n * config.n_output * 4, "outputs")
    tolerance = AGREEMENT_TOLERANCE
    if mlp.path.name == "coopmat":  # fp16 arithmetic: held to `ngvk check`'s fp16 tolerance
        from ngvk.engine.check import fp16_tolerance

        tolerance = max(tolerance, fp16_tolerance(config))
    try:
        cases = []
        gpu = time_gpu(device, lambda s: mlp.record_forward(s, inputs, outputs, n), warmup, repeat)
        numpy_stats, expected = time_numpy(lambda: reference.mlp_forward(config, params, x, np.float32), repeat)
        agree = agreement([outputs.download(np.float32, (n, config.n_output))], [expected], tolerance)
        cases.append(_case("mlp forward", name, n, gpu, numpy_stats, agree, config.flops_per_sample() * n))

        # The backward pass starts from what the forward pass for training stored.
        training.d_outputs.upload(d_outputs)
        with device.sequence() as sequence:
            training.record_forward(sequence, inputs, n)
            sequence.run()
        gpu = time_gpu(device, lambda s: training.record_backward(s, inputs, n), warmup, repeat)
        # NumPy starts from the same stored forward pass (a ReLU output a hair from 0 would otherwise
        # flip its derivative between the two).
        stored = training.activations.download(np.float32, (config.n_hidden_layers, n, config.width))
        activations = list(stored)
        y = training.outputs.download(np.float32, (n, config.n_output))
        numpy_stats, (d_inputs, d_params) = time_numpy(
            lambda: reference.mlp_backward_from(config, params, x, activations, y, d_outputs, np.float32), repeat
        )
        got = [training.d_inputs.download(np.float32, (n, config.n_input)), training.gradients.download(np.float32)]
        agree = agreement([got[0], got[1][: config.n_params]], [d_inputs, d_params], tolerance)
        cases.append(_case("mlp backward", name, n, gpu, numpy_stats, agree, 2 * config.flops_per_sample() * n))
        for case in cases:
            case["mlp_path"] = mlp.path.describe()  # engine/nn/layers.py mlp_path(): which kernels ran
        return cases
    finally:
        inputs.close()
        outputs.close()
        training.close()
        mlp.close()


def run_kernel_bench(device, batches=DEFAULT_BATCHES, warmup: int = 1, repeat: int = 5, progress=None) -> dict:
    result = {
        **run_header(device, SCHEMA, SCHEMA_VERSION),
        "numpy": {"version": np.__version__, "blas": _blas_name()},
        "settings": {
            "warmup": warmup,
            "repeat": repeat,
            "timing": "ngvk: GPU timestamps; NumPy: wall clock, float32; medians",
            "positions": "uniform random in [0, 1]^D",
        },
        "cases": [],
    }
    rng = np.random.default_rng(0)
    for log2 in batches:
        n = 1 << log2
        for name, config in grid_configs().items():
            if progress:
                progress(f"encoding {name}, 2^{log2} samples")
            result["cases"] += bench_grid(device, name, config, n, warmup, repeat, rng)
        for name, config in PAPER_NETWORKS.items():
            if progress:
                progress(f"mlp {name}, 2^{log2} samples")
            result["cases"] += bench_mlp(device, name, config, n, warmup, repeat, rng)
    return result


def _blas_name() -> str | None:
    try:
        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name', '')} {blas.get('version', '')}".strip() or None
    except Exception:  # numpy < 1.26 has no dict mode; the name is a nicety
        return None


def table(result: dict) -> str:
    lines = [
        f"ngvk bench kernels on {result['device']['name']} ({result['device']['driver']}); "
        f"NumPy {result['numpy']['version']} ({result['numpy']['blas'] or 'BLAS unknown'}), float32",
        f"median of {result['settings']['repeat']} runs after {result['settings']['warmup']} warm-up; "
        "ratio = NumPy time / ngvk time (> 1: ngvk faster)",
        "",
        f"{'operation':<19}{'case':<31}{'batch':>7}  {'ngvk ms':>9} {'(p25-p75)':>15}  {'NumPy ms':>9}"
        f"  {'Msamples/s':>10}  {'GFLOP/s':>7}  {'NumPy':>6}  {'ratio':>6}  agree",
    ]
    for case in result["cases"]:
        gpu = case["ngvk"]
        spread = f"({gpu['p25_ms']:.2f}-{gpu['p75_ms']:.2f})"
        gflops = f"{case['gflops']:>7.1f}  {case['numpy_gflops']:>6.1f}" if "gflops" in case else f"{'-':>7}  {'-':>6}"
        lines.append(
            f"{case['operation']:<19}{case['case']:<31}{'2^' + str(case['batch'].bit_length() - 1):>7}"
            f"  {gpu['median_ms']:>9.2f} {spread:>15}  {case['numpy']['median_ms']:>9.2f}"
            f"  {case['samples_per_second'] / 1e6:>10.2f}  {gflops}  {case['ratio']:>6.2f}"
            f"  {'yes' if case['agreement']['passed'] else 'NO'}"
        )
    return "\n".join(lines)
