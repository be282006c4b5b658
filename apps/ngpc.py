"""`ngvk ngpc`: a performance model of the paper's neural graphics processing cluster (NGPC).

*Hardware Acceleration of Neural Graphics* (Mubarik et al., ISCA 2023) proposes engine clusters
beside the GPU: encoding units with on-chip table memory and a MAC array for the MLP. The GPU hands
them each query's position and keeps the rest of the frame (rays, marching, shading: the pre- and
post-processing, which the paper fuses into one Vulkan kernel). This module owns the model: its
parameters (`PARAMETERS`, each with its value and source: published, inferred or fitted), the
projection of a measured frame onto the NGPC (`project`), the calibration against the paper's
figures (`calibrate`, `fit_gpu_rate`), and the reports (`paper_report`, `bench_report`, `plot`).
It touches no Vulkan: its input is an `ngvk bench` result (schema in docs/benchmarks.md) or the paper's
published breakdown.

The model, per app, encoding and resolution, all times per frame:

    N        network queries (measured: the unfused path's count, the queries there really are)
    T_base   the GPU's frame with one kernel per stage (measured unfused; the paper's baseline)
    T_net    the encoding and MLP stages on the GPU (measured), which move to the engines
    T_rest   the rest, which stays on the GPU: the fastest of the unfused stages' sum, the prepost
             kernels' (each iteration's pre- and post-processing fused into one kernel, timed
             apart from the encoding and MLP kernels: measured, where the app has them), and an
             estimate from the best fused frame (fused and wavefront fuse the encoding and MLP too,
             so their rest is taken as that frame x the rest's share of the unfused stages)

An engine cluster has U encoding units of M bytes of SRAM each, an R x C MAC array and clock f;
scaling factor S is the number of clusters. Per query:

    c_mlp  = sum over layers n_in -> n_out of ceil(n_in / R) * ceil(n_out / C)    (array cycles:
             weights stay in the array, one query per cycle through each R x C tile)
    c_enc  = L_sram / (U k)        L_sram: levels whose table (entries x F x b bytes) fits in M;
                                   a unit does k level lookups per cycle, 2^d corners at once
    B_dram = sum over the other levels of 2^d * ceil(F b / s) * s    (bytes, at DRAM bandwidth W:
             a corner costs a whole sector s; DRAM is shared, it does not grow with S)

    T_eng(S) = max(N c_mlp / (S f), N c_enc / (S f), N B_dram / W) + c_mlp (R + C) / f

The encoding units, the MAC array and DRAM stream at once (a max); the last term is the array's
fill and drain, once per frame. GPU and engines work as a pipeline, on different batches at once:

    T(S)       = max(T_rest, T_eng(S)) + (1 - o) min(T_rest, T_eng(S))      (o = 1: full overlap)
    speedup(S) = T_base / T(S)           GPU bound = T_base / T_rest        limit = T_base / T(inf)
    FPS at W x H = 1000 / (T(S) x W H / P)        (P: the measured frame's pixels; work ~ pixels)

The calibration (`ngvk ngpc --paper`) feeds the model the paper's published breakdown for the
hashgrid on an RTX 3090 at 1080p: the encoding + MLP share s of the frame (72.37 %, the mean over
the four apps; the per-app shares are not in our reference, so each app takes the mean) and the
fused rest (the paper's 9.94x over the unfused pre- and post-processing kernels):

    T_net = s T_a,   T_rest = (1 - s) T_a / 9.94,   N = T_net x R_gpu

R_gpu, the RTX 3090's encoding + MLP rate in queries per second, is the one fitted parameter: the
value that brings the model's four mean speedups nearest the paper's 12 / 20 / 33 / 39x (least
largest relative error). With o = 1 and the fill neglected, speedup_a(S) = 1 / max((1 - s) / 9.94,
s R_gpu c_a / (S f)): the frame time T_a cancels, so it is needed only for FPS (published for NeRF
and GIA; NSDF and NVR are normalised and get no FPS).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

import numpy as np

from ngvk.apps.bench import NETWORK_STAGES, PAPER
from ngvk.apps.bench import SCHEMA as BENCH_SCHEMA
from ngvk.apps.bench import SCHEMA_VERSION as BENCH_SCHEMA_VERSION
from ngvk.apps.bench import best_fused, case_kernels, pre_post_ms
from ngvk.engine.errors import NgvkError
from ngvk.engine.nn.config import LEVEL_SIZE, PAPER_NETWORKS, GridConfig, MLPConfig, grid_preset

SCHEMA = "ngvk-ngpc"
SCHEMA_VERSION = 1
DEFAULT_SCALES = (8, 16, 32, 64)
DISPLAYS = {"1080p": (1920, 1080), "4k": (3840, 2160), "8k": (7680, 4320)}

PUBLISHED, INFERRED, FITTED = "published", "inferred", "fitted"


@dataclass(frozen=True)
class Parameter:
    name: str
    value: float
    unit: str
    source: str  # PUBLISHED, INFERRED or FITTED
    basis: str  # where the value comes from, or why it is what it is


# Every parameter of the model, in one place. "Paper" is the ISCA 2023 paper; its figures are quoted
# from shared/reference/ngp-spec.md, which marks some of them unverified.
PARAMETERS = {p.name: p for p in (
    # One engine cluster of the NGPC; the scaling factor S is the number of clusters.
    Parameter("encoding_units", 16, "per cluster", PUBLISHED,
              "paper: 16 encoding units per engine cluster (unverified in our reference)"),
    Parameter("sram_per_unit", 2**20, "bytes", PUBLISHED,
              "paper: 1 MB of SRAM per encoding unit (unverified); a level runs from SRAM if its table fits"),
    Parameter("lookups_per_cycle", 1, "levels per unit per cycle", INFERRED,
              "a unit looks up one level of one query per cycle, its 2^d corners from banked SRAM at once"),
    Parameter("mac_rows", 64, "", PUBLISHED, "paper: a 64 x 64 MAC array per cluster for the MLP (unverified)"),
    Parameter("mac_cols", 64, "", PUBLISHED, "paper: a 64 x 64 MAC array per cluster for the MLP (unverified)"),
    Parameter("clock", 1.695e9, "Hz", INFERRED,
              "the engines run at the GPU's clock: the RTX 3090's boost clock (NVIDIA's datasheet)"),
    Parameter("table_bytes", 2, "bytes per feature", PUBLISHED, "tcnn stores grid parameters as fp16"),
    Parameter("dram_bandwidth", 936e9, "B/s", PUBLISHED,
              "RTX 3090 (NVIDIA's datasheet: 384-bit GDDR6X at 19.5 Gb/s), shared by all clusters"),
    Parameter("dram_sector", 32, "bytes", INFERRED,
              "a corner read from DRAM costs a whole sector: hashed addresses do not coalesce"),
    Parameter("overlap", 1.0, "", INFERRED,
              "GPU and engines work on different batches at once (a pipeline): the frame takes the slower "
              "side; 0 would be one after the other"),
    # The paper's GPU baseline: instant-ngp on an RTX 3090, hashgrid, 1080p.
    Parameter("paper_network_share", PAPER["encoding_mlp_share_percent"]["hashgrid"] / 100, "of the frame", PUBLISHED,
              "paper: encoding + MLP take 72.37 % of application time with the hashgrid (mean of the four apps)"),
    Parameter("paper_app_share", PAPER["encoding_mlp_share_percent"]["hashgrid"] / 100, "of the frame", INFERRED,
              "each app's encoding + MLP share: the mean above, as the per-app split is not in our reference"),
    Parameter("paper_rest_fusion", PAPER["fusion_speedup"], "x", PUBLISHED,
              "paper: fusing the pre- and post-processing kernels in Vulkan, 9.94x at kernel level; the "
              "NGPC's GPU side runs them fused"),
    Parameter("paper_frame_nerf", 231.0, "ms", PUBLISHED, "paper: NeRF, 1080p on the RTX 3090 (unverified)"),
    Parameter("paper_frame_gia", 2.12, "ms", PUBLISHED, "paper: GIA, 1080p on the RTX 3090 (unverified)"),
    Parameter("paper_tables_on_chip", 1, "", INFERRED,
              "the paper's hashgrid levels run from SRAM: its speedups keep growing up to scale 64, which "
              "levels fetched at the shared DRAM bandwidth would not (a 2^19-entry level is 2 MiB in fp16)"),
    Parameter("gpu_network_rate", 5.14e8, "queries/s", FITTED,
              "the RTX 3090's encoding + MLP rate that brings the model's four mean speedups nearest the "
              "paper's (least largest error); for scale: tcnn's MLP alone does about 1.08e9/s (read off a figure)"),
)}

# What the calibration reproduces: the paper's NGPC figures, hashgrid, mean over its four apps.
PAPER_NGPC = {
    "mean_speedup": {8: 12.0, 16: 20.0, 32: 33.0, 64: 39.0},
    "best_speedup": 58.0,
    "claims": "4k at 30 FPS for NeRF, 8k at 120 FPS for the other apps (hashgrid)",
    "tolerance": 0.20,
}

# The paper's four apps (instant-ngp's), hashgrid: networks from shared/reference/ngp-spec.md
# section 3 (engine.nn.config.PAPER_NETWORKS), frame times where published.
PAPER_APPS = {
    "NeRF": {"networks": ("nerf density 32-64-16", "nerf color 32-64-64-3 sigmoid"), "dims": 3, "log2_table": 19,
             "frame": "paper_frame_nerf"},
    "NSDF": {"networks": ("sdf 32-64-64-1",), "dims": 3, "log2_table": 19, "frame": None},
    "GIA": {"networks": ("image 32-64-64-3",), "dims": 2, "log2_table": 24, "frame": "paper_frame_gia"},
    "NVR": {"networks": ("volume 32-64-64-4 relu",), "dims": 3, "log2_table": 19, "frame": None},
}
PAPER_RESOLUTION = DISPLAYS["1080p"]


def value(name: str) -> float:
    return PARAMETERS[name].value


@dataclass(frozen=True)
class NGPC:
    """The engines' hardware. Defaults: the parameter table above."""

    encoding_units: float = value("encoding_units")
    sram_per_unit: float = value("sram_per_unit")
    lookups_per_cycle: float = value("lookups_per_cycle")
    mac_rows: int = int(value("mac_rows"))
    mac_cols: int = int(value("mac_cols"))
    clock: float = value("clock")  # Hz; math.inf for infinitely fast engines
    table_bytes: float = value("table_bytes")
    dram_bandwidth: float = value("dram_bandwidth")  # B/s
    dram_sector: float = value("dram_sector")
    overlap: float = value("overlap")


