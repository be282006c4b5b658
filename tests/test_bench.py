"""The benchmark's logic: its schema, that stage times add up, the derived figures, and that it
refuses to time kernel variants that disagree with the unfused path. No test asserts how fast
anything is."""

import json
import math
import os

import numpy as np
import pytest

from ngvk.apps import bench
from ngvk.engine.errors import NgvkError
from ngvk.engine.render.frame import STAGES, Frame


@pytest.fixture(scope="module")
def result(device):
    return bench.run_bench(device, ["image"], ["lowres", "hashgrid"], [(64, 48)], warmup=1, repeat=3)


def test_schema(result):
    assert result["schema"] == "ngvk-bench" and result["version"] == bench.SCHEMA_VERSION
    for key in ("ngvk", "commit", "dirty", "date", "host", "device", "settings", "target", "paper", "cases"):
        assert key in result
    for key in ("name", "type", "driver", "api_version"):
        assert result["device"][key] is not None
    assert [c["encoding"] for c in result["cases"]] == ["lowres", "hashgrid"]
    case = result["cases"][0]
    for key in ("app", "encoding", "resolution", "pixels", "samples", "encoding_config", "networks", "tiles",
                "kernels", "agreement", "unfused", "fused", "derived"):
        assert key in case
    assert case["resolution"] == [64, 48] and case["pixels"] == 64 * 48 == case["samples"]
    assert set(case["unfused"]["stages"]) == set(STAGES)
    assert set(case["fused"]["stages"]) == {"fused"}
    assert case["kernels"] == ["fused", "unfused"] and "wavefront" not in case  # the image app has no iterations
    for stats in (case["unfused"]["frame"], case["fused"]["frame"]):
        assert stats["runs"] == 3 and stats["min_ms"] <= stats["p25_ms"] <= stats["median_ms"] <= stats["p75_ms"] <= stats["max_ms"]
    json.dumps(result)  # plain JSON all the way down


def test_stage_times_add_up_to_the_frame(result):
    for case in result["cases"]:
        # Each frame's stage timestamps lie inside its frame timestamps, and fill most of them.
        assert -0.5 < case["derived"]["stage_sum_error"] <= 1e-9


def test_derived_figures(result):
    for case in result["cases"]:
        d = case["derived"]
        unfused, fused = case["unfused"]["frame"]["median_ms"], case["fused"]["frame"]["median_ms"]
        assert d["best_fused"] == "fused" and d["kernel_level"] is None
        assert d["fusion_speedup"] == pytest.approx(unfused / fused) == d["speedups"]["fused"]
        assert sum(d["stage_share"].values()) == pytest.approx(1.0)
        shares = d["stage_share"]
        assert d["encoding_mlp_share"] == pytest.approx(shares["encoding"] + shares["mlp"])
        assert d["fps_fused"] == pytest.approx(1000 / fused)
        assert d["samples_per_second_fused"] == pytest.approx(case["samples"] * 1000 / fused)
        best = min(fused, unfused)
        assert d["gap_4k60"] == pytest.approx(best * (3840 * 2160 / case["pixels"]) / (1000 / 60))


def test_table_shows_the_papers_figures(result):
    text = bench.table(result)
    for figure in ("72.37 %", "60.0 %", "59.96 %", "9.94x", "1.51x-55.5x", "hashgrid", "lowres", "64x48"):
        assert figure in text
    assert "not run" in text  # densegrid was not benchmarked here


def test_plot(result, tmp_path):
    bench.plot(result, tmp_path / "plot.png")
    from PIL import Image

    assert Image.open(tmp_path / "plot.png").size[0] > 400


class DisagreeingRenderer:
    """Wavefront frames that are off by 1e-3: the benchmark must refuse to time them."""

    kernels = ("fused", "wavefront", "unfused")

    def render(self, camera, width, height, kernels="fused", float_frame=False, download=True, poison=None):
        pixels = np.zeros((height, width, 4), np.float32 if float_frame else np.uint8)
        if kernels == "wavefront" and float_frame:
            pixels[0, 0, 0] = 1e-3
        return Frame(pixels, {}, 1.0, kernels)


def test_disagreeing_paths_are_not_timed():
    with pytest.raises(NgvkError, match="wavefront and unfused renders differ"):
        bench.check_agreement(DisagreeingRenderer(), lambda w, h: None, 32, 32)


