"""Imports the `vulkan` bindings once for the engine, turning a missing loader into a `SetupError`.

Every engine module that calls Vulkan takes `vk` and `ffi` from here, so the package can be imported
(and `ngvk --help` can run) on a machine without Vulkan; the error comes when Vulkan is first needed.
"""

import os
import tempfile

from ngvk.engine.errors import SetupError

# The loader and Mesa's drivers warn on every start when XDG_RUNTIME_DIR is unset (containers, CI).
if not os.environ.get("XDG_RUNTIME_DIR"):
    _runtime_dir = os.path.join(tempfile.gettempdir(), f"ngvk-runtime-{os.getuid()}")
    os.makedirs(_runtime_dir, mode=0o700, exist_ok=True)
    os.environ["XDG_RUNTIME_DIR"] = _runtime_dir

try:
    import vulkan as vk
except OSError:
    raise SetupError(
        "no Vulkan loader (libvulkan.so.1) found: install it with "
        "`apt-get install libvulkan1 mesa-vulkan-drivers` (or run `make setup` as root)"
    ) from None

ffi = vk.ffi

__all__ = ["vk", "ffi"]
