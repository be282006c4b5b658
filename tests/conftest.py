"""Test set-up: the whole suite runs with the Vulkan validation layers on, and any validation message
of error severity fails the test that caused it.

Tests that need Vulkan take the `device` fixture (one device per session, on the device ngvk picks:
lavapipe on CI). Pure NumPy and host-logic tests take nothing and run without Vulkan.
"""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ["NGVK_VALIDATION"] = "1"

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def device():
    from ngvk.engine.gpu.device import Device

    with Device() as device:
        assert device.validation, "the test suite must run with validation layers"
        yield device


@pytest.fixture(autouse=True)
def no_validation_errors(request):
    """Fail a test that leaves a validation error behind on the session device."""
    yield
    if "device" in request.fixturenames:
        request.getfixturevalue("device").check_validation()


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(1234)


def ngvk_command() -> list[str]:
    """The installed `ngvk` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "ngvk"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ngvk.apps.cli"]


def looking_away(camera, fov_y: float = 20.0):
    """`camera` turned around: from where it stands, looking straight away from what it looked at."""
    away = tuple(2 * np.subtract(camera.position, camera.look_at) + camera.position)
    return type(camera)(camera.position, away, (0.0, 1.0, 0.0), fov_y=fov_y)
