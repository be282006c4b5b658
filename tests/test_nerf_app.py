"""The NeRF app: the marcher and volume rendering's NumPy specification (gradients against finite
differences), the occupancy grid's update, fused against unfused renders, a short fit on a small
dataset in each format (the loss falls; a test view renders and evaluates), and the command line."""

import json
import math
import shutil

import numpy as np
import pytest

from ngvk.apps.nerf import networks, scene, tracing
from ngvk.apps.nerf.training import OCCUPANCY_DECAY, OCCUPANCY_THRESHOLD, OccupancyGrid, pool_cascades
from ngvk.engine.poison import POISON_WORD
from ngvk.engine.render.camera import Camera

SIDE = 32
STEPS = 48


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("nerf_app") / "tabletop"
    scene.write_dataset("tabletop", out, views=12, resolution=SIDE, seed=5)
    return out


def ngp_copy(dataset, folder):
    """The synthetic dataset's train and test views as one instant-ngp transforms.json (fl_x/fl_y/
    cx/cy/w/h; the loader's every-8th-frame rule makes the test split)."""
    folder.mkdir()
    frames = []
    for split in ("train", "test"):
        source = json.loads((dataset / f"transforms_{split}.json").read_text())
        focal = SIDE / 2 / math.tan(source["camera_angle_x"] / 2)
        for frame in source["frames"]:
            name = f"{split}_{len(frames)}.png"
            shutil.copy(dataset / (frame["file_path"] + ".png"), folder / name)
            frames.append({"file_path": name, "transform_matrix": frame["transform_matrix"]})
    document = {"fl_x": focal, "fl_y": focal, "cx": SIDE / 2, "cy": SIDE / 2, "w": SIDE, "h": SIDE, "frames": frames}
    (folder / "transforms.json").write_text(json.dumps(document))
    return folder


# ---- NumPy: the specification ----------------------------------------------------------------------


def test_composite_backward_matches_finite_differences(rng):
    # A ray that turns opaque midway (the stop applies), random background and dL/d pixel.
    raw = rng.normal(3.5, 1.5, 40)
    rgb = rng.uniform(0.05, 0.95, (40, 3))
    background, d_pixel = rng.uniform(0, 1, 3), rng.normal(0, 1, 3)
    forward = tracing.composite(raw, rgb, background)
    assert 5 < forward["used"] < 40, "the case must stop early"
    d_raw, d_rgb = tracing.composite_backward(raw, rgb, background, d_pixel)

    def value(r, c):
        out = tracing.composite(r, c, background)
        assert out["used"] == forward["used"]  # the stop stays put for the small steps below
        return float(out["pixel"] @ d_pixel)

    h = 1e-6
    for i in range(forward["used"]):
        up, down = raw.copy(), raw.copy()
        up[i] += h
        down[i] -= h
        assert d_raw[i] == pytest.approx((value(up, rgb) - value(down, rgb)) / (2 * h), rel=1e-5, abs=1e-9)
        for c in range(3):
            up, down = rgb.copy(), rgb.copy()
            up[i, c] += h
            down[i, c] -= h
            assert d_rgb[i, c] == pytest.approx((value(raw, up) - value(raw, down)) / (2 * h), rel=1e-5, abs=1e-9)
    assert np.all(d_raw[forward["used"]:] == 0) and np.all(d_rgb[forward["used"]:] == 0)