@dataclass(frozen=True)
class Workload:
    """One frame as the model sees it: what the GPU measured and what the engines would compute."""

    app: str
    encoding: str
    resolution: tuple[int, int]
    queries: float  # network queries per frame
    baseline_ms: float  # the GPU frame the speedup is measured against (a kernel per stage)
    network_ms: float  # encoding + MLP on the GPU: the work the engines take over
    rest_ms: float  # what stays on the GPU
    rest_path: str  # how the GPU runs its rest: "fused", "unfused", ...
    layers: tuple[tuple[int, int], ...]  # (n_in, n_out) of every MLP layer a query runs through
    level_entries: tuple[int, ...]  # table entries per encoding level
    n_dims: int
    n_features: int
    tables_on_chip: bool = False  # True: every level runs from SRAM whatever its size (the paper's case)
    best_ms: float | None = None  # the faster measured GPU path, if known
    absolute: bool = True  # False: times are normalised (no FPS)

    @property
    def pixels(self) -> int:
        return self.resolution[0] * self.resolution[1]


def engine_costs(w: Workload, hw: NGPC) -> dict:
    """Per query: MAC-array cycles, encoding-unit cycles, DRAM bytes; and which levels fit."""
    mlp_cycles = sum(math.ceil(n_in / hw.mac_rows) * math.ceil(n_out / hw.mac_cols) for n_in, n_out in w.layers)
    level_bytes = [entries * w.n_features * hw.table_bytes for entries in w.level_entries]
    in_sram = [w.tables_on_chip or nbytes <= hw.sram_per_unit for nbytes in level_bytes]
    corner_bytes = math.ceil(w.n_features * hw.table_bytes / hw.dram_sector) * hw.dram_sector
    dram_bytes = sum(2**w.n_dims * corner_bytes for fits in in_sram if not fits)
    return {
        "mlp_cycles": mlp_cycles,
        "encoding_cycles": sum(in_sram) / (hw.encoding_units * hw.lookups_per_cycle),
        "dram_bytes": dram_bytes,
        "levels_in_sram": sum(in_sram),
        "levels": len(in_sram),
        "largest_level_bytes": max(level_bytes) if level_bytes else 0,
    }


