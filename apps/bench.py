"""`ngvk bench`: the kernel variants side by side (fused, wavefront, prepost, unfused: those each
app's renderer has, engine/render/frame.py KERNELS), the per-stage time breakdown, and the paper's
figures beside the measured ones.

For every app, encoding and resolution: check that every variant renders the same frame as the
unfused path (refusing to time them otherwise), warm up, then render `repeat` frames with each,
timed with GPU timestamps. An app plugs in through its renderer's stage names
(`engine/render/frame.py` STAGES); the encoding and MLP stages are what the paper's 72.37 / 60.0 /
59.96 % measure, the others are its pre- and post-processing. Two ratios:
- whole frame: the unfused frame over the best fused variant's (fused, wavefront or prepost: each
  fuses kernels of the unfused path);
- kernel level, the paper's 9.94x: the unfused frame's pre- and post-processing (every stage but
  the encoding and the MLP, compaction included) over the same work in the prepost variant, where
  each iteration's pre- and post-processing is one kernel around the same encoding and MLP
  kernels; both are sums of the stages' own GPU timestamps.
The JSON written with `--json` has the schema documented in docs/benchmarks.md ("Benchmark JSON");
`SCHEMA_VERSION` changes whenever a field changes meaning.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import platform
import subprocess

import numpy as np

from ngvk.apps import VERSION
from ngvk.engine.errors import NgvkError
from ngvk.engine.paths import PACKAGE_ROOT
from ngvk.engine.poison import POISON_RGBA8, POISON_WORD
from ngvk.engine.render.frame import KERNELS, STAGES

SCHEMA = "ngvk-bench"
SCHEMA_VERSION = 2
NETWORK_STAGES = ("encoding", "mlp")
FUSED_VARIANTS = ("fused", "wavefront", "prepost")  # the variants that fuse the unfused path's kernels
AGREEMENT_TOLERANCE = 1e-5  # max |variant - unfused| on float frames
AGREEMENT_SIZE = 128  # float frames for the check are rendered this wide (the RGBA8 ones at full size)
TARGET = {"width": 3840, "height": 2160, "fps": 60.0}  # the paper's goal: 4k at 60 frames per second
RESOLUTIONS = {"720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}

# Hardware Acceleration of Neural Graphics (ISCA 2023), RTX 3090; see shared/reference/ngp-spec.md.
PAPER = {
    "encoding_mlp_share_percent": {"hashgrid": 72.37, "densegrid": 60.0, "lowres": 59.96},
    "fusion_speedup": 9.94,
    "gap_4k60": [1.51, 55.50],
    "device": "NVIDIA RTX 3090",
}


def parse_resolution(text: str) -> tuple[int, int]:
    """'WxH', '720p', '1080p' or '4k'."""
    key = text.strip().lower()
    if key in RESOLUTIONS:
        return RESOLUTIONS[key]
    try:
        width, height = (int(v) for v in key.split("x"))
    except ValueError:
        raise NgvkError(f"resolution {text!r}: use WIDTHxHEIGHT, 720p, 1080p or 4k") from None
    if width < 1 or height < 1:
        raise NgvkError(f"resolution {text!r}: width and height must be at least 1")
    return width, height


def statistics(values: list[float]) -> dict:
    """Median and spread of repeated timings, in milliseconds."""
    a = np.asarray(values, dtype=np.float64)
    return {
        "median_ms": float(np.median(a)),
        "min_ms": float(a.min()),
        "max_ms": float(a.max()),
        "p25_ms": float(np.percentile(a, 25)),
        "p75_ms": float(np.percentile(a, 75)),
        "runs": len(values),
    }


def check_agreement(renderer, camera_for, width: int, height: int) -> dict:
    """Render with every variant and compare each with the unfused path: float frames at a small
    size (<= 1e-5), and the RGBA8 frames at the benchmark's size (at most one 8-bit step apart: a
    last-bit float difference can round either way). Raises NgvkError when one differs."""
    small_w = min(width, AGREEMENT_SIZE)
    small_h = max(1, round(height * small_w / width))
    camera, full_camera = camera_for(small_w, small_h), camera_for(width, height)
    # Poisoned frames: a pixel a variant leaves unwritten makes it differ (NaN is never <=).
    unfused = renderer.render(camera, small_w, small_h, "unfused", float_frame=True, poison=POISON_WORD).pixels
    unfused8 = renderer.render(full_camera, width, height, "unfused", poison=POISON_RGBA8[1]).pixels.astype(np.int16)
    result = {"tolerance": AGREEMENT_TOLERANCE, "checked_size": [small_w, small_h], "kernels": {}}
    for kernels in renderer.kernels:
        if kernels == "unfused":
            continue
        other = renderer.render(camera, small_w, small_h, kernels, float_frame=True, poison=POISON_WORD).pixels
        float_difference = float(np.max(np.abs(other - unfused)))
        other8 = renderer.render(full_camera, width, height, kernels, poison=POISON_RGBA8[0]).pixels.astype(np.int16)
        byte_difference = int(np.max(np.abs(other8 - unfused8)))
        if not float_difference <= AGREEMENT_TOLERANCE or byte_difference > 1:
            raise NgvkError(
                f"{kernels} and unfused renders differ (max {float_difference:.3g} on float frames, {byte_difference} "
                "on 8-bit frames): not timing kernels that disagree; run `ngvk check`"
            )
        result["kernels"][kernels] = {"max_abs_difference": float_difference, "max_byte_difference": byte_difference}
    differences = result["kernels"].values()
    result["max_abs_difference"] = max((d["max_abs_difference"] for d in differences), default=0.0)
    result["max_byte_difference"] = max((d["max_byte_difference"] for d in differences), default=0)
    return result


def time_path(renderer, camera, width: int, height: int, kernels: str, warmup: int, repeat: int) -> dict:
    """GPU times of `repeat` frames after `warmup` untimed ones: per stage and for the frame."""
    for _ in range(warmup):
        renderer.render(camera, width, height, kernels, download=False)
    frames, sums, stages, queries = [], [], {}, []
    for _ in range(repeat):
        frame = renderer.render(camera, width, height, kernels, download=False)
        frames.append(frame.frame_ms)
        queries.append(frame.queries)
        sums.append(sum(frame.timings.values()))
        for stage, ms in frame.timings.items():
            stages.setdefault(stage, []).append(ms)
    return {
        "frame": statistics(frames),
        "stage_sum": statistics(sums),  # per frame, the stages' times added up
        "stages": {stage: statistics(values) for stage, values in stages.items()},
        "queries": int(np.median(queries)),  # network queries per frame, as the renderer counted them
    }


def case_kernels(case: dict) -> list[str]:
    """The variants a bench case timed, in KERNELS order."""
    return [k for k in KERNELS if k in case]


def best_fused(case: dict) -> str:
    """The fastest of the case's fused variants (FUSED_VARIANTS)."""
    return min((k for k in FUSED_VARIANTS if k in case), key=lambda k: case[k]["frame"]["median_ms"])


