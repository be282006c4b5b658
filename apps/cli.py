"""The `ngvk` command line: argument parsing and output; the work happens in the engine and apps.

User errors (missing packages, bad files, impossible sizes) arrive as `NgvkError` and are printed as
one line on stderr with exit code 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

from ngvk.apps import APP_NAMES, AVAILABLE, VERSION, get_app
from ngvk.engine.errors import NgvkError
from ngvk.engine.render.frame import KERNELS, check_frame_size

KERNELS_HELP = ("kernel variant: fused (one dispatch per tile, a pixel per slot), wavefront (one dispatch per "
                "iteration over the live rays), prepost (each iteration's pre- and post-processing fused into one "
                "kernel around the encoding and MLP kernels), unfused (one dispatch per stage); default fused")



def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _mib(nbytes: int) -> str:
    return f"{nbytes / 2**20:,.0f} MiB"


def cmd_info(args) -> int:
    from ngvk.engine.gpu.device import Device

    from ngvk.apps.bench import device_report

    with Device() as device:
        info = device.info
        report = device_report(device)  # what `ngvk bench --suite` records as its "info" section
        compiler = report["compiler"]
        if args.json:
            print(json.dumps(report, indent=2))
            return 0
        rows = [
            ("device", f"{info.name} ({info.type}, index {info.index})"),
            ("driver", f"{info.driver_name} {info.driver_info}".strip() or str(info.driver_version)),
            ("Vulkan API", info.api_version),
            ("subgroup size", str(info.subgroup_size)),
            ("shared memory", f"{info.max_shared_memory // 1024} KiB per workgroup"),
            ("largest storage binding", _mib(info.max_storage_buffer_range)),
            ("largest allocation", _mib(info.max_memory_allocation) if info.max_memory_allocation else "not reported"),
            ("device-local memory", _mib(info.device_local_memory)),
            ("workgroup invocations", str(info.max_workgroup_invocations)),
            ("push constants", f"{info.max_push_constants} B"),
            ("fp16 arithmetic", _yes(info.float16)),
            ("16-bit storage", _yes(info.storage16)),
            ("float atomic add", f"buffers {_yes(info.float_atomic_add)}, shared {_yes(info.shared_float_atomic_add)}"),
            ("timestamps", f"{_yes(info.timestamps)} ({info.timestamp_period_ns:g} ns per tick)"),
            ("cooperative matrix", _cooperative_matrix(info)),
            ("MLP path", _mlp_path(device)),
            ("compiler", f"glslangValidator {compiler['version']} ({compiler['path']})"),
            ("validation", "on" if device.validation else "off (NGVK_VALIDATION=1 turns it on)"),
        ]
        width = max(len(k) for k, _ in rows)
        print(f"ngvk {VERSION}")
        for key, value in rows:
            print(f"  {key:<{width}}  {value}")
        if len(device.all_devices) > 1:
            print("  other devices (pick one with NGVK_DEVICE=<index or name>):")
            for index, name, kind in device.all_devices:
                if index != info.index:
                    print(f"    {index}: {name} ({kind})")
    return 0


def _cooperative_matrix(info) -> str:
    """`yes: 8x8x8 float16->float32, ... (subgroup)` from the device's list, or `no`."""
    if not info.cooperative_matrix:
        return "no"
    shapes = [f"{m}x{n}x{k} {a}->{result}" + ("" if scope == "subgroup" else f" ({scope})")
              for m, n, k, a, b, c, result, scope in info.cooperative_matrix_shapes]
    return "yes: " + ", ".join(shapes) if shapes else "yes (no shapes listed)"


def _mlp_path(device) -> str:
    """Which MLP the standalone and training kernels use, and why (engine/nn/layers.py mlp_path())."""
    from ngvk.engine.nn.layers import mlp_path

    path = mlp_path(device)
    wavefront = "portable" if path.name == "portable" else "fp32 blocks of the workgroup's queries"
    return f"{path.describe()} ({path.reason}; the fused app kernels: portable; the wavefront kernels: {wavefront})"


def cmd_check(args) -> int:
    from ngvk.engine.check import RELATIVE_TOLERANCE, run_checks
    from ngvk.engine.gpu.device import Device

    with Device() as device:
        if not args.json:
            print(f"checking every kernel on {device.info.name} against its NumPy reference")
            print(f"  tolerance: max |gpu - reference| <= {RELATIVE_TOLERANCE:g} * max |reference|"
                  " (the cooperative-matrix MLP, fp16: 4 * 2^-11 * layers * max |reference|)")

        def show(result):
            if not args.json and result.unsupported:
                print(f"  n/a  {result.kernel:<20} {result.case:<38} {result.unsupported}", flush=True)
            elif not args.json:
                mark = "ok  " if result.passed else "FAIL"
                print(
                    f"  {mark} {result.kernel:<20} {result.case:<38} max error {result.max_error:.2e}"
                    f"  (tolerance {result.tolerance:.1e}, {result.seconds:.2f} s)",
                    flush=True,
                )

        results = run_checks(device, progress=show, apps=[get_app(name) for name in AVAILABLE])
        failed = [r for r in results if r.failed]
        unsupported = [r for r in results if r.unsupported]
        if args.json:
            print(json.dumps({"device": device.info.as_dict(), "results": [r.as_dict() for r in results]}, indent=2))
        else:
            ran = len(results) - len(unsupported)
            print(f"{ran - len(failed)} of {ran} kernel checks passed"
                  + (f"; {len(unsupported)} not supported on this device" if unsupported else ""))
    return 1 if failed else 0


