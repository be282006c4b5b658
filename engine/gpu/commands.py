"""Sequence: recording dispatches into a command buffer, submitting it, and timing it on the GPU.

A sequence is recorded once and can be submitted many times (each struct built through the `vulkan`
package costs microseconds, so re-recording every frame is avoided where nothing changes). Every
command after the first is preceded by a global memory barrier, so a dispatch always sees what the
previous ones wrote: the unfused render path passes its intermediate results through buffers.
`timed(label)` brackets commands with GPU timestamps; `timings()` returns milliseconds per label,
summed over repeats (an iterative renderer times each stage across all its iterations). Timestamps
come from query pools of `timestamps_per_pool` each, and a sequence adds pools as it needs them, so
a frame of thousands of tiles or iterations never runs out; a range that starts where the previous
one ended (nothing recorded in between) shares its timestamp, so back-to-back stages cost one each.
"""

from __future__ import annotations

from contextlib import contextmanager

from ngvk.engine.gpu._vulkan import ffi, vk
from ngvk.engine.errors import NgvkError
from ngvk.engine.gpu.kernel import DESCRIPTOR_TYPES
from ngvk.engine.gpu.spirv import STORAGE_TEXELS, TEXELS

_SETS_PER_POOL = 64
_DESCRIPTORS_PER_POOL = 512
_COMPUTE_AND_TRANSFER = vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | vk.VK_PIPELINE_STAGE_TRANSFER_BIT
# What a command may wait for: also an indirect dispatch reading arguments a kernel wrote.
_COMPUTE_TRANSFER_AND_INDIRECT = _COMPUTE_AND_TRANSFER | vk.VK_PIPELINE_STAGE_DRAW_INDIRECT_BIT
_WRITES = vk.VK_ACCESS_SHADER_WRITE_BIT | vk.VK_ACCESS_TRANSFER_WRITE_BIT
_READS_AND_WRITES = (
    vk.VK_ACCESS_INDIRECT_COMMAND_READ_BIT
    | vk.VK_ACCESS_SHADER_READ_BIT
    | vk.VK_ACCESS_SHADER_WRITE_BIT
    | vk.VK_ACCESS_TRANSFER_READ_BIT
    | vk.VK_ACCESS_TRANSFER_WRITE_BIT
)


