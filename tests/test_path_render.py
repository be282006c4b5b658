"""`ngvk render APP --path` (apps/path_render.py): frames equal to single renders, resuming, the video,
Ray workers (one killed mid-path) giving the same bytes, and bad input."""

import json
import os
import subprocess

import numpy as np
import pytest

from conftest import ngvk_command
from ngvk.engine.errors import NgvkError
from ngvk.engine.render.camera import Camera
from ngvk.engine.render.camera_path import CameraPath, Keyframe, save_path

SIZE = ["--width", "32", "--height", "24"]


def run(*args, timeout=300):
    return subprocess.run(ngvk_command() + list(args), capture_output=True, text=True, timeout=timeout)


def read_png(path):
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image)


@pytest.fixture(scope="module")
def image_path(tmp_path_factory):
    """A zoom and pan over the shipped image model: 5 frames."""
    folder = tmp_path_factory.mktemp("paths")
    path = CameraPath([Keyframe(Camera(position=(0, 0, 1), look_at=(0, 0, 0), orthographic_height=1.0), 0.0),
                       Keyframe(Camera(position=(0.2, 0.1, 1), look_at=(0.2, 0.1, 0), orthographic_height=0.4), 1.0)],
                      fps=4)
    save_path(path, folder / "path.json")
    return folder / "path.json", path


@pytest.fixture(scope="module")
def serial(image_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "frames"
    result = run("render", "image", "--path", str(image_path[0]), "--out", str(out), *SIZE)
    assert result.returncode == 0, result.stderr
    assert "rendered 5 frames" in result.stdout and "0 already complete" in result.stdout
    return out


def test_path_frames_are_single_renders(image_path, serial, tmp_path):
    _, path = image_path
    assert sorted(p.name for p in serial.glob("frame_*.png")) == [f"frame_{i:05d}.png" for i in range(5)]
    for i in (0, 2, 4):
        camera = tmp_path / "camera.json"
        path.cameras()[i].save(camera)
        single = tmp_path / f"single{i}.png"
        assert run("render", "image", "--camera", str(camera), "--out", str(single), *SIZE).returncode == 0
        np.testing.assert_array_equal(read_png(single), read_png(serial / f"frame_{i:05d}.png"))
    assert not np.array_equal(read_png(serial / "frame_00000.png"), read_png(serial / "frame_00004.png"))


def test_a_rerun_resumes_and_another_path_is_refused(image_path, serial, tmp_path):
    import shutil

    out = tmp_path / "frames"
    shutil.copytree(serial, out)
    before = {p.name: p.read_bytes() for p in out.glob("frame_*.png")}
    (out / "frame_00001.png").unlink()  # never written
    (out / "frame_00003.png").write_bytes(before["frame_00003.png"][:100])  # cut short
    (out / ".frame_00003.abc.png").write_bytes(b"left by a killed write")
    result = run("render", "image", "--path", str(image_path[0]), "--out", str(out), *SIZE)
    assert result.returncode == 0, result.stderr
    assert "rendered 2 frames" in result.stdout and "3 already complete" in result.stdout
    assert {p.name: p.read_bytes() for p in out.glob("frame_*.png")} == before
    assert not list(out.glob(".frame_*"))
    # Another size into the same folder: refused, nothing touched.
    result = run("render", "image", "--path", str(image_path[0]), "--out", str(out), "--width", "16", "--height", "16")
    assert result.returncode != 0 and "another render" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in out.glob("frame_*.png")} == before


def test_video_of_the_frames(image_path, serial, tmp_path):
    av = pytest.importorskip("av")
    video = tmp_path / "fly.mp4"
    result = run("render", "image", "--path", str(image_path[0]), "--out", str(serial), *SIZE, "--video", str(video))
    assert result.returncode == 0, result.stderr
    assert "0 frames" in result.stdout and "5 already complete" in result.stdout  # nothing left to render
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        assert container.streams.video[0].codec_context.name == "h264"
    assert len(frames) == 5 and frames[0].shape == (24, 32, 3)
    # Lossy, but close: mean absolute difference of a few levels.
    assert np.abs(frames[2].astype(int) - read_png(serial / "frame_00002.png")[..., :3]).mean() < 8


