"""The image app: its kernels against their references, fused against unfused, the shipped models,
fitting, and cameras."""

import numpy as np
import pytest

from ngvk.apps import get_app
from ngvk.apps.image import reference as image_reference
from ngvk.apps.image.app import RENDER_MODES, ImageRenderer
from ngvk.apps import metrics
from ngvk.apps.imageio import load_image
from ngvk.engine.nn import reference
from ngvk.engine.render.camera import Camera, load_camera
from ngvk.engine.errors import NgvkError
from ngvk.engine.nn.layers import run_kernel
from ngvk.engine.model import load_model
from ngvk.engine.poison import POISON_RGBA8, POISON_WORD

app = get_app("image")

CAMERAS = {
    "default": None,
    "zoomed": Camera((0.1, -0.05, 1.0), (0.1, -0.05, 0.0), (0.0, 1.0, 0.0), orthographic_height=0.3),
    "perspective, tilted": Camera((0.6, 0.2, 1.2), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0), fov_y=50.0),
}


@pytest.fixture(scope="module")
def astronaut():
    return load_image("skimage:astronaut")


@pytest.fixture(scope="module")
def shipped():
    return app.load_model()


@pytest.fixture(scope="module")
def renderer(device, shipped, astronaut):
    # Small tiles: several of them and a remainder. The source image enables every render mode.
    renderer = ImageRenderer(device, shipped, reference_image=astronaut, tile_pixels=20_000)
    yield renderer
    renderer.set_mode("network")
    renderer.close()


def camera_for(name, renderer, width, height):
    return CAMERAS[name] or renderer.default_camera(width, height)


@pytest.mark.parametrize("name", list(CAMERAS))
def test_preprocess_and_postprocess_match_reference(device, renderer, astronaut, name, rng):
    width, height = 96, 64
    camera = camera_for(name, renderer, width, height)
    n = width * height
    push = {**renderer.push_constants(camera, width, height), "n": n, "pixel_offset": 0, "frame_offset": 0,
            "frame_float": 1}
    out = run_kernel(device, device.kernel("image/image_preprocess.comp"), n, {}, {"positions": (n, 2), "coverage": (n,)}, push)
    uv, coverage = image_reference.image_preprocess(camera, width, height, renderer.image_aspect)
    inside = coverage > 0
    # The letterboxed default view and the tilted one see past the image's edges; the zoomed one not.
    assert inside.any() and (name == "zoomed") == inside.all()
    np.testing.assert_array_equal(out["coverage"], coverage)
    np.testing.assert_allclose(out["positions"], uv, atol=1e-5)

    linear = rng.uniform(-0.1, 1.2, (n, 3)).astype(np.float32)  # outside [0, 1] too: clamped
    kernel = device.kernel("image/image_postprocess.comp")
    source = reference.srgb_to_linear(astronaut / 255.0).astype(np.float32)
    for index, mode in enumerate(RENDER_MODES):
        inputs = {"rgb": linear, "coverage": coverage, "positions": uv, "source_image": renderer.source_image}
        got = run_kernel(device, kernel, n, inputs, {"frame": (n, 4)}, {**push, "render_mode": index})["frame"]
        expected = image_reference.image_postprocess(linear, coverage, uv, mode, source)
        np.testing.assert_allclose(got, expected, atol=1e-4, err_msg=mode)


def paths_tolerance(device) -> float:
    """How far fused and unfused float frames may differ. They run the same GLSL functions on the
    same inputs; on lavapipe they are bit-identical. A GPU compiler may contract a * b + c into a
    fused multiply-add in one pipeline and not in the other, so elsewhere the last bits may differ."""
    return 0.0 if device.info.type == "CPU" else 1e-5