def pre_post_ms(path: dict) -> float:
    """A timed variant's pre- and post-processing: its stages' medians without the encoding and MLP."""
    return sum(s["median_ms"] for stage, s in path["stages"].items() if stage not in NETWORK_STAGES)


def derive(case: dict) -> dict:
    """Shares, ratios, rates and the gap to 4k at 60 FPS, from the medians."""
    unfused = case["unfused"]
    stage_medians = {stage: s["median_ms"] for stage, s in unfused["stages"].items()}
    stage_sum = sum(stage_medians.values())
    unfused_ms = unfused["frame"]["median_ms"]
    per_frame_sum = unfused["stage_sum"]["median_ms"]
    best = best_fused(case)
    fused_ms = case[best]["frame"]["median_ms"]
    network_ms = sum(stage_medians.get(stage, 0.0) for stage in NETWORK_STAGES)
    pixels = case["pixels"]
    target_pixels = TARGET["width"] * TARGET["height"]
    budget_ms = 1000.0 / TARGET["fps"]
    frames = {k: case[k]["frame"]["median_ms"] for k in case_kernels(case)}
    best_ms = min(frames.values())
    kernel_level = None
    if "prepost" in case:
        fused_pre_post = pre_post_ms(case["prepost"])
        kernel_level = {"pre_post_unfused_ms": stage_sum - network_ms, "pre_post_prepost_ms": fused_pre_post,
                        "speedup": (stage_sum - network_ms) / fused_pre_post if fused_pre_post else math.inf}
    return {
        # How far the stages' own times fall short of the frame's (barriers, gaps between dispatches).
        "stage_sum_error": (per_frame_sum - unfused_ms) / unfused_ms if unfused_ms else 0.0,
        "stage_share": {stage: ms / stage_sum if stage_sum else 0.0 for stage, ms in stage_medians.items()},
        "encoding_mlp_share": network_ms / stage_sum if stage_sum else 0.0,
        "pre_post_unfused_ms": stage_sum - network_ms,
        "speedups": {k: unfused_ms / ms if ms else math.inf for k, ms in frames.items() if k != "unfused"},
        "best_fused": best,
        "fusion_speedup": unfused_ms / fused_ms if fused_ms else math.inf,
        "kernel_level": kernel_level,
        "fps_fused": 1000.0 / fused_ms if fused_ms else math.inf,
        "fps_unfused": 1000.0 / unfused_ms if unfused_ms else math.inf,
        "samples_per_second_fused": case["samples"] / (fused_ms / 1000.0) if fused_ms else math.inf,
        "samples_per_second_unfused": case["samples"] / (unfused_ms / 1000.0) if unfused_ms else math.inf,
        # Time per pixel scaled to 4k, against 1/60 s: how much faster the device would need to be.
        "gap_4k60": best_ms * target_pixels / pixels / budget_ms,
    }


