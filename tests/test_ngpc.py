"""The NGPC performance model (apps/ngpc.py): its arithmetic, its calibration against the paper, and
`ngvk ngpc` on a small bench result written here. Pure host logic: no Vulkan."""

import dataclasses
import json
import math

import numpy as np
import pytest

from ngvk.apps import ngpc
from ngvk.apps.ngpc import NGPC, Workload, engine_costs, project
from ngvk.engine.nn.config import LEVEL_SIZE, PAPER_NETWORKS, GridConfig, MLPConfig, grid_preset

GIA_LAYERS = ((32, 64), (64, 64), (64, 3))  # image 32 -> 64 -> 64 -> 3


def workload(**changes) -> Workload:
    """A frame of 1e6 queries: 4 ms of encoding + MLP and 1 ms of the rest on the GPU, tables on chip."""
    grid = grid_preset("hashgrid", 3)
    w = Workload(
        app="someapp", encoding="hashgrid", resolution=(1000, 1000), queries=1e6,
        baseline_ms=5.0, network_ms=4.0, rest_ms=1.0, rest_path="unfused", layers=GIA_LAYERS,
        level_entries=tuple(int(e) for e in grid.level_table()[:, LEVEL_SIZE]), n_dims=3, n_features=2,
        tables_on_chip=True,
    )
    return dataclasses.replace(w, **changes)


def as_fast_as_the_gpu(w: Workload, **changes) -> NGPC:
    """Hardware whose one cluster runs the encoding + MLP exactly as fast as the GPU did."""
    cycles = engine_costs(w, NGPC())["mlp_cycles"]  # the MAC array is the engines' slower part here
    return NGPC(clock=w.queries * cycles / (w.network_ms / 1000.0), **changes)


# ---- the model's arithmetic ----------------------------------------------------------------------


def test_engine_costs():
    hw = NGPC(sram_per_unit=2**20, encoding_units=16, mac_rows=64, mac_cols=64, dram_sector=32, table_bytes=2)
    w = workload(tables_on_chip=False)
    c = engine_costs(w, hw)
    assert c["mlp_cycles"] == 3  # one 64 x 64 tile per layer, the 3-wide output too
    # 3D hashgrid of 2^19 entries, F = 2 in fp16: levels of up to 2 MiB; those of at most 1 MiB are
    # 16^3 ... 58^3 (the sixth, 80^3 rounded up, already exceeds 2^19 entries and is capped at 2 MiB).
    assert c["levels"] == 16 and c["levels_in_sram"] == 5
    assert c["largest_level_bytes"] == 2**19 * 2 * 2
    assert c["encoding_cycles"] == 5 / 16
    assert c["dram_bytes"] == 11 * 8 * 32  # 8 corners, each a whole 32 B sector, per DRAM level
    wide_features = engine_costs(dataclasses.replace(w, n_features=32), hw)  # 64 B a corner: 2 sectors
    assert wide_features["dram_bytes"] == (16 - wide_features["levels_in_sram"]) * 8 * 64
    nerf = tuple((n_in, n_out) for name in ("nerf density 32-64-16", "nerf color 32-64-64-3 sigmoid")
                 for n_out, n_in in PAPER_NETWORKS[name].layer_shapes())
    assert engine_costs(dataclasses.replace(w, layers=nerf), hw)["mlp_cycles"] == 5
    wide = ((32, 128), (128, 128), (128, 1))
    assert engine_costs(dataclasses.replace(w, layers=wide), hw)["mlp_cycles"] == 2 + 4 + 2
    on_chip = engine_costs(dataclasses.replace(w, tables_on_chip=True), hw)
    assert on_chip["levels_in_sram"] == 16 and on_chip["dram_bytes"] == 0 and on_chip["encoding_cycles"] == 1