@pytest.mark.parametrize("mode", RENDER_MODES)
@pytest.mark.parametrize("name", list(CAMERAS))
def test_fused_and_unfused_frames_are_equal(device, renderer, name, mode):
    # 201 x 149: two tiles of the fixture's 20,000 pixels, neither a multiple of the pixels per
    # invocation or of the workgroup. Frames are poisoned first, so a pixel a path skips shows.
    width, height = 201, 149
    camera = camera_for(name, renderer, width, height)
    renderer.set_mode(mode)
    fused = renderer.render(camera, width, height, "fused", float_frame=True, poison=POISON_WORD)
    unfused = renderer.render(camera, width, height, "unfused", float_frame=True, poison=POISON_WORD)
    assert not np.isnan(fused.pixels).any() and not np.isnan(unfused.pixels).any(), "pixels left unwritten"
    assert np.max(np.abs(fused.pixels - unfused.pixels)) <= paths_tolerance(device)
    assert set(unfused.timings) == {"preprocess", "encoding", "mlp", "postprocess"}
    assert set(fused.timings) == {"fused"}
    bytes_fused = renderer.render(camera, width, height, "fused", poison=POISON_RGBA8[0]).pixels
    bytes_unfused = renderer.render(camera, width, height, "unfused", poison=POISON_RGBA8[1]).pixels
    np.testing.assert_array_equal(bytes_fused, bytes_unfused)
    # The 8-bit frame is the float frame, rounded to nearest.
    expected = np.floor(np.clip(fused.pixels, 0, 1) * 255 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(bytes_fused, expected)


def test_exposure_and_tone_curves_fused_unfused_and_reference(device, renderer):
    # Every tone curve at +1.5 stops (2^1.5 is no power of two) and one below 0: fused and unfused
    # frames agree as at the defaults, in the network and the error mode, and the network mode
    # matches the reference of every stage.
    from ngvk.apps.image.app import TONEMAPS

    width, height = 201, 149
    camera = CAMERAS["perspective, tilted"]
    uv, coverage = image_reference.image_preprocess(camera, width, height, renderer.image_aspect)
    model = renderer.model
    rgb = reference.mlp_forward(model.networks["network"], model.params["network"],
                                reference.grid_encode(model.encoding, model.params["encoding"], uv))
    try:
        for exposure, tonemap in [(1.5, name) for name in TONEMAPS] + [(-2.0, "clamp")]:
            renderer.exposure, renderer.tonemap = exposure, tonemap
            for mode in ("network", "error"):
                renderer.set_mode(mode)
                fused = renderer.render(camera, width, height, "fused", float_frame=True, poison=POISON_WORD)
                unfused = renderer.render(camera, width, height, "unfused", float_frame=True, poison=POISON_WORD)
                assert not np.isnan(fused.pixels).any(), "pixels left unwritten"
                assert np.max(np.abs(fused.pixels - unfused.pixels)) <= paths_tolerance(device), (tonemap, mode)
                if mode == "network":
                    expected = image_reference.image_postprocess(rgb, coverage, exposure=exposure, tonemap=tonemap)
                    np.testing.assert_allclose(fused.pixels.reshape(-1, 4), expected, atol=1e-4, err_msg=tonemap)
    finally:
        renderer.exposure, renderer.tonemap = 0.0, "clamp"
        renderer.set_mode("network")


def test_an_hdr_image_is_fitted_in_linear_light(device):
    # A 48 x 32 image whose right half is 4 times too bright for the display: the network learns
    # values above 1 (no output activation bounds it), the default display clips them to white,
    # and 2 stops down brings them back below white, darker everywhere, but for the black pixels.
    from ngvk.apps.image.app import displayed_8bit

    v = np.linspace(0, 1, 32)[:, None, None]
    image = np.empty((32, 48, 3), np.float32)
    image[:, :24] = 0.2 + 0.6 * v * np.linspace(0, 1, 24)[None, :, None]
    image[:, 24:] = 4.0 * np.array([1.0, 0.8, 0.6]) * (0.5 + 0.5 * v)  # HDR: 1.2 to 4 in linear light
    result = app.fit(device, image, "hashgrid", steps=60, batch_size=1 << 12, evaluations=1)
    model = result.model
    assert result.metrics["psnr"] > 25.0  # on the 8-bit display: the HDR half is white in both
    uv = np.array([[0.9, 0.5], [0.1, 0.5]], np.float32)
    out = reference.mlp_forward(model.networks["network"], model.params["network"],
                                reference.grid_encode(model.encoding, model.params["encoding"], uv))
    assert out[0].min() > 1.5 and out[1].max() < 1.0  # linear light, above 1 where the image is
    frames = {}
    for exposure in (0.0, -2.0):
        renderer = ImageRenderer(device, model, exposure=exposure)
        try:
            frames[exposure] = renderer.render_source_view().rgb.astype(int)
        finally:
            renderer.close()
    bright = np.s_[:, 26:]
    assert (frames[0.0][bright] >= 250).mean() > 0.9  # clipped at the default exposure
    assert 100 < frames[-2.0][bright].mean() < 240  # 2 stops down: 4x darker in linear light, no longer white
    assert (frames[-2.0] <= frames[0.0]).all() and frames[-2.0].mean() < frames[0.0].mean() - 20
    # What the metrics compare with: the source displayed at exposure 0, white where it is above 1.
    assert (displayed_8bit(image)[bright] == 255).all()


@pytest.mark.parametrize("size", [(1, 1), (7, 1), (49, 21)], ids=["1x1", "7x1", "49x21"])
def test_any_tiling_gives_the_reference_frame(device, shipped, size):
    # Every frame size and tile size, down to one pixel and tiles of 7, against the reference of
    # every stage; frames of any tiling are bit-identical to the untiled one.
    width, height = size
    camera = CAMERAS["perspective, tilted"]
    renderers = [ImageRenderer(device, shipped, tile_pixels=tile) for tile in (7, 100, 4096)]
    try:
        uv, coverage = image_reference.image_preprocess(camera, width, height, renderers[0].image_aspect)
        encoded = reference.grid_encode(shipped.encoding, shipped.params["encoding"], uv)
        rgb = reference.mlp_forward(shipped.networks["network"], shipped.params["network"], encoded)
        expected = image_reference.image_postprocess(rgb, coverage).reshape(height, width, 4)
        whole = {}
        for renderer in reversed(renderers):  # the untiled frame first
            for kernels in ("fused", "unfused"):
                frame = renderer.render(camera, width, height, kernels, float_frame=True, poison=POISON_WORD)
                assert not np.isnan(frame.pixels).any(), f"pixels left unwritten with tiles of {renderer.tile_pixels}"
                np.testing.assert_allclose(frame.pixels, expected, atol=1e-4)
                np.testing.assert_array_equal(frame.pixels, whole.setdefault(kernels, frame.pixels))
    finally:
        for renderer in renderers:
            renderer.close()


def test_render_modes_need_the_source(device, shipped):
    renderer = ImageRenderer(device, shipped)
    try:
        with pytest.raises(NgvkError, match="needs the source image"):
            renderer.set_mode("error")
        with pytest.raises(NgvkError, match="unknown render mode"):
            renderer.set_mode("depth")
    finally:
        renderer.close()


def test_camera_controls():
    camera = Camera((0.0, 0.0, 2.0), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0), fov_y=60.0)
    turned = camera.orbit(np.pi / 2, 0.0)
    np.testing.assert_allclose(turned.position, (2.0, 0.0, 0.0), atol=1e-9)  # a quarter turn about up
    assert np.linalg.norm(camera.orbit(0.3, 0.4).position) == pytest.approx(2.0)  # stays on the sphere
    steep = camera.orbit(0.0, 10.0)  # pitch stops short of the pole
    assert np.degrees(np.arccos(steep.position[1] / 2.0)) == pytest.approx(1.0, abs=1e-6)
    panned = camera.pan(0.5, 0.0, 100, 100)  # half a frame width to the right at the look_at distance
    assert panned.look_at[0] == pytest.approx(np.tan(np.radians(30)) * 2.0)
    assert np.linalg.norm(np.subtract(camera.zoom(2.0).position, camera.look_at)) == pytest.approx(1.0)
    ortho = Camera(orthographic_height=1.0)
    assert ortho.zoom(4.0).orthographic_height == 0.25
    moved = camera.move(1.0, 0.0, 0.5)
    np.testing.assert_allclose(moved.position, (0.0, 0.5, 1.0), atol=1e-12)