def _per_cycle_ms(cycles: float, clock: float) -> float:
    return 0.0 if cycles == 0 or math.isinf(clock) else 1000.0 * cycles / clock


def _combine(gpu_ms: float, engines_ms: float, overlap: float) -> float:
    return max(gpu_ms, engines_ms) + (1.0 - overlap) * min(gpu_ms, engines_ms)


def project(w: Workload, hw: NGPC, scale: float) -> dict:
    """The frame on the NGPC at scaling factor `scale` (the equations of the module docstring)."""
    if not scale > 0:
        raise NgvkError(f"scaling factor {scale}: must be a positive number")
    c = engine_costs(w, hw)
    mlp_ms = _per_cycle_ms(w.queries * c["mlp_cycles"], hw.clock * scale)
    encoding_ms = _per_cycle_ms(w.queries * c["encoding_cycles"], hw.clock * scale)
    dram_ms = 0.0 if c["dram_bytes"] == 0 else 1000.0 * w.queries * c["dram_bytes"] / hw.dram_bandwidth
    fill_ms = _per_cycle_ms(c["mlp_cycles"] * (hw.mac_rows + hw.mac_cols), hw.clock)
    engines_ms = max(mlp_ms, encoding_ms, dram_ms) + fill_ms
    frame_ms = _combine(w.rest_ms, engines_ms, hw.overlap)
    limit_ms = _combine(w.rest_ms, dram_ms + fill_ms, hw.overlap)  # scale -> infinity
    out = {
        "scale": scale,
        "engines_ms": engines_ms,
        "engine_parts_ms": {"mlp": mlp_ms, "encoding": encoding_ms, "dram": dram_ms, "fill": fill_ms},
        "gpu_ms": w.rest_ms,
        "frame_ms": frame_ms,
        "bound_by": "gpu" if w.rest_ms >= engines_ms else max(("mlp", mlp_ms), ("encoding", encoding_ms),
                                                              ("dram", dram_ms), key=lambda kv: kv[1])[0],
        "speedup": _ratio(w.baseline_ms, frame_ms),
        "speedup_over_best": _ratio(w.best_ms, frame_ms) if w.best_ms else None,
        "gpu_bound": _ratio(w.baseline_ms, w.rest_ms),
        "limit": _ratio(w.baseline_ms, limit_ms),
    }
    if w.absolute:
        out["fps"] = {name: _ratio(1000.0, frame_ms * (width * height) / w.pixels)
                      for name, (width, height) in DISPLAYS.items()}
    return out


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


