"""ngvk's applications and its command line. Apps are thin: they drive the engine, never Vulkan.

Each app module offers the same few things, which the command line and the viewer use without
knowing the app: `load(path)` a model (the shipped one by default), `Renderer(device, model)` with
`default_camera(width, height)`, `default_resolution(model)`, `load_data(source)`,
`fit(device, data, ...)` and `evaluate(device, model, data)`.
"""

import importlib
import importlib.metadata

from ngvk.engine.errors import NgvkError

VERSION = importlib.metadata.version("ngvk")  # pyproject.toml holds it
APP_NAMES = ("image", "sdf", "volume", "nerf")
AVAILABLE = ("image",)


def get_app(name: str):
    """The module of app `name`, or a one-line error naming the apps there are."""
    if name not in APP_NAMES:
        raise NgvkError(f"unknown app {name!r}; the apps are {', '.join(APP_NAMES)}")
    if name not in AVAILABLE:
        raise NgvkError(f"the {name} app is not available yet in this version (available: {', '.join(AVAILABLE)})")
    return importlib.import_module(f"ngvk.apps.{name}")
