"""The volume app's renderer: every kernel variant (fused, wavefront, prepost, unfused) gives the same
frame for the same seed, a seed fixes the image, progressive frames add up to the render with more
samples, the queries counted are the events traced, and the command line's one-line errors."""

import numpy as np
import pytest

from ngvk.apps.volume import fitting, render, tracing, volumes
from ngvk.apps.volume.app import VolumeApp, ground_truth_renderer, model_occupancy
from ngvk.apps.volume.checks import CHECKS, random_model
from ngvk.apps.volume.data import VolumeData
from ngvk.apps.volume.render import VolumeRenderer
from ngvk.engine.errors import NgvkError
from ngvk.engine.poison import POISON_RGBA8, POISON_WORD

from conftest import looking_away

W, H = 37, 21  # 777 pixels: in tiles of 500, the second partial


@pytest.fixture(scope="module")
def nebula(device):
    # The nebula's grid, and a model with random parameters (a patchy volume: the renderer's tests
    # need no fit, which tests/test_volume_fit.py tests), with its occupancy grid from the device.
    density, albedo = volumes.rasterise("nebula", 32)
    data = VolumeData("volume:nebula", density, albedo)
    model = random_model(np.random.default_rng(5))
    fitting.add_occupancy(device, model, resolution=32)
    return data, model


def renderer_for(device, model, spp=3, seed=0, tile_pixels=500, wavefront_slots=render.WAVEFRONT_SLOTS):
    return VolumeRenderer(device, model_occupancy(model), model.app_data["majorant"], model=model, spp=spp,
                          seed=seed, tile_pixels=tile_pixels, wavefront_slots=wavefront_slots)


VARIANTS = ("fused", "wavefront", "prepost", "unfused")


def render_variants(renderer, camera, width, height, variants=VARIANTS, **kwargs) -> dict:
    """Each kernel variant's float frame (poisoned first, so a pixel left unwritten is NaN)."""
    return {k: renderer.render(camera, width, height, k, True, poison=POISON_WORD, **kwargs) for k in variants}


def assert_variants_agree(frames: dict, reference: str = "unfused") -> None:
    # Float frames equal to the bit (on lavapipe: every variant runs the same functions on the same
    # values and sums each pixel's samples in sample order); the wavefront and prepost kernels make
    # exactly the unfused path's queries, the fused kernel's batches more.
    expected = frames[reference].pixels
    for kernels, frame in frames.items():
        assert np.isfinite(frame.pixels).all(), f"{kernels}: pixels left unwritten"
        np.testing.assert_array_equal(frame.pixels, expected, err_msg=kernels)
    if "prepost" in frames:
        assert frames["wavefront"].queries == frames["prepost"].queries == frames["unfused"].queries
        assert frames["unfused"].queries <= frames["fused"].queries


@pytest.mark.parametrize("mode", tracing.MODES)
def test_every_kernel_variant_renders_the_same(device, nebula, mode):
    # 777 pixels in tiles of 500 (the second partial), 3 samples a pixel, the wavefront in a pool of
    # 300 slots (each takes several paths); 8-bit frames poisoned differently, equal.
    _, model = nebula
    renderer = renderer_for(device, model, wavefront_slots=300)
    try:
        renderer.set_mode(mode)
        camera = renderer.default_camera(W, H)
        frames = render_variants(renderer, camera, W, H)
        assert_variants_agree(frames)
        unfused8 = renderer.render(camera, W, H, "unfused", poison=POISON_RGBA8[1]).pixels
        for kernels in ("fused", "wavefront", "prepost"):
            np.testing.assert_array_equal(renderer.render(camera, W, H, kernels, poison=POISON_RGBA8[0]).pixels,
                                          unfused8, err_msg=kernels)
        assert set(frames["unfused"].timings) == set(render.STAGES) and set(frames["fused"].timings) == {"fused"}
        assert set(frames["wavefront"].timings) == {"preprocess", "wavefront", "postprocess"}
        assert set(frames["prepost"].timings) == {"preprocess", "prepost", "encoding", "mlp", "postprocess"}
        if mode == "density":
            assert 0.02 < np.mean(frames["fused"].pixels[..., 0] > 0) < 0.9  # the smoke is in view, with sky around
    finally:
        renderer.close()


def test_every_kernel_variant_at_awkward_sizes(device, nebula):
    # One pixel, a row of seven, a pool of 5 slots for 7 x 1 x 3 paths, and a view away from the
    # cube (no path enters it: no queries, every slot takes several paths in one step).
    _, model = nebula
    renderer = renderer_for(device, model, wavefront_slots=5)
    try:
        for width, height in ((1, 1), (7, 1), (13, 5)):
            assert_variants_agree(render_variants(renderer, renderer.default_camera(width, height), width, height))
        frames = render_variants(renderer, looking_away(render.orbit_camera(35.0, 20.0)), 9, 4)
        assert_variants_agree(frames)
        assert frames["unfused"].queries == 0
    finally:
        renderer.close()