def _write_json(path: str, data: dict) -> None:
    from ngvk.engine.files import write_atomically

    text = json.dumps(data, indent=2) + "\n"

    def write(temporary):
        with open(temporary, "w") as out:
            out.write(text)

    write_atomically(path, write)


def _device_record(device) -> dict:
    info = device.info
    return {"name": info.name, "type": info.type, "driver": f"{info.driver_name} {info.driver_info}".strip(),
            "api_version": info.api_version}


def _check_output_path(path: str, suffixes: tuple[str, ...], what: str) -> None:
    """Fail before any work when an output could not be written."""
    from ngvk.engine.files import check_writable

    if Path(path).suffix.lower() not in suffixes:
        raise NgvkError(f"{what} {path}: use a {' or '.join(suffixes)} file name")
    check_writable(path)


def _format_times(timings: dict) -> str:
    return ", ".join(f"{stage} {ms:.2f} ms" for stage, ms in timings.items())


def _fit_settings(app, args, initial_path: str | None):
    """The options `fit` and `view --train` share, checked before any work: (batch size, the model
    to continue or None). The encoding defaults to that model's, else the hashgrid (args.encoding
    is set)."""
    _check_output_path(args.out, (".npz",), "model")
    initial = app.load_model(initial_path) if initial_path else None
    if args.encoding is None:
        args.encoding = initial.encoding.encoding if initial else "hashgrid"
    if args.steps is not None and args.steps < 1:
        raise NgvkError("--steps must be at least 1")
    batch_size = app.default_batch_size if args.batch_size is None else args.batch_size
    if batch_size < 256:
        raise NgvkError("--batch-size must be at least 256")
    if args.max_minutes is not None and not args.max_minutes > 0:
        raise NgvkError("--max-minutes must be more than 0")
    return batch_size, initial


def cmd_fit(args) -> int:
    from ngvk.engine.fit import COMPLETED
    from ngvk.engine.gpu.device import Device

    app = get_app(args.app)
    if args.json:
        _check_output_path(args.json, (".json",), "metrics")
    batch_size, initial = _fit_settings(app, args, args.from_model)
    data = app.load_data(args.data)
    with Device() as device:
        grid, networks = app.presets(args.encoding, data)
        steps = args.steps or app.default_steps[args.encoding]
        print(f"fitting {app.name} to {args.data} on {device.info.name}: {steps} steps of {batch_size} samples"
              + (f", continuing {args.from_model} (fitted {initial.training.get('steps', 0)} steps)" if initial else ""))
        print(f"  {grid.summary()}")
        for name, network in networks.items():
            print(f"  {name}: {network.summary()}")
        bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=steps, unit="step", file=sys.stderr, dynamic_ncols=True)
        headline = next(iter(app.metrics), None)
        last = {}

        def progress(step, loss, metrics, status):
            if metrics:
                last.update(metrics)
            if bar is not None:
                postfix = {"loss": f"{loss:.4g}", **status}
                if headline in last:
                    postfix[headline] = app.metrics[headline].format(last[headline])
                bar.set_postfix(postfix, refresh=False)
                bar.update(1)

        try:
            result = app.fit(device, data, args.encoding, steps=steps, batch_size=batch_size, seed=args.seed,
                             source=args.data, progress=progress, initial=initial,
                             max_seconds=None if args.max_minutes is None else args.max_minutes * 60)
        finally:
            if bar is not None:
                bar.close()
        result.model.save(args.out)
        stopped = "" if result.stopped == COMPLETED else f", stopped early ({result.stopped})"
        print(f"fitted {result.steps} steps in {result.seconds:.1f} s{stopped}: {app.format_metrics(result.metrics)}; "
              f"model written to {args.out}")
        if args.json:
            _write_json(args.json, {
                "app": app.name,
                "data": args.data,
                "model": args.out,
                "encoding": result.model.encoding.to_dict(),
                "networks": {k: v.to_dict() for k, v in result.model.networks.items()},
                "steps": result.steps,
                "stopped": result.stopped,
                "batch_size": batch_size,
                "seconds": result.seconds,
                **result.metrics,
                **({"metric_notes": app.metric_notes} if app.metric_notes else {}),
                "history": result.history,
                "step_ms": result.model.training.get("step_ms", {}),
                "device": _device_record(device),
            })
    return 0


