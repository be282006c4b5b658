"""ngvk's applications, its command line, viewer and benchmarks. Apps are thin: they drive the
engine, never Vulkan.

Each app is a subclass of `ngvk.apps.base.App` in its own package, registered here by name. The
command line, the viewer and the benchmark find apps only through `get_app()` and use only what
the App class declares.
"""

import importlib
import importlib.metadata
from functools import cache

from ngvk.engine.errors import NgvkError

VERSION = importlib.metadata.version("ngvk")  # pyproject.toml holds it
# Name -> "module:class" of its App, or None while the app is still being built.
APPS = {
    "image": "ngvk.apps.image:ImageApp",
    "sdf": "ngvk.apps.sdf.app:SdfApp",
    "volume": "ngvk.apps.volume.app:VolumeApp",
    "nerf": "ngvk.apps.nerf.app:NerfApp",
}
APP_NAMES = tuple(APPS)
AVAILABLE = tuple(name for name, where in APPS.items() if where)


@cache
def get_app(name: str):
    """The App registered as `name`, or a one-line error naming the apps there are."""
    if name not in APPS:
        raise NgvkError(f"unknown app {name!r}; the apps are {', '.join(APP_NAMES)}")
    if not APPS[name]:
        raise NgvkError(f"the {name} app is not available yet in this version (available: {', '.join(AVAILABLE)})")
    module, _, cls = APPS[name].partition(":")
    return getattr(importlib.import_module(module), cls)()