def test_projection_by_hand():
    # 1e6 queries, 3 array cycles, 1 GHz, 2 clusters: the MAC array takes 1.5 ms, the encoding units
    # 0.5 ms (16 levels on 16 units), the array's fill and drain 3 x 128 cycles = 0.384 us.
    hw = NGPC(clock=1e9, overlap=1.0)
    p = project(workload(), hw, 2)
    assert p["engine_parts_ms"]["mlp"] == pytest.approx(1.5)
    assert p["engine_parts_ms"]["encoding"] == pytest.approx(0.5)
    assert p["engine_parts_ms"]["dram"] == 0
    assert p["engine_parts_ms"]["fill"] == pytest.approx(384e-6)
    assert p["engines_ms"] == pytest.approx(1.5 + 384e-6)
    assert p["frame_ms"] == pytest.approx(1.5 + 384e-6) and p["bound_by"] == "mlp"
    assert p["speedup"] == pytest.approx(5.0 / (1.5 + 384e-6))
    assert p["gpu_bound"] == pytest.approx(5.0)
    # One after the other (no overlap): the two sides add up.
    serial = project(workload(), dataclasses.replace(hw, overlap=0.0), 2)
    assert serial["frame_ms"] == pytest.approx(1.0 + 1.5 + 384e-6)
    # FPS: the frame scaled by pixels (1000 x 1000 measured).
    assert p["fps"]["4k"] == pytest.approx(1000.0 / (p["frame_ms"] * 3840 * 2160 / 1e6))
    assert "fps" not in project(workload(absolute=False), hw, 2)


def test_scale_one_gives_no_speedup_beyond_overheads():
    # Engines exactly as fast as the GPU was, the rest unchanged, one after the other: the frame is
    # the GPU's own plus the array's fill, never faster.
    w = workload()
    hw = as_fast_as_the_gpu(w, overlap=0.0)
    p = project(w, hw, 1)
    fill = p["engine_parts_ms"]["fill"]
    assert p["engine_parts_ms"]["mlp"] == pytest.approx(w.network_ms)
    assert 0 < fill < 1e-3
    assert p["speedup"] == pytest.approx(w.baseline_ms / (w.baseline_ms + fill)) and p["speedup"] < 1
    # Overlapped, the only gain is the pipeline's: the frame takes the slower side.
    p = project(w, dataclasses.replace(hw, overlap=1.0), 1)
    assert p["speedup"] == pytest.approx(w.baseline_ms / (max(w.rest_ms, w.network_ms) + fill))
    assert p["speedup"] < w.baseline_ms / max(w.rest_ms, w.network_ms)


def test_infinitely_fast_engines_give_the_bound_of_the_work_left_on_the_gpu():
    w = workload()
    for overlap in (0.0, 0.5, 1.0):
        hw = NGPC(clock=math.inf, overlap=overlap)
        for scale in (1, 8, 1e6):
            p = project(w, hw, scale)
            assert p["engines_ms"] == 0
            assert p["frame_ms"] == w.rest_ms
            assert p["speedup"] == pytest.approx(w.baseline_ms / w.rest_ms) == p["gpu_bound"] == p["limit"]
    # Levels in DRAM do not get faster with more clusters: with infinitely fast engines the bound is
    # the slower of the GPU's rest and the DRAM traffic.
    w = workload(tables_on_chip=False, queries=1e7)
    hw = NGPC(clock=math.inf)
    dram_ms = 1000.0 * w.queries * engine_costs(w, hw)["dram_bytes"] / hw.dram_bandwidth
    assert dram_ms > w.rest_ms
    p = project(w, hw, 64)
    assert p["speedup"] == pytest.approx(w.baseline_ms / dram_ms) == pytest.approx(p["limit"])
    assert p["limit"] < p["gpu_bound"] and p["bound_by"] == "dram"
    # Nothing left on the GPU: an unbounded speedup, written to JSON as null.
    p = project(workload(rest_ms=0.0), hw, 8)
    assert p["speedup"] == math.inf and ngpc.json_ready(p)["speedup"] is None