# ---- the paper's breakdown and the calibration ---------------------------------------------------


def paper_workloads(gpu_rate: float | None = None) -> list[Workload]:
    """The paper's four apps, hashgrid, 1080p on the RTX 3090, from its published breakdown."""
    gpu_rate = value("gpu_network_rate") if gpu_rate is None else gpu_rate
    share, fusion = value("paper_app_share"), value("paper_rest_fusion")
    workloads = []
    for app, spec in PAPER_APPS.items():
        frame_ms = value(spec["frame"]) if spec["frame"] else 1.0  # normalised: speedups do not depend on it
        network_ms = share * frame_ms
        grid = grid_preset("hashgrid", spec["dims"], log2_table_size=spec["log2_table"])
        layers = tuple((n_in, n_out) for name in spec["networks"]
                       for n_out, n_in in PAPER_NETWORKS[name].layer_shapes())
        workloads.append(Workload(
            app=app, encoding="hashgrid", resolution=PAPER_RESOLUTION,
            queries=network_ms / 1000.0 * gpu_rate,
            baseline_ms=frame_ms, network_ms=network_ms, rest_ms=(1.0 - share) * frame_ms / fusion,
            rest_path=f"fused ({fusion}x, paper)", layers=layers,
            level_entries=tuple(int(e) for e in grid.level_table()[:, LEVEL_SIZE]),
            n_dims=grid.n_dims, n_features=grid.n_features,
            tables_on_chip=bool(value("paper_tables_on_chip")), absolute=spec["frame"] is not None,
        ))
    return workloads


def calibrate(scales=DEFAULT_SCALES, hw: NGPC | None = None, gpu_rate: float | None = None,
              tables_on_chip: bool | None = None) -> dict:
    """The model on the paper's breakdown: per app and scale, the mean, and the paper's figures."""
    hw = hw or NGPC()
    workloads = paper_workloads(gpu_rate)
    if tables_on_chip is not None:
        workloads = [dataclasses.replace(w, tables_on_chip=tables_on_chip) for w in workloads]
    apps = {w.app: {"workload": w, "projections": [project(w, hw, s) for s in scales]} for w in workloads}
    mean = [float(np.mean([a["projections"][i]["speedup"] for a in apps.values()])) for i in range(len(scales))]
    paper = [PAPER_NGPC["mean_speedup"].get(s) for s in scales]
    errors = [m / p - 1.0 if p else None for m, p in zip(mean, paper)]
    return {"scales": list(scales), "apps": apps, "mean": mean, "paper": paper, "errors": errors,
            "within_tolerance": all(abs(e) <= PAPER_NGPC["tolerance"] for e in errors if e is not None)}


