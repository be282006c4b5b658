"""`ngvk bench --suite`: its budget logic and its JSON, with every measurement replaced by a stub that
advances a fake clock (no Vulkan, no kernel compiled; the real measurements are those of `ngvk
check`, `bench` and `bench kernels`, tested elsewhere); and the command's one-line errors."""

import json
import types

import pytest

from ngvk.apps import bench, bench_suite, cli
from ngvk.engine import check
from ngvk.engine.nn.config import GridConfig, MLPConfig
from ngvk.engine.render.frame import STAGES

BUDGET = 100.0


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


class FakeInfo:
    name, type, driver_name, driver_info, api_version = "Fake GPU", "discrete", "fake", "1.0", "1.3.0"
    vendor_id, device_id = 1, 2
    max_storage_buffer_range, max_memory_allocation = 1 << 27, 1 << 30

    def as_dict(self):
        return {"name": self.name, "driver_name": self.driver_name}


class FakeDevice:
    info = FakeInfo()
    all_devices = [(0, "Fake GPU", "discrete")]
    validation = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def kernel_cases(kind, name, n, gpu_ms, numpy_ms):
    stats = lambda ms, runs: {**bench.statistics([ms]), "runs": runs}  # noqa: E731
    ops = ("forward", "backward")
    return [{"operation": f"{'mlp' if kind == 'mlp' else 'encoding'} {op}", "case": name, "batch": n,
             "ngvk": stats(gpu_ms, 7), "numpy": stats(numpy_ms, 1),
             "agreement": {"max_relative_error": 0.0, "tolerance": 1e-3, "passed": True},
             "samples_per_second": n / (gpu_ms * 1e-3), "numpy_samples_per_second": n / (numpy_ms * 1e-3),
             "ratio": numpy_ms / gpu_ms} for op in ops]


def app_case(app, encoding, width, height, unfused_ms, fused_ms):
    stages = {stage: bench.statistics([unfused_ms / len(STAGES)]) for stage in STAGES}
    case = {"app": app, "encoding": encoding, "resolution": [width, height], "pixels": width * height,
            "samples": width * height,
            "unfused": {"frame": bench.statistics([unfused_ms]), "stage_sum": bench.statistics([unfused_ms]),
                        "stages": stages, "queries": width * height},
            "fused": {"frame": bench.statistics([fused_ms]), "stages": {"fused": bench.statistics([fused_ms])},
                      "queries": width * height}}
    case["derived"] = bench.derive(case)
    return case


# Seconds per pixel of one frame, each path: "cheap" renders 1080p in 0.2 s, "costly" in 20 s.
PER_PIXEL = {"cheap": 1e-7, "costly": 1e-5}


@pytest.fixture
def stubs(monkeypatch):
    """Every measurement of the suite replaced; `clock` advances by what each would have cost."""
    clock = Clock()
    calls = {"bench_case": [], "checks": 0}
    monkeypatch.setattr(bench, "device_report", lambda device: {
        "device": device.info.as_dict(), "mlp_path": {"path": "coopmat", "shape": [16, 16, 16], "reason": "listed"}})

    def run_checks(device, progress=None, apps=()):  # ten cases of 4 s: the check's 28 s stop it
        for i in range(10):
            clock.advance(4.0)
            calls["checks"] += 1
            progress(check.CheckResult("mlp_forward", f"case {i}", 0.0 if i != 2 else 1.0, 1e-4, 4.0,
                                       unsupported="no extension" if i == 5 else ""))

    monkeypatch.setattr(check, "run_checks", run_checks)
    items = [("mlp", "net 32-64-64-3", MLPConfig(32, 3, 64, 2, "none")),
             ("encoding", "grid 3D", GridConfig("hashgrid", 3, 4, 2, 19, 1.5, 16))]  # 8 outputs
    monkeypatch.setattr(bench_suite, "kernel_items",
                        lambda names: (items, [{"kind": "encoding", "case": "bad 2D", "skipped": "model unusable",
                                                "error": "truncated"}]))

    def kernel_case(device, kind, name, config, n, warmup, repeat, rng):
        cases = kernel_cases(kind, name, n, gpu_ms=n * 4.5e-4, numpy_ms=n * 1e-4)
        clock.advance(bench_suite._work_s(cases, warmup, repeat) + (3.0 if n < 4096 else 0.1))
        return cases

    monkeypatch.setattr(bench_suite, "kernel_case", kernel_case)
    apps = {name: types.SimpleNamespace(name=name) for name in PER_PIXEL}
    monkeypatch.setattr(bench_suite, "shipped_models", lambda names: (
        [(apps["cheap"], "hashgrid"), (apps["cheap"], "lowres"), (apps["costly"], "hashgrid")],
        [{"app": "costly", "encoding": "lowres", "model": "assets/costly_lowres.npz", "skipped": "no model"}]))

    def frame_pilot(device, app, encoding, limit_s):
        clock.advance(1.0)
        seconds = [PER_PIXEL[app.name] * w * h for w, h in ((64, 36), (128, 72))]
        return {"sizes": [[64, 36], [128, 72]], "seconds_fused": seconds, "seconds_unfused": seconds,
                "setup_s": 0.4, "seconds": 1.0}

    monkeypatch.setattr(bench_suite, "frame_pilot", frame_pilot)

    def bench_case(device, app, encoding, width, height, warmup, repeat, progress=None):
        frame_s = PER_PIXEL[app.name] * width * height
        clock.advance((1 + warmup + repeat) * 2 * frame_s + 0.1)
        calls["bench_case"].append((app.name, encoding, width, warmup, repeat, clock.now))
        return app_case(app.name, encoding, width, height, 1e3 * frame_s, 1e3 * frame_s / 2)

    monkeypatch.setattr(bench, "bench_case", bench_case)
    return types.SimpleNamespace(clock=clock, calls=calls)