def run_training_batch(device, image, n, step, seed):
    """image_batch.comp once: (positions [n, 2], targets [n, 3]), both poisoned first."""
    height, width, _ = image.shape
    buffers = {
        "source_image": device.buffer_from(image, "source_image"),
        "training_state": device.buffer_from(np.array([step, seed], np.uint32), "training_state"),
        "positions": device.buffer(n * 8, "positions"),
        "targets": device.buffer(n * 12, "targets"),
    }
    try:
        with device.sequence() as sequence:
            sequence.fill(buffers["positions"], POISON_WORD)
            sequence.fill(buffers["targets"], POISON_WORD)
            push = {"n": n, "source_width": width, "source_height": height}
            sequence.dispatch(device.kernel("image/image_batch.comp"), n, buffers, push)
            sequence.run()
        return buffers["positions"].download(np.float32, (n, 2)), buffers["targets"].download(np.float32, (n, 3))
    finally:
        for buffer in buffers.values():
            buffer.close()


@pytest.mark.parametrize("n", [1, 7, 1029])
def test_training_batch_matches_reference(device, rng, n):
    image = rng.random((20, 30, 3)).astype(np.float32)
    step, seed = 7, 3
    positions, targets = run_training_batch(device, image, n, step, seed)
    # The random sequence to the last bit: x is number 0 of item i, y number 1.
    index = np.arange(n)
    expected = np.stack([reference.random_uniform(seed, step, index, k) for k in (0, 1)], axis=1)
    np.testing.assert_array_equal(positions, expected)
    np.testing.assert_allclose(targets, image_reference.image_batch(image, positions), atol=1e-5)