def fit_gpu_rate(hw: NGPC | None = None) -> float:
    """The GPU rate (queries/s) with the least largest relative error on the paper's four means."""
    scales = tuple(PAPER_NGPC["mean_speedup"])

    def worst(rate):
        return max(abs(e) for e in calibrate(scales, hw, rate)["errors"])

    rates = np.geomspace(1e7, 1e11, 801)
    best = min(rates, key=worst)
    low, high = best / 1.02, best * 1.02  # refine around the grid's best (golden-section search)
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        if worst(a) <= worst(b):
            high = b
        else:
            low = a
    return float((low + high) / 2)


# ---- bench results -------------------------------------------------------------------------------


def load_bench(path: str) -> dict:
    """An `ngvk bench` result file, or a one-line NgvkError saying why it is not one."""
    try:
        with open(path) as handle:
            text = handle.read()
    except OSError as error:
        raise NgvkError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise NgvkError(f"{path} is not an `ngvk bench` result: not a JSON text file") from None
    try:
        result = json.loads(text)
    except ValueError:
        raise NgvkError(f"{path} is not an `ngvk bench` result: not JSON") from None
    schema = result.get("schema") if isinstance(result, dict) else None
    if schema != BENCH_SCHEMA:
        what = f"its schema is {schema!r}" if schema else "it has no schema field"
        raise NgvkError(f"{path} is not an `ngvk bench` result ({what}; write one with `ngvk bench --json`)")
    if result.get("version") != BENCH_SCHEMA_VERSION:
        raise NgvkError(f"{path}: `ngvk bench` schema version {result.get('version')!r}; this ngvk reads version "
                        f"{BENCH_SCHEMA_VERSION}: run the benchmark again")
    if not isinstance(result.get("cases"), list) or not result["cases"]:
        raise NgvkError(f"{path}: an `ngvk bench` result without cases")
    return result


def bench_workload(case: dict, index: int = 0) -> Workload:
    """A bench case as the model's input; a one-line NgvkError when a field is missing or wrong."""
    try:
        app, encoding = str(case["app"]), str(case["encoding"])
    except (KeyError, TypeError):
        raise NgvkError(f"bench case {index + 1} names no app and encoding") from None
    where = f"bench case {index + 1} ({app} {encoding})"
    try:
        width, height = (int(v) for v in case["resolution"])
        stages = {stage: float(s["median_ms"]) for stage, s in case["unfused"]["stages"].items()}
        unfused_ms = float(case["unfused"]["frame"]["median_ms"])
        fused_ms = float(case[best_fused(case)]["frame"]["median_ms"])
        frames = [float(case[k]["frame"]["median_ms"]) for k in case_kernels(case)]
        rest_prepost = pre_post_ms(case["prepost"]) if "prepost" in case else math.inf
        queries = float(case["unfused"].get("queries", case["samples"]))
        grid_fields = {f.name for f in dataclasses.fields(GridConfig)}
        grid = GridConfig(**{k: v for k, v in case["encoding_config"].items() if k in grid_fields})
        mlp_fields = {f.name for f in dataclasses.fields(MLPConfig)}
        networks = [MLPConfig(**{k: v for k, v in n.items() if k in mlp_fields}) for n in case["networks"].values()]
        entries = tuple(int(e) for e in grid.level_table()[:, LEVEL_SIZE])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise NgvkError(f"{where}: not a case of `ngvk bench` ({type(error).__name__}: {error})") from None
    times = [*stages.values(), *frames, queries]
    if width < 1 or height < 1 or not all(math.isfinite(t) and t >= 0 for t in times):
        raise NgvkError(f"{where}: resolution, times and queries must be finite and not negative")
    network_ms = sum(ms for stage, ms in stages.items() if stage in NETWORK_STAGES)
    if network_ms <= 0 or unfused_ms <= 0 or fused_ms <= 0:
        raise NgvkError(f"{where}: no encoding or MLP time to move to the engines")
    rest_unfused = sum(ms for stage, ms in stages.items() if stage not in NETWORK_STAGES)
    stage_sum = rest_unfused + network_ms
    rest_fused = fused_ms * rest_unfused / stage_sum  # the fused kernel's rest, in proportion (see above)
    rest_path, rest_ms = min((("unfused", rest_unfused), ("fused, estimated", rest_fused),
                              ("prepost, measured", rest_prepost)), key=lambda kv: kv[1])
    return Workload(
        app=app, encoding=encoding, resolution=(width, height), queries=queries,
        baseline_ms=unfused_ms, network_ms=network_ms, rest_ms=rest_ms, rest_path=rest_path,
        layers=tuple((n_in, n_out) for net in networks for n_out, n_in in net.layer_shapes()),
        level_entries=entries, n_dims=grid.n_dims, n_features=grid.n_features,
        best_ms=min(frames),
    )