def test_speedup_never_decreases_with_scale(rng):
    scales = np.geomspace(0.25, 4096, 60)
    for _ in range(200):
        w = workload(
            queries=float(10 ** rng.uniform(2, 9)), network_ms=float(rng.uniform(0.01, 100)),
            rest_ms=float(rng.uniform(0, 50)), tables_on_chip=bool(rng.integers(2)),
            layers=tuple((int(rng.choice([16, 32, 64, 128])), int(rng.choice([1, 3, 16, 64, 128])))
                         for _ in range(rng.integers(1, 6))),
        )
        w = dataclasses.replace(w, baseline_ms=w.network_ms + w.rest_ms)
        hw = NGPC(clock=float(10 ** rng.uniform(8, 10)), overlap=float(rng.uniform(0, 1)),
                  sram_per_unit=float(2 ** rng.integers(16, 24)), dram_bandwidth=float(10 ** rng.uniform(10, 13)))
        projections = [project(w, hw, s) for s in scales]
        speedups = [p["speedup"] for p in projections]
        assert all(b >= a for a, b in zip(speedups, speedups[1:])), speedups
        for p in projections:
            assert p["frame_ms"] >= w.rest_ms  # the GPU's part is never hidden below its own time
            assert p["speedup"] <= p["limit"] * (1 + 1e-12) and p["limit"] <= p["gpu_bound"] * (1 + 1e-12)


def test_scales_must_be_positive_numbers():
    assert ngpc.parse_scales("8,16, 32,64") == [8, 16, 32, 64]
    assert ngpc.parse_scales("0.5") == [0.5]
    for bad in ("", "0", "-8", "8,x", "nan", "inf", ","):
        with pytest.raises(ngpc.NgvkError, match="positive numbers"):
            ngpc.parse_scales(bad)
    with pytest.raises(ngpc.NgvkError):
        project(workload(), NGPC(), 0)


# ---- calibration and parameters ----------------------------------------------------------------


def test_calibration_reproduces_the_papers_mean_speedups():
    cal = ngpc.calibrate()
    assert cal["scales"] == [8, 16, 32, 64]
    assert cal["paper"] == [12.0, 20.0, 33.0, 39.0]  # the paper's figures, hashgrid, mean of four apps
    assert cal["within_tolerance"]
    assert all(abs(e) <= 0.20 for e in cal["errors"])
    assert all(b >= a for a, b in zip(cal["mean"], cal["mean"][1:]))
    # The stored fitted parameter is the fit's optimum.
    assert ngpc.fit_gpu_rate() == pytest.approx(ngpc.value("gpu_network_rate"), rel=0.01)
    # With the fused rest at 9.94x and the mean share of 72.37 %, no app can beat the GPU bound.
    bound = 9.94 / (1 - 0.7237)
    for app in cal["apps"].values():
        assert app["projections"][-1]["gpu_bound"] == pytest.approx(bound)
        assert all(p["speedup"] <= bound * (1 + 1e-9) for p in app["projections"])


def test_calibration_is_not_a_free_fit():
    # The one fitted parameter cannot make every curve fit: without overlap, or with the tables in
    # DRAM, the model misses the paper's figures by far.
    assert not ngpc.calibrate(hw=NGPC(overlap=0.0), gpu_rate=ngpc.fit_gpu_rate(NGPC(overlap=0.0)))["within_tolerance"]
    assert not ngpc.calibrate(tables_on_chip=False)["within_tolerance"]


def test_every_parameter_has_a_value_and_a_source():
    assert ngpc.PARAMETERS
    for name, p in ngpc.PARAMETERS.items():
        assert p.name == name
        assert p.source in ("published", "inferred", "fitted")
        assert p.basis and p.unit is not None
        assert isinstance(p.value, (int, float)) and p.value > 0
    assert [p.name for p in ngpc.PARAMETERS.values() if p.source == "fitted"] == ["gpu_network_rate"]
    # The hardware defaults are the table's values.
    hw = NGPC()
    for field in dataclasses.fields(NGPC):
        assert getattr(hw, field.name) == ngpc.value(field.name)


# ---- bench results and the command line ----------------------------------------------------------


def stats(ms: float) -> dict:
    return {"median_ms": ms, "min_ms": ms, "max_ms": ms, "p25_ms": ms, "p75_ms": ms, "runs": 3}