def cmd_render(args) -> int:
    from ngvk.engine.render.camera import load_camera
    from ngvk.engine.gpu.device import Device

    from ngvk.apps.imageio import save_png

    app = get_app(args.app)
    if args.path is not None:
        return cmd_render_path(app, args)
    path_only = [flag for flag, given in (("--video", args.video), ("--fps", args.fps), ("--workers", args.workers),
                                          ("--ray-address", args.ray_address),
                                          ("--threads-per-worker", args.threads_per_worker)) if given is not None]
    if path_only:
        raise NgvkError(f"{', '.join(path_only)} go with --path PATH.json")
    args.out = args.out or "render.png"
    _check_output_path(args.out, (".png",), "output")
    if args.data is not None and not app.renders_data:
        raise NgvkError(f"the {app.name} app has no render of its data; drop --data")
    if args.data is not None and args.model is not None:
        raise NgvkError("--data renders the data instead of a model: give one of --data and --model")
    data = app.load_data(args.data) if args.data is not None else None
    model = app.load_model(args.model) if data is None else None
    camera = load_camera(args.camera) if args.camera else None
    kernels = _kernels(args)
    width, height = app.default_resolution(model)
    width = args.width if args.width is not None else width
    height = args.height if args.height is not None else height
    check_frame_size(width, height)
    with Device() as device:
        if data is not None:
            renderer = app.data_renderer(device, data)
        else:
            renderer = app.renderer(device, model, app.load_reference(model) if args.mode else None)
        try:
            if args.mode:
                renderer.set_mode(args.mode)
            camera = camera or renderer.default_camera(width, height)
            started = time.perf_counter()
            renderer.prepare(camera, kernels)
            prepared = time.perf_counter() - started
            frame = renderer.render(camera, width, height, kernels)
        finally:
            renderer.close()
        save_png(args.out, frame.rgb)
        what = f"the data {args.data}" if data is not None else f"{kernels}"
        print(f"rendered {app.name} {width}x{height} ({what}, {renderer.mode}) on {device.info.name} -> {args.out}")
        print(f"  GPU time {frame.frame_ms:.2f} ms: {_format_times(frame.timings)}")
        print(f"  (kernels prepared in {prepared:.2f} s before timing)")
    return 0


def cmd_render_path(app, args) -> int:
    """`render --path`: apps/path_render.py."""
    from ngvk.apps import path_render
    from ngvk.engine.render.camera_path import load_path

    if args.out is None:
        raise NgvkError("--path writes a folder of frames: give --out DIR")
    for flag, given in (("--camera", args.camera), ("--data", args.data)):
        if given is not None:
            raise NgvkError(f"--path gives every frame's camera: drop {flag}")
    if args.workers is not None and args.workers < 1:
        raise NgvkError("--workers must be at least 1")
    if args.threads_per_worker is not None and args.threads_per_worker < 1:
        raise NgvkError("--threads-per-worker must be at least 1")
    if args.fps is not None and not args.fps > 0:
        raise NgvkError("--fps must be more than 0")
    if args.video:
        _check_output_path(args.video, (".mp4",), "video")
    path = load_path(args.path, warn=lambda message: print(f"ngvk: warning: {message}", file=sys.stderr))
    if args.fps is not None:
        path.fps = args.fps
    model_file = Path(args.model) if args.model else app.default_model_path()
    model = app.load_model(model_file)  # checked here, one line, before any worker starts
    width, height = app.default_resolution(model)
    width = args.width if args.width is not None else width
    height = args.height if args.height is not None else height
    check_frame_size(width, height)
    if args.video and (width % 2 or height % 2):
        raise NgvkError(f"--video encodes H.264 in 4:2:0, which needs an even width and height, not {width}x{height}")
    if args.mode and args.mode not in app.render_modes:
        raise NgvkError(f"unknown mode {args.mode!r} for {app.name}; the modes are {', '.join(app.render_modes)}")
    if args.workers or args.ray_address:
        path_render._import_ray()
        if args.ray_address:
            path_render.check_address(args.ray_address)
    unknown = set(path.keyframes[0].extras) - set(app.path_extras)
    if unknown:
        known = ", ".join(app.path_extras) or "none"
        raise NgvkError(f"{args.path}: the {app.name} app takes no path extras {sorted(unknown)} (it takes: {known})")
    cameras = [json.loads(camera.to_json()) for camera in path.cameras()]
    extras = path.frame_extras() if path.keyframes[0].extras else None
    # The app's own render options (--spp...), which workers apply as this process did.
    own = argparse.ArgumentParser(add_help=False)
    app.add_arguments("render", own)
    options = {"command": "render", **{a.dest: getattr(args, a.dest) for a in own._actions if hasattr(args, a.dest)}}
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=len(cameras), unit="frame", file=sys.stderr, dynamic_ncols=True)

    def progress(done, total):
        if bar is not None:
            bar.n = done
            bar.refresh()

    print(f"rendering {len(cameras)} frames of {args.path} ({path.duration:g} s at {path.fps:g} fps), {app.name} "
          f"{width}x{height} ({_kernels(args)}) -> {args.out}")
    try:
        result = path_render.render_frames(app.name, model_file.read_bytes(), cameras, Path(args.out), width, height,
                                           _kernels(args), args.mode, options, args.workers or 0, args.ray_address,
                                           args.threads_per_worker, progress, extras=extras)
    finally:
        if bar is not None:
            bar.close()
    rate = f", {result['rendered'] / result['seconds']:.2f} frames/s" if result["rendered"] else ""
    deaths = f", {result['worker_deaths']} worker(s) lost and their frames re-rendered" if result["worker_deaths"] else ""
    print(f"rendered {result['rendered']} frames in {result['seconds']:.1f} s{rate} on {result['workers']} "
          f"worker(s) ({', '.join(result['devices']) or 'none needed'}); {result['skipped']} already complete{deaths}")
    if args.video:
        path_render.encode_video(Path(args.out), len(cameras), path.fps, args.video)
        print(f"video {args.video}: {len(cameras)} frames at {path.fps:g} fps (H.264)")
    return 0