@contextlib.contextmanager
def fp32_mlp(device):
    """While the benchmark builds a renderer: the fused kernels run the portable fp32 MLP
    (lib/mlp.glsl) on every device, so where the unfused path's MLP would be fp16 (the
    cooperative-matrix path, which mlp_path() picks on GPUs that list a shape) the renderer is built
    with the fp32 block MLP (`portable-gpu`) instead: both paths then compute the same frame, and the
    agreement check holds them to 1e-5 (fp16 moves an iterative app's hits and samples, by more than
    any tolerance). An NGVK_MLP the user set is kept. Yields the unfused MLP path, described."""
    from ngvk.engine.nn.layers import mlp_path

    requested = os.environ.get("NGVK_MLP")
    automatic = (requested or "").strip().lower() in ("", "auto")
    default = mlp_path(device)
    if not automatic or default.precision != "fp16":
        yield default.describe()
        return
    os.environ["NGVK_MLP"] = "portable-gpu"
    try:
        yield f"{mlp_path(device).describe()} (fp32 like the fused kernels; the device's default: {default.describe()})"
    finally:
        if requested is None:
            del os.environ["NGVK_MLP"]
        else:
            os.environ["NGVK_MLP"] = requested


def bench_case(device, app, encoding: str, width: int, height: int, warmup: int, repeat: int, progress=None,
               kernels=None) -> dict:
    """One app, encoding and resolution: every variant of the renderer (or those of `kernels` it
    has, and always unfused, the baseline) checked against unfused, then timed."""
    model = app.load_model(app.default_model_path(encoding))
    with fp32_mlp(device) as unfused_mlp:
        renderer = app.renderer(device, model)
    if kernels is not None:
        has = renderer.kernels
        renderer.kernels = tuple(k for k in has if k in kernels or k == "unfused")
        if not any(k in FUSED_VARIANTS for k in renderer.kernels):
            renderer.close()
            raise NgvkError(f"--kernels {','.join(kernels)}: name a fused variant too (the {app.name} app has "
                            f"{', '.join(has)})")
    try:
        def camera_for(w, h):
            return renderer.default_camera(w, h)

        if progress:
            progress(f"{app.name} {encoding} {width}x{height}: checking {', '.join(renderer.kernels)} agree")
        agreement = check_agreement(renderer, camera_for, width, height)
        camera = camera_for(width, height)
        timed = {}
        for kernels in renderer.kernels:
            if progress:
                progress(f"{app.name} {encoding} {width}x{height}: timing {kernels}")
            timed[kernels] = time_path(renderer, camera, width, height, kernels, warmup, repeat)
        pixels = width * height
        case = {
            "app": app.name,
            "encoding": encoding,
            "resolution": [width, height],
            "pixels": pixels,
            "samples": timed["unfused"]["queries"],
            "encoding_config": model.encoding.to_dict(),
            "networks": {name: config.to_dict() for name, config in model.networks.items()},
            "model": str(app.default_model_path(encoding)),
            "unfused_mlp": unfused_mlp,
            "tiles": len(renderer.tiles(width, height)),
            "kernels": list(renderer.kernels),
            "agreement": agreement,
            **timed,
        }
        case["derived"] = derive(case)
        return case
    finally:
        renderer.close()