def bench_case(app, encoding, stages: dict, fused_ms: float, queries: int, networks: dict, grid: GridConfig,
               resolution=(64, 48)) -> dict:
    """A case in `ngvk bench`'s format (docs/benchmarks.md, "Benchmark JSON"), with only what the model reads
    and a few fields beside."""
    return {
        "app": app, "encoding": encoding, "resolution": list(resolution), "pixels": resolution[0] * resolution[1],
        "samples": queries, "encoding_config": grid.to_dict(),
        "networks": {name: net.to_dict() for name, net in networks.items()}, "tiles": 1,
        "unfused": {"frame": stats(sum(stages.values())), "stage_sum": stats(sum(stages.values())),
                    "stages": {stage: stats(ms) for stage, ms in stages.items()}, "queries": queries},
        "fused": {"frame": stats(fused_ms), "stages": {"fused": stats(fused_ms)}, "queries": queries},
    }


def bench_result() -> dict:
    image = bench_case("image", "hashgrid", {"preprocess": 0.2, "encoding": 1.0, "mlp": 3.6, "postprocess": 0.3},
                       4.5, 64 * 48, {"network": MLPConfig(32, 3, 64, 2)}, grid_preset("hashgrid", 2))
    # An app the model has never heard of, with stages of its own and two networks.
    other = bench_case("nerf", "lowres", {"preprocess": 0.5, "march": 2.0, "encoding": 3.0, "mlp": 9.0,
                                          "color": 1.0, "composite": 1.5, "postprocess": 0.2},
                       30.0, 200_000, {"density": MLPConfig(32, 16, 64, 1), "color": MLPConfig(32, 3, 64, 2)},
                       grid_preset("lowres", 3))
    return {"schema": "ngvk-bench", "version": 2, "device": {"name": "testdevice", "driver": "none"},
            "date": "2026-12-01T00:00:00+00:00", "settings": {"warmup": 1, "repeat": 3}, "cases": [image, other]}


def test_bench_cases_become_workloads():
    result = bench_result()
    image = ngpc.bench_workload(result["cases"][0])
    assert image.network_ms == pytest.approx(4.6) and image.baseline_ms == pytest.approx(5.1)
    # The fused frame (4.5 ms) holds the rest in proportion: 4.5 x 0.5 / 5.1 < 0.5 unfused.
    assert image.rest_ms == pytest.approx(4.5 * 0.5 / 5.1) and image.rest_path == "fused, estimated"
    assert image.best_ms == 4.5 and image.queries == 64 * 48 and image.n_dims == 2
    assert image.layers == GIA_LAYERS
    other = ngpc.bench_workload(result["cases"][1])
    assert other.app == "nerf" and other.network_ms == pytest.approx(12.0)
    assert other.rest_ms == pytest.approx(5.2) and other.rest_path == "unfused"  # fused is slower
    assert other.layers == ((32, 64), (64, 16), (32, 64), (64, 64), (64, 3))
    # With prepost kernels timed, their pre- and post-processing is the rest where it is the least,
    # and the wavefront frame the best when it is the fastest.
    case = result["cases"][1]
    case["prepost"] = {"frame": stats(16.0), "stages": {"preprocess": stats(0.1), "prepost": stats(0.9),
                                                         "encoding": stats(3.0), "mlp": stats(12.0)}}
    case["wavefront"] = {"frame": stats(14.0), "stages": {"wavefront": stats(14.0)}}
    other = ngpc.bench_workload(case)
    assert other.rest_ms == pytest.approx(1.0) and other.rest_path == "prepost, measured"
    assert other.best_ms == 14.0
    assert other.level_entries == tuple(int(e) for e in grid_preset("lowres", 3).level_table()[:, LEVEL_SIZE])


