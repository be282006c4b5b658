"""ngvk's engine (ngvk.engine): the only package that talks to Vulkan.

  gpu/      the Vulkan roles: device, memory (buffers, views, texels), compiler, spirv
            (reflection), kernel, commands (sequences, timestamps), present (swapchains)
  nn/       configurations, NumPy references (the specification of every kernel), GPU layers
            (grid encoding, spherical harmonics, fully fused MLP), training (backward passes,
            losses, Adam, the Trainer)
  render/   frames (tiling, bands, fused/unfused recording), cameras, ray state (compaction)
  fit       the fitting loop; model: the model file format; check: `ngvk check`'s cases
  files, paths, poison, errors: all-or-nothing writes, where shaders and assets lie, the words
            outputs are poisoned with, the error types

Modules that need Vulkan import it lazily, so `import ngvk.engine` works on a machine without it.
"""

from ngvk.engine.errors import NgvkError, SetupError, ShaderCompileError, ValidationError


def open_device(**kwargs):
    """The device ngvk would use (see Device); close it, or use it in a `with` block."""
    from ngvk.engine.gpu.device import Device

    return Device(**kwargs)


__all__ = ["NgvkError", "SetupError", "ShaderCompileError", "ValidationError", "open_device"]