def git_commit() -> dict:
    root = PACKAGE_ROOT  # a checkout's root; an installed package is no repository and has no commit
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None}
    if commit.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def run_header(device, schema: str, version: int) -> dict:
    """What every benchmark result starts with: schema, ngvk's version and commit, date, host, device."""
    info = device.info
    return {
        "schema": schema,
        "version": version,
        "ngvk": VERSION,
        **git_commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": {"machine": platform.machine(), "processor": platform.processor() or None, "system": platform.system()},
        "device": {
            "name": info.name,
            "type": info.type,
            "driver": f"{info.driver_name} {info.driver_info}".strip(),
            "api_version": info.api_version,
            "vendor_id": info.vendor_id,
            "device_id": info.device_id,
        },
    }


def device_report(device) -> dict:
    """What `ngvk info --json` prints: ngvk's version, the device's name, driver, limits and
    features, the other devices, the MLP path its standalone kernels take, the shader compiler and
    whether validation is on."""
    from ngvk.engine.gpu.compiler import compiler_version, glslang
    from ngvk.engine.nn.layers import mlp_path

    try:
        path = mlp_path(device)
        mlp = {"path": path.name, "shape": list(path.shape) if path.shape else None, "precision": path.precision,
               "reason": path.reason}
    except NgvkError as error:  # NGVK_MLP forcing a path the device lacks
        mlp = {"error": str(error)}
    return {
        "ngvk": VERSION,
        "device": device.info.as_dict(),
        "devices": [{"index": i, "name": n, "type": t} for i, n, t in device.all_devices],
        "mlp_path": mlp,
        "compiler": {"path": glslang()[0], "version": compiler_version()},
        "validation": device.validation,
    }


def run_bench(device, app_names, encodings, resolutions, warmup: int = 2, repeat: int = 7, progress=None,
              kernels=None) -> dict:
    from ngvk.apps import get_app

    apps = [get_app(name) for name in app_names]
    result = {
        **run_header(device, SCHEMA, SCHEMA_VERSION),
        "settings": {"warmup": warmup, "repeat": repeat, "timing": "GPU timestamps, median of repeated frames"},
        "target": TARGET,
        "paper": PAPER,
        "cases": [],
    }
    for app in apps:
        for encoding in encodings:
            for width, height in resolutions:
                result["cases"].append(bench_case(device, app, encoding, width, height, warmup, repeat, progress,
                                                  kernels))
    return result


