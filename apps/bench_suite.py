"""`ngvk bench --suite`: the device report, one command within a time budget, into one JSON.

Its sections, run in this order:

- `info`: what `ngvk info --json` prints (device, driver, limits, features, compiler);
- `check`: `ngvk check`'s results (every kernel against its NumPy reference);
- `kernels`: `ngvk bench kernels`' cases, the apps' networks first, then the grid encodings, at
  batches of 2^16, 2^18, 2^20 and 2^22 samples as the budget allows;
- `apps`: `ngvk bench`'s kernel variants and breakdown of every available app and every encoding
  it ships a model for, at 1920x1080 and 3840x2160.

The budget. Each section must end by a fixed share of the budget (`SECTION_ENDS`, cumulative, so a
section passes the time it leaves unused to the next), and the whole run by the budget less a small
reserve for writing the JSON. Before each timed item the suite estimates its cost from a cheaper run
of the same work: a kernel case from the same kernel at a smaller batch (at first a pilot of 2^10
samples, not reported), an app's case from pilot frames of each path at growing small sizes (a
fixed cost per frame plus a cost per pixel, `frame_pilot`). An item whose estimate (times `SAFETY`)
exceeds the time its section has left is not run and is recorded as
{"skipped": "budget", "estimate_s": ...}; an app case that does not fit with the requested warm-up
and repeat counts is tried with fewer (down to one frame, no warm-up) before it is skipped. App cases
run 1080p before 4k, and at each size every app's cheapest encoding first, then every app's next: a
slow device measures each app once before it measures one app again. The JSON lists them in the
usual order. `check` has no estimate: it stops after the case that reaches its section's end
(`"stopped": "budget"`).

Every section is always present in the JSON. Errors of one item (a model file that cannot be read,
a kernel beyond the device's limits, paths that disagree) are recorded as skips with their message,
and the suite goes on. The JSON's schema is in docs/gpu.md.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ngvk.apps import AVAILABLE, bench, bench_kernels, get_app
from ngvk.engine.errors import NgvkError

SCHEMA = "ngvk-bench-suite"
SCHEMA_VERSION = 1
DEFAULT_BUDGET_S = 600.0
MIN_BUDGET_S = 10.0
SECTIONS = ("info", "check", "kernels", "apps")
# Where each section must end, as a share of the budget (info takes no time worth budgeting).
SECTION_ENDS = {"info": 0.3, "check": 0.3, "kernels": 0.5, "apps": 1.0}
RESERVE_S = 2.0  # kept back for writing the results (at most 5 % of the budget)
SAFETY = 1.25  # estimates are multiplied by this before they are compared with the time left
RESOLUTIONS = {"1080p": (1920, 1080), "4k": (3840, 2160)}
BATCHES = (16, 18, 20, 22)  # log2 of the kernel cases' samples
KERNEL_PILOT_LOG2 = 10
PILOT_SIZES = ((64, 36), (128, 72), (256, 144), (512, 288))  # 16:9, like the cases
PILOT_ENOUGH_S = 1.0  # ... and it stops growing once they take this long, and twice as long as at first
PILOT_STEP_S = 4.0  # the pilot grows no further than a size whose two frames would take this long
FIRST_PILOT_GUESS_S = 5.0  # the cost of the first pilot of a section, before any is measured


class _OutOfTime(Exception):
    """Raised from run_checks' progress callback when the check section's time is up."""


class Budget:
    """Seconds since the start on `clock`, and what each section has left."""

    def __init__(self, seconds: float, clock=time.monotonic, started: float | None = None):
        self.seconds = seconds
        self.clock = clock
        self.started = clock() if started is None else started
        self.reserve = min(RESERVE_S, 0.05 * seconds)

    def elapsed(self) -> float:
        return self.clock() - self.started

    def end(self, section: str) -> float:
        return SECTION_ENDS[section] * self.seconds - self.reserve

    def left(self, section: str) -> float:
        return self.end(section) - self.elapsed()

    def fits(self, section: str, estimate_s: float) -> bool:
        return estimate_s * SAFETY <= self.left(section)


# ---- the measurements (module functions, so that tests can replace them) ------------------------


def shipped_models(app_names) -> tuple[list[tuple], list[dict]]:
    """([(app, encoding)] of every model the apps ship that loads, [skip records of the others])."""
    from ngvk.engine.nn.config import ENCODINGS

    models, skipped = [], []
    for app in map(get_app, app_names):
        for encoding in ENCODINGS:
            path = app.default_model_path(encoding)
            record = {"app": app.name, "encoding": encoding, "model": str(path)}
            if not path.is_file():
                skipped.append({**record, "skipped": "no model"})
                continue
            try:
                app.load_model(path)
            except NgvkError as error:
                skipped.append({**record, "skipped": "model unusable", "error": str(error)})
                continue
            models.append((app, encoding))
    return models, skipped


def kernel_items(app_names) -> tuple[list[tuple], list[dict]]:
    """([(kind, name, config)]: the apps' networks, then the encodings of the shipped models and the
    paper's 3D presets (bench_kernels.grid_configs), [skip records of unreadable models])."""
    from ngvk.engine.nn.config import PAPER_NETWORKS

    skipped = []

    def unreadable(app, encoding, path, error):
        skipped.append({"kind": "encoding", "case": f"{app.name} {encoding}", "model": str(path),
                        "skipped": "model unusable", "error": str(error)})

    items = [("mlp", name, config) for name, config in PAPER_NETWORKS.items()]
    items += [("encoding", name, config) for name, config in bench_kernels.grid_configs(unreadable).items()]
    return items, skipped


def largest_buffer(kind: str, config, n: int) -> int:
    """Bytes of the largest per-sample buffer a kernel case of `n` samples binds."""
    if kind == "mlp":
        return 4 * n * max(config.n_hidden_layers * config.width, config.n_input, config.n_output)
    return 4 * n * max(config.n_output, config.n_dims)


def kernel_case(device, kind: str, name: str, config, n: int, warmup: int, repeat: int, rng) -> list[dict]:
    function = bench_kernels.bench_mlp if kind == "mlp" else bench_kernels.bench_grid
    return function(device, name, config, n, warmup, repeat, rng)


def frame_pilot(device, app, encoding: str, limit_s: float) -> dict:
    """Wall-clock seconds of one frame with each kernel variant of the renderer at growing small
    sizes (PILOT_SIZES), after one untimed frame each that creates and compiles everything. It grows
    until the frames take PILOT_ENOUGH_S and twice as long as at the first size (so that the cost
    per pixel shows beside the fixed cost of a frame: dispatches, iterations), or to the last size,
    or until the next size would take more than PILOT_STEP_S or what is left of `limit_s`. Returns
    the sizes, the seconds of each variant there (`seconds_<variant>`), and per variant the line
    through the first and last points (frame_cost)."""
    started = time.perf_counter()
    model = app.load_model(app.default_model_path(encoding))
    with bench.fp32_mlp(device):  # the MLP path the benchmark's renderers get (bench.bench_case)
        renderer = app.renderer(device, model)
    paths = renderer.kernels
    sizes, seconds = [], {path: [] for path in paths}
    try:
        for i, (width, height) in enumerate(PILOT_SIZES):
            camera = renderer.default_camera(width, height)
            if i == 0:
                for path in paths:
                    renderer.render(camera, width, height, path, download=False)
                setup = time.perf_counter() - started
            for path in paths:
                start = time.perf_counter()
                renderer.render(camera, width, height, path, download=False)
                seconds[path].append(time.perf_counter() - start)
            sizes.append([width, height])
            pilot = {"sizes": sizes, **{f"seconds_{path}": seconds[path] for path in paths}}
            pair = sum(seconds[path][-1] for path in paths)
            if i > 0 and pair >= max(PILOT_ENOUGH_S, 2 * sum(seconds[path][0] for path in paths)):
                break
            if i + 1 < len(PILOT_SIZES):
                next_pixels = PILOT_SIZES[i + 1][0] * PILOT_SIZES[i + 1][1]
                projected = 4 * pair if i == 0 else frame_seconds(pilot, next_pixels)
                if projected > min(PILOT_STEP_S, limit_s - (time.perf_counter() - started)):
                    break
    finally:
        renderer.close()
    return {**pilot, "setup_s": setup, "seconds": time.perf_counter() - started,
            "cost": {path: frame_cost(sizes, seconds[path]) for path in paths}}


def frame_cost(sizes, seconds) -> dict:
    """A frame's seconds as fixed + per_pixel * pixels: the line through the first and the last
    measurement, anchored at the last; one measurement, or a cost that did not grow, gives a cost
    proportional to pixels from the last (an overestimate of larger frames, never an underestimate
    by a fixed cost)."""
    pixels = [w * h for w, h in sizes]
    if len(pixels) == 1 or seconds[-1] <= seconds[0]:
        return {"fixed_s": 0.0, "per_pixel_s": seconds[-1] / pixels[-1]}
    per_pixel = (seconds[-1] - seconds[0]) / (pixels[-1] - pixels[0])
    return {"fixed_s": max(0.0, seconds[-1] - per_pixel * pixels[-1]), "per_pixel_s": per_pixel}


def frame_seconds(pilot: dict, pixels: int) -> float:
    """Every variant's seconds for one frame of `pixels`, from a pilot's measurements."""
    cost = pilot.get("cost") or {key[len("seconds_"):]: frame_cost(pilot["sizes"], pilot[key])
                                 for key in pilot if key.startswith("seconds_")}
    return sum(c["fixed_s"] + c["per_pixel_s"] * pixels for c in cost.values())


def estimate_case_s(pilot: dict, width: int, height: int, warmup: int, repeat: int) -> float:
    """bench.bench_case's cost from a pilot: per variant, a full-size frame for the agreement check,
    `warmup` and `repeat` frames, and the check's small float frame; and a quarter of the pilot's
    set-up (the model and renderer made again; the pipelines exist by then)."""
    small = (bench.AGREEMENT_SIZE, max(1, round(height * bench.AGREEMENT_SIZE / width)))
    return ((1 + warmup + repeat) * frame_seconds(pilot, width * height) + frame_seconds(pilot, small[0] * small[1])
            + pilot["setup_s"] / 4)


def estimate_kernel_s(measured: dict, n: int, warmup: int, repeat: int) -> float:
    """A kernel case's cost at `n` samples from a measurement at `measured["n"]`: the GPU runs and
    NumPy's scaled by samples (NumPy repeats a slow case fewer times: bench_kernels.time_numpy), and
    the rest of the measured wall time (data, uploads, comparisons) too, when it was not a pilot
    (whose rest is mostly pipeline creation, done once)."""
    scale = n / measured["n"]
    seconds = 0.0
    for case in measured["cases"]:
        seconds += case["ngvk"]["median_ms"] * 1e-3 * scale * (warmup + repeat + 1)
        numpy_first = case["numpy"]["median_ms"] * 1e-3 * scale
        seconds += max(numpy_first, min(repeat * numpy_first, bench_kernels.NUMPY_SECONDS + numpy_first))
    if not measured["pilot"]:
        seconds += max(0.0, measured["seconds"] - measured["work_s"]) * scale
    return seconds


def _work_s(cases: list[dict], warmup: int, repeat: int) -> float:
    """The GPU and NumPy seconds inside measured kernel cases."""
    return sum(1e-3 * (c["ngvk"]["median_ms"] * (warmup + repeat + 1) + c["numpy"]["median_ms"] * c["numpy"]["runs"])
               for c in cases)


# ---- the suite ----------------------------------------------------------------------------------


@dataclass
class _AppItem:
    app: object
    encoding: str
    resolution: str
    size: tuple[int, int]
    estimate_s: float
    pilot: dict


class Suite:
    """One run of the suite; `result` holds what is done so far (also after an interruption)."""

    def __init__(self, device, budget_s: float = DEFAULT_BUDGET_S, warmup: int = 2, repeat: int = 7,
                 app_names=None, progress=None, checkpoint=None, clock=time.monotonic, started=None):
        self.device = device
        self.budget = Budget(budget_s, clock, started)  # `started`: on `clock`, e.g. before the device was made
        self.warmup, self.repeat = warmup, repeat
        self.kernel_warmup = max(warmup, 1)  # as `ngvk bench kernels`: lavapipe compiles at first dispatch
        self.app_names = list(AVAILABLE if app_names is None else app_names)
        self.progress = progress
        self.checkpoint = checkpoint  # called with `result` after each section
        self.result = {
            **bench.run_header(device, SCHEMA, SCHEMA_VERSION),
            "complete": False,
            "suite": {
                "budget_s": budget_s,
                "elapsed_s": 0.0,
                "stopped": None,
                "warmup": warmup,
                "repeat": repeat,
                "resolutions": {name: list(size) for name, size in RESOLUTIONS.items()},
                "batches": [1 << b for b in BATCHES],
                "section_ends_s": {name: self.budget.end(name) for name in SECTIONS},
                "section_seconds": {},
                "safety": SAFETY,
            },
            **{name: {"skipped": "not reached"} for name in SECTIONS},
        }

    def say(self, message: str) -> None:
        if self.progress:
            self.progress(f"[{self.budget.elapsed():6.1f} s] {message}")

    def run(self) -> dict:
        try:
            for name in SECTIONS:
                started = self.budget.elapsed()
                getattr(self, f"run_{name}")()
                self.result["suite"]["section_seconds"][name] = round(self.budget.elapsed() - started, 3)
                self.result["suite"]["elapsed_s"] = round(self.budget.elapsed(), 3)
                if self.checkpoint and name != SECTIONS[-1]:
                    self.checkpoint(self.result)
            self.result["complete"] = True
        except KeyboardInterrupt:
            self.result["suite"]["stopped"] = "interrupted"
            for name in SECTIONS:
                section = self.result[name]
                if section.get("skipped") == "not reached":
                    self.result[name] = {"skipped": "interrupted"}
                elif name not in self.result["suite"]["section_seconds"]:
                    section["interrupted"] = True
            raise
        finally:
            self.result["suite"]["elapsed_s"] = round(self.budget.elapsed(), 3)
        return self.result

    # ---- sections -------------------------------------------------------------------------------

    def run_info(self) -> None:
        self.result["info"] = bench.device_report(self.device)
        device = self.result["device"]
        self.say(f"info: {device['name']} ({device['driver']}, Vulkan {device['api_version']})"
                 + _mlp_path(self.result["info"]))

    def run_check(self) -> None:
        from ngvk.engine import check

        section = self.result["check"] = {"passed": 0, "total": 0, "failed": [], "unsupported": [],
                                          "stopped": None, "results": []}

        def collect(result):
            section["results"].append(result.as_dict())
            if getattr(result, "unsupported", ""):  # neither a pass nor a failure (engine.check)
                section["unsupported"].append(f"{result.kernel} {result.case}: {result.unsupported}")
            elif result.passed:
                section["total"] += 1
                section["passed"] += 1
            else:
                section["total"] += 1
                section["failed"].append(
                    f"{result.kernel} {result.case}: {result.max_error:.3g} > {result.tolerance:.3g}")
                self.say(f"check: FAIL {section['failed'][-1]}")
            if self.budget.left("check") <= 0:
                raise _OutOfTime

        try:
            check.run_checks(self.device, progress=collect, apps=[get_app(name) for name in self.app_names])
        except _OutOfTime:
            section["stopped"] = "budget"
        except Exception as error:  # a kernel that cannot be built here: recorded, and the report goes on
            section["stopped"] = "error"
            section["error"] = _describe(error)
        self.say(f"check: {_check_result(section)}")

    def run_kernels(self) -> None:
        warmup, repeat = self.kernel_warmup, self.repeat
        section = self.result["kernels"] = {
            "numpy": {"version": np.__version__, "blas": bench_kernels._blas_name()},
            "settings": {"warmup": warmup, "repeat": repeat,
                         "timing": "ngvk: GPU timestamps; NumPy: wall clock, float32; medians",
                         "positions": "uniform random in [0, 1]^D"},
            "batches": [1 << b for b in BATCHES],
            "cases": [],
            "pilots": [],
            "skipped": [],
        }
        items, section["skipped"] = kernel_items(self.app_names)
        rng = np.random.default_rng(0)
        measured = {}  # (kind, name) -> its last measurement
        given_up = {}  # (kind, name) -> the skip record of the batch where it was given up
        pilot_guess = FIRST_PILOT_GUESS_S
        limit = min(self.device.info.max_storage_buffer_range,
                    self.device.info.max_memory_allocation or self.device.info.max_storage_buffer_range)
        for log2 in BATCHES:
            n = 1 << log2
            for kind, name, config in items:
                key = (kind, name)
                record = {"kind": kind, "case": name, "batch": n}
                if largest_buffer(kind, config, n) > limit:
                    section["skipped"].append({**record, "skipped": "device limit",
                                               "bytes": largest_buffer(kind, config, n), "limit": limit})
                    continue
                if key in given_up:  # skipped at a smaller batch: so is this one, for the same reason
                    earlier = given_up[key]
                    later = {**record, "skipped": earlier["skipped"], "at_batch": earlier["batch"]}
                    if "estimate_s" in earlier:
                        later["estimate_s"] = round(earlier["estimate_s"] * n / earlier["batch"], 3)
                    section["skipped"].append(later)
                    continue
                if key not in measured:  # the pilot: pipelines created, and a first measurement
                    if not self.budget.fits("kernels", pilot_guess):
                        given_up[key] = {**record, "skipped": "budget", "estimate_s": round(pilot_guess, 3),
                                         "what": "pilot"}
                        section["skipped"].append(given_up[key])
                        continue
                    outcome = self._kernel_run(kind, name, config, 1 << KERNEL_PILOT_LOG2, 1, 1, rng, record)
                    if outcome is None:
                        given_up[key] = section["skipped"][-1]
                        continue
                    measured[key] = {**outcome, "pilot": True}
                    section["pilots"].append({"kind": kind, "case": name, "batch": outcome["n"],
                                              "seconds": round(outcome["seconds"], 3)})
                    pilot_guess = max(pilot_guess if len(section["pilots"]) > 1 else 0.0, outcome["seconds"])
                estimate = estimate_kernel_s(measured[key], n, warmup, repeat)
                label = f"{kind} {name}, 2^{log2} samples"
                if not self.budget.fits("kernels", estimate):
                    given_up[key] = {**record, "skipped": "budget", "estimate_s": round(estimate, 3)}
                    section["skipped"].append(given_up[key])
                    self.say(f"kernels: {label}: skipped (estimate {estimate:.1f} s, "
                             f"{max(0.0, self.budget.left('kernels')):.1f} s left)")
                    continue
                outcome = self._kernel_run(kind, name, config, n, warmup, repeat, rng, record)
                if outcome is None:
                    given_up[key] = section["skipped"][-1]
                    continue
                measured[key] = {**outcome, "pilot": False}
                for case in outcome["cases"]:
                    case["suite"] = {"estimate_s": round(estimate, 3), "seconds": round(outcome["seconds"], 3)}
                section["cases"] += outcome["cases"]
                rates = ", ".join(f"{c['operation'].split()[-1]} {c['samples_per_second'] / 1e6:.1f} M/s"
                                  + ("" if c["agreement"]["passed"] else " (DISAGREES)") for c in outcome["cases"])
                self.say(f"kernels: {label}: {rates} ({outcome['seconds']:.1f} s, estimate {estimate:.1f} s)")

    def _kernel_run(self, kind, name, config, n, warmup, repeat, rng, record) -> dict | None:
        start = self.budget.clock()
        try:
            cases = kernel_case(self.device, kind, name, config, n, warmup, repeat, rng)
        except Exception as error:
            self.result["kernels"]["skipped"].append({**record, "skipped": "error", "error": _describe(error)})
            self.say(f"kernels: {kind} {name}, {n} samples: error: {_describe(error)}")
            return None
        seconds = self.budget.clock() - start
        return {"n": n, "cases": cases, "seconds": seconds, "work_s": _work_s(cases, warmup, repeat)}

    def run_apps(self) -> None:
        section = self.result["apps"] = {
            "settings": {"warmup": self.warmup, "repeat": self.repeat,
                         "timing": "GPU timestamps, median of repeated frames"},
            "target": bench.TARGET,
            "paper": bench.PAPER,
            "resolutions": {name: list(size) for name, size in RESOLUTIONS.items()},
            "cases": [],
            "pilots": [],
            "skipped": [],
        }
        models, section["skipped"] = shipped_models(self.app_names)
        for record in section["skipped"]:
            self.say(f"apps: {record['app']} {record['encoding']}: skipped ({record['skipped']})")
        items: list[_AppItem] = []
        pilot_guess = FIRST_PILOT_GUESS_S
        for app, encoding in models:
            where = {"app": app.name, "encoding": encoding}
            if not self.budget.fits("apps", pilot_guess):
                section["skipped"] += [{**where, "resolution": list(size), "skipped": "budget",
                                        "estimate_s": round(pilot_guess, 3), "what": "pilot"}
                                       for size in RESOLUTIONS.values()]
                self.say(f"apps: {app.name} {encoding}: skipped (no time for its pilot, about {pilot_guess:.1f} s)")
                continue
            try:
                pilot = frame_pilot(self.device, app, encoding, self.budget.left("apps") / SAFETY)
            except Exception as error:
                section["skipped"] += [{**where, "resolution": list(size), "skipped": "error",
                                        "error": _describe(error)} for size in RESOLUTIONS.values()]
                self.say(f"apps: {app.name} {encoding}: error: {_describe(error)}")
                continue
            section["pilots"].append({**where, **pilot})
            pilot_guess = max(pilot_guess if len(section["pilots"]) > 1 else 0.0, pilot["seconds"])
            w, h = pilot["sizes"][-1]
            walls = ", ".join(f"{key[len('seconds_'):]} {1e3 * values[-1]:.1f} ms" for key, values in pilot.items()
                              if key.startswith("seconds_"))
            self.say(f"apps: {app.name} {encoding}: pilot up to {w}x{h}: {walls} ({pilot['seconds']:.1f} s)")
            for resolution, size in RESOLUTIONS.items():
                estimate = estimate_case_s(pilot, *size, self.warmup, self.repeat)
                items.append(_AppItem(app, encoding, resolution, size, estimate, pilot))
        order = {(id(item.app), item.encoding, item.resolution): i for i, item in enumerate(items)}
        done = []
        for item in sorted(items, key=_run_order(items)):
            label = f"{item.app.name} {item.encoding} {item.resolution}"
            where = {"app": item.app.name, "encoding": item.encoding, "resolution": list(item.size)}
            settings = None
            for warmup, repeat in dict.fromkeys(
                    [(self.warmup, self.repeat), (min(self.warmup, 1), min(self.repeat, 3)), (0, 1)]):
                estimate = estimate_case_s(item.pilot, *item.size, warmup, repeat)
                if self.budget.fits("apps", estimate):
                    settings = warmup, repeat
                    break
            if settings is None:
                section["skipped"].append({**where, "skipped": "budget", "estimate_s": round(item.estimate_s, 3),
                                           "estimate_one_frame_s": round(estimate, 3)})
                self.say(f"apps: {label}: skipped (estimate {item.estimate_s:.1f} s, at least {estimate:.1f} s "
                         f"with one frame; {max(0.0, self.budget.left('apps')):.1f} s left)")
                continue
            start = self.budget.clock()
            try:
                case = bench.bench_case(self.device, item.app, item.encoding, *item.size, *settings)
            except Exception as error:
                section["skipped"].append({**where, "skipped": "error", "error": _describe(error)})
                self.say(f"apps: {label}: error: {_describe(error)}")
                continue
            seconds = self.budget.clock() - start
            case["suite"] = {"warmup": settings[0], "repeat": settings[1], "estimate_s": round(estimate, 3),
                             "seconds": round(seconds, 3)}
            done.append((order[(id(item.app), item.encoding, item.resolution)], case))
            reduced = ("" if settings == (self.warmup, self.repeat)
                       else f", {settings[1]} frames after {settings[0]} warm-up")
            times = ", ".join(f"{k} {case[k]['frame']['median_ms']:.2f} ms" for k in bench.case_kernels(case))
            self.say(f"apps: {label}: {times} ({seconds:.1f} s, estimate {estimate:.1f} s{reduced})")
            section["cases"] = [case for _, case in sorted(done, key=lambda pair: pair[0])]


def _run_order(items: list[_AppItem]):
    """The order app cases run in: 1080p before 4k; at each, every app's cheapest encoding first
    (cheapest app first), then every app's next one, so that a slow device measures each app once
    before it measures one app again."""
    rank = {}
    for resolution in RESOLUTIONS:
        by_app = {}
        for item in sorted((i for i in items if i.resolution == resolution), key=lambda i: i.estimate_s):
            by_app.setdefault(id(item.app), []).append(item)
        for same_app in by_app.values():
            for position, item in enumerate(same_app):
                rank[id(item)] = position
    resolutions = list(RESOLUTIONS)
    return lambda item: (resolutions.index(item.resolution), rank[id(item)], item.estimate_s)


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def parse_budget(text: str) -> float:
    """--budget-s: seconds, a finite number of at least MIN_BUDGET_S."""
    try:
        seconds = float(text)
    except ValueError:
        raise NgvkError(f"--budget-s {text!r}: give the time budget in seconds, e.g. 600") from None
    if not math.isfinite(seconds) or seconds < MIN_BUDGET_S:
        raise NgvkError(f"--budget-s {text}: the budget must be a finite number of seconds, at least {MIN_BUDGET_S:g}")
    return seconds


# ---- reporting ----------------------------------------------------------------------------------


def summary(result: dict) -> str:
    """The kernel and app tables of what was measured, then the suite's own account: sections,
    skipped and reduced items, time against budget."""
    suite = result["suite"]
    lines = []
    header = {"device": result["device"]}
    kernels, apps, check = result["kernels"], result["apps"], result["check"]
    if kernels.get("cases"):
        lines += [bench_kernels.table({**header, **kernels}), ""]
    if apps.get("cases"):
        lines += [bench.table({**header, **apps}), ""]
    state = "complete" if result["complete"] else f"incomplete ({suite['stopped'] or 'stopped'})"
    lines.append(f"ngvk bench --suite on {result['device']['name']} ({result['device']['driver']}): "
                 f"{suite['elapsed_s']:.0f} s of a {suite['budget_s']:g} s budget, {state}")
    lines.append(f"  {'section':<9}{'seconds':>9}  result")
    for name in SECTIONS:
        section = result[name]
        seconds = suite["section_seconds"].get(name)
        shown = f"{seconds:>9.1f}" if seconds is not None else f"{'-':>9}"
        if isinstance(section.get("skipped"), str):
            text = f"not run ({section['skipped']})"
        elif name == "info":
            text = f"{result['device']['name']}, Vulkan {result['device']['api_version']}" + _mlp_path(section)
        elif name == "check":
            text = _check_result(section)
        else:
            skipped = section.get("skipped", [])
            text = f"{len(section['cases'])} cases measured, {len(skipped)} skipped"
        lines.append(f"  {name:<9}{shown}  {text}")
    for name in ("kernels", "apps"):
        for record in result[name].get("skipped", []) if isinstance(result[name].get("skipped"), list) else []:
            lines.append(f"  skipped: {name}: {_item_name(record)}: {_skip_reason(record)}")
    for case in apps.get("cases", []):
        s = case.get("suite", {})
        if s and (s["warmup"], s["repeat"]) != (apps["settings"]["warmup"], apps["settings"]["repeat"]):
            w, h = case["resolution"]
            lines.append(f"  reduced: apps: {case['app']} {case['encoding']} {w}x{h}: "
                         f"{s['repeat']} frames after {s['warmup']} warm-up")
    for failure in check.get("failed", []) if isinstance(check.get("failed"), list) else []:
        lines.append(f"  FAILED check: {failure}")
    return "\n".join(lines)


def _mlp_path(info: dict) -> str:
    path = info.get("mlp_path") or {}
    return f", MLP path {path['path']}" + (f" {'x'.join(map(str, path['shape']))}" if path.get("shape") else "") \
        if "path" in path else ""


def _check_result(section: dict) -> str:
    unsupported = f"; {len(section['unsupported'])} not supported on this device" if section["unsupported"] else ""
    stopped = f"; stopped ({section['stopped']})" if section["stopped"] else ""
    return f"{section['passed']} of {section['total']} kernel checks passed{unsupported}{stopped}"


def _item_name(record: dict) -> str:
    if "app" in record:
        size = f" {record['resolution'][0]}x{record['resolution'][1]}" if "resolution" in record else ""
        return f"{record['app']} {record['encoding']}{size}"
    batch = f", 2^{record['batch'].bit_length() - 1} samples" if "batch" in record else ""
    return f"{record['kind']} {record['case']}{batch}"


def _skip_reason(record: dict) -> str:
    if "at_batch" in record:
        return f"{record['skipped']} at 2^{record['at_batch'].bit_length() - 1} samples already"
    reason = record["skipped"]
    if reason == "budget":
        what = " of its pilot" if record.get("what") == "pilot" else ""
        return f"budget (estimate{what} {record['estimate_s']:.1f} s)"
    if reason == "device limit":
        return f"device limit (a {record['bytes'] / 2**20:.0f} MiB buffer, {record['limit'] / 2**20:.0f} MiB bindable)"
    if "error" in record:
        return f"{reason}: {record['error']}"
    return reason