def test_a_path_that_skips_a_pixel_is_not_timed(device):
    # The unfused path renders after the fused one into the same frame buffer: without poisoning,
    # the pixel it skips would keep the fused path's value and the paths would seem to agree.
    from ngvk.apps import get_app
    from ngvk.apps.image import ImageRenderer

    class SkippingRenderer(ImageRenderer):
        def record_unfused(self, sequence, frame, push, float_frame):
            super().record_unfused(sequence, frame, {**push, "n": push["n"] - 1}, float_frame)

    renderer = SkippingRenderer(device, get_app("image").load_model())
    try:
        with pytest.raises(NgvkError, match="fused and unfused renders differ"):
            bench.check_agreement(renderer, renderer.default_camera, 40, 30)
    finally:
        renderer.close()


def test_statistics_and_resolutions():
    stats = bench.statistics([4.0, 1.0, 3.0, 2.0, 100.0])
    assert stats["median_ms"] == 3.0 and stats["min_ms"] == 1.0 and stats["max_ms"] == 100.0 and stats["runs"] == 5
    assert bench.parse_resolution("1080p") == (1920, 1080)
    assert bench.parse_resolution("4K") == (3840, 2160)
    assert bench.parse_resolution("320x200") == (320, 200)
    for bad in ("0x10", "big", "10x"):
        with pytest.raises(NgvkError):
            bench.parse_resolution(bad)
    assert math.isinf(bench.derive({
        "pixels": 1, "samples": 1,
        "unfused": {"frame": {"median_ms": 1.0}, "stage_sum": {"median_ms": 1.0}, "stages": {"mlp": {"median_ms": 1.0}}},
        "fused": {"frame": {"median_ms": 0.0}},
    })["fusion_speedup"])


def test_the_kernel_level_figure_is_the_pre_and_post_processing_of_unfused_over_prepost():
    def path(frame, **stages):
        return {"frame": {"median_ms": frame}, "stage_sum": {"median_ms": sum(stages.values())},
                "stages": {k: {"median_ms": v} for k, v in stages.items()}}

    case = {"pixels": 100, "samples": 400,
            "unfused": path(20.0, preprocess=1.0, encoding=4.0, mlp=6.0, advance=5.0, postprocess=4.0),
            "fused": path(12.0, fused=12.0), "wavefront": path(8.0, preprocess=0.5, wavefront=7.5),
            "prepost": path(13.0, preprocess=0.5, prepost=1.5, encoding=4.5, mlp=6.5)}
    d = bench.derive(case)
    assert d["best_fused"] == "wavefront" and d["fusion_speedup"] == pytest.approx(20.0 / 8.0)
    assert d["speedups"] == pytest.approx({"fused": 20 / 12, "wavefront": 20 / 8, "prepost": 20 / 13})
    level = d["kernel_level"]
    assert level["pre_post_unfused_ms"] == pytest.approx(10.0) and level["pre_post_prepost_ms"] == pytest.approx(2.0)
    assert level["speedup"] == pytest.approx(5.0)
    assert d["gap_4k60"] == pytest.approx(8.0 * 3840 * 2160 / 100 / (1000 / 60))


# ---- ngvk bench kernels -------------------------------------------------------------------------


def test_kernel_bench_cases_agree_with_numpy_and_report_rates(device):
    from ngvk.apps import bench_kernels
    from ngvk.engine.nn.config import GridConfig, MLPConfig

    rng = np.random.default_rng(0)
    cases = bench_kernels.bench_grid(device, "small 3D", GridConfig("hashgrid", 3, 4, 2, 8, 1.5, 12), 1000, 1, 2, rng)
    cases += bench_kernels.bench_mlp(device, "volume-like", MLPConfig(32, 4, 64, 2, "relu"), 1000, 1, 2, rng)
    assert [c["operation"] for c in cases] == ["encoding forward", "encoding backward", "mlp forward", "mlp backward"]
    for case in cases:
        assert case["agreement"]["passed"], case
        assert case["ngvk"]["runs"] == 2 and case["numpy"]["runs"] >= 1
        assert case["ratio"] == pytest.approx(case["numpy"]["median_ms"] / case["ngvk"]["median_ms"])
        assert case["samples_per_second"] == pytest.approx(1000 / (case["ngvk"]["median_ms"] * 1e-3))
    forward, backward = cases[2], cases[3]
    flops = 2 * 1000 * (64 * 32 + 64 * 64 + 4 * 64)
    assert forward["gflops"] == pytest.approx(flops / (forward["ngvk"]["median_ms"] * 1e-3) / 1e9)
    assert backward["gflops"] == pytest.approx(2 * flops / (backward["ngvk"]["median_ms"] * 1e-3) / 1e9)
    assert "gflops" not in cases[0]
    result = {"device": {"name": "d", "driver": "v"}, "numpy": {"version": "2", "blas": None},
              "settings": {"repeat": 2, "warmup": 1}, "cases": cases}
    text = bench_kernels.table(result)
    assert "volume-like" in text and "small 3D" in text and "NO" not in text
    json.dumps(cases)


