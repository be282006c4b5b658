"""The command line: info and check on the device, and the one-line errors when Vulkan is missing."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ngvk_command
from ngvk.engine.errors import NgvkError


def run(*args, env=None, timeout=300):
    environment = dict(os.environ, **(env or {}))
    return subprocess.run(ngvk_command() + list(args), capture_output=True, text=True, env=environment, timeout=timeout)


def too_large_frame() -> tuple[str, str]:
    """A square frame side ngvk refuses, and a word of its error. Frames beyond the device's largest
    binding are rendered in bands, so only the side limit is left, the same on every device."""
    from ngvk.engine.render.frame import MAX_FRAME_SIDE

    return str(MAX_FRAME_SIDE + 1), "at most"


def test_info_json():
    result = run("info", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    device = info["device"]
    for key in ("name", "type", "driver_name", "api_version", "subgroup_size", "max_shared_memory",
                "max_storage_buffer_range", "float16", "float_atomic_add", "timestamps"):
        assert key in device
    assert info["compiler"]["version"]
    assert info["validation"] is True


def test_check_passes_and_reports_every_kernel(device):
    # Every case `ngvk check` runs, on the session's device (so its pipelines, seconds each on a CPU
    # driver, are shared with the other tests instead of compiled again in another process).
    from ngvk.apps import AVAILABLE, get_app
    from ngvk.engine.check import COOPMAT_KERNELS, run_checks
    from ngvk.engine.paths import SHADER_DIR

    results = run_checks(device, apps=[get_app(name) for name in AVAILABLE])
    # Every kernel in shaders/: the engine's (nn/, render/) and each available app's, training
    # kernels included. (An app still being built is checked by its tests until it is registered.)
    folders = {"nn", "render", *AVAILABLE}
    assert {r.kernel for r in results} == {p.stem for p in SHADER_DIR.glob("*/*.comp") if p.parent.name in folders}
    failed = [f"{r.kernel} {r.case}: {r.max_error:.3g} > {r.tolerance:.3g}" for r in results if r.failed]
    assert not failed, failed
    # What cannot run here is said, never passed: the cooperative-matrix MLP where the device has none.
    unsupported = {r.kernel for r in results if r.unsupported}
    assert unsupported <= set(COOPMAT_KERNELS)
    assert all("not supported on this device" in r.unsupported for r in results if r.unsupported)


def test_check_command_reports_and_exits_by_its_results(monkeypatch, capsys):
    # The command around run_checks(): its table, its JSON, and exit code 1 when a case fails
    # (run_checks replaced by two cases, one passing, so that no kernel is compiled here).
    from ngvk.apps import cli
    from ngvk.engine import check

    cases = [check.CheckResult("adam_step", "ok case", 0.0, 1e-4, 0.1)]
    monkeypatch.setattr(check, "run_checks", lambda device, progress=None, apps=(): [progress(r) or r for r in cases])
    assert cli.main(["check"]) == 0
    assert "1 of 1 kernel checks passed" in capsys.readouterr().out
    assert cli.main(["check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["kernel"] == "adam_step"
    cases.append(check.CheckResult("loss", "failing case", 1.0, 1e-4, 0.1))
    assert cli.main(["check"]) == 1
    assert "FAIL" in capsys.readouterr().out


def assert_one_line_error(result, *words):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ngvk: error:"), result.stderr
    for word in words:
        assert word in lines[0]


def test_no_device_is_a_one_line_error(tmp_path):
    missing = str(tmp_path / "no-such-icd.json")
    result = run("info", env={"VK_DRIVER_FILES": missing, "VK_ICD_FILENAMES": missing})
    assert_one_line_error(result, "no Vulkan device", "mesa-vulkan-drivers")


def test_no_loader_is_a_one_line_error(tmp_path):
    # A libvulkan.so.1 that is not a library makes the loader fail to load, as if it were missing.
    (tmp_path / "libvulkan.so.1").write_bytes(b"")
    result = run("info", env={"LD_LIBRARY_PATH": str(tmp_path)})
    assert_one_line_error(result, "libvulkan1")


def test_unknown_device_choice_lists_the_devices():
    result = run("info", env={"NGVK_DEVICE": "no-such-gpu"})
    assert_one_line_error(result, "NGVK_DEVICE=no-such-gpu", "devices:")
    result = run("info", env={"NGVK_DEVICE": "gpu:99"})  # the 100th GPU: a Ray actor's choice (path_render.py)
    assert_one_line_error(result, "NGVK_DEVICE=gpu:99", "devices:")


def test_the_kth_gpu_is_chosen_among_gpus_only(monkeypatch):
    # NGVK_DEVICE=gpu:K counts GPUs (discrete, integrated, virtual) in Vulkan's order, never the CPU
    # driver, whatever its index: lavapipe is refused as gpu:0.
    from ngvk.engine.gpu.device import Device

    monkeypatch.setenv("NGVK_DEVICE", "gpu:0")
    try:
        with Device() as device:
            assert device.info.type != "cpu"
    except NgvkError as error:
        assert "gpu:0" in str(error) and "llvmpipe" in str(error)


# ---- the apps' commands: bad input gets one line, a non-zero exit, and no output file ----------


def test_render_writes_png_and_times(tmp_path):
    out = tmp_path / "a.png"
    result = run("render", "image", "--out", str(out), "--width", "64", "--height", "48", "--unfused")
    assert result.returncode == 0, result.stderr
    assert out.is_file() and "preprocess" in result.stdout and "mlp" in result.stdout


def test_render_with_a_camera_file(tmp_path):
    camera = tmp_path / "c.json"
    camera.write_text('{"position": [0.2, 0, 1], "look_at": [0.2, 0, 0], "orthographic_height": 0.5}')
    out = tmp_path / "a.png"
    result = run("render", "image", "--out", str(out), "--width", "40", "--height", "40", "--camera", str(camera))
    assert result.returncode == 0, result.stderr
    assert out.is_file()


def test_bad_render_inputs(tmp_path):
    out = tmp_path / "out.png"
    truncated = tmp_path / "truncated.npz"
    from ngvk.apps import get_app

    data = get_app("image").default_model_path().read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    model = get_app("image").load_model()
    model.params["network"][5] = np.nan
    poisoned = tmp_path / "nan.npz"
    model.save(poisoned)
    cases = {
        "no such model": (["--model", str(tmp_path / "none.npz")], "does not exist"),
        "truncated model": (["--model", str(truncated)], "truncated"),
        "zero width": (["--width", "0", "--height", "10"], "at least 1"),
        "beyond the device": (["--width", too_large_frame()[0], "--height", too_large_frame()[0]], too_large_frame()[1]),
        "bad camera": (["--camera", str(tmp_path / "none.json")], "camera file"),
        "model holding NaN": (["--model", str(poisoned)], "NaN"),
    }
    for name, (args, words) in cases.items():
        result = run("render", "image", "--out", str(out), *args)
        assert_one_line_error(result, words)
        assert not out.exists(), name
    assert sorted(tmp_path.iterdir()) == sorted([truncated, poisoned])  # nothing half-written
    result = run("render", "image", "--out", "/proc/x.png")  # a folder nothing can be written in
    assert_one_line_error(result, "cannot write /proc/x.png")


def test_another_apps_model_is_refused_by_render(tmp_path):
    from ngvk.apps import get_app

    model = get_app("image").load_model()
    model.app = "volume"
    path = tmp_path / "volume.npz"
    model.save(path)
    result = run("render", "image", "--model", str(path), "--out", str(tmp_path / "x.png"))
    assert_one_line_error(result, "'volume' app")


def test_bad_fit_inputs(tmp_path):
    out = tmp_path / "m.npz"
    not_an_image = tmp_path / "fake.png"
    not_an_image.write_text("not a png")
    from PIL import Image

    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (1, 1)).save(tiny)
    cases = {
        "missing image": ([str(tmp_path / "none.png")], "does not exist"),
        "unreadable image": ([str(not_an_image)], "not an image"),
        "unknown sample": (["skimage:nonesuch"], "no bundled sample"),
        "zero steps": (["skimage:astronaut", "--steps", "0"], "at least 1"),
        "a 1x1 image": ([str(tiny)], "1x1"),
        "no time": (["skimage:astronaut", "--max-minutes", "0"], "--max-minutes"),
    }
    for name, (args, words) in cases.items():
        result = run("fit", "image", *args, "--out", str(out))
        assert_one_line_error(result, words)
        assert not out.exists(), name


def test_unusable_exr_files_are_one_line_errors(tmp_path):
    import OpenEXR

    depth = tmp_path / "depth.exr"
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage},
                 {"Z": np.ones((24, 32), np.float32)}).write(str(depth))
    truncated = tmp_path / "truncated.exr"
    truncated.write_bytes(depth.read_bytes()[:-40])
    out = tmp_path / "m.npz"
    for path, words in ((depth, f"{depth} has no RGB channels (it has: Z)"), (truncated, "cannot read OpenEXR image")):
        result = run("fit", "image", str(path), "--out", str(out))
        assert_one_line_error(result, words)
        assert not out.exists() and result.stdout == ""


def test_render_exposure_and_tone_curve(tmp_path):
    # The image app's own flags: 2 stops down is darker everywhere; a tone curve other than clamp
    # changes the image.
    from PIL import Image

    frames = {}
    for name, flags in {"default": [], "darker": ["--exposure", "-2"], "aces": ["--tonemap", "aces"]}.items():
        out = tmp_path / f"{name}.png"
        result = run("render", "image", "--out", str(out), "--width", "48", "--height", "48", *flags)
        assert result.returncode == 0, result.stderr
        frames[name] = np.asarray(Image.open(out), dtype=int)
    assert (frames["darker"] <= frames["default"]).all() and frames["darker"].mean() < frames["default"].mean() - 20
    assert np.abs(frames["aces"] - frames["default"]).max() > 10
    assert_one_line_error(run("render", "image", "--exposure", "nan", "--out", str(tmp_path / "x.png")), "--exposure")


def test_all_four_apps_are_available_and_others_are_one_line_errors():
    from ngvk.apps import APP_NAMES, AVAILABLE, get_app

    assert AVAILABLE == APP_NAMES == ("image", "sdf", "volume", "nerf")
    with pytest.raises(NgvkError, match="the apps are image, sdf, volume, nerf"):
        get_app("gigapixel")


def test_eval_json(tmp_path):
    from ngvk.apps import get_app

    out = tmp_path / "metrics.json"
    result = run("eval", "image", "--model", str(get_app("image").default_model_path()), "skimage:astronaut", "--json", str(out))
    assert result.returncode == 0, result.stderr
    metrics = json.loads(out.read_text())
    assert metrics["psnr"] > 30 and 0 < metrics["ssim"] <= 1 and metrics["device"]["name"]
    assert "8-bit sRGB" in metrics["metric_notes"]["psnr"]  # how PSNR is measured, stated


def test_fit_writes_model_and_metrics(tmp_path):
    # A tiny fit through the command line (the app's own tests check what fitting learns).
    from PIL import Image

    image = tmp_path / "small.png"
    Image.fromarray((np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)).save(image)
    out, metrics = tmp_path / "m.npz", tmp_path / "m.json"
    result = run("fit", "image", str(image), "--out", str(out), "--steps", "3", "--batch-size", "1024",
                 "--encoding", "lowres", "--json", str(metrics))
    assert result.returncode == 0, result.stderr
    assert "lowres: L=2 F=8" in result.stdout and "MLP 16 -> 64 -> 64 -> 3" in result.stdout
    record = json.loads(metrics.read_text())
    assert record["steps"] == 3 and record["encoding"]["encoding"] == "lowres" and record["stopped"] == "completed"
    assert out.is_file()
    # A time budget ends the fit early and keeps the model of the last step, saying so.
    result = run("fit", "image", str(image), "--out", str(out), "--steps", "100000", "--batch-size", "1024",
                 "--encoding", "lowres", "--max-minutes", "0.0001", "--json", str(metrics))
    assert result.returncode == 0, result.stderr
    assert "stopped early (time budget)" in result.stdout
    record = json.loads(metrics.read_text())
    assert record["stopped"] == "time budget" and 1 <= record["steps"] < 100000
    from ngvk.engine.model import load_model

    assert load_model(out).training["stopped"] == "time budget"


def test_fit_continues_a_model(tmp_path):
    # --from-model starts from the model's parameters: one more step moves each by at most Adam's
    # first step, the learning rate (1e-2; its update is lr * m / sqrt(v) = lr * g / |g|), plus the
    # saved file's float16 rounding where the model keeps that; a fresh one-step fit (another seed)
    # has a network far off.
    from PIL import Image

    from ngvk.engine.model import load_model

    image = tmp_path / "small.png"
    Image.fromarray((np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)).save(image)
    first, more, fresh = tmp_path / "first.npz", tmp_path / "more.npz", tmp_path / "fresh.npz"
    common = ["--steps", "1", "--batch-size", "1024"]
    assert run("fit", "image", str(image), "--out", str(first), "--encoding", "lowres", "--steps", "3",
               "--batch-size", "1024", "--seed", "1").returncode == 0
    result = run("fit", "image", str(image), "--out", str(more), "--from-model", str(first), *common)
    assert result.returncode == 0, result.stderr
    assert f"continuing {first} (fitted 3 steps)" in result.stdout
    assert run("fit", "image", str(image), "--out", str(fresh), "--encoding", "lowres", *common).returncode == 0
    a, b, c = load_model(first), load_model(more), load_model(fresh)
    assert b.encoding == a.encoding and b.training["continued_from_steps"] == 3 and b.training["steps"] == 1
    for name in a.params:
        moved = np.abs(b.params[name] - a.params[name])
        assert moved.max() <= 1e-2 * 1.001 + np.abs(a.params[name]).max() * 2.0 ** -10, name
    assert np.abs(c.params["network"] - a.params["network"]).max() > 0.05
    # Another encoding than the model's: one line, nothing written.
    out = tmp_path / "other.npz"
    result = run("fit", "image", str(image), "--out", str(out), "--from-model", str(first), "--encoding", "hashgrid",
                 *common)
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1 and "--encoding" in lines[0] and not out.exists()
    # Another app's model: refused as render refuses it.
    result = run("fit", "sdf", str(image), "--out", str(out), "--from-model", str(first))
    assert result.returncode != 0 and "Traceback" not in result.stderr and not out.exists()


def test_bench_command(tmp_path):
    out, plot = tmp_path / "r.json", tmp_path / "p.png"
    result = run("bench", "image", "--encodings", "lowres", "--resolution", "48x32", "--repeat", "2",
                 "--warmup", "1", "--json", str(out), "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    assert "9.94x" in result.stdout and json.loads(out.read_text())["cases"][0]["resolution"] == [48, 32]
    assert plot.is_file()


def test_bench_kernels_arguments(tmp_path):
    out = tmp_path / "k.json"
    for args, words in ((["kernels", "image"], "on its own"), (["kernels", "--batches", "5"], "exponents"),
                        (["kernels", "--batches", "x"], "--batches")):
        result = run("bench", *args, "--json", str(out))
        assert_one_line_error(result, words)
        assert not out.exists()


def test_bad_bench_arguments(tmp_path):
    out = tmp_path / "r.json"
    side, word = too_large_frame()
    for args, words in ((["--resolution", "0x5"], "at least 1"), (["--encodings", "octree"], "unknown encoding"),
                        (["--repeat", "0"], "--repeat"), (["--resolution", f"{side}x{side}"], word)):
        result = run("bench", "image", *args, "--json", str(out))
        assert_one_line_error(result, words)
        assert not out.exists()


def test_a_plain_install_works_from_any_folder(tmp_path):
    # `pip install .` (not editable) puts one import package, ngvk, with its shaders and shipped
    # models as package data; rendered from another folder, it needs nothing from the checkout.
    # Dependencies come from this environment (--no-deps); pip fetches only the build backend.
    from conftest import ROOT

    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                              "--target", str(target), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-2000:]
    top_level = {p.name for p in target.iterdir() if not p.name.endswith(".dist-info") and p.name != "bin"}
    assert top_level == {"ngvk"}
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    env = dict(os.environ, PYTHONPATH=str(target))
    script = "import ngvk.apps.cli as c, sys; print(c.__file__, file=sys.stderr); sys.exit(c.main())"
    result = subprocess.run([sys.executable, "-c", script, "render", "image", "--out", "x.png", "--width", "64",
                             "--height", "64"], cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(str(target / "ngvk" / "apps" / "cli.py"))
    assert (folder / "x.png").is_file()