def model_bench(result: dict, scales, hw: NGPC | None = None) -> dict:
    hw = hw or NGPC()
    cases = []
    for index, case in enumerate(result["cases"]):
        w = bench_workload(case, index)
        cases.append({"workload": w, "costs": engine_costs(w, hw), "projections": [project(w, hw, s) for s in scales]})
    return {"scales": list(scales), "cases": cases}


# ---- reports -------------------------------------------------------------------------------------


def json_ready(data):
    """`data` with every infinite or NaN float as None: JSON has no infinity (an empty GPU side
    gives an infinite bound)."""
    if isinstance(data, dict):
        return {key: json_ready(v) for key, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_ready(v) for v in data]
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data


def parameter_table() -> list[dict]:
    return [dataclasses.asdict(p) for p in PARAMETERS.values()]


def _workload_dict(w: Workload) -> dict:
    out = dataclasses.asdict(w)
    out["resolution"] = list(w.resolution)
    out["layers"] = [list(layer) for layer in w.layers]
    out["level_entries"] = list(w.level_entries)
    return out


def _workload_from_dict(d: dict) -> Workload:
    return Workload(**{**d, "resolution": tuple(d["resolution"]), "layers": tuple(tuple(v) for v in d["layers"]),
                       "level_entries": tuple(d["level_entries"])})


def _x(v: float) -> str:
    return "inf" if math.isinf(v) else f"{v:.1f}x"


def _fmt_scale(s: float) -> str:
    return f"{s:g}"


def _fmt_ms(v: float) -> str:
    return f"{v:.4g}"


def paper_report(scales=DEFAULT_SCALES) -> tuple[str, dict]:
    """`ngvk ngpc --paper`: the calibration beside the paper's figures, and the parameter table."""
    hw = NGPC()
    paper_scales = tuple(PAPER_NGPC["mean_speedup"])
    shown = sorted(set(paper_scales) | set(scales))
    cal = calibrate(shown, hw)
    dram = calibrate(paper_scales, hw, tables_on_chip=False)
    refit = fit_gpu_rate(hw)
    lines = [
        "NGPC model calibrated against the paper (Mubarik et al., ISCA 2023): hashgrid, 1080p, RTX 3090 baseline",
        f"input: encoding + MLP {100 * value('paper_app_share'):.2f} % of each app's frame, the rest fused "
        f"{value('paper_rest_fusion')}x on the GPU; engines: {value('encoding_units'):g} encoding units and a "
        f"{value('mac_rows'):g} x {value('mac_cols'):g} MAC array per cluster at {value('clock') / 1e9:.3f} GHz",
        "",
        f"{'speedup at scaling factor':<28}" + "".join(f"{_fmt_scale(s):>9}" for s in shown) + "    GPU bound",
    ]
    for app, a in cal["apps"].items():
        lines.append(f"  {app:<26}" + "".join(f"{_x(p['speedup']):>9}" for p in a["projections"])
                     + f"    {_x(a['projections'][0]['gpu_bound']):>9}")
    lines.append(f"  {'mean, model':<26}" + "".join(f"{_x(m):>9}" for m in cal["mean"]))
    lines.append(f"  {'mean, paper':<26}" + "".join(f"{_x(p) if p else '-':>9}" for p in cal["paper"]))
    lines.append(f"  {'model / paper - 1':<26}" + "".join(f"{100 * e:>+8.1f}%" if e is not None else f"{'-':>9}"
                                                          for e in cal["errors"]))
    verdict = "yes" if cal["within_tolerance"] else "NO"
    lines.append(f"within {100 * PAPER_NGPC['tolerance']:.0f} % of the paper's four means: {verdict}")
    best = max(p["speedup"] for a in cal["apps"].values() for p in a["projections"])
    share_for_best = 1 - value("paper_rest_fusion") / PAPER_NGPC["best_speedup"]
    lines += [
        "",
        f"best app: model {_x(best)}, paper up to {_x(PAPER_NGPC['best_speedup'])}. Not reproduced: with the mean "
        f"share for every app the GPU bound is {_x(cal['apps']['NeRF']['projections'][0]['gpu_bound'])}; "
        f"{_x(PAPER_NGPC['best_speedup'])} needs an app whose encoding + MLP share is at least "
        f"{100 * share_for_best:.1f} %.",
    ]
    claims = []
    for app, a in cal["apps"].items():
        w = a["workload"]
        if not w.absolute:
            continue
        p64 = project(w, hw, 64)
        claims.append(f"{app} at scale 64: {w.baseline_ms:g} ms at 1080p -> {_fmt_ms(p64['frame_ms'])} ms; "
                      f"{p64['fps']['4k']:.0f} FPS at 4k, {p64['fps']['8k']:.0f} FPS at 8k")
    lines += claims + [f"paper: {PAPER_NGPC['claims']} (NSDF and NVR: no published frame time, no FPS here)"]
    nsdf = dataclasses.replace(cal["apps"]["NSDF"]["workload"], tables_on_chip=False)
    fits = engine_costs(nsdf, hw)
    lines.append(
        f"tables: {value('sram_per_unit') / 2**20:g} MiB of SRAM per unit holds {fits['levels_in_sram']} of the "
        f"{fits['levels']} levels of a 3D hashgrid of 2^19 entries (a full level: {fits['largest_level_bytes'] / 2**20:g}"
        f" MiB in fp16); fetched at DRAM bandwidth, the others would bring the mean to "
        + " / ".join(_x(m) for m in dram["mean"]) + f" at scales {' / '.join(_fmt_scale(s) for s in paper_scales)}: "
        "the calibration keeps every level on chip (inferred)")
    lines.append(f"fitted: gpu_network_rate {value('gpu_network_rate'):.3g} queries/s (refit now: {refit:.3g})")
    lines += ["", "parameters (apps/ngpc.py, PARAMETERS)", _parameter_lines()]
    data = {
        "schema": SCHEMA, "version": SCHEMA_VERSION, "mode": "paper",
        "parameters": parameter_table(),
        "paper": {"mean_speedup": {str(k): v for k, v in PAPER_NGPC["mean_speedup"].items()},
                  "best_speedup": PAPER_NGPC["best_speedup"], "claims": PAPER_NGPC["claims"]},
        "scales": shown,
        "calibration": {"mean": cal["mean"], "paper": cal["paper"], "errors": cal["errors"],
                        "within_tolerance": cal["within_tolerance"], "refit_gpu_network_rate": refit,
                        "mean_with_dram_tables": dict(zip([str(s) for s in paper_scales], dram["mean"]))},
        "cases": [{"workload": _workload_dict(a["workload"]), "costs": engine_costs(a["workload"], hw),
                   "projections": a["projections"]} for a in cal["apps"].values()],
    }
    return "\n".join(lines), json_ready(data)


