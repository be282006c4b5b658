"""The exceptions ngvk raises.

`NgvkError` and its subclasses are errors a user can act on (missing packages, bad input files, a
resolution beyond the device's limits): the command line prints them as one line, without a traceback.
`ValidationError` is a Vulkan usage bug inside ngvk reported by the validation layers; it keeps its
traceback because a developer has to fix it.
"""


class NgvkError(Exception):
    """An error caused by the environment or the input, with a message that says what to do."""


class SetupError(NgvkError):
    """Vulkan, a device or the shader compiler is missing or unusable."""


class ShaderCompileError(NgvkError):
    """A GLSL shader failed to compile; the message names the file and line and shows the source."""


class ValidationError(Exception):
    """The Vulkan validation layers reported an error: a bug in ngvk's use of Vulkan."""