def test_kernel_bench_compares_against_what_the_gpu_computed(device, monkeypatch):
    # A wrong kernel result is reported as disagreement, not timed as if it were right.
    from ngvk.apps import bench_kernels
    from ngvk.engine.nn.config import MLPConfig

    monkeypatch.setattr(bench_kernels.reference, "mlp_forward", lambda config, params, x, dtype: np.zeros((len(x), 3)) + 1)
    cases = bench_kernels.bench_mlp(device, "image", MLPConfig(32, 3, 16, 1, "none"), 300, 1, 1, np.random.default_rng(1))
    assert not cases[0]["agreement"]["passed"]


def test_an_iterative_app_reports_its_own_stages_and_queries(device):
    # The SDF app's sphere tracer: its stages (ray advance among them) fill the breakdown, and the
    # queries per frame are what each path counted on the device, several per pixel.
    from ngvk.apps.sdf.render import STAGES as SDF_STAGES

    result = bench.run_bench(device, ["sdf"], ["hashgrid"], [(40, 30)], warmup=1, repeat=2)
    case = result["cases"][0]
    assert case["kernels"] == ["fused", "wavefront", "prepost", "unfused"]
    assert set(case["unfused"]["stages"]) == set(SDF_STAGES) and set(case["fused"]["stages"]) == {"fused"}
    assert set(case["wavefront"]["stages"]) == {"preprocess", "wavefront"}
    assert set(case["prepost"]["stages"]) == {"preprocess", "prepost", "encoding", "mlp"}
    assert case["unfused"]["queries"] > case["pixels"] and case["fused"]["queries"] > case["pixels"]
    # The wavefront and prepost kernels query what the unfused path does; the fused slots more.
    assert case["samples"] == case["unfused"]["queries"] == case["wavefront"]["queries"] == case["prepost"]["queries"]
    assert case["derived"]["kernel_level"]["speedup"] > 0
    assert sum(case["derived"]["stage_share"].values()) == pytest.approx(1.0)
    text = bench.table(result)
    assert "other: sdf: advance" in text and f"{case['unfused']['queries']:,} unfused" in text
    assert "fusion, kernel level (pre/post kernels)" in text


def test_the_unfused_path_gets_an_fp32_mlp_where_the_default_is_fp16(monkeypatch):
    # The fused kernels' MLP is fp32 everywhere: where the device's default MLP would be fp16 (the
    # cooperative-matrix path) the benchmark builds its renderers with the fp32 block MLP, so both
    # paths compute the same frame; a path the user forces with NGVK_MLP is kept.
    from ngvk.engine.nn import layers

    def chosen(device, config=None, requested=None):
        name = os.environ.get("NGVK_MLP") or "coopmat"
        return layers.MLPPath(name, "test", (16, 16, 16) if name == "coopmat" else None)

    monkeypatch.setattr(layers, "mlp_path", chosen)
    monkeypatch.delenv("NGVK_MLP", raising=False)
    with bench.fp32_mlp(None) as described:
        assert os.environ["NGVK_MLP"] == "portable-gpu"
    assert "NGVK_MLP" not in os.environ and described.startswith("portable-gpu (fp32")
    monkeypatch.setenv("NGVK_MLP", "coopmat")
    with bench.fp32_mlp(None) as described:
        assert os.environ["NGVK_MLP"] == "coopmat"
    assert described == "coopmat 16x16x16 fp16->fp32"