def test_the_suite_keeps_to_its_budget_and_records_what_it_skips(stubs):
    checkpoints = []
    suite = bench_suite.Suite(FakeDevice(), BUDGET, warmup=2, repeat=7, app_names=[], clock=stubs.clock,
                              checkpoint=lambda result: checkpoints.append(json.loads(json.dumps(result))))
    result = suite.run()
    json.dumps(result)  # plain JSON all the way down
    assert result["schema"] == "ngvk-bench-suite" and result["complete"] and result["suite"]["stopped"] is None
    for name in bench_suite.SECTIONS:
        assert not isinstance(result[name].get("skipped"), str), name  # every section ran
    assert result["device"]["name"] == "Fake GPU" and result["info"]["device"]["name"] == "Fake GPU"
    elapsed = result["suite"]["elapsed_s"]
    assert elapsed == pytest.approx(stubs.clock.now - 1000.0, abs=1e-3) and elapsed <= BUDGET
    assert set(result["suite"]["section_seconds"]) == set(bench_suite.SECTIONS)
    # A checkpoint after each section but the last (the command writes the JSON then).
    assert len(checkpoints) == 3 and checkpoints[-1]["kernels"]["cases"] and not checkpoints[-1]["complete"]

    # check: stopped after the case that reached the section's end (0.3 x 100 s less the reserve).
    section = result["check"]
    assert len(section["results"]) == stubs.calls["checks"] == 7 and section["stopped"] == "budget"
    assert section["passed"] == 5 and section["total"] == 6 and section["unsupported"] == ["mlp_forward case 5: no extension"]
    assert len(section["failed"]) == 1 and "case 2" in section["failed"][0]
    assert 28.0 <= result["suite"]["section_seconds"]["check"] < 32.0

    # kernels: measured at 2^16 and 2^18; the MLP's 2^20 buffers exceed the device's binding; the
    # grid's 2^20 case would not fit in what is left; nothing runs past the section's end.
    kernels = result["kernels"]
    measured = {(c["case"], c["batch"]) for c in kernels["cases"]}
    assert measured == {(name, n) for name in ("net 32-64-64-3", "grid 3D") for n in (1 << 16, 1 << 18)}
    skipped = {(s["case"], s.get("batch")): s for s in kernels["skipped"]}
    assert skipped[("bad 2D", None)]["skipped"] == "model unusable"
    assert skipped[("net 32-64-64-3", 1 << 20)]["skipped"] == "device limit"
    over = skipped[("grid 3D", 1 << 20)]
    assert over["skipped"] == "budget" and over["estimate_s"] * bench_suite.SAFETY > 0
    assert skipped[("grid 3D", 1 << 22)]["at_batch"] == 1 << 20  # 128 MiB: within the binding
    assert len(kernels["pilots"]) == 2
    assert result["suite"]["section_seconds"]["info"] + result["suite"]["section_seconds"]["check"] + \
        result["suite"]["section_seconds"]["kernels"] <= suite.budget.end("kernels")

    # apps: the cheap app everywhere with the full settings, the costly one skipped at 4k and run at
    # 1080p only with fewer frames if at all; listed in the usual order; the missing model recorded.
    apps = result["apps"]
    done = [(c["app"], c["encoding"], c["resolution"][0]) for c in apps["cases"]]
    assert done[:4] == [("cheap", "hashgrid", 1920), ("cheap", "hashgrid", 3840), ("cheap", "lowres", 1920),
                        ("cheap", "lowres", 3840)]
    assert all(c["suite"]["repeat"] == 7 and c["suite"]["warmup"] == 2 for c in apps["cases"][:4])
    by_item = {(s["app"], s["encoding"], tuple(s.get("resolution", ()))): s for s in apps["skipped"]}
    assert by_item[("costly", "lowres", ())]["skipped"] == "no model"
    costly_4k = by_item[("costly", "hashgrid", (3840, 2160))]
    assert costly_4k["skipped"] == "budget" and costly_4k["estimate_s"] > BUDGET
    assert costly_4k["estimate_one_frame_s"] * bench_suite.SAFETY > BUDGET - elapsed
    # 1080p before 4k; the costly app's cases did not fit at either.
    assert [call[:3] for call in stubs.calls["bench_case"]] == [
        ("cheap", "hashgrid", 1920), ("cheap", "lowres", 1920), ("cheap", "hashgrid", 3840), ("cheap", "lowres", 3840)]
    assert by_item[("costly", "hashgrid", (1920, 1080))]["skipped"] == "budget"

    text = bench_suite.summary(result)
    for words in ("5 of 6 kernel checks passed; 1 not supported on this device; stopped (budget)",
                  "skipped: apps: costly hashgrid 3840x2160: budget (estimate",
                  "skipped: kernels: mlp net 32-64-64-3, 2^20 samples: device limit (a 512 MiB buffer, 128 MiB",
                  "FAILED check: mlp_forward case 2", "9.94x", "ngvk bench kernels on Fake GPU",
                  "Fake GPU, Vulkan 1.3.0, MLP path coopmat 16x16x16"):
        assert words in text, words