def test_a_seed_fixes_the_image_and_frames_accumulate(device, nebula):
    _, model = nebula
    renderer = renderer_for(device, model, spp=4, seed=9, wavefront_slots=200)
    try:
        camera = renderer.default_camera(W, H)
        first = renderer.render(camera, W, H, "fused", True).pixels
        np.testing.assert_array_equal(renderer.render(camera, W, H, "fused", True).pixels, first)
        renderer.set_samples(4, 10)
        assert np.abs(renderer.render(camera, W, H, "fused", True).pixels - first).max() > 0.05
        # Two progressive frames of 4 samples are one frame of 8: the same random steps, summed in
        # the same order, with every kernel variant. And beyond one pass (16 samples) the passes
        # add up the same way.
        renderer.set_samples(8, 9)
        eight = renderer.render(camera, W, H, "unfused", True).pixels
        renderer.set_samples(4, 9)
        for kernels in VARIANTS:
            renderer.render(camera, W, H, kernels, True)
            two = renderer.render(camera, W, H, kernels, True, accumulate=True).pixels
            np.testing.assert_array_equal(two, eight, err_msg=kernels)
        renderer.set_samples(20, 9)
        many = render_variants(renderer, camera, W, H)
        assert_variants_agree(many)
        renderer.set_samples(10, 9)
        for kernels in ("unfused", "wavefront"):
            renderer.render(camera, W, H, kernels, True)
            np.testing.assert_array_equal(renderer.render(camera, W, H, kernels, True, accumulate=True).pixels,
                                          many["unfused"].pixels, err_msg=kernels)
    finally:
        renderer.close()


def test_the_queries_are_the_events_traced(device, nebula):
    # Each listed path queries once per event, so the unfused count is the events of all paths,
    # read back from their final state (one tile, one pass); the wavefront's paths end in the same
    # states, with the same queries. The fused kernel queries whole batches.
    _, model = nebula
    renderer = renderer_for(device, model, spp=3, tile_pixels=1024, wavefront_slots=256)
    try:
        camera = renderer.default_camera(W, H)

        def final_paths():
            return renderer._paths_buffer().download(np.uint8, (W * H * 3 * 48,)).view(tracing.PATH_DTYPE)

        unfused = renderer.render(camera, W, H, "unfused")
        paths = final_paths()
        assert unfused.queries == int(paths["events"].sum()) > W * H
        for kernels in ("wavefront", "prepost"):
            assert renderer.render(camera, W, H, kernels).queries == unfused.queries
            np.testing.assert_array_equal(final_paths(), paths, err_msg=kernels)
        assert renderer.render(camera, W, H, "fused").queries >= unfused.queries
    finally:
        renderer.close()


def test_error_mode_compares_with_the_ground_truth(device, nebula):
    data, model = nebula
    app = VolumeApp()
    renderer = app.renderer(device, model, data)
    try:
        renderer.set_samples(2, 0)
        renderer.reference.set_samples(2, 0)
        renderer.set_mode("error")
        camera = renderer.default_camera(W, H)
        error = renderer.render(camera, W, H, float_frame=True).pixels
        renderer.set_mode("color")
        colour = renderer.render(camera, W, H, float_frame=True).pixels
        expected = renderer.reference.render(camera, W, H, float_frame=True).pixels
    finally:
        renderer.close()
    np.testing.assert_allclose(error[..., :3], np.clip(np.abs(colour - expected)[..., :3] * 4, 0, 1), atol=1e-6)
    without = app.renderer(device, model)
    try:
        with pytest.raises(NgvkError, match="error"):
            without.set_mode("error")
    finally:
        without.close()


def test_the_ground_truth_has_the_fused_and_wavefront_kernels(device, nebula):
    # No network to run apart (prepost) or in stages (unfused); the wavefront renders as the fused
    # kernel does, with the grid as the source.
    data, _ = nebula
    truth = ground_truth_renderer(device, data, spp=2)
    truth.wavefront_slots = 50
    try:
        for kernels in ("unfused", "prepost"):
            with pytest.raises(NgvkError, match="fused, wavefront"):
                truth.render(truth.default_camera(8, 8), 8, 8, kernels)
        assert_variants_agree(render_variants(truth, truth.default_camera(W, H), W, H, ("fused", "wavefront")), "fused")
    finally:
        truth.close()


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_check_cases(device, rng, check):
    # The volume app's `ngvk check` cases, one test each (so that a failure names its kernel).
    failed = [f"{r.kernel} {r.case}: {r.max_error:.3g} > {r.tolerance:.3g}" for r in check(device, rng) if not r.passed]
    assert not failed, failed


# ---- the command line -------------------------------------------------------------------------


def test_render_the_data_from_the_command_line(tmp_path):
    # The ground truth of a built-in volume (the shipped model through the command line:
    # tests/test_viewer.py test_a_progressive_app_in_the_viewer).
    from PIL import Image

    from test_cli import run

    out = tmp_path / "data.png"
    result = run("render", "volume", "--data", "volume:cloud", "--out", str(out), "--width", "40", "--height", "30",
                 "--spp", "2")
    assert result.returncode == 0, result.stderr
    image = np.asarray(Image.open(out)).astype(int)
    assert np.abs(image - image.mean(axis=(0, 1))).max() > 40  # a cloud against the sky


@pytest.mark.parametrize("array,words", [
    (np.full((4, 4, 4), np.nan), ("NaN",)),
    (-np.ones((4, 4, 4)), ("negative",)),
    (np.ones((4, 4)), ("rank",)),
    (np.ones((4, 4, 4, 3)), ("[X, Y, Z, 4]",)),
])
def test_bad_grids_are_one_line_errors_and_write_nothing(tmp_path, array, words):
    from test_cli import assert_one_line_error, run

    grid = tmp_path / "grid.npy"
    np.save(grid, array)
    out = tmp_path / "model.npz"
    assert_one_line_error(run("fit", "volume", str(grid), "--out", str(out), "--steps", "1"), *words)
    assert not out.exists()


def test_a_model_of_another_app_is_a_one_line_error(tmp_path):
    from test_cli import assert_one_line_error, run

    from ngvk.apps import get_app

    sdf_model = str(get_app("sdf").default_model_path())
    out = tmp_path / "x.png"
    assert_one_line_error(run("render", "volume", "--model", sdf_model, "--out", str(out)), "sdf", "volume")
    assert_one_line_error(run("render", "volume", "--spp", "0", "--out", str(out)), "--spp")
    assert not out.exists()
