"""The Vulkan roles, one module each, and the only code in ngvk that calls Vulkan:

  device    Device: instance, physical-device choice, logical device, queue, validation layers
  memory    Buffer: device buffers, texel views, numpy uploads and downloads
  compiler  GLSL under shaders/ to SPIR-V with includes, defines and a disk cache
  spirv     a kernel's interface (bindings, push constants, constants) read from its SPIR-V
  kernel    Kernel: a compute pipeline built from that interface
  commands  Sequence: recorded dispatches, barriers, submission, GPU timestamps
  present   Presenter: a window's swapchain, for the viewer
"""