def test_march_samples_only_occupied_cells_on_one_lattice():
    occupied = np.zeros((16, 16, 16), bool)
    occupied[4:7, 5:9, 3:12] = True
    occupied[10:12, 10:12, 10:12] = True
    o, d = np.array([-0.3, 0.1, 0.05], np.float32), np.array([1.0, 0.8, 0.9], np.float32)
    d /= np.linalg.norm(d)
    ts = tracing.march(o, d, occupied)
    assert len(ts) > 10
    cells = np.minimum((np.clip(o + ts[:, None] * d, 0, 1) * 16).astype(int), 15)
    assert occupied[tuple(cells.T)].all()
    steps = (ts - ts[0]) / tracing.STEP
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-2)  # whole steps from the first sample
    # Every lattice point in an occupied cell between the first and last sample is a sample.
    lattice = ts[0] + np.arange(int(round(steps[-1])) + 1) * np.float32(tracing.STEP)
    inside = occupied[tuple(np.minimum((np.clip(o + lattice[:, None] * d, 0, 1) * 16).astype(int), 15).T)]
    assert inside.sum() == pytest.approx(len(ts), abs=2)


def test_occupancy_update_decays_takes_the_largest_and_thresholds(rng):
    grid = OccupancyGrid(resolution=4)
    grid.thickness[:] = 0.02
    cells = np.array([0, 0, 5, 9])
    grid.update(cells, np.array([0.5, 0.7, 0.001, 0.03]))
    expected = np.full(64, 0.02 * OCCUPANCY_DECAY, np.float32)
    expected[0], expected[9] = 0.7, 0.03  # the largest of a cell's samples; 5 keeps its decayed value
    np.testing.assert_allclose(grid.thickness, expected, rtol=1e-6)
    threshold = min(OCCUPANCY_THRESHOLD, expected.mean())
    assert np.array_equal(grid.occupied.reshape(-1), expected > threshold)
    # Without new samples a cell decays; the bits follow min(threshold, mean) (here the mean).
    for _ in range(60):
        grid.update(np.array([9]), np.array([0.03]))
    assert grid.thickness[0] == pytest.approx(0.7 * OCCUPANCY_DECAY**60, rel=1e-4)
    assert np.flatnonzero(grid.occupied.reshape(-1)).tolist() == [0, 9]
    # Warm-up probes every cell; later half uniform, half among the occupied.
    assert len(grid.sample_cells(rng, warmup=True)) == 64
    later = grid.sample_cells(rng, warmup=False)
    assert len(later) == 32 and set(later[16:]) == {0, 9}
    positions = grid.positions(np.array([9]), rng)
    assert np.array_equal(np.floor(positions * 4).astype(int), [[0, 2, 1]])


def test_stepping_space_is_instant_ngps_and_its_own_inverse():
    box = tracing.Aabb(16)
    assert (box.cascades, box.cone_angle, box.low) == (5, 1 / 256, -7.5)
    for bad in (0, 3, 256, 2.0):
        with pytest.raises(ValueError, match="power of two"):
            tracing.Aabb(bad)
    # Near the camera the fixed step, then dt = t x cone angle, capped at MAX_CONE_STEP far away.
    assert tracing.step_size(0.01, box) == pytest.approx(tracing.STEP, rel=1e-4)
    assert tracing.step_size(2.0, box) == pytest.approx(2.0 * math.expm1(math.log1p(1 / 256)), rel=1e-3)
    assert tracing.step_size(1000.0, box) == pytest.approx(tracing.MAX_CONE_STEP, rel=1e-4)
    for t in (0.0, 0.1, 0.43, 0.44, 3.0, 400.0, 500.0):
        assert tracing.from_stepping(tracing.to_stepping(t, box), box) == pytest.approx(t, rel=1e-5, abs=1e-6)
    # Unit cube: whole steps of STEP exactly.
    assert tracing.advance(0.25, 3) == np.float32(np.float32(0.25) + np.float32(tracing.STEP) * np.float32(3))
    assert tracing.step_size(5.0) == np.float32(tracing.STEP)