def _kernels(args) -> str:
    """--kernels, or `unfused` for --unfused (the two may not disagree)."""
    if args.unfused and args.kernels not in (None, "unfused"):
        raise NgvkError(f"--unfused and --kernels {args.kernels} disagree: give one of them")
    return "unfused" if args.unfused else args.kernels or "fused"


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT") from None
    return width, height


def cmd_view(args) -> int:
    from ngvk.apps.viewer import view

    for path in (args.screenshot, args.display_screenshot):
        if path:
            _check_output_path(path, (".png",), "screenshot")
    train = None
    path = None
    if args.path_out:
        _check_output_path(args.path_out, (".json",), "camera path")
    if args.path:
        from ngvk.engine.render.camera_path import load_path

        path = load_path(args.path, warn=lambda message: print(f"ngvk: warning: {message}", file=sys.stderr))
    if args.train:
        app = get_app(args.app)
        args.out = args.out or f"{app.name}-live.npz"
        batch_size, initial = _fit_settings(app, args, args.model)
        # The data is read before the window opens: its errors are fit's, one line each.
        train = {"data": app.load_data(args.train), "source": args.train, "encoding": args.encoding,
                 "steps": args.steps or app.default_steps[args.encoding], "batch_size": batch_size, "seed": args.train_seed,
                 "out": args.out, "max_seconds": None if args.max_minutes is None else args.max_minutes * 60,
                 "initial": initial}
    elif args.out or args.steps or args.max_minutes or args.batch_size or args.encoding:
        raise NgvkError("--out, --steps, --max-minutes, --batch-size and --encoding go with --train DATA")
    return view(
        args.app, args.model, args.width, args.height, args.camera, frames=args.frames, screenshot=args.screenshot,
        target_fps=args.target_fps, mode=args.mode, resize=args.resize, kernels=args.kernels, train=train,
        hud=not args.no_hud, display_screenshot=args.display_screenshot, path=path, path_out=args.path_out,
    )


def _write_results(args, data: dict, plot) -> None:
    """--json and --plot of a benchmark-like command (`plot(data, path)` draws the plot)."""
    if args.json:
        _write_json(args.json, data)
        print(f"results written to {args.json}")
    if args.plot:
        plot(data, args.plot)
        print(f"plot written to {args.plot}")


def _check_bench_options(args) -> None:
    """The options every benchmark shares, checked before any work."""
    from ngvk.apps.bench import check_plot_available

    if args.repeat < 1 or args.warmup < 0:
        raise NgvkError("--repeat must be at least 1 and --warmup at least 0")
    if args.json:
        _check_output_path(args.json, (".json",), "results")
    if args.plot:
        _check_output_path(args.plot, (".png",), "plot")
        check_plot_available()