def run_cli(capsys, *args):
    from ngvk.apps import cli

    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_ngpc_command_on_a_bench_result(tmp_path, capsys):
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(bench_result()))
    out_json, out_png = tmp_path / "ngpc.json", tmp_path / "ngpc.png"
    code, out, err = run_cli(capsys, "ngpc", "--bench", str(bench), "--scale", "1,8,64", "--json", str(out_json),
                             "--plot", str(out_png))
    assert code == 0, err
    assert "image hashgrid 64x48" in out and "nerf lowres 64x48" in out and "testdevice" in out
    assert "bound from the work left on the GPU" in out
    data = json.loads(out_json.read_text())
    assert data["schema"] == "ngvk-ngpc" and data["mode"] == "bench" and data["scales"] == [1, 8, 64]
    assert [c["workload"]["app"] for c in data["cases"]] == ["image", "nerf"]
    for case in data["cases"]:
        speedups = [p["speedup"] for p in case["projections"]]
        assert speedups == sorted(speedups)
        assert set(case["projections"][0]["fps"]) == {"1080p", "4k", "8k"}
    assert {p["name"] for p in data["parameters"]} == set(ngpc.PARAMETERS)
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ngpc_paper(tmp_path, capsys):
    out_json = tmp_path / "paper.json"
    code, out, err = run_cli(capsys, "ngpc", "--paper", "--json", str(out_json))
    assert code == 0, err
    assert "within 20 % of the paper's four means: yes" in out
    for name in ngpc.PARAMETERS:
        assert name in out
    data = json.loads(out_json.read_text())
    assert data["mode"] == "paper" and data["calibration"]["within_tolerance"]
    assert [c["workload"]["app"] for c in data["cases"]] == ["NeRF", "NSDF", "GIA", "NVR"]


@pytest.mark.parametrize("content, words", [
    (None, ["cannot read", "No such file"]),
    ("{not json", ["not an `ngvk bench` result", "not JSON"]),
    (json.dumps({"schema": "ngvk-bench-kernels", "version": 1, "cases": []}), ["ngvk-bench-kernels"]),
    (json.dumps([1, 2]), ["no schema"]),
    (json.dumps({"schema": "ngvk-bench", "version": 2, "cases": []}), ["without cases"]),
    (json.dumps({"schema": "ngvk-bench", "version": 99, "cases": [{}]}), ["version 99"]),
    (json.dumps({"schema": "ngvk-bench", "version": 1, "cases": []}), ["version 1", "run the benchmark again"]),
    (json.dumps({"schema": "ngvk-bench", "version": 2, "cases": [{"app": "image", "encoding": "hashgrid"}]}),
     ["bench case 1 (image hashgrid)"]),
])
def test_bad_bench_files_are_one_line_errors(tmp_path, capsys, content, words):
    bench = tmp_path / "bench.json"
    if content is not None:
        bench.write_text(content)
    out_json, out_png = tmp_path / "out.json", tmp_path / "out.png"
    code, out, err = run_cli(capsys, "ngpc", "--bench", str(bench), "--json", str(out_json), "--plot", str(out_png))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ngvk: error:"), err
    for word in words:
        assert word in lines[0]
    assert not out_json.exists() and not out_png.exists()
    assert [p.name for p in tmp_path.iterdir()] == ([] if content is None else ["bench.json"])  # no temporary files


@pytest.mark.parametrize("args, words", [
    (["--scale", "0"], ["--scale", "positive"]),
    (["--scale", "-8"], ["positive"]),
    (["--scale", "8,sixteen"], ["positive"]),
    (["--json", "out.txt"], ["results out.txt", ".json"]),
    (["--plot", "missing_folder/plot.png"], ["does not exist"]),
])
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bench.json").write_text(json.dumps(bench_result()))
    code, out, err = run_cli(capsys, "ngpc", "--bench", "bench.json", *args)
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ngvk: error:"), err
    for word in words:
        assert word in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json"]


def test_the_model_knows_no_app_of_ngvk_by_name():
    # Bench cases are modelled whatever their app; only the paper's own four apps are named (as the paper does).
    from pathlib import Path

    from ngvk.apps import APP_NAMES

    source = (Path(ngpc.__file__)).read_text()
    for app in APP_NAMES:
        assert f'"{app}"' not in source and f"'{app}'" not in source and f"apps.{app}" not in source
