"""The viewer under a virtual display (Xvfb): what it shows and screenshots is what `ngvk render`
writes, to the last bit (the same renderer and kernels), the heads-up display over it, live training
ending with `ngvk fit`'s parameters, it survives a resize with validation on, and it fails cleanly
without a display."""

import os
import shutil
import subprocess
import time

import numpy as np
import pytest

from conftest import ngvk_command
from ngvk.engine.render.camera import Camera

SIZE = (240, 180)
CAMERA = '{"position": [0.15, 0.1, 1.2], "look_at": [0.05, 0.0, 0.0], "fov_y": 35.0}'


@pytest.fixture(scope="module")
def display():
    """A private Xvfb server; its DISPLAY for the viewer processes."""
    xvfb = shutil.which("Xvfb")
    assert xvfb, "Xvfb is missing: run `make setup` (Debian package xvfb)"
    # -displayfd: the server takes the first free display itself and writes its number to the pipe,
    # so that parallel test workers never race for one.
    read, write = os.pipe()
    server = subprocess.Popen([xvfb, "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(write,))
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    assert number.isdigit() and server.poll() is None, "Xvfb did not start"
    yield f":{number}"
    server.terminate()
    server.wait(10)


def ngvk(*args, display=None, timeout=240, background=False):
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    if display:
        env["DISPLAY"] = display
    command = ngvk_command() + list(args)
    if background:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def read_png(path):
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """`ngvk render` of the test view, the reference for everything the viewer shows."""
    folder = tmp_path_factory.mktemp("viewer")
    camera = folder / "camera.json"
    camera.write_text(CAMERA)
    out = folder / "render.png"
    result = ngvk("render", "image", "--camera", str(camera), "--width", str(SIZE[0]), "--height", str(SIZE[1]),
                  "--out", str(out))
    assert result.returncode == 0, result.stderr
    return camera, read_png(out)


def test_screenshot_matches_render(display, rendered, tmp_path):
    camera, expected = rendered
    shot = tmp_path / "shot.png"
    result = ngvk("view", "image", "--frames", "4", "--screenshot", str(shot), "--camera", str(camera),
                  "--width", str(SIZE[0]), "--height", str(SIZE[1]), display=display)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(read_png(shot), expected)


def test_window_shows_the_render(display, rendered):
    # Full resolution (no dynamic scaling): the window's pixels are the rendered frame.
    from PIL import ImageGrab

    camera, expected = rendered
    viewer = ngvk("view", "image", "--frames", "400", "--target-fps", "0", "--camera", str(camera), "--no-hud",
                  "--width", str(SIZE[0]), "--height", str(SIZE[1]), display=display, background=True)
    try:
        shown = False
        deadline = time.time() + 120
        while time.time() < deadline and viewer.poll() is None and not shown:
            time.sleep(0.5)
            screen = np.asarray(ImageGrab.grab(xdisplay=display).convert("RGB"))
            shown = np.array_equal(screen[: SIZE[1], : SIZE[0]], expected)
        assert shown, "the window never showed the rendered frame"
    finally:
        viewer.kill()
        viewer.communicate()


def test_the_display_is_drawn_over_the_render_in_its_box(display, rendered):
    # The heads-up display on (the default): outside its box the window is the rendered frame; inside,
    # the frame darkened to a quarter (engine/render/hud.py, whose pass tests/test_hud.py checks
    # pixel for pixel), with white glyphs.
    from PIL import ImageGrab

    from ngvk.engine.render.hud import MARGIN, font

    camera, expected = rendered
    viewer = ngvk("view", "image", "--frames", "400", "--target-fps", "0", "--camera", str(camera),
                  "--width", str(SIZE[0]), "--height", str(SIZE[1]), display=display, background=True)
    _, width, height = font()
    box = 4 * height + 2 * MARGIN  # the image app's display: 4 lines
    try:
        shown = False
        deadline = time.time() + 120
        while time.time() < deadline and viewer.poll() is None and not shown:
            time.sleep(0.5)
            screen = np.asarray(ImageGrab.grab(xdisplay=display).convert("RGB"))[: SIZE[1], : SIZE[0]].astype(int)
            below = np.array_equal(screen[box:], expected[box:])
            text = screen[MARGIN:box - MARGIN, MARGIN:MARGIN + 12 * width]
            dark = expected[MARGIN:box - MARGIN, MARGIN:MARGIN + 12 * width].astype(int) // 4
            shown = below and ((text == 255) | (text == dark)).all() and (text == 255).mean() > 0.05
        assert shown, "the window never showed the display over the rendered frame"
    finally:
        viewer.kill()
        viewer.communicate()


@pytest.fixture(scope="module")
def small_image(tmp_path_factory):
    from PIL import Image

    y, x = np.mgrid[0:24, 0:32]
    rgb = np.stack([x * 8, y * 10, (x * y) % 256], axis=-1).astype(np.uint8)
    path = tmp_path_factory.mktemp("live") / "small.png"
    Image.fromarray(rgb).save(path)
    return path


@pytest.fixture(scope="module")
def small_nerf(tmp_path_factory):
    from ngvk.apps.nerf import scene

    out = tmp_path_factory.mktemp("live_nerf") / "tabletop"
    scene.write_dataset("tabletop", out, views=6, resolution=16, seed=2)
    return out


@pytest.mark.parametrize("app", ["image", "nerf"])
def test_live_training_ends_with_fits_parameters(display, small_image, small_nerf, tmp_path, app):
    # K steps trained in the window, frames drawn between them, against `ngvk fit` for K steps with
    # the same seed: the same kernels on the same batches (drawing touches none of training's
    # buffers). Not to the bit: the grid's backward pass adds into shared entries with float atomics,
    # whose order varies from run to run, so that two `fit`s differ as much (about 1e-8 after 6
    # steps here; Adam, which divides by the gradient's spread, makes that up to ~1e-5 on the entries
    # few samples touch), then rounded to float16 where the model keeps that (NeRF); hence the
    # tolerance: 1e-4, a hundredth of one Adam step (lr 1e-2).
    # The live model renders.
    from ngvk.engine.model import load_model

    data = str(small_image if app == "image" else small_nerf)
    common = ["--steps", "6", "--batch-size", "4096"]
    live, fitted, shot = tmp_path / "live.npz", tmp_path / "fit.npz", tmp_path / "render.png"
    result = ngvk("view", app, "--train", data, "--frames", "5", "--target-fps", "0", "--out", str(live), *common,
                  "--width", "40", "--height", "30", display=display)
    assert result.returncode == 0, result.stderr
    assert f"model of step 6 written to {live}" in result.stdout
    assert "drew 6 frames" in result.stdout  # --target-fps 0: a frame after every step
    result = ngvk("fit", app, data, "--out", str(fitted), *common)
    assert result.returncode == 0, result.stderr
    a, b = load_model(live), load_model(fitted)
    assert a.params.keys() == b.params.keys()
    for name in a.params:
        np.testing.assert_allclose(a.params[name], b.params[name], rtol=0, atol=1e-4, err_msg=name)
    result = ngvk("render", app, "--model", str(live), "--out", str(shot), "--width", "20", "--height", "16")
    assert result.returncode == 0, result.stderr


def test_live_training_continues_a_model_as_fit_does(display, small_image, tmp_path):
    # --model with --train continues that model: the same parameters as `fit --from-model` after the
    # same steps (within the tolerance above, for the same reason), the model's encoding by default.
    from ngvk.engine.model import load_model

    first, live, fitted = tmp_path / "first.npz", tmp_path / "live.npz", tmp_path / "fit.npz"
    common = ["--steps", "2", "--batch-size", "4096"]
    assert ngvk("fit", "image", str(small_image), "--out", str(first), "--encoding", "lowres", *common).returncode == 0
    result = ngvk("view", "image", "--model", str(first), "--train", str(small_image), "--frames", "2",
                  "--target-fps", "0", "--out", str(live), *common, "--width", "40", "--height", "30",
                  display=display)
    assert result.returncode == 0, result.stderr
    result = ngvk("fit", "image", str(small_image), "--out", str(fitted), "--from-model", str(first), *common)
    assert result.returncode == 0, result.stderr
    a, b = load_model(live), load_model(fitted)
    assert a.encoding.encoding == "lowres" and a.training["continued_from_steps"] == 2
    for name in a.params:
        np.testing.assert_allclose(a.params[name], b.params[name], rtol=0, atol=1e-4, err_msg=name)


def test_live_training_with_bad_data_is_fits_one_line_error(tmp_path):
    # Read before the window opens: the error is the data's (no display is needed to see it), and no
    # model file is written.
    out = tmp_path / "live.npz"
    result = ngvk("view", "image", "--train", str(tmp_path / "missing.png"), "--out", str(out))
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1 and "missing.png" in lines[0] and "display" not in lines[0]
    assert not out.exists()
    result = ngvk("view", "image", "--steps", "5")
    assert result.returncode != 0 and "--train" in result.stderr and "Traceback" not in result.stderr


def test_resize_while_running(display, tmp_path):
    shot = tmp_path / "after.png"
    result = ngvk("view", "image", "--frames", "12", "--resize", "300x150", "--screenshot", str(shot),
                  "--width", "200", "--height", "200", display=display)
    assert result.returncode == 0, result.stderr  # validation layers are on: any error fails the run
    assert read_png(shot).shape == (150, 300, 3)


def test_render_modes_in_the_viewer(display, tmp_path):
    shot = tmp_path / "error.png"
    result = ngvk("view", "image", "--frames", "2", "--mode", "error", "--screenshot", str(shot),
                  "--width", "64", "--height", "64", display=display)
    assert result.returncode == 0, result.stderr
    assert read_png(shot).mean() < 40  # the error of a good fit is mostly dark


def test_sdf_in_the_viewer(display, tmp_path):
    # The SDF app through the same viewer: its screenshot is `ngvk render sdf`'s frame, in the error
    # mode (model normals against the reference's, composed on the host and shown like any frame).
    mode = "error"
    shot, out = tmp_path / "shot.png", tmp_path / "render.png"
    size = ["--width", "96", "--height", "72", "--mode", mode]
    result = ngvk("view", "sdf", "--frames", "2", "--screenshot", str(shot), *size, display=display)
    assert result.returncode == 0, result.stderr
    result = ngvk("render", "sdf", "--out", str(out), *size)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(read_png(shot), read_png(out))
    assert read_png(shot).mean() < 20  # the shipped model's normals are close to the reference's


def test_a_progressive_app_in_the_viewer(display, tmp_path):
    # The volume app adds frames while the view is still; its screenshot is `ngvk render`'s frame
    # of the same samples per pixel and seed.
    shot, out = tmp_path / "shot.png", tmp_path / "render.png"
    options = ["--width", "48", "--height", "32", "--spp", "2", "--seed", "4"]
    result = ngvk("view", "volume", "--frames", "4", "--screenshot", str(shot), *options, display=display)
    assert result.returncode == 0, result.stderr
    result = ngvk("render", "volume", "--out", str(out), *options)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(read_png(shot), read_png(out))


def test_nerf_in_the_viewer(display, tmp_path):
    # The NeRF app through the same viewer, in its depth mode: the screenshot is `ngvk render`'s frame.
    shot, out = tmp_path / "shot.png", tmp_path / "render.png"
    options = ["--width", "40", "--height", "30", "--mode", "depth"]
    result = ngvk("view", "nerf", "--frames", "2", "--screenshot", str(shot), *options, display=display)
    assert result.returncode == 0, result.stderr
    result = ngvk("render", "nerf", "--out", str(out), *options)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(read_png(shot), read_png(out))
    assert 0 < read_png(shot).mean() < 255  # a scene in front of the background


def test_no_display_is_a_one_line_error():
    result = ngvk("view", "image", "--frames", "1")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "ngvk render" in lines[0]


class FakeRenderer:
    modes = ("network", "source", "error")
    kernels = ("fused", "wavefront", "unfused")

    def __init__(self):
        self.mode = "network"

    def default_camera(self, width, height):
        from ngvk.engine.render.camera import Camera

        return Camera(orthographic_height=1.0)

    def set_mode(self, mode):
        self.mode = mode


def test_keys_and_dynamic_resolution():
    import glfw

    from ngvk.apps import get_app
    from ngvk.apps.viewer import Viewer

    image = get_app("image")
    viewer = Viewer(image, image.load_model(), 400, 300, target_fps=10.0)
    viewer.renderer = FakeRenderer()
    viewer.window_size = (400, 300)
    viewer.camera = viewer.renderer.default_camera(400, 300)
    viewer.on_key(None, glfw.KEY_F, 0, glfw.PRESS, 0)
    assert viewer.kernels == "wavefront" and viewer.dirty
    viewer.on_key(None, glfw.KEY_F, 0, glfw.PRESS, 0)
    viewer.on_key(None, glfw.KEY_F, 0, glfw.PRESS, 0)
    assert viewer.kernels == "fused"  # F cycles through the renderer's variants
    viewer.on_key(None, glfw.KEY_3, 0, glfw.PRESS, 0)
    assert viewer.renderer.mode == "error"
    viewer.on_scroll(None, 0, 2)
    assert viewer.camera.orthographic_height == pytest.approx(1 / 1.15**2)
    viewer.on_key(None, glfw.KEY_R, 0, glfw.PRESS, 0)
    assert viewer.camera.orthographic_height == 1.0
    # A slow frame lowers the resolution; a fast one raises it back, never above full.
    viewer.adapt_scale(400.0)
    assert viewer.scale < 1.0
    low = viewer.scale
    viewer.adapt_scale(10.0)
    assert low < viewer.scale <= 1.0
    assert viewer.render_resolution(settle=True) == (400, 300)
    viewer.on_key(None, glfw.KEY_Q, 0, glfw.PRESS, 0)  # Q quits in a 2D app
    assert viewer.quit


def test_keyframes_recorded_saved_and_played(tmp_path):
    # K adds the view (a second after the last keyframe), J saves the path, L plays it: the camera
    # follows the path in time and stops on its last keyframe.
    import glfw

    from ngvk.apps import get_app
    from ngvk.apps.viewer import Viewer
    from ngvk.engine.render.camera_path import load_path

    image = get_app("image")
    out = tmp_path / "recorded.json"
    viewer = Viewer(image, image.load_model(), 400, 300, path_out=str(out))
    viewer.renderer = FakeRenderer()
    viewer.window_size = (400, 300)
    viewer.camera = viewer.renderer.default_camera(400, 300)
    viewer.on_key(None, glfw.KEY_K, 0, glfw.PRESS, 0)
    viewer.on_scroll(None, 0, 3)
    viewer.camera = viewer.camera.pan(0.2, 0.1, 400, 300)
    viewer.on_key(None, glfw.KEY_K, 0, glfw.PRESS, 0)
    viewer.on_key(None, glfw.KEY_J, 0, glfw.PRESS, 0)
    path = load_path(out)
    assert [k.time for k in path.keyframes] == [0.0, 1.0]
    assert path.keyframes[1].camera == viewer.camera and path.keyframes[0].camera == Camera(orthographic_height=1.0)
    viewer.on_key(None, glfw.KEY_L, 0, glfw.PRESS, 0)
    start = viewer.playing
    viewer.follow_path(start + 0.25)
    assert viewer.camera == path.at(0.25) and viewer.playing == start
    viewer.follow_path(start + 2.0)
    assert viewer.camera == path.keyframes[-1].camera and viewer.playing is None


def test_a_scripted_run_plays_a_path_frame_by_frame(display, tmp_path):
    # --path with --frames N: drawn frame i is the path's frame i, so the screenshot after all of
    # them is `ngvk render --path`'s last frame.
    from ngvk.engine.render.camera_path import CameraPath, Keyframe, save_path

    path = CameraPath([Keyframe(Camera(orthographic_height=1.0), 0.0),
                       Keyframe(Camera(position=(0.2, 0.1, 1), look_at=(0.2, 0.1, 0), orthographic_height=0.4), 1.0)],
                      fps=3)
    save_path(path, tmp_path / "path.json")
    size = ["--width", "40", "--height", "30"]
    shot, frames = tmp_path / "shot.png", tmp_path / "frames"
    result = ngvk("view", "image", "--path", str(tmp_path / "path.json"), "--frames", "4", "--screenshot", str(shot),
                  *size, display=display)
    assert result.returncode == 0, result.stderr
    result = ngvk("render", "image", "--path", str(tmp_path / "path.json"), "--out", str(frames), *size)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(read_png(shot), read_png(frames / "frame_00003.png"))
