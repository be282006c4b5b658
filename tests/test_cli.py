"""The command line: info and check on the device, and the one-line errors when Vulkan is missing."""

import json
import os
import subprocess

from conftest import ngvk_command


def run(*args, env=None, timeout=300):
    environment = dict(os.environ, **(env or {}))
    return subprocess.run(ngvk_command() + list(args), capture_output=True, text=True, env=environment, timeout=timeout)


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


def test_check_passes_and_reports_every_kernel():
    result = run("check", "--json")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    results = json.loads(result.stdout)["results"]
    assert {r["kernel"] for r in results} == {"grid_encode", "sh_encode", "mlp_forward"}
    assert all(r["passed"] and r["max_error"] <= r["tolerance"] for r in results)


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
