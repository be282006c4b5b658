"""Buffer: storage buffers in device memory, and the copies of numpy arrays into and out of them.
A buffer can also be bound as a texel buffer (`samplerBuffer` to read, `imageBuffer` to write)
through `texels()`.

Where device memory is host memory (a CPU driver such as lavapipe, an integrated GPU) a buffer is
mapped once and read and written directly. Elsewhere it lives in device-local memory and each upload or
download goes through a temporary host-visible staging buffer. Either way the caller sees numpy arrays.
Writing a buffer that a submitted sequence is still using is the caller's hazard: wait first.
"""

from __future__ import annotations

import numpy as np

from ngvk.engine.gpu._vulkan import vk
from ngvk.engine.errors import NgvkError

WHOLE_SIZE = 0xFFFFFFFFFFFFFFFF  # VK_WHOLE_SIZE as a VkDeviceSize (the package's constant is -1)

# Texel formats of float texel buffers, by components per texel.
_TEXEL_FORMATS = {1: "VK_FORMAT_R32_SFLOAT", 2: "VK_FORMAT_R32G32_SFLOAT", 4: "VK_FORMAT_R32G32B32A32_SFLOAT"}


def _check_range(buffer: "Buffer", offset: int, nbytes: int, alignment: int, what: str) -> None:
    if offset < 0 or nbytes <= 0 or offset + nbytes > buffer.nbytes:
        raise ValueError(f"{buffer.name}: bytes {offset} to {offset + nbytes} are not inside its {buffer.nbytes}")
    if offset % alignment:
        raise ValueError(f"{buffer.name}: a {what} offset must be a multiple of {alignment} bytes on this device, "
                         f"not {offset}")


class BufferView:
    """Bytes [offset, offset + nbytes) of a buffer, bound as a storage or uniform buffer: a slice of
    a larger array (one camera's rays, the live half of a ray queue) without a copy. The offset is a
    multiple of the device's min_storage_buffer_offset_alignment. Shares its buffer's lifetime."""

    def __init__(self, buffer: "Buffer", offset: int, nbytes: int):
        _check_range(buffer, offset, nbytes, buffer.device.info.min_storage_buffer_offset_alignment, "storage view")
        self.buffer, self.offset, self.nbytes = buffer, offset, nbytes

    @property
    def handle(self):
        return self.buffer.handle

    @property
    def name(self) -> str:
        return f"{self.buffer.name}[{self.offset}:{self.offset + self.nbytes}]"

    def download(self, dtype=np.float32, shape=None) -> np.ndarray:
        """A copy of the view's bytes as `dtype` in `shape` (all of them when None)."""
        count = self.nbytes // np.dtype(dtype).itemsize
        return self.buffer.download(dtype, (count,) if shape is None else shape, self.offset)


class WordRange:
    """32-bit words [first, first + count) of a buffer, for what needs no binding and so no offset
    alignment beyond 4 bytes: fills (Sequence.fill) and indirect dispatch arguments
    (Sequence.dispatch(indirect=...) reads the three words after the range's first)."""

    def __init__(self, buffer: "Buffer", first: int, count: int):
        _check_range(buffer, 4 * first, 4 * count, 4, "word range")
        self.buffer, self.offset, self.nbytes = buffer, 4 * first, 4 * count

    @property
    def handle(self):
        return self.buffer.handle

    @property
    def name(self) -> str:
        return f"{self.buffer.name}[words {self.offset // 4}:{(self.offset + self.nbytes) // 4}]"