def test_cascade_lookup_follows_position_and_step():
    box = tracing.Aabb(8)  # cascades 0..3
    assert tracing.mip_from_pos([0.5, 0.5, 0.9], box) == 0  # |p - 0.5| < 0.5: the unit cube
    assert tracing.mip_from_pos([0.5, 1.2, 0.5], box) == 1  # < 1
    assert tracing.mip_from_pos([-1.2, 0.5, 0.5], box) == 2  # < 2
    assert tracing.mip_from_pos([4.4, 0.5, 0.5], box) == 3  # beyond: the last
    # A step longer than half a cell of cascade 0 (1/256) looks at a coarser cascade.
    assert tracing.mip_from_dt(1 / 512, [0.5, 0.5, 0.6], box) == 0
    assert tracing.mip_from_dt(3 / 256, [0.5, 0.5, 0.6], box) == 2
    assert tracing.mip_from_dt(1.0, [0.5, 0.5, 0.6], box) == 3


def test_march_skips_empty_cascades_and_samples_occupied_cells_in_cone_steps():
    box, r = tracing.Aabb(4), 16
    occupied = np.zeros((3, r, r, r), bool)
    occupied[2, 1:3, 7:9, 7:9] = True  # in cascade 2 only (x from -1.25 to -0.75): far from the unit cube
    occupied = pool_cascades(occupied)
    o, d = np.array([2.3, 0.5, 0.5], np.float32), np.array([-1.0, 0.0, 0.0], np.float32)
    ts = tracing.march(o, d, occupied, aabb=box)
    assert len(ts) > 5
    xs = o[0] - ts
    assert xs.min() >= -1.25 - 1e-3 and xs.max() <= -0.75 + 0.02  # only the occupied cell's span
    steps = np.array([tracing.to_stepping(t, box) for t in ts])
    np.testing.assert_allclose(np.diff(steps), 1.0, atol=1e-2)  # whole steps in stepping space
    np.testing.assert_allclose(np.diff(ts)[:-1], [tracing.step_size(t, box) for t in ts[:-2]], rtol=1e-3)


def test_occupancy_cascades_probe_their_own_boxes_and_pool_into_coarser_ones(rng):
    box = tracing.Aabb(4)
    grid = OccupancyGrid(resolution=4, aabb=box)
    assert grid.cells == 3 * 64 and grid.occupied.shape == (3, 4, 4, 4)
    # Cell 0 of cascade 2 is the box's low corner; warped, its probes are in the first 1/4 of [0, 1]^3.
    positions = grid.positions(np.array([2 * 64]), rng)
    assert np.all((positions >= 0) & (positions < 0.25))
    world = grid.positions(np.array([0, 64 + 63]), rng) * 4 - 1.5  # unwarp
    assert np.all((world[0] >= 0) & (world[0] < 0.25))  # cascade 0: the unit cube's first cell
    assert np.all((world[1] >= 1.0) & (world[1] < 1.5))  # cascade 1's last cell: x, y, z in [1, 1.5)
    # Thresholded against cascade 0's mean, then pooled: an occupied fine cell occupies the coarser
    # cell around it (cascade 1's cell (1, 1, 1) holds cascade 0's cells 0-1 on each axis).
    thickness = np.zeros(3 * 64)
    thickness[0] = 1.0
    grid.update(np.arange(3 * 64), thickness)
    assert grid.occupied[0, 0, 0, 0] and grid.occupied[1, 1, 1, 1] and grid.occupied[2, 1, 1, 1]
    assert grid.occupied.sum() == 3


# ---- on the device -------------------------------------------------------------------------------


# (width, height, camera): two tiles of 600 pixels, awkward sizes, and a frame that sees nothing.
VARIANT_FRAMES = ((40, 30, "default"), (1, 1, "default"), (7, 1, "default"), (9, 5, "away"))


