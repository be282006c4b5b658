"""The image app: its kernels against their references, fused against unfused, the shipped models,
fitting, and cameras."""

import numpy as np
import pytest

from apps import image as app
from apps import metrics
from apps.imageio import load_image
from engine import reference
from engine.camera import Camera, load_camera
from engine.errors import NgvkError
from engine.layers import run_kernel
from engine.model import load_model

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
    return app.load()


@pytest.fixture(scope="module")
def renderer(device, shipped, astronaut):
    # Small tiles: several of them and a remainder. The source image enables every render mode.
    renderer = app.ImageRenderer(device, shipped, reference_image=astronaut, tile_pixels=20_000)
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
    push = {**renderer.push_constants(camera, width, height), "n": n, "pixel_offset": 0}
    out = run_kernel(device, device.kernel("image_preprocess.comp"), n, {}, {"positions": (n, 2), "coverage": (n,)}, push)
    uv, coverage = app.image_preprocess_reference(camera, width, height, renderer.image_aspect)
    inside = coverage > 0
    # The letterboxed default view and the tilted one see past the image's edges; the zoomed one not.
    assert inside.any() and (name == "zoomed") == inside.all()
    np.testing.assert_array_equal(out["coverage"], coverage)
    np.testing.assert_allclose(out["positions"], uv, atol=1e-5)

    linear = rng.uniform(-0.1, 1.2, (n, 3)).astype(np.float32)  # outside [0, 1] too: clamped
    kernel = device.kernel("image_postprocess.comp", {"FRAME_FLOAT": 1})
    source = reference.srgb_to_linear(astronaut / 255.0).astype(np.float32)
    for index, mode in enumerate(app.RENDER_MODES):
        inputs = {"rgb": linear, "coverage": coverage, "positions": uv, "source_image": renderer.source_image}
        got = run_kernel(device, kernel, n, inputs, {"frame": (n, 4)}, {**push, "render_mode": index})["frame"]
        expected = app.image_postprocess_reference(linear, coverage, uv, mode, source)
        np.testing.assert_allclose(got, expected, atol=1e-4, err_msg=mode)


@pytest.mark.parametrize("mode", app.RENDER_MODES)
@pytest.mark.parametrize("name", list(CAMERAS))
def test_fused_and_unfused_frames_are_equal(renderer, name, mode):
    width, height = 200, 150
    camera = camera_for(name, renderer, width, height)
    renderer.set_mode(mode)
    fused = renderer.render(camera, width, height, fused=True, float_frame=True)
    unfused = renderer.render(camera, width, height, fused=False, float_frame=True)
    assert np.max(np.abs(fused.pixels - unfused.pixels)) <= 1e-5
    assert set(unfused.timings) == {"preprocess", "encoding", "mlp", "postprocess"}
    assert set(fused.timings) == {"fused"}
    bytes_fused = renderer.render(camera, width, height, fused=True).pixels
    bytes_unfused = renderer.render(camera, width, height, fused=False).pixels
    np.testing.assert_array_equal(bytes_fused, bytes_unfused)
    # The 8-bit frame is the float frame, rounded.
    expected = np.floor(np.clip(fused.pixels, 0, 1) * 255 + 0.5).astype(np.uint8)
    assert np.max(np.abs(bytes_fused.astype(int) - expected.astype(int))) <= 1


def test_render_modes_need_the_source(device, shipped):
    renderer = app.ImageRenderer(device, shipped)
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


def test_the_frame_matches_the_reference_pipeline(device, renderer, shipped):
    # Whole-frame check of the fused kernel against the references of every stage.
    renderer.set_mode("network")
    width, height = 48, 40
    camera = CAMERAS["perspective, tilted"]
    uv, coverage = app.image_preprocess_reference(camera, width, height, renderer.image_aspect)
    encoded = reference.grid_encode(shipped.encoding, shipped.params["encoding"], uv)
    rgb = reference.mlp_forward(shipped.networks["network"], shipped.params["network"], encoded)
    expected = app.image_postprocess_reference(rgb, coverage).reshape(height, width, 4)
    frame = renderer.render(camera, width, height, fused=True, float_frame=True)
    np.testing.assert_allclose(frame.pixels, expected, atol=1e-4)


def test_training_batch_matches_reference(device, rng):
    image = rng.random((20, 30, 3)).astype(np.float32)
    n = 5000
    state = device.buffer_from(np.array([7, 3], np.uint32), "training_state")
    buffers = {
        "source_image": device.buffer_from(image, "source_image"),
        "training_state": state,
        "positions": device.buffer(n * 8, "positions"),
        "targets": device.buffer(n * 12, "targets"),
    }
    try:
        with device.sequence() as sequence:
            push = {"n": n, "source_width": 30, "source_height": 20}
            sequence.dispatch(device.kernel("image_batch.comp"), n, buffers, push)
            sequence.run()
        positions = buffers["positions"].download(np.float32, (n, 2))
        assert positions.min() >= 0 and positions.max() < 1
        assert abs(positions.mean() - 0.5) < 0.02  # uniform
        targets = buffers["targets"].download(np.float32, (n, 3))
        np.testing.assert_allclose(targets, app.training_batch_reference(image, positions), atol=1e-5)
    finally:
        for buffer in buffers.values():
            buffer.close()


@pytest.mark.parametrize("encoding", ["hashgrid", "densegrid", "lowres"])
def test_shipped_models_reproduce_their_recorded_psnr(device, astronaut, encoding):
    model = app.load(app.default_model_path(encoding))
    assert model.encoding.encoding == encoding
    result = app.evaluate(device, model, astronaut)
    assert abs(result["psnr"] - model.training["psnr"]) <= 0.1


def test_shipped_hashgrid_model_is_above_35_db(shipped):
    assert shipped.training["psnr"] >= 35.0


def test_render_far_above_the_source_resolution(device, shipped):
    renderer = app.ImageRenderer(device, shipped)
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
    assert psnrs[-1] > psnrs[0] and result.psnr > 20.0
    path = tmp_path / "small.npz"
    result.model.save(path)
    loaded = load_model(path, app="image")
    assert app.evaluate(device, loaded, small)["psnr"] == pytest.approx(result.psnr, abs=1e-6)


def test_metrics():
    a = np.zeros((32, 32, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 255
    assert metrics.psnr(a, b) == pytest.approx(-10 * np.log10(1 / (32 * 32 * 3)))
    assert metrics.ssim(a, a) == pytest.approx(1.0)
    noisy = np.clip(a.astype(int) + np.random.default_rng(0).integers(0, 60, a.shape), 0, 255).astype(np.uint8)
    assert metrics.ssim(noisy, a) < 0.5


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