def test_an_interrupted_suite_keeps_what_it_did(stubs, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "bench_case", interrupted)
    suite = bench_suite.Suite(FakeDevice(), BUDGET, app_names=[], clock=stubs.clock)
    with pytest.raises(KeyboardInterrupt):
        suite.run()
    result = suite.result
    assert not result["complete"] and result["suite"]["stopped"] == "interrupted"
    assert result["kernels"]["cases"] and "interrupted" not in result["kernels"]
    assert result["apps"]["interrupted"] and result["apps"]["pilots"]
    json.dumps(result)
    assert "incomplete (interrupted)" in bench_suite.summary(result)


def test_the_command_writes_the_report(stubs, monkeypatch, tmp_path, capsys):
    # The command around the suite, on a fake device and the real clock (the stubs take no time).
    import ngvk.engine.gpu.device as device_module

    monkeypatch.setattr(device_module, "Device", FakeDevice)
    monkeypatch.setattr(bench_suite, "AVAILABLE", ())
    out = tmp_path / "r.json"
    assert cli.main(["bench", "--suite", "--budget-s", "300", "--repeat", "3", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "check: 8 of 9 kernel checks passed; 1 not supported on this device\n" in text  # 300 s: time for all ten
    assert f"results written to {out}" in text
    result = json.loads(out.read_text())
    assert result["complete"] and result["suite"]["budget_s"] == 300 and result["suite"]["repeat"] == 3
    assert set(bench_suite.SECTIONS) <= set(result)


@pytest.mark.parametrize("args, words", [
    (["--suite", "--budget-s", "0"], "at least 10"),
    (["--suite", "--budget-s", "-5"], "at least 10"),
    (["--suite", "--budget-s", "nan"], "finite"),
    (["--suite", "--budget-s", "inf"], "finite"),
    (["--suite", "--budget-s", "ten"], "in seconds"),
    (["--budget-s", "100"], "add --suite"),
    (["--suite", "image"], "drop app names"),
    (["--suite", "--resolution", "4k", "--encodings", "lowres"], "drop --encodings, --resolution"),
])
def test_bad_suite_arguments_are_one_line_errors(args, words, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert cli.main(["bench", *args, "--json", str(out)]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ngvk: error:") and words in lines[0], captured.err
    assert not out.exists()


def test_estimates_from_pilots():
    # A frame's cost as a fixed part plus a part per pixel, through the pilot's first and last sizes.
    cost = bench_suite.frame_cost([[64, 36], [512, 288]], [0.3 + 1e-6 * 2304, 0.3 + 1e-6 * 147456])
    assert cost["fixed_s"] == pytest.approx(0.3) and cost["per_pixel_s"] == pytest.approx(1e-6)
    # One size, or no growth: proportional to pixels (never less than the largest measured frame).
    assert bench_suite.frame_cost([[64, 36]], [0.2]) == {"fixed_s": 0.0, "per_pixel_s": 0.2 / 2304}
    assert bench_suite.frame_cost([[64, 36], [128, 72]], [0.2, 0.1])["per_pixel_s"] == pytest.approx(0.1 / 9216)
    pilot = {"sizes": [[64, 36], [128, 72]], "seconds_fused": [0.1 + 2304e-6, 0.1 + 9216e-6],
             "seconds_unfused": [0.2 + 2304e-6, 0.2 + 9216e-6], "setup_s": 2.0}
    frame = 0.3 + 2 * 1e-6 * 1920 * 1080
    small = 0.3 + 2 * 1e-6 * 128 * 72
    assert bench_suite.estimate_case_s(pilot, 1920, 1080, 2, 7) == pytest.approx(10 * frame + small + 0.5)

    # A kernel case from a smaller batch: GPU and NumPy times scale with samples; the rest of the
    # wall time too, unless it was the pilot's (pipelines made once).
    cases = kernel_cases("mlp", "net", 1 << 16, gpu_ms=10.0, numpy_ms=100.0)
    measured = {"n": 1 << 16, "cases": cases, "seconds": 5.0, "work_s": 1.0, "pilot": True}
    gpu = 2 * 0.040 * (1 + 7 + 1)
    numpy = 2 * min(7 * 0.4, 3.0 + 0.4)
    assert bench_suite.estimate_kernel_s(measured, 1 << 18, 1, 7) == pytest.approx(gpu + numpy)
    assert bench_suite.estimate_kernel_s({**measured, "pilot": False}, 1 << 18, 1, 7) == pytest.approx(gpu + numpy + 16)