KILL_ONE_WORKER = """
import json, sys
import ray
from ngvk.apps import path_render
from ngvk.engine.paths import ASSETS_DIR
from ngvk.engine.render.camera_path import load_path

cameras = [json.loads(c.to_json()) for c in load_path(sys.argv[1]).cameras()]
killed, written = [], []
original = path_render._write_frame
path_render._write_frame = lambda folder, index, png: (written.append(index), original(folder, index, png))

def on_frame(index, actors):
    if not killed:
        killed.append(index)
        ray.kill(actors[0], no_restart=True)

result = path_render.render_frames("image", (ASSETS_DIR / "image_hashgrid.npz").read_bytes(), cameras, sys.argv[2],
                                   32, 24, "fused", None, {"command": "render", "exposure": 0.0, "tonemap": "clamp"},
                                   workers=2, on_frame=on_frame)
print(json.dumps({**result, "written": written}))
"""


def test_ray_workers_give_the_same_bytes_and_a_killed_one_costs_no_frame(image_path, serial, tmp_path):
    # Two actors on a local Ray cluster; after the first frame is written one of them is killed,
    # with frames in flight: those go to the other, every frame is written once, and all are the
    # serial render's bytes. In a process of its own: Ray leaves threads behind in the one that
    # started it, which would disturb the other tests of this pytest worker.
    import sys

    pytest.importorskip("ray")
    out = tmp_path / "frames"
    script = tmp_path / "kill_one.py"
    script.write_text(KILL_ONE_WORKER)
    done = subprocess.run([sys.executable, str(script), str(image_path[0]), str(out)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["rendered"] == 5 and result["worker_deaths"] == 1 and sorted(result["written"]) == list(range(5))
    for i in range(5):
        assert (out / f"frame_{i:05d}.png").read_bytes() == (serial / f"frame_{i:05d}.png").read_bytes(), i


def test_bad_path_inputs_are_one_line_errors(image_path, tmp_path):
    def fails(*args, word):
        result = run("render", "image", *args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode != 0 and len(lines) == 1 and word in lines[0], result.stderr
        assert "Traceback" not in result.stderr

    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"path": []}))
    out = tmp_path / "never"
    fails("--path", str(empty), "--out", str(out), word="no keyframes")
    nan = tmp_path / "nan.json"
    nan.write_text('{"path": [{"R": [0, 0, 0, 1], "T": [NaN, 0, 1], "fov": 40}]}')
    fails("--path", str(nan), "--out", str(out), word="finite")
    fails("--path", str(image_path[0]), word="--out DIR")
    fails("--path", str(image_path[0]), "--out", str(out), "--width", "33", "--height", "24", "--video",
          str(tmp_path / "v.mp4"), word="even")
    fails("--path", str(image_path[0]), "--out", str(out), "--ray-address", "127.0.0.1:1", word="cannot reach")
    fails("--path", str(image_path[0]), "--out", str(out), "--camera", str(empty), word="drop --camera")
    fails("--workers", "2", word="--path")
    assert not out.exists()


def test_ray_not_installed_is_a_one_line_error(monkeypatch):
    import sys

    from ngvk.apps import path_render

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(NgvkError, match=r"pip install 'ngvk\[ray\]'"):
        path_render._import_ray()


def test_an_apps_path_extras_set_each_frame(tmp_path):
    # The volume app's "spp" per keyframe: the first frame at 1 sample per pixel is `render --spp 1`
    # of its camera, the last at 4 is `render --spp 4` of its own; an app without extras refuses them.
    size = ["--width", "24", "--height", "16", "--kernels", "unfused"]
    a = Camera(position=(0.5, 0.6, 2.2), look_at=(0.5, 0.5, 0.5))
    b = Camera(position=(2.0, 0.8, 0.9), look_at=(0.5, 0.5, 0.5))
    save_path(CameraPath([Keyframe(a, 0.0, {"spp": 1.0}), Keyframe(b, 1.0, {"spp": 4.0})], fps=1), tmp_path / "p.json")
    out = tmp_path / "frames"
    result = run("render", "volume", "--path", str(tmp_path / "p.json"), "--out", str(out), *size)
    assert result.returncode == 0, result.stderr
    for index, camera, spp in ((0, a, "1"), (1, b, "4")):
        camera.save(tmp_path / "c.json")
        single = tmp_path / f"single{index}.png"
        result = run("render", "volume", "--camera", str(tmp_path / "c.json"), "--spp", spp, "--out", str(single),
                     *size)
        assert result.returncode == 0, result.stderr
        np.testing.assert_array_equal(read_png(single), read_png(out / f"frame_{index:05d}.png"))
    result = run("render", "image", "--path", str(tmp_path / "p.json"), "--out", str(tmp_path / "image"))
    assert result.returncode != 0 and "no path extras" in result.stderr and not (tmp_path / "image").exists()