def _parameter_lines() -> str:
    width = max(len(p.name) for p in PARAMETERS.values())
    rows = []
    for p in PARAMETERS.values():
        shown = f"{p.value:.4g}" if isinstance(p.value, float) else f"{p.value:,}"
        rows.append(f"  {p.name:<{width}}  {shown:>10} {p.unit:<26} {p.source:<9}  {p.basis}")
    return "\n".join(rows)


def bench_report(result: dict, path: str, scales) -> tuple[str, dict]:
    """`ngvk ngpc --bench`: a table per app, encoding and resolution of the bench file."""
    hw = NGPC()
    model = model_bench(result, scales, hw)
    device = result.get("device", {}) or {}
    lines = [
        f"NGPC model on {path}: measured on {device.get('name', 'an unnamed device')}"
        f"{' (' + device['driver'] + ')' if device.get('driver') else ''}",
        "the paper's engines (parameters: `ngvk ngpc --paper`) beside the measured device, which keeps the rest "
        "of the frame; speedup over the measured unfused frame (the paper's baseline) and over the faster "
        "measured path",
    ]
    for entry in model["cases"]:
        w, c = entry["workload"], entry["costs"]
        width, height = w.resolution
        fused = f", fused {w.best_ms:.4g} ms" if w.best_ms and w.best_ms < w.baseline_ms else ""
        dram = (f", {c['levels'] - c['levels_in_sram']} at DRAM bandwidth ({c['dram_bytes']:g} B per query)"
                if c["levels_in_sram"] < c["levels"] else "")
        lines += [
            "",
            f"{w.app} {w.encoding} {width}x{height}: unfused {w.baseline_ms:.4g} ms (encoding + MLP "
            f"{w.network_ms:.4g} ms, rest {w.rest_ms:.4g} ms {w.rest_path}){fused}; {w.queries:,.0f} queries",
            f"  engines, cycles per query: MAC array {c['mlp_cycles']}, encoding units {c['encoding_cycles']:.3g}; "
            f"{c['levels_in_sram']} of {c['levels']} levels in SRAM (largest table "
            f"{c['largest_level_bytes'] / 2**20:.3g} MiB){dram}",
            f"  {'scale':>7} {'engines ms':>11} {'GPU ms':>9} {'frame ms':>10} {'bound by':>9} {'speedup':>9}"
            f" {'vs best':>8} {'FPS 1080p':>10} {'FPS 4k':>8} {'FPS 8k':>8}",
        ]
        for p in entry["projections"]:
            lines.append(
                f"  {_fmt_scale(p['scale']):>7} {_fmt_ms(p['engines_ms']):>11} {_fmt_ms(p['gpu_ms']):>9}"
                f" {_fmt_ms(p['frame_ms']):>10} {p['bound_by']:>9} {_x(p['speedup']):>9}"
                f" {_x(p['speedup_over_best']):>8} {p['fps']['1080p']:>10.3g} {p['fps']['4k']:>8.3g}"
                f" {p['fps']['8k']:>8.3g}")
        p = entry["projections"][0]
        lines.append(f"  bound from the work left on the GPU: {_x(p['gpu_bound'])}"
                     + (f"; with the DRAM levels: {_x(p['limit'])}" if p["limit"] < p["gpu_bound"] * 0.999 else ""))
    data = {
        "schema": SCHEMA, "version": SCHEMA_VERSION, "mode": "bench",
        "bench": {"file": path, **{k: result.get(k) for k in ("date", "commit", "dirty", "device", "settings")}},
        "parameters": parameter_table(),
        "scales": list(scales),
        "cases": [{"workload": _workload_dict(e["workload"]), "costs": e["costs"], "projections": e["projections"]}
                  for e in model["cases"]],
    }
    return "\n".join(lines), json_ready(data)


