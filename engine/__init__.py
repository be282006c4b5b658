"""ngvk's engine: the only package that talks to Vulkan.

Roles, one module each:
  device    Device: instance, physical-device choice, logical device, queue, validation
  memory    Buffer: device buffers and numpy uploads/downloads
  compiler  GLSL -> SPIR-V with includes, defines and a disk cache
  spirv     reflection of a kernel's interface from its SPIR-V
  kernel    Kernel: compute pipelines built from that interface
  commands  Sequence: recording, barriers, submission, GPU timestamps
  config    configurations of encodings and MLPs (plain data)
  reference NumPy references of every kernel: the specification
  layers    GPU layers: grid encoding, spherical harmonics, fully fused MLP
  check     `ngvk check`: the inference kernels against their references

Modules that need Vulkan import it lazily, so `import engine` works on a machine without it.
"""

from ngvk.engine.errors import NgvkError, SetupError, ShaderCompileError, ValidationError


def open_device(**kwargs):
    """The device ngvk would use (see Device); close it, or use it in a `with` block."""
    from ngvk.engine.gpu.device import Device

    return Device(**kwargs)


__all__ = ["NgvkError", "SetupError", "ShaderCompileError", "ValidationError", "open_device"]