def cmd_bench(args) -> int:
    from ngvk.engine.nn.config import ENCODINGS
    from ngvk.engine.gpu.device import Device

    from ngvk.apps.bench import parse_resolution, plot, run_bench, table

    if args.suite:
        return bench_suite(args)
    if args.budget_s is not None:
        raise NgvkError("--budget-s is the time budget of `ngvk bench --suite`: add --suite")
    if "kernels" in args.apps:
        if args.apps != ["kernels"]:
            raise NgvkError("`ngvk bench kernels` runs on its own: give it no app names")
        return bench_kernels(args)
    apps = args.apps or list(AVAILABLE)
    for name in apps:
        if name not in APP_NAMES:
            raise NgvkError(f"unknown app {name!r}; the apps are {', '.join(APP_NAMES)}")
        get_app(name)
    encodings = [e.strip() for e in (args.encodings or ",".join(ENCODINGS)).split(",") if e.strip()]
    for encoding in encodings:
        if encoding not in ENCODINGS:
            raise NgvkError(f"unknown encoding {encoding!r}; choose from {', '.join(ENCODINGS)}")
    resolutions = [parse_resolution(r) for r in (args.resolution or ["1080p"])]
    kernels = None
    if args.kernels:
        kernels = [k.strip() for k in args.kernels.split(",") if k.strip()]
        unknown = [k for k in kernels if k not in KERNELS]
        if unknown:
            raise NgvkError(f"--kernels: unknown variant {unknown[0]!r}; choose from {', '.join(KERNELS)}")
    _check_bench_options(args)
    for width, height in resolutions:
        check_frame_size(width, height)
    with Device() as device:

        def progress(message):
            print(f"  {message}", file=sys.stderr, flush=True)

        result = run_bench(device, apps, encodings, resolutions, args.warmup, args.repeat,
                           progress if sys.stderr.isatty() else None, kernels)
    print(table(result))
    _write_results(args, result, plot)
    return 0


def bench_kernels(args) -> int:
    from ngvk.engine.gpu.device import Device

    from ngvk.apps.bench_kernels import DEFAULT_BATCHES, run_kernel_bench, table

    try:
        batches = [int(b) for b in args.batches.split(",") if b.strip()] if args.batches else list(DEFAULT_BATCHES)
    except ValueError:
        raise NgvkError(f"--batches {args.batches!r}: give powers of two as exponents, e.g. 16,17,18") from None
    if not batches or any(not 8 <= b <= 22 for b in batches):
        raise NgvkError("--batches: exponents from 8 to 22 (2^8 to 2^22 samples), e.g. 16,18")
    if args.repeat < 1 or args.warmup < 0:
        raise NgvkError("--repeat must be at least 1 and --warmup at least 0")
    if args.json:
        _check_output_path(args.json, (".json",), "results")
    with Device() as device:

        def progress(message):
            print(f"  {message}", file=sys.stderr, flush=True)

        result = run_kernel_bench(device, batches, max(args.warmup, 1), args.repeat,
                                  progress if sys.stderr.isatty() else None)
    print(table(result))
    if args.json:
        _write_json(args.json, result)
        print(f"results written to {args.json}")
    return 0


def bench_suite(args) -> int:
    import signal

    from ngvk.engine.gpu.device import Device

    from ngvk.apps import bench_suite as suite_module
    from ngvk.apps.bench import plot

    others = [flag for flag, given in (("app names", args.apps), ("--encodings", args.encodings),
                                       ("--resolution", args.resolution), ("--batches", args.batches)) if given]
    if others:
        raise NgvkError(f"`ngvk bench --suite` runs every app, encoding and size itself: drop {', '.join(others)}")
    budget = suite_module.DEFAULT_BUDGET_S if args.budget_s is None else suite_module.parse_budget(args.budget_s)
    _check_bench_options(args)

    def progress(message):
        print(message, flush=True)

    def checkpoint(result):  # what is done so far, should the run be killed
        if args.json:
            _write_json(args.json, result)

    def terminated(signum, frame):  # `timeout` and job schedulers stop with SIGTERM: keep what is done
        raise KeyboardInterrupt

    started = time.monotonic()
    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        with Device() as device:
            print(f"ngvk bench --suite on {device.info.name}: info, check, kernels, apps within {budget:g} s")
            suite = suite_module.Suite(device, budget, args.warmup, args.repeat, progress=progress,
                                       checkpoint=checkpoint, started=started)
            try:
                result = suite.run()
            except KeyboardInterrupt:
                if args.json:
                    _write_json(args.json, suite.result)
                    print(f"ngvk: incomplete results written to {args.json}", file=sys.stderr)
                raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    print()
    print(suite_module.summary(result))
    if args.json:
        _write_json(args.json, result)
        print(f"results written to {args.json}")
    if args.plot:
        if result["apps"]["cases"]:
            plot({"device": result["device"], **result["apps"]}, args.plot)
            print(f"plot written to {args.plot}")
        else:
            print(f"no app was measured: no plot written to {args.plot}")
    return 0  # a report, written even when checks fail (its summary and JSON say which)


def cmd_ngpc(args) -> int:
    from ngvk.apps.bench import check_plot_available
    from ngvk.apps.ngpc import DEFAULT_SCALES, bench_report, load_bench, paper_report, parse_scales, plot

    scales = parse_scales(args.scale) if args.scale is not None else list(DEFAULT_SCALES)
    if args.json:
        _check_output_path(args.json, (".json",), "results")
    if args.plot:
        _check_output_path(args.plot, (".png",), "plot")
        check_plot_available()
    if args.paper:
        text, data = paper_report(scales)
    else:
        text, data = bench_report(load_bench(args.bench), args.bench, scales)
    print(text)
    _write_results(args, data, plot)
    return 0