def parse_scales(text: str) -> list[float]:
    """'8,16,32,64' -> [8.0, 16.0, 32.0, 64.0]; a one-line NgvkError for anything not positive."""
    try:
        scales = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        scales = []
    if not scales or not all(math.isfinite(s) and s > 0 for s in scales):
        raise NgvkError(f"--scale {text!r}: give positive numbers separated by commas, e.g. 8,16,32,64")
    return scales


def plot(data: dict, path: str) -> None:
    """Speedup against scaling factor: the model's line per app (or bench case), the paper's points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    from ngvk.engine.files import write_atomically

    hw = NGPC()
    scales = data["scales"]
    paper_scales = list(PAPER_NGPC["mean_speedup"])
    low, high = min([1.0, *scales]), max([*scales, *paper_scales])
    line_scales = np.geomspace(low, high, 64)
    figure, axes = plt.subplots(figsize=(11, 5))
    styles = ("-", "--", ":", "-.")  # apps whose lines coincide stay visible
    lines = []
    for index, case in enumerate(data["cases"]):
        w = _workload_from_dict(case["workload"])
        label = w.app if data["mode"] == "paper" else f"{w.app} {w.encoding} {w.resolution[0]}x{w.resolution[1]}"
        speedups = [project(w, hw, s)["speedup"] for s in line_scales]
        lines.append(speedups)
        line = axes.plot(line_scales, speedups, styles[index % len(styles)], label=f"model: {label}")
        axes.plot(scales, [p["speedup"] for p in case["projections"]], "o", color=line[0].get_color(), markersize=4)
    if data["mode"] == "paper":
        axes.plot(line_scales, np.mean(lines, axis=0), "k-", linewidth=2, label="model: mean of the four apps")
    axes.plot(paper_scales, [PAPER_NGPC["mean_speedup"][s] for s in paper_scales], "ks", markersize=8,
              markerfacecolor="none", label="paper: mean of its four apps (hashgrid)")
    axes.plot([max(paper_scales)], [PAPER_NGPC["best_speedup"]], "k^", markersize=8, markerfacecolor="none",
              label=f"paper: up to {PAPER_NGPC['best_speedup']:g}x (best app)")
    axes.set_xscale("log", base=2)
    axes.set_yscale("log", base=2)
    ticks = sorted({low, *scales, *paper_scales})
    axes.set_xticks(ticks, [_fmt_scale(t) for t in ticks])
    axes.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda y, _: f"{y:g}x"))
    axes.set_xlabel("scaling factor (engine clusters)")
    axes.set_ylabel("end-to-end speedup over the unfused GPU frame")
    title = ("NGPC model calibrated against the paper" if data["mode"] == "paper"
             else f"NGPC model on {data['bench']['file']} ({(data['bench'].get('device') or {}).get('name', '?')})")
    axes.set_title(title, fontsize="medium")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    figure.tight_layout()
    write_atomically(path, lambda temporary: figure.savefig(temporary, format="png", dpi=120))
    plt.close(figure)