@pytest.mark.parametrize("slots", ["default", 4])
def test_every_kernel_variant_renders_the_unfused_frame(device, monkeypatch, slots):
    # The shipped model, every mode, float frames poisoned (a pixel left unwritten is NaN), tiles of
    # 600 pixels: fused, wavefront and prepost give the unfused frame bit for bit and evaluate the same
    # samples. A pool of 4 wavefront slots refills from the queue many times a tile and keeps slots
    # listed and empty that took their most pixels in a dispatch (a row of sky) while the queue holds
    # more.
    from ngvk.apps import get_app
    from ngvk.apps.nerf import render
    from ngvk.engine.poison import POISON_RGBA8

    app = get_app("nerf")
    if slots != "default":
        monkeypatch.setattr(render, "WAVEFRONT_SLOTS", {"CPU": slots, "GPU": slots})
    renderer = app.renderer(device, app.load_model(), tile_pixels=600)
    assert renderer.kernels == ("fused", "wavefront", "prepost", "unfused")
    cameras = {"default": renderer.default_camera(40, 30), "away": Camera((0.5, 0.5, 3.0), (0.5, 0.5, 6.0))}
    frames = VARIANT_FRAMES if slots == "default" else VARIANT_FRAMES[:1]
    try:
        for width, height, view in frames:
            for mode in tracing.MODES:
                renderer.set_mode(mode)
                camera = cameras[view]
                unfused = renderer.render(camera, width, height, "unfused", float_frame=True, poison=POISON_WORD)
                assert np.isfinite(unfused.pixels).all()
                assert (unfused.queries > 0) == (view != "away") and unfused.queries % 8 == 0
                for kernels in ("fused", "wavefront", "prepost"):
                    frame = renderer.render(camera, width, height, kernels, float_frame=True, poison=POISON_WORD)
                    assert np.array_equal(frame.pixels.view(np.uint32), unfused.pixels.view(np.uint32)), \
                        (width, height, view, mode, kernels)
                    assert frame.queries == unfused.queries, (width, height, view, mode, kernels)
        # 8-bit frames are written too (each poisoned with a word the other's bytes are far from).
        renderer.set_mode("color")
        wavefront = renderer.render(cameras["default"], 40, 30, "wavefront", poison=POISON_RGBA8[0])
        prepost = renderer.render(cameras["default"], 40, 30, "prepost", poison=POISON_RGBA8[1])
        assert np.array_equal(wavefront.pixels, prepost.pixels)
        assert set(wavefront.timings) == {"preprocess", "wavefront"}
        assert set(prepost.timings) == {"preprocess", "prepost", "encoding", "mlp", "color"}
    finally:
        renderer.close()


def test_evaluation_averages_rays_on_a_grid_in_each_pixel_in_linear_light(device):
    # One ray per pixel is the 8-bit render itself; 2 x 2 rays average, in linear light, the four
    # pixels of a render at twice the size that fall in each pixel (what the metrics compare).
    from ngvk.apps import get_app
    from ngvk.apps.nerf.app import supersampled
    from ngvk.engine.nn.reference import linear_to_srgb, srgb_to_linear

    app = get_app("nerf")
    renderer = app.renderer(device, app.load_model())
    try:
        camera = renderer.default_camera(20, 16)
        one = supersampled(renderer, camera, 20, 16, factor=1)
        assert np.array_equal(one, renderer.render(camera, 20, 16, "wavefront").rgb)
        two = supersampled(renderer, camera, 20, 16, factor=2)
        large = renderer.render(camera, 40, 32, "fused", float_frame=True).rgb.astype(np.float64)
        for y, x in ((8, 10), (5, 3), (12, 17)):
            block = srgb_to_linear(large[2 * y:2 * y + 2, 2 * x:2 * x + 2]).reshape(4, 3).mean(axis=0)
            assert np.array_equal(two[y, x], np.floor(linear_to_srgb(block) * 255 + 0.5).astype(np.uint8))
        assert np.abs(two.astype(int) - one.astype(int)).max() > 0  # the model has detail finer than a pixel
    finally:
        renderer.close()