def test_training_batches_differ_from_step_to_step_and_are_uniform(device, rng):
    image = rng.random((20, 30, 3)).astype(np.float32)
    n = 1 << 14
    first, _ = run_training_batch(device, image, n, 1, 0)
    second, _ = run_training_batch(device, image, n, 2, 0)
    other_seed, _ = run_training_batch(device, image, n, 1, 5)
    for batch in (first, second, other_seed):
        assert batch.min() >= 0 and batch.max() < 1
        # Pearson's chi-squared over a 16 x 16 grid of cells: 255 degrees of freedom, so a uniform
        # batch scores about 255 +- 23; 400 is beyond six standard deviations. (The sequence is a
        # fixed hash: this cannot fail by chance from run to run.)
        counts, _, _ = np.histogram2d(batch[:, 0], batch[:, 1], bins=16, range=[[0, 1], [0, 1]])
        expected = n / 256
        assert np.sum((counts - expected) ** 2 / expected) < 400
    for a, b in ((first, second), (first, other_seed)):
        assert np.mean(np.all(a == b, axis=1)) < 0.001  # not the same positions
        assert abs(np.corrcoef(a[:, 0], b[:, 0])[0, 1]) < 0.05  # nor positions that follow them


@pytest.mark.parametrize("encoding", ["hashgrid", "densegrid", "lowres"])
def test_shipped_models_reproduce_their_recorded_psnr(device, astronaut, encoding):
    model = app.load_model(app.default_model_path(encoding))
    assert model.encoding.encoding == encoding
    result = app.evaluate(device, model, astronaut)
    assert abs(result["psnr"] - model.training["psnr"]) <= 0.1


def test_shipped_hashgrid_model_is_above_35_db(shipped):
    assert shipped.training["psnr"] >= 35.0