class TexelView:
    """A buffer (or bytes [offset, offset + nbytes) of it) seen as float texels of 1, 2 or 4
    components, for a `samplerBuffer` or `imageBuffer` binding. On CPU drivers a texel fetch is a
    vector gather, where a storage-buffer load at a per-invocation address is a loop over the SIMD
    lanes. Owned by its Buffer, released with it."""

    def __init__(self, buffer: "Buffer", components: int, offset: int = 0, nbytes: int | None = None):
        if components not in _TEXEL_FORMATS:
            raise ValueError(f"{buffer.name}: texels have 1, 2 or 4 float components, not {components}")
        nbytes = buffer.nbytes - offset if nbytes is None else nbytes
        _check_range(buffer, offset, nbytes, buffer.device.info.min_texel_buffer_offset_alignment, "texel view")
        texels = nbytes // (4 * components)
        limit = buffer.device.info.max_texel_buffer_elements
        if texels > limit:
            raise NgvkError(
                f"{buffer.name} holds {texels:,} texels but this device binds at most {limit:,} per texel "
                "buffer: use a smaller table size or resolution"
            )
        self.buffer = buffer
        self.components = components
        self.offset = offset
        self.nbytes = nbytes
        self.handle = vk.vkCreateBufferView(
            buffer.device.handle,
            vk.VkBufferViewCreateInfo(
                buffer=buffer.handle,
                format=getattr(vk, _TEXEL_FORMATS[components]),
                offset=offset,
                range=texels * 4 * components,
            ),
            None,
        )

    @property
    def name(self) -> str:
        return self.buffer.name

    def close(self) -> None:
        if self.handle is not None:
            vk.vkDestroyBufferView(self.buffer.device.handle, self.handle, None)
            self.handle = None