# ---- reporting ----------------------------------------------------------------------------------


def table(result: dict) -> str:
    """The variants' frame times and ratios, the unfused frame's breakdown, then the paper's figures
    beside the measured ones."""
    lines = [
        f"ngvk bench on {result['device']['name']} ({result['device']['driver']}), "
        f"median of {result['settings']['repeat']} frames after {result['settings']['warmup']} warm-up (GPU ms)",
        "",
        f"{'app':<7}{'encoding':<11}{'resolution':>11}  {'unfused':>9}  {'fused':>9}  {'wavefront':>9}  {'prepost':>9}"
        f"  {'whole frame':>11}  {'pre/post':>8}  {'FPS':>7}  {'Msamples/s':>10}  {'4k60 gap':>8}",
    ]
    for case in result["cases"]:
        d = case["derived"]
        w, h = case["resolution"]
        ordered = [case[k]["frame"]["median_ms"] if k in case else None for k in ("unfused", "fused", "wavefront", "prepost")]
        times = "  ".join(f"{t:>9.2f}" if t is not None else f"{'-':>9}" for t in ordered)
        level = d.get("kernel_level")
        level_text = f"{level['speedup']:>7.2f}x" if level else f"{'-':>8}"
        lines.append(
            f"{case['app']:<7}{case['encoding']:<11}{f'{w}x{h}':>11}  {times}"
            f"  {d['fusion_speedup']:>6.2f}x {d['best_fused'][:4]:<4}  {level_text}  {d['fps_fused']:>7.1f}"
            f"  {d['samples_per_second_fused'] / 1e6:>10.1f}  {d['gap_4k60']:>7.1f}x"
        )
    lines += ["", "whole frame: unfused / the best fused variant (named); pre/post (kernel level): the unfused "
              "frame's stages other than encoding and MLP / the same in the prepost kernels", "",
              f"{'unfused frame':<30}{'pre':>8} {'enc':>8} {'mlp':>8} {'other':>8} {'post':>8}  {'enc+mlp':>7}"
              f"  {'queries':>10}"]
    others = {}
    for case in result["cases"]:
        stages = {s: v["median_ms"] for s, v in case["unfused"]["stages"].items()}
        other = [s for s in stages if s not in STAGES]  # an app's own stages (the SDF app's ray advance)
        if other:
            others[case["app"]] = other
        w, h = case["resolution"]
        lines.append(
            f"{case['app'] + ' ' + case['encoding'] + ' ' + f'{w}x{h}':<30}{stages.get('preprocess', 0):>8.2f}"
            f" {stages.get('encoding', 0):>8.2f} {stages.get('mlp', 0):>8.2f} {sum(stages[s] for s in other):>8.2f}"
            f" {stages.get('postprocess', 0):>8.2f}  {100 * case['derived']['encoding_mlp_share']:>6.1f}%"
            f"  {case['unfused']['queries']:>10,}"
        )
    lines += [f"other: {app}: {', '.join(names)}" for app, names in others.items()]
    lines += [f"network queries per frame, {c['app']} {c['encoding']} {c['resolution'][0]}x{c['resolution'][1]}: "
              + ", ".join(f"{c[k]['queries']:,} {k}" for k in case_kernels(c))
              for c in result["cases"] if len({c[k]["queries"] for k in case_kernels(c)}) > 1]
    lines += ["", f"{'figure':<44}{'measured here':<28}paper ({PAPER['device']})"]
    paper = PAPER["encoding_mlp_share_percent"]
    for encoding, percent in paper.items():
        measured = [100 * c["derived"]["encoding_mlp_share"] for c in result["cases"] if c["encoding"] == encoding]
        shown = f"{min(measured):.1f}-{max(measured):.1f} %" if measured and len(measured) > 1 else (
            f"{measured[0]:.1f} %" if measured else "not run")
        lines.append(f"{'encoding + MLP share of frame, ' + encoding:<44}{shown:<28}{percent} %")
    levels = [c["derived"]["kernel_level"]["speedup"] for c in result["cases"] if c["derived"].get("kernel_level")]
    speedups = [c["derived"]["fusion_speedup"] for c in result["cases"]]
    gaps = [c["derived"]["gap_4k60"] for c in result["cases"]]
    lines.append(f"{'fusion, kernel level (pre/post kernels)':<44}{_range(levels, 'x'):<28}{PAPER['fusion_speedup']}x")
    lines.append(f"{'fusion, whole frame (best fused variant)':<44}{_range(speedups, 'x'):<28}not published")
    lines.append(f"{'speedup needed for 4k at 60 FPS':<44}{_range(gaps, 'x'):<28}"
                 f"{PAPER['gap_4k60'][0]}x-{PAPER['gap_4k60'][1]}x")
    return "\n".join(lines)