def cmd_eval(args) -> int:
    from ngvk.engine.gpu.device import Device

    app = get_app(args.app)
    if args.json:
        _check_output_path(args.json, (".json",), "metrics")
    model = app.load_model(args.model)
    data = app.load_data(args.data)
    with Device() as device:
        result = app.evaluate(device, model, data)
        print(f"{app.name} model {args.model} against {args.data} on {device.info.name}:")
        print(f"  {app.format_metrics(result)}")
        if args.json:
            _write_json(args.json, {"app": app.name, "model": args.model, "data": args.data, **result,
                                    **({"metric_notes": app.metric_notes} if app.metric_notes else {}),
                                    "device": _device_record(device)})
    return 0


def cmd_dataset(args) -> int:
    app = get_app(args.app)
    if not app.datasets:
        others = [name for name in AVAILABLE if get_app(name).datasets]
        raise NgvkError(f"the {app.name} app has no dataset generator "
                        f"(apps that have one: {', '.join(others) or 'none'})")
    if args.name not in app.datasets:
        raise NgvkError(f"the {app.name} app has no dataset {args.name!r}; its datasets are {', '.join(app.datasets)}")
    bar = None

    def progress(done, total):
        nonlocal bar
        if bar is None and sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=total, file=sys.stderr, dynamic_ncols=True, desc=args.name)
        if bar is not None:
            bar.update(done - bar.n)

    started = time.perf_counter()
    try:
        summary = app.make_dataset(args.name, args.out, views=args.views, resolution=args.resolution,
                                   seed=args.seed, progress=progress,
                                   **({} if args.held_out is None else {"held_out": args.held_out}))
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - started
    print(f"{app.name} dataset {args.name} written to {args.out} in {seconds:.1f} s: {summary}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ngvk",
        description="Neural graphics primitives on Vulkan: encodings, fully fused MLPs and the four "
        "instant-ngp apps as SPIR-V compute kernels, on any Vulkan device.",
        epilog="`ngvk COMMAND --help` gives a command's options. The documentation is README.md and docs/ in "
        "ngvk's repository (docs/command-line.md has every command).",
    )
    parser.add_argument("--version", action="version", version=f"ngvk {VERSION}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    info = commands.add_parser("info", help="show the Vulkan device ngvk uses and what it supports")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    info.set_defaults(func=cmd_info)

    check = commands.add_parser("check", help="run every kernel against its NumPy reference")
    check.add_argument("--json", action="store_true", help="print JSON instead of a table")
    check.set_defaults(func=cmd_check)

    from ngvk.engine.nn.config import ENCODINGS

    apps = [get_app(name) for name in AVAILABLE]
    data_help = "; ".join(f"{app.name}: {app.data_help}" for app in apps)
    modes_help = "; ".join(f"{app.name}: {', '.join(app.render_modes)}" for app in apps)

    fit = commands.add_parser("fit", help="fit a model to data")
    fit.add_argument("app", choices=APP_NAMES, metavar="APP", help=f"one of {', '.join(APP_NAMES)}")
    fit.add_argument("data", metavar="DATA", help=f"training data ({data_help})")
    fit.add_argument("--out", required=True, metavar="MODEL", help="model file to write (.npz)")
    fit.add_argument("--encoding", choices=ENCODINGS,
                     help="input encoding (default: hashgrid, or --from-model's)")
    fit.add_argument("--from-model", metavar="MODEL",
                     help="continue training this model (its parameters; Adam and the learning-rate schedule "
                          "start afresh): same app, encoding and kind of data")
    fit.add_argument("--steps", type=int, metavar="N", help="training steps (default: the app's, e.g. 500 for image)")
    fit.add_argument("--max-minutes", type=float, metavar="M",
                     help="stop after M minutes of wall time and keep the model of the last step (Ctrl-C does too)")
    fit.add_argument("--batch-size", type=int, metavar="B", help="samples per step (default: the app's, e.g. 65536)")
    fit.add_argument("--seed", type=int, default=0, help="random seed for initialisation and batches (default: 0)")
    fit.add_argument("--json", metavar="OUT", help="also write the metrics (PSNR, SSIM, time, history) as JSON")
    fit.set_defaults(func=cmd_fit)

    render = commands.add_parser("render", help="render a frame headless to a PNG file, or a camera path's frames")
    render.add_argument("app", choices=APP_NAMES, metavar="APP", help=f"one of {', '.join(APP_NAMES)}")
    render.add_argument("--model", metavar="MODEL", help="model file (default: the one shipped in assets/)")
    render.add_argument("--out", metavar="PNG", help="output image (default: render.png); with --path, the folder of "
                        "the path's frames")
    render.add_argument("--width", type=int, metavar="W", help="frame width (default: the model's source size)")
    render.add_argument("--height", type=int, metavar="H", help="frame height (default: the model's source size)")
    render.add_argument("--camera", metavar="CAM.json", help="camera file (default: the app's default view)")
    render.add_argument("--kernels", choices=KERNELS, help=KERNELS_HELP)
    render.add_argument("--unfused", action="store_true", help="one dispatch per stage: --kernels unfused")
    render.add_argument("--mode", metavar="MODE", help=f"render mode, the first the default ({modes_help})")
    render.add_argument("--data", metavar="DATA",
                        help="render the data itself instead of a model: the ground truth a model is judged against "
                        f"(apps that have one: {', '.join(a.name for a in apps if a.renders_data) or 'none'})")
    render.add_argument("--path", metavar="PATH.json",
                        help="render every frame of a camera path (instant-ngp's or nerfstudio's JSON; the viewer's K "
                             "and J keys make one) into --out DIR; a rerun resumes")
    render.add_argument("--video", metavar="OUT.mp4", help="with --path: also encode the frames as H.264 video")
    render.add_argument("--fps", type=float, metavar="FPS", help="with --path: frames per second (default: the path's)")
    render.add_argument("--workers", type=int, metavar="N",
                        help="with --path: render on N Ray actors of a local Ray cluster (pip install 'ngvk[ray]')")
    render.add_argument("--ray-address", metavar="ADDR",
                        help="with --path: render on an existing Ray cluster (HOST:PORT, ray://HOST:PORT or auto)")
    render.add_argument("--threads-per-worker", type=int, metavar="T",
                        help="with --workers or --ray-address: CPUs (lavapipe threads) per actor (default: 1)")
    render.set_defaults(func=cmd_render)

    view = commands.add_parser("view", help="open an interactive window (GLFW + Vulkan swapchain)")
    view.add_argument("app", choices=APP_NAMES, metavar="APP", help=f"one of {', '.join(APP_NAMES)}")
    view.add_argument("--model", metavar="MODEL", help="model file (default: the one shipped in assets/)")
    view.add_argument("--width", type=int, metavar="W", help="window width (default: the model's source size)")
    view.add_argument("--height", type=int, metavar="H", help="window height (default: the model's source size)")
    view.add_argument("--camera", metavar="CAM.json", help="start from this camera (default: the app's default view)")
    view.add_argument("--mode", metavar="MODE", help="start in this render mode")
    view.add_argument("--kernels", choices=KERNELS, default="fused", help="start with this kernel variant (F switches)")
    view.add_argument("--target-fps", type=float, default=10.0, metavar="FPS",
                      help="dynamic resolution aims at this rate while the camera moves; 0 turns it off (default: 10)")
    view.add_argument("--frames", type=int, metavar="N", help="scripted: quit after N frames")
    view.add_argument("--screenshot", metavar="PNG", help="scripted: at the end, write the view at full resolution")
    view.add_argument("--resize", type=_size, metavar="WxH", help="scripted: resize the window halfway through --frames")
    view.add_argument("--display-screenshot", metavar="PNG",
                      help="scripted: at the end, also write the window as shown, with the heads-up display")
    view.add_argument("--path", metavar="PATH.json",
                      help="a camera path to play (L; a scripted --frames run plays it frame by frame) and add to (K)")
    view.add_argument("--path-out", metavar="PATH.json",
                      help="where J saves the camera path (default: APP-path.json)")
    view.add_argument("--no-hud", action="store_true", help="start with the heads-up display hidden (I shows it)")
    view.add_argument("--train", metavar="DATA", help="fit a new model to DATA (or continue --model's) live in the "
                      "window, steps and frames interleaved (Space pauses, Ctrl+S saves); the options below as fit's")
    view.add_argument("--out", metavar="MODEL", help="with --train: the model file Ctrl+S, the end of training and "
                      "closing the window write (default: APP-live.npz)")
    view.add_argument("--encoding", choices=ENCODINGS,
                      help="with --train: input encoding (default: hashgrid, or --model's)")
    view.add_argument("--steps", type=int, metavar="N", help="with --train: training steps (default: the app's)")
    view.add_argument("--max-minutes", type=float, metavar="M", help="with --train: stop training after M minutes")
    view.add_argument("--batch-size", type=int, metavar="B", help="with --train: samples per step (default: the app's)")
    view.add_argument("--train-seed", type=int, default=0, metavar="SEED",
                      help="with --train: fit's --seed (default: 0)")
    view.set_defaults(func=cmd_view)

    bench = commands.add_parser("bench", help="time the kernel variants (fused, wavefront, prepost, unfused), per stage, "
                                              "beside the paper's figures")
    bench.add_argument("apps", nargs="*", metavar="APP",
                       help="apps to run (default: all available), or `kernels` for the encoding and MLP "
                            "kernels alone beside NumPy")
    bench.add_argument("--batches", metavar="LIST",
                       help="bench kernels: log2 of the batch sizes (default: 16,18 for 2^16 and 2^18 samples)")
    bench.add_argument("--encodings", metavar="LIST",
                       help=f"comma-separated encodings (default: {','.join(ENCODINGS)})")
    bench.add_argument("--resolution", action="append", metavar="WxH",
                       help="frame size, WxH, 720p, 1080p or 4k; repeat the flag for several (default: 1080p)")
    bench.add_argument("--kernels", metavar="LIST",
                       help=f"comma-separated kernel variants to time beside unfused (default: all an app has: "
                            f"{', '.join(KERNELS)})")
    bench.add_argument("--repeat", type=int, default=7, metavar="N", help="timed frames per variant (default: 7)")
    bench.add_argument("--warmup", type=int, default=2, metavar="N", help="untimed frames first (default: 2)")
    bench.add_argument("--json", metavar="OUT", help="write all results as JSON (schema in docs/benchmarks.md)")
    bench.add_argument("--plot", metavar="PNG", help="plot the breakdown (needs matplotlib: the plot extra)")
    bench.add_argument("--suite", action="store_true",
                       help="the device report: info, check, the kernel benchmark and every app's shipped models at "
                            "1080p and 4k, fused and unfused, within --budget-s, into one JSON (--json)")
    bench.add_argument("--budget-s", metavar="S",
                       help="--suite: wall-clock budget in seconds (default: 600); items that would not fit "
                            "are skipped and recorded")
    bench.set_defaults(func=cmd_bench)

    ngpc = commands.add_parser("ngpc", help="project measured frames onto the paper's NGPC hardware (a performance "
                                            "model), or show its calibration against the paper")
    source = ngpc.add_mutually_exclusive_group(required=True)
    source.add_argument("--bench", metavar="RESULTS.json",
                        help="an `ngvk bench --json` result: model each of its apps, encodings and resolutions")
    source.add_argument("--paper", action="store_true",
                        help="the calibration: the model on the paper's published breakdown beside its speedups, "
                             "and every parameter with its value and source")
    ngpc.add_argument("--scale", metavar="LIST",
                      help="scaling factors (engine clusters), comma-separated (default: 8,16,32,64)")
    ngpc.add_argument("--json", metavar="OUT", help="write the projections and the parameters as JSON")
    ngpc.add_argument("--plot", metavar="PNG",
                      help="plot speedup against scaling factor beside the paper's points (needs matplotlib: the plot extra)")
    ngpc.set_defaults(func=cmd_ngpc)

    evaluate = commands.add_parser("eval", help="measure a model against data (the app's metrics, e.g. PSNR, SSIM)")
    evaluate.add_argument("app", choices=APP_NAMES, metavar="APP", help=f"one of {', '.join(APP_NAMES)}")
    evaluate.add_argument("--model", required=True, metavar="MODEL", help="model file")
    evaluate.add_argument("data", metavar="DATA", help=f"the data to compare with ({data_help})")
    evaluate.add_argument("--json", metavar="OUT", help="also write the metrics as JSON")
    evaluate.set_defaults(func=cmd_eval)

    datasets_help = "; ".join(f"{app.name}: {', '.join(app.datasets)}" for app in apps if app.datasets)
    dataset = commands.add_parser("dataset", help="write one of an app's procedural datasets (posed images...)")
    dataset.add_argument("app", choices=APP_NAMES, metavar="APP", help=f"one of {', '.join(APP_NAMES)}")
    dataset.add_argument("name", metavar="NAME", help=f"the dataset ({datasets_help or 'none yet'})")
    dataset.add_argument("--out", required=True, metavar="DIR", help="folder to write (new, or empty)")
    dataset.add_argument("--views", type=int, default=100, metavar="N", help="views to render (default: 100)")
    dataset.add_argument("--resolution", type=int, default=128, metavar="R",
                         help="images of R x R pixels (default: 128)")
    dataset.add_argument("--held-out", type=int, metavar="N",
                         help="validation and test views, N each (default: the app's, NeRF max(2, views / 10))")
    dataset.add_argument("--seed", type=int, default=0, help="random seed of the views (default: 0)")
    dataset.set_defaults(func=cmd_dataset)

    # Options an app adds to its commands, in a group of their own.
    for command, sub in (("fit", fit), ("render", render), ("view", view), ("eval", evaluate)):
        for app in apps:
            app.add_arguments(command, sub.add_argument_group(f"{app.name} options"))
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings meant for the user (an open mesh, ...) as one line, like errors."""
    print(f"ngvk: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        if isinstance(getattr(args, "app", None), str) and args.app in AVAILABLE:
            get_app(args.app).apply_arguments(args)
        return args.func(args)
    except NgvkError as error:
        print(f"ngvk: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ngvk: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