class Buffer:
    """A storage buffer of at least `nbytes` bytes (rounded up to a multiple of 4)."""

    USAGE = (
        vk.VK_BUFFER_USAGE_STORAGE_BUFFER_BIT
        | vk.VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT
        | vk.VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT
        | vk.VK_BUFFER_USAGE_STORAGE_TEXEL_BUFFER_BIT
        | vk.VK_BUFFER_USAGE_TRANSFER_SRC_BIT
        | vk.VK_BUFFER_USAGE_TRANSFER_DST_BIT
        | vk.VK_BUFFER_USAGE_INDIRECT_BUFFER_BIT  # dispatch arguments written by a kernel
    )

    def __init__(self, device, nbytes: int, name: str = "buffer", host_visible: bool | None = None):
        nbytes = int(nbytes)
        if nbytes <= 0:
            raise ValueError(f"buffer {name!r}: size must be positive, got {nbytes}")
        self.device = device
        self.name = name
        self.nbytes = (nbytes + 3) // 4 * 4  # vkCmdFillBuffer and copies work in 4-byte words
        self.handle = None
        self.memory = None
        self._mapped: np.ndarray | None = None
        self._texel_views: dict[int, TexelView] = {}
        if host_visible is None:
            host_visible = device.info.unified_memory
        self.host_visible = host_visible

        limit = device.info.max_memory_allocation
        if limit and self.nbytes > limit:
            raise NgvkError(
                f"{name} needs {self.nbytes / 2**20:.1f} MiB but the device allows at most "
                f"{limit / 2**20:.0f} MiB in one allocation: use a smaller configuration"
            )
        handle = device.handle
        self.handle = vk.vkCreateBuffer(
            handle,
            vk.VkBufferCreateInfo(size=self.nbytes, usage=self.USAGE, sharingMode=vk.VK_SHARING_MODE_EXCLUSIVE),
            None,
        )
        requirements = vk.vkGetBufferMemoryRequirements(handle, self.handle)
        if host_visible:
            required = vk.VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | vk.VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
            # Cached memory makes downloads (host reads) fast.
            preferred = vk.VK_MEMORY_PROPERTY_HOST_CACHED_BIT
        else:
            required = vk.VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT
            preferred = 0
        memory_type = device.memory_type(requirements.memoryTypeBits, required, preferred)
        try:
            self.memory = vk.vkAllocateMemory(
                handle,
                vk.VkMemoryAllocateInfo(allocationSize=requirements.size, memoryTypeIndex=memory_type),
                None,
            )
        except (vk.VkErrorOutOfDeviceMemory, vk.VkErrorOutOfHostMemory):
            vk.vkDestroyBuffer(handle, self.handle, None)
            self.handle = None
            raise NgvkError(
                f"out of device memory allocating {name} ({self.nbytes / 2**20:.1f} MiB): "
                "use a smaller resolution or model"
            ) from None
        vk.vkBindBufferMemory(handle, self.handle, self.memory, 0)
        if host_visible:
            mapped = vk.vkMapMemory(handle, self.memory, 0, self.nbytes, 0)
            self._mapped = np.frombuffer(mapped, dtype=np.uint8, count=self.nbytes)
        device._track(self)

    def upload(self, array, offset: int = 0) -> None:
        """Copy the bytes of `array` into the buffer at byte `offset`."""
        data = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
        end = offset + data.nbytes
        if offset < 0 or end > self.nbytes:
            raise ValueError(f"{self.name}: writing bytes {offset}..{end} of a {self.nbytes}-byte buffer")
        if data.nbytes == 0:
            return
        if self._mapped is not None:
            self._mapped[offset:end] = data
            return
        staging = Buffer(self.device, data.nbytes, f"{self.name} staging", host_visible=True)
        try:
            staging._mapped[: data.nbytes] = data
            region = vk.VkBufferCopy(srcOffset=0, dstOffset=offset, size=data.nbytes)
            self.device.run_once(lambda cb: vk.vkCmdCopyBuffer(cb, staging.handle, self.handle, 1, [region]))
        finally:
            staging.close()

    def download(self, dtype=np.float32, shape=None, offset: int = 0) -> np.ndarray:
        """A copy of the buffer's contents from byte `offset` as an array of `dtype` and `shape`
        (all that fits when `shape` is None)."""
        dtype = np.dtype(dtype)
        if shape is None:
            count = (self.nbytes - offset) // dtype.itemsize
            shape = (count,)
        shape = tuple(int(s) for s in np.atleast_1d(shape))
        nbytes = int(np.prod(shape)) * dtype.itemsize
        end = offset + nbytes
        if offset < 0 or end > self.nbytes:
            raise ValueError(f"{self.name}: reading bytes {offset}..{end} of a {self.nbytes}-byte buffer")
        if self._mapped is not None:
            return self._mapped[offset:end].copy().view(dtype).reshape(shape)
        staging = Buffer(self.device, max(nbytes, 4), f"{self.name} staging", host_visible=True)
        try:
            region = vk.VkBufferCopy(srcOffset=offset, dstOffset=0, size=nbytes)
            self.device.run_once(lambda cb: vk.vkCmdCopyBuffer(cb, self.handle, staging.handle, 1, [region]))
            return staging._mapped[:nbytes].copy().view(dtype).reshape(shape)
        finally:
            staging.close()

    def fill(self, word: int = 0) -> None:
        """Set every 32-bit word of the buffer to `word` (0 clears it; also 0.0 as float)."""
        self.device.run_once(lambda cb: vk.vkCmdFillBuffer(cb, self.handle, 0, self.nbytes, word))

    def texels(self, components: int, offset: int = 0, nbytes: int | None = None) -> TexelView:
        """This buffer (or bytes [offset, offset + nbytes) of it) as texels of `components` floats
        (made once per range, released with the buffer)."""
        if self.handle is None:
            raise ValueError(f"buffer {self.name} was released")
        key = (components, offset, nbytes)
        view = self._texel_views.get(key)
        if view is None:
            view = self._texel_views[key] = TexelView(self, components, offset, nbytes)
        return view

    def view(self, offset: int, nbytes: int | None = None) -> BufferView:
        """Bytes [offset, offset + nbytes) (default: to the end) to bind as a storage buffer."""
        if self.handle is None:
            raise ValueError(f"buffer {self.name} was released")
        return BufferView(self, offset, self.nbytes - offset if nbytes is None else nbytes)

    def words(self, first: int, count: int = 1) -> WordRange:
        """32-bit words [first, first + count), for fills and indirect arguments (WordRange)."""
        return WordRange(self, first, count)

    def close(self) -> None:
        """Release the buffer, its texel views and its memory (idempotent)."""
        handle = self.device.handle
        for view in self._texel_views.values():
            view.close()
        self._texel_views.clear()
        if self._mapped is not None:
            self._mapped = None
            vk.vkUnmapMemory(handle, self.memory)
        if self.handle is not None:
            vk.vkDestroyBuffer(handle, self.handle, None)
            self.handle = None
        if self.memory is not None:
            vk.vkFreeMemory(handle, self.memory, None)
            self.memory = None
        self.device._untrack(self)

    def __enter__(self) -> "Buffer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Buffer({self.name!r}, {self.nbytes} bytes)"