def test_render_far_above_the_source_resolution(device, shipped):
    renderer = ImageRenderer(device, shipped)
    try:
        frame = renderer.render(renderer.default_camera(2048, 2048), 2048, 2048)
    finally:
        renderer.close()
    assert frame.pixels.shape == (2048, 2048, 4)
    assert frame.rgb.std() > 10  # an image, not a blank


def test_fit_learns_a_small_image(device, astronaut, tmp_path):
    from PIL import Image

    small = np.asarray(Image.fromarray(astronaut).resize((96, 96), Image.LANCZOS))
    seen = []
    result = app.fit(device, small, "hashgrid", steps=40, batch_size=1 << 13, progress=lambda *a: seen.append(a),
                     evaluations=2)
    assert len(seen) == 40
    psnrs = [h["psnr"] for h in result.history]
    assert psnrs[-1] > psnrs[0] and result.metrics["psnr"] > 20.0
    assert result.stopped == "completed" and result.model.training["steps"] == 40
    path = tmp_path / "small.npz"
    result.model.save(path)
    loaded = load_model(path, app="image")
    assert app.evaluate(device, loaded, small)["psnr"] == pytest.approx(result.metrics["psnr"], abs=1e-6)


def test_metrics(rng):
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    a = np.zeros((32, 32, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 255
    assert metrics.psnr(a, b) == pytest.approx(-10 * np.log10(1 / (32 * 32 * 3)))
    assert metrics.ssim(a, a) == pytest.approx(1.0)
    # scikit-image is the oracle, with the window docs/image.md documents: Gaussian, sigma 1.5, 11 taps
    # (truncate 3.5), population covariances as in Wang et al. 2004; mean over the RGB channels.
    image = rng.integers(0, 256, (40, 50, 3)).astype(np.uint8)
    noisy = np.clip(image.astype(int) + rng.integers(-40, 40, image.shape), 0, 255).astype(np.uint8)
    expected = structural_similarity(noisy, image, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=255, channel_axis=2)
    assert metrics.ssim(noisy, image) == pytest.approx(expected, abs=1e-9)
    assert metrics.psnr(noisy, image) == pytest.approx(peak_signal_noise_ratio(image, noisy, data_range=255), abs=1e-9)


def test_camera_rays():
    # Independent facts, not a second copy of the formula: the middle pixel of an odd frame looks
    # along the view direction; a corner pixel's centre lies (W - 1) / W of the half-width off it.
    camera = Camera((0.0, 0.0, 2.0), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0), fov_y=90.0)  # tan(45) = 1
    origins, directions = camera.rays(3, 3)
    np.testing.assert_allclose(origins, np.tile([0.0, 0.0, 2.0], (9, 1)))
    np.testing.assert_allclose(directions[4], [0.0, 0.0, -1.0], atol=1e-7)
    top_left = np.array([-2 / 3, 2 / 3, -1.0])
    np.testing.assert_allclose(directions[0], top_left / np.linalg.norm(top_left), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0, atol=1e-6)
    # A wide frame widens the view, not the height: pixel x 0, y 1 (index 6) of a 6 x 3 frame lies
    # 5/6 of the half-width, which is 2 at unit distance, to the left, on the horizon.
    wide = camera.rays(6, 3, pixels=[6])[1][0]
    np.testing.assert_allclose(wide / -wide[2], [-5 / 3, 0.0, -1.0], atol=1e-6)
    # Orthographic: parallel rays from the pixel centres on a plane orthographic_height high.
    ortho = Camera((1.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0), orthographic_height=2.0)
    origins, directions = ortho.rays(2, 2)
    np.testing.assert_allclose(directions, np.tile([-1.0, 0.0, 0.0], (4, 1)), atol=1e-7)
    # Looking along -x with y up, right = forward x up = -z.
    np.testing.assert_allclose(origins, [[1, 0.5, 0.5], [1, 0.5, -0.5], [1, -0.5, 0.5], [1, -0.5, -0.5]], atol=1e-6)


def test_camera_files(tmp_path):
    camera = CAMERAS["perspective, tilted"]
    camera.save(tmp_path / "c.json")
    assert load_camera(tmp_path / "c.json") == camera
    bad = {
        "not json": "{",
        "unknown field": '{"position": [0, 0, 1], "zoom": 2}',
        "parallel up": '{"position": [0, 0, 1], "look_at": [0, 0, 0], "up": [0, 0, 1]}',
        "same point": '{"position": [0, 0, 0], "look_at": [0, 0, 0]}',
        "bad fov": '{"fov_y": 0}',
    }
    for name, text in bad.items():
        (tmp_path / "bad.json").write_text(text)
        with pytest.raises(NgvkError, match="camera"):
            load_camera(tmp_path / "bad.json")
    with pytest.raises(NgvkError, match="does not exist"):
        load_camera(tmp_path / "none.json")


def test_frames_beyond_one_binding_are_rendered_in_bands(device, shipped, monkeypatch):
    # Bands of 256 float pixels (1024 RGBA8), as a device that binds only 4 KiB would have them,
    # against the frame rendered in one band.
    camera = CAMERAS["perspective, tilted"]
    renderer = ImageRenderer(device, shipped, tile_pixels=100)
    try:
        whole = {kernels: renderer.render(camera, 49, 21, kernels, float_frame=True, poison=POISON_WORD).pixels
                 for kernels in ("fused", "unfused")}
        whole8 = renderer.render(camera, 49, 21, poison=POISON_RGBA8[0]).pixels
        monkeypatch.setattr(renderer, "band_pixels", lambda float_frame: 256 if float_frame else 1024)
        for kernels in ("fused", "unfused"):
            banded = renderer.render(camera, 49, 21, kernels, float_frame=True, poison=POISON_WORD)
            np.testing.assert_array_equal(banded.pixels, whole[kernels])
            assert "frame" not in banded.timings and banded.frame_ms > 0
        np.testing.assert_array_equal(renderer.render(camera, 49, 21, poison=POISON_RGBA8[1]).pixels, whole8)
        with pytest.raises(NgvkError, match="larger than one frame buffer"):
            renderer.render(camera, 49, 21, float_frame=True, download=False)
    finally:
        renderer.close()


def test_a_frame_beyond_one_binding_matches_a_render_of_its_region(device):
    # 5800 x 5800 RGBA8 is 128.3 MiB: just beyond one storage binding on lavapipe (128 MiB), so it is
    # rendered in two bands. A 64 x 64 region across the seam of the bands (row 5785 on lavapipe)
    # against a render of just that region (another camera, so the rays agree to rounding: within
    # one 8-bit step). The lowres model, the fastest to render (about 10 s here).
    side = 5800
    model = app.load_model(app.default_model_path("lowres"))
    renderer = ImageRenderer(device, model)
    try:
        bands = -(-side * side // renderer.band_pixels(False))
        frame = renderer.render(renderer.default_camera(side, side), side, side, poison=POISON_RGBA8[0]).pixels
        x0, y0 = 3000, 5736  # rows 5736-5799, across the seam on lavapipe
        centre = (-0.5 + (x0 + 32) / side, 0.5 - (y0 + 32) / side, 1.0)
        region = Camera(centre, (centre[0], centre[1], 0.0), (0.0, 1.0, 0.0), orthographic_height=64 / side)
        direct = renderer.render(region, 64, 64).pixels
    finally:
        renderer.close()
    assert frame.shape == (side, side, 4) and (frame[..., 3] == 255).all()  # every pixel written
    crop = frame[y0 : y0 + 64, x0 : x0 + 64].astype(int)
    assert np.abs(crop - direct.astype(int)).max() <= 1
    if device.info.type == "CPU":
        assert bands >= 2  # lavapipe binds 128 MiB: the frame took several bands