def _range(values: list[float], unit: str) -> str:
    if not values:
        return "not run"
    low, high = min(values), max(values)
    return f"{low:.2f}{unit}" if math.isclose(low, high, rel_tol=1e-3) else f"{low:.2f}{unit}-{high:.2f}{unit}"


def check_plot_available() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise NgvkError("--plot needs matplotlib: pip install 'ngvk[plot]' (or pip install matplotlib)") from None


def plot(result: dict, path: str) -> None:
    """In the style of the paper's breakdown: stacked stage shares per app and encoding, and fused
    against unfused frame times."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ngvk.engine.files import write_atomically

    cases = result["cases"]
    labels = [f"{c['app']}\n{c['encoding']}\n{c['resolution'][0]}x{c['resolution'][1]}" for c in cases]
    x = np.arange(len(cases))
    figure, (shares, times) = plt.subplots(1, 2, figsize=(max(8, 2.2 * len(cases) + 4), 4.8))
    bottom = np.zeros(len(cases))
    stage_names = list(dict.fromkeys(s for c in cases for s in c["derived"]["stage_share"]))
    for stage in stage_names:
        values = np.array([100 * c["derived"]["stage_share"].get(stage, 0.0) for c in cases])
        shares.bar(x, values, bottom=bottom, label=stage)
        bottom += values
    for encoding, percent in PAPER["encoding_mlp_share_percent"].items():
        for i, c in enumerate(cases):
            if c["encoding"] == encoding:
                shares.plot([i - 0.4, i + 0.4], [percent] * 2, color="black", linestyle="--", linewidth=1)
    shares.set_xticks(x, labels)
    shares.set_ylabel("share of unfused frame time (%)")
    shares.set_title("unfused stages (dashed: paper's encoding + MLP share)", fontsize="small")
    shares.legend(fontsize="small")
    variants = [k for k in ("unfused", "fused", "wavefront", "prepost") if any(k in c for c in cases)]
    width = 0.8 / len(variants)
    for j, kernels in enumerate(variants):
        values = [c[kernels]["frame"]["median_ms"] if kernels in c else 0.0 for c in cases]
        times.bar(x + (j - (len(variants) - 1) / 2) * width, values, width, label=kernels)
    for i, c in enumerate(cases):
        top = max(c[k]["frame"]["median_ms"] for k in case_kernels(c))
        times.text(i, top, f"{c['derived']['fusion_speedup']:.2f}x", ha="center", va="bottom")
    times.set_xticks(x, labels)
    times.set_ylabel("GPU time per frame (ms, median)")
    times.set_title("kernel variants (label: unfused / best fused)", fontsize="small")
    times.legend(fontsize="small")
    figure.suptitle(f"ngvk bench on {result['device']['name']}", fontsize="medium")
    figure.tight_layout()
    write_atomically(path, lambda temporary: figure.savefig(temporary, format="png", dpi=120))
    plt.close(figure)