class Sequence:
    """A recorded list of dispatches, fills and copies, with GPU timestamps."""

    def __init__(self, device, timestamps_per_pool: int = 256):
        self.device = device
        self.command_buffer = None
        self.fence = None
        self._query_pools: list = []  # timestamp query pools, timestamps_per_pool queries each
        self._pools: list = []  # descriptor pools
        self._sets_left = 0
        self._descriptors_left = 0
        self.timestamps_per_pool = timestamps_per_pool
        handle = device.handle
        self.command_buffer = vk.vkAllocateCommandBuffers(
            handle,
            vk.VkCommandBufferAllocateInfo(
                commandPool=device.command_pool,
                level=vk.VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                commandBufferCount=1,
            ),
        )[0]
        self.fence = vk.vkCreateFence(handle, vk.VkFenceCreateInfo(), None)
        self._submitted = False
        device._track(self)
        self._begin()

    # ---- recording ----------------------------------------------------------------------------

    def _begin(self) -> None:
        vk.vkBeginCommandBuffer(self.command_buffer, vk.VkCommandBufferBeginInfo())
        self._recording = True
        self._commands = 0
        self._queries = 0
        self._ranges: list[tuple[str, int, int]] = []
        self._last_timestamp = None  # (query, commands recorded when it was written)
        for pool in self._query_pools:
            vk.vkCmdResetQueryPool(self.command_buffer, pool, 0, self.timestamps_per_pool)

    def _before_command(self) -> None:
        if not self._recording:
            raise RuntimeError("this sequence was submitted; call reset() before recording again")
        if self._commands:
            # Read-after-write and write-after-read between consecutive commands: a dispatch reads
            # what the previous dispatch, fill or copy wrote (and may overwrite what it read).
            barrier = vk.VkMemoryBarrier(srcAccessMask=_WRITES, dstAccessMask=_READS_AND_WRITES)
            vk.vkCmdPipelineBarrier(
                self.command_buffer, _COMPUTE_AND_TRANSFER, _COMPUTE_TRANSFER_AND_INDIRECT, 0, 1, [barrier], 0, None, 0,
                None
            )
        self._commands += 1

    def _descriptor_set(self, kernel):
        needed = max(len(kernel.bindings), 1)
        if self._sets_left == 0 or self._descriptors_left < needed:
            sizes = [
                vk.VkDescriptorPoolSize(type=kind, descriptorCount=_DESCRIPTORS_PER_POOL)
                for kind in DESCRIPTOR_TYPES.values()
            ]
            pool = vk.vkCreateDescriptorPool(
                self.device.handle,
                vk.VkDescriptorPoolCreateInfo(maxSets=_SETS_PER_POOL, poolSizeCount=len(sizes), pPoolSizes=sizes),
                None,
            )
            self._pools.append(pool)
            self._sets_left = _SETS_PER_POOL
            self._descriptors_left = _DESCRIPTORS_PER_POOL
        layouts = [kernel.set_layout]
        descriptor_set = vk.vkAllocateDescriptorSets(
            self.device.handle,
            vk.VkDescriptorSetAllocateInfo(descriptorPool=self._pools[-1], descriptorSetCount=1, pSetLayouts=layouts),
        )[0]
        self._sets_left -= 1
        self._descriptors_left -= needed
        return descriptor_set

    def dispatch(self, kernel, n: int | None = None, buffers: dict | None = None, push: dict | None = None, groups=None,
                 indirect=None) -> None:
        """Run `kernel` over `n` items (or over explicit workgroup counts `groups`, or over the
        counts that earlier commands wrote into words 1 to 3 of the counter buffer `indirect`:
        engine/render/rays.py), with `buffers` bound by binding name and `push` constants by member
        name."""
        buffers = dict(buffers or {})
        kernel.check_names("buffers", buffers, {b.name for b in kernel.bindings})
        if groups is None and indirect is None:
            if n is None:
                raise ValueError("dispatch needs n (items), groups or indirect")
            groups = kernel.groups(n)
        packed = kernel.pack_push(push)
        if indirect is None and 0 in groups:
            return
        limits = self.device.info
        descriptor_set = self._descriptor_set(kernel)
        infos, writes = [], []
        for b in kernel.bindings:
            buffer = buffers[b.name]
            if buffer.handle is None:
                raise ValueError(f"{kernel.shader}: buffer {b.name} was released")
            if b.kind in (TEXELS, STORAGE_TEXELS):
                if not hasattr(buffer, "components"):
                    raise ValueError(f"{kernel.shader}: {b.name} is a texel buffer; bind buffer.texels(components)")
                descriptor = {"pTexelBufferView": ffi.new("VkBufferView[1]", [buffer.handle])}
            else:
                limit = limits.max_storage_buffer_range if b.storage else limits.max_uniform_buffer_range
                if buffer.nbytes > limit:
                    raise NgvkError(
                        f"{buffer.name} is {buffer.nbytes / 2**20:.1f} MiB but this device binds at most "
                        f"{limit / 2**20:.2f} MiB per {b.kind} buffer: "
                        "use a smaller table size or resolution"
                    )
                offset = getattr(buffer, "offset", 0)  # a BufferView binds a sub-range
                info = vk.VkDescriptorBufferInfo(buffer=buffer.handle, offset=offset, range=buffer.nbytes)
                descriptor = {"pBufferInfo": [info]}
            infos.append(descriptor)  # referenced until the update below
            writes.append(
                vk.VkWriteDescriptorSet(
                    dstSet=descriptor_set,
                    dstBinding=b.binding,
                    descriptorCount=1,
                    descriptorType=DESCRIPTOR_TYPES[b.kind],
                    **descriptor,
                )
            )
        if writes:
            vk.vkUpdateDescriptorSets(self.device.handle, len(writes), writes, 0, None)
        self._before_command()
        cb = self.command_buffer
        vk.vkCmdBindPipeline(cb, vk.VK_PIPELINE_BIND_POINT_COMPUTE, kernel.pipeline)
        vk.vkCmdBindDescriptorSets(
            cb, vk.VK_PIPELINE_BIND_POINT_COMPUTE, kernel.pipeline_layout, 0, 1, [descriptor_set], 0, None
        )
        if kernel.push_size:
            data = ffi.new("char[]", packed)
            vk.vkCmdPushConstants(cb, kernel.pipeline_layout, vk.VK_SHADER_STAGE_COMPUTE_BIT, 0, kernel.push_size, data)
        if indirect is not None:
            vk.vkCmdDispatchIndirect(cb, indirect.handle, getattr(indirect, "offset", 0) + 4)
        else:
            vk.vkCmdDispatch(cb, *groups)

    def fill(self, buffer, word: int = 0) -> None:
        """Set every 32-bit word of `buffer` (or of a BufferView's range) to `word`."""
        self._before_command()
        vk.vkCmdFillBuffer(self.command_buffer, buffer.handle, getattr(buffer, "offset", 0), buffer.nbytes, word)

    def copy(self, source, destination, nbytes: int | None = None, source_offset: int = 0, destination_offset: int = 0) -> None:
        """Copy `nbytes` (default: all of `source`) between buffers."""
        nbytes = source.nbytes - source_offset if nbytes is None else nbytes
        if source_offset + nbytes > source.nbytes or destination_offset + nbytes > destination.nbytes:
            raise ValueError(f"copy of {nbytes} bytes from {source.name} to {destination.name} is out of bounds")
        self._before_command()
        region = vk.VkBufferCopy(srcOffset=source_offset, dstOffset=destination_offset, size=nbytes)
        vk.vkCmdCopyBuffer(self.command_buffer, source.handle, destination.handle, 1, [region])

    def _timestamp(self) -> int | None:
        if not self.device.info.timestamps:
            return None
        if self._last_timestamp and self._last_timestamp[1] == self._commands:
            return self._last_timestamp[0]  # nothing recorded since: the same instant
        query = self._queries
        pool, index = divmod(query, self.timestamps_per_pool)
        if pool == len(self._query_pools):  # a new pool, reset before its first use
            self._query_pools.append(vk.vkCreateQueryPool(
                self.device.handle,
                vk.VkQueryPoolCreateInfo(queryType=vk.VK_QUERY_TYPE_TIMESTAMP, queryCount=self.timestamps_per_pool),
                None,
            ))
            vk.vkCmdResetQueryPool(self.command_buffer, self._query_pools[pool], 0, self.timestamps_per_pool)
        # Bottom of pipe: written once every command recorded before it has finished.
        vk.vkCmdWriteTimestamp(self.command_buffer, vk.VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, self._query_pools[pool], index)
        self._queries += 1
        self._last_timestamp = (query, self._commands)
        return query

    @contextmanager
    def timed(self, label: str):
        """Time the commands recorded inside the `with` block under `label`."""
        start = self._timestamp()
        yield
        end = self._timestamp()
        if start is not None:
            self._ranges.append((label, start, end))

    # ---- submission ---------------------------------------------------------------------------

    def submit(self) -> "Sequence":
        """Start the recorded work on the queue (ends recording on first use)."""
        self.wait()
        if self._recording:
            vk.vkEndCommandBuffer(self.command_buffer)
            self._recording = False
        handle = self.device.handle
        vk.vkResetFences(handle, 1, [self.fence])
        command_buffers = [self.command_buffer]
        submit = vk.VkSubmitInfo(commandBufferCount=1, pCommandBuffers=command_buffers)
        vk.vkQueueSubmit(self.device.queue, 1, [submit], self.fence)
        self._submitted = True
        self.device.check_validation()
        return self

    def wait(self) -> "Sequence":
        """Wait for the last submission to finish."""
        if self._submitted:
            vk.vkWaitForFences(self.device.handle, 1, [self.fence], vk.VK_TRUE, 0xFFFFFFFFFFFFFFFF)
            self._submitted = False
            self.device.check_validation()
        return self

    def run(self) -> "Sequence":
        """Submit and wait."""
        return self.submit().wait()

    def timings(self) -> dict[str, float]:
        """Milliseconds per label of the last finished submission, summed over repeated labels."""
        if not self._ranges:
            return {}
        self.wait()
        count = self._queries
        data = ffi.new("uint64_t[]", max(count, 1))
        per_pool = self.timestamps_per_pool
        for pool_index, pool in enumerate(self._query_pools):
            first = pool_index * per_pool
            if first >= count:
                break
            n = min(per_pool, count - first)
            vk.vkGetQueryPoolResults(
                self.device.handle, pool, 0, n, 8 * n, data + first, 8,
                vk.VK_QUERY_RESULT_64_BIT | vk.VK_QUERY_RESULT_WAIT_BIT,
            )
        period_ms = self.device.info.timestamp_period_ns * 1e-6
        out: dict[str, float] = {}
        for label, start, end in self._ranges:
            out[label] = out.get(label, 0.0) + (data[end] - data[start]) * period_ms
        return out

    def reset(self) -> None:
        """Forget what was recorded and start recording again."""
        self.wait()
        if self._recording:
            vk.vkEndCommandBuffer(self.command_buffer)
        vk.vkResetCommandBuffer(self.command_buffer, 0)
        for pool in self._pools:
            vk.vkDestroyDescriptorPool(self.device.handle, pool, None)
        self._pools.clear()
        self._sets_left = 0
        self._begin()

    def close(self) -> None:
        handle = self.device.handle
        if self.fence is not None:
            self.wait()
            vk.vkDestroyFence(handle, self.fence, None)
            self.fence = None
        if self.command_buffer is not None:
            vk.vkFreeCommandBuffers(handle, self.device.command_pool, 1, [self.command_buffer])
            self.command_buffer = None
        for pool in self._pools:
            vk.vkDestroyDescriptorPool(handle, pool, None)
        self._pools.clear()
        for pool in self._query_pools:
            vk.vkDestroyQueryPool(handle, pool, None)
        self._query_pools.clear()
        self.device._untrack(self)

    def __enter__(self) -> "Sequence":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