def test_a_camera_with_a_lens_renders_its_reference(device):
    # A random model seen through a strongly distorting lens (a dataset's view): every kernel variant
    # gives the same frame bit for bit, and that frame is tracing.render()'s (which shoots
    # Camera.rays(), lens and all), judged as `ngvk check` judges renders; the pinhole's reference
    # is not it.
    from dataclasses import replace

    from ngvk.apps.nerf.checks import CAMERA, DENSITY_BIAS
    from ngvk.apps.nerf.render import NerfRenderer, model_occupancy
    from ngvk.engine.check import compare_pixels
    from ngvk.engine.render.camera import Lens

    model = networks.random_model("hashgrid", seed=7, density_bias=DENSITY_BIAS)
    camera = replace(CAMERA, fov_y=55.0, lens=Lens("opencv", k1=-0.35, k2=0.08, k3=-0.01, p1=0.003, p2=-0.002))
    width, height = 14, 10
    query = lambda p, d: networks.query(model, p, d)  # noqa: E731
    expected = tracing.render(camera, width, height, query, model_occupancy(model))
    pinhole = tracing.render(replace(camera, lens=None), width, height, query, model_occupancy(model))
    renderer = NerfRenderer(device, model, tile_pixels=50)
    try:
        frames = {k: renderer.render(camera, width, height, k, float_frame=True, poison=POISON_WORD).pixels
                  for k in renderer.kernels}
    finally:
        renderer.close()
    for kernels, frame in frames.items():
        assert np.array_equal(frame.view(np.uint32), frames["unfused"].view(np.uint32)), kernels
    rgb = frames["fused"][..., :3].reshape(-1, 3)
    assert compare_pixels("nerf_fused", "lens", rgb, expected, 0.0).passed
    assert not compare_pixels("nerf_fused", "pinhole", rgb, pinhole, 0.0).passed


def test_fit_on_each_format_lowers_the_loss_and_evaluates(device, dataset, tmp_path):
    from ngvk.apps import get_app
    from ngvk.apps.nerf.render import NerfRenderer, model_occupancy

    app = get_app("nerf")
    # The synthetic format: the loss falls over STEPS steps.
    data = app.load_data(str(dataset))
    losses = []
    result = app.fit(device, data, "hashgrid", steps=STEPS, batch_size=1 << 14, seed=1, source=str(dataset),
                     evaluations=1, progress=lambda step, loss, metrics, status: losses.append(loss))
    # Single steps are noisy (a few hundred rays): the mean of the last ten against the first ten.
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:10]), losses
    metrics = result.metrics
    assert 5 < metrics["psnr"] < 60 and -1 <= metrics["ssim"] <= 1 and len(metrics["views"]) == 2
    assert result.model.training["steps"] == STEPS and result.model.param_dtype == "float16"
    # The saved model evaluates as the fit did, and renders a training view.
    result.model.save(tmp_path / "model.npz")
    model = app.load_model(tmp_path / "model.npz")
    assert app.evaluate(device, model, data)["psnr"] == pytest.approx(metrics["psnr"], abs=1e-6)
    renderer = NerfRenderer(device, model)
    try:
        frame = renderer.render(data.cameras[0], data.width, data.height)
        assert frame.pixels.shape == (SIDE, SIDE, 4) and frame.queries > 0
    finally:
        renderer.close()
    # instant-ngp's format: the same views train and evaluate.
    ngp = app.load_data(str(ngp_copy(dataset, tmp_path / "ngp")))
    result = app.fit(device, ngp, "hashgrid", steps=4, batch_size=1 << 14, seed=1, source=ngp.source, evaluations=1)
    assert len(result.metrics["views"]) == 2 and np.isfinite(result.metrics["psnr"])
    # aabb_scale 2 (two cascades, cone steps): the loss falls too, and the model keeps its box.
    document = json.loads((tmp_path / "ngp" / "transforms.json").read_text())
    (tmp_path / "ngp" / "transforms.json").write_text(json.dumps({**document, "aabb_scale": 2}))
    boxed = app.load_data(str(tmp_path / "ngp"))
    assert boxed.aabb.scale == 2
    losses.clear()
    result = app.fit(device, boxed, "hashgrid", steps=STEPS, batch_size=1 << 14, seed=1, source=boxed.source,
                     evaluations=1, progress=lambda step, loss, metrics, status: losses.append(loss))
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:10]), losses
    result.model.save(tmp_path / "boxed.npz")
    model = app.load_model(tmp_path / "boxed.npz")
    assert model.app_data["aabb_scale"] == 2 and len(model_occupancy(model)) == 2
    assert app.evaluate(device, model, boxed)["psnr"] == pytest.approx(result.metrics["psnr"], abs=1e-6)


def test_command_line(dataset, tmp_path, capsys):
    from ngvk.apps import cli

    # Rendering a dataset's view needs neither --camera nor a size; errors are one line.
    assert cli.main(["render", "nerf", "--dataset", str(dataset), "--frame", "1", "--out",
                     str(tmp_path / "view.png")]) == 0
    from PIL import Image

    assert Image.open(tmp_path / "view.png").size == (SIDE, SIDE)
    for arguments, words in (
        (["--frame", "9"], "--frame 9: the test split"),
        (["--split", "nope"], "nope"),
        (["--camera", str(tmp_path / "c.json")], "one of --camera and --dataset"),
    ):
        Camera().save(tmp_path / "c.json")
        code = cli.main(["render", "nerf", "--dataset", str(dataset), *arguments, "--out", str(tmp_path / "x.png")])
        assert code == 1 and words in capsys.readouterr().err
        assert not (tmp_path / "x.png").exists()


def test_images_larger_than_a_binding_ask_for_downscale(device, monkeypatch, rng):
    from dataclasses import replace

    from ngvk.apps.nerf.checks import tiny_views
    from ngvk.apps.nerf.training import NerfTrainer
    from ngvk.engine.errors import NgvkError
    from ngvk.engine.nn.layers import MLP, GridEncoding

    grid, nets = networks.presets("lowres")
    layers = [GridEncoding(device, grid), MLP(device, nets["density"]), MLP(device, nets["color"])]
    monkeypatch.setattr(device, "info", replace(device.info, max_storage_buffer_range=1000))
    try:
        with pytest.raises(NgvkError, match="--downscale 2"):
            NerfTrainer(device, tiny_views(rng, count=3, size=16), *layers, budget=1 << 12)
    finally:
        for layer in layers:
            layer.close()


def test_supersampled_training_starts_after_its_share_of_the_fit(device, rng):
    # The gradients of S x S rays per pixel are checked against NumPy by the check cases
    # (apps/nerf/checks.py, run by tests/test_cli.py); here the schedule: one ray per pixel before
    # supersampling_after of the fit, whole pixels of 2 x 2 rays from there.
    from ngvk.apps.nerf.checks import tiny_views
    from ngvk.apps.nerf.training import NerfTrainer
    from ngvk.engine.errors import NgvkError
    from ngvk.engine.nn.layers import MLP, GridEncoding

    grid, nets = networks.presets("lowres")
    layers = [GridEncoding(device, grid), MLP(device, nets["density"]), MLP(device, nets["color"])]
    views = tiny_views(rng, count=3, size=16)
    try:
        with pytest.raises(NgvkError, match="supersampling 5"):
            NerfTrainer(device, views, *layers, budget=1 << 12, supersampling=5)
        trainer = NerfTrainer(device, views, *layers, budget=1 << 12, supersampling=2, supersampling_after=0.5)
        try:
            for progress, side in ((0.0, 1), (0.49, 1), (0.5, 2), (0.9, 2)):
                trainer.progress = progress
                trainer.rays = 101  # not whole pixels of 2 x 2: the step rounds down
                trainer.run_step()
                rays, got = trainer.train_rays.download(np.uint32, (2,))
                assert got == side and rays % (side * side) == 0 and rays >= 100 - side * side
                assert np.isfinite(trainer.last_loss()) and trainer.last_loss() > 0
        finally:
            trainer.close()
    finally:
        for layer in layers:
            layer.close()
