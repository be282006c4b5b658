"""Ray state for iterative renderers (sphere tracing, free-flight sampling, NeRF marching): counters,
stream compaction of the live rays, and indirect dispatch over however many are left.

A counter is a buffer of eight uints: [0] a count of items, [1..3] the workgroups of a dispatch of
one item per invocation over them (VkDispatchIndirectCommand), [4] the items per invocation of the
batched kernels (the MLP's MLP_ITEMS) and [5..7] the workgroups of a dispatch of those
(`batched(counter)` is that view); `record_dispatch_args` writes [1..7] on the device. An iteration
of an unfused renderer then runs: its stage kernels over the live rays (`dispatch(...,
indirect=counter)`, each reading its item count from counter[0]; the encoding and the MLP take
`counter=`), a kernel that marks the rays still alive, and `record_compact`, which gathers their
indices into the other list and counts them, so the next iteration's dispatches shrink with the
rays, without reading anything back to the host. Every kernel dispatched through a counter takes
the engine's default workgroup size, GROUP_SIZE.
"""

from __future__ import annotations

import numpy as np

GROUP_SIZE = 64  # invocations per workgroup of kernels dispatched indirectly (engine/gpu/kernel.py default)
COUNTER_WORDS = 8
BATCHED_OFFSET = 16  # bytes: words [4..7], read by vkCmdDispatchIndirect from word 5 (engine/gpu/commands.py)


def counter(device, name: str = "counter", count: int = 0):
    """A counter buffer holding `count` (its dispatch arguments still to be written)."""
    buffer = device.buffer(COUNTER_WORDS * 4, name)
    buffer.upload(np.array([count, 0, 1, 1, 1, 0, 1, 1], np.uint32))
    return buffer


def batched(counter_buffer):
    """The indirect arguments of kernels that take several items per invocation (the MLP)."""
    return counter_buffer.view(BATCHED_OFFSET, COUNTER_WORDS * 4 - BATCHED_OFFSET)


def record_set_count(sequence, device, counter_buffer, count: int, items_per_invocation: int = 1) -> None:
    """counter[0] = count and its dispatch arguments, recorded (for a list whose length the host knows)."""
    sequence.fill(counter_buffer.view(0, 4), count)
    record_dispatch_args(sequence, device, counter_buffer, items_per_invocation)


def record_dispatch_args(sequence, device, counter_buffer, items_per_invocation: int = 1) -> None:
    """Write the workgroups of the dispatches over counter[0] items into counter[1..7]."""
    kernel = device.kernel("render/dispatch_args.comp", local_size=1)
    push = {"group_size": GROUP_SIZE, "items": items_per_invocation,
            "max_groups_x": device.info.max_workgroup_count[0]}
    sequence.dispatch(kernel, buffers={"count": counter_buffer}, push=push, groups=(1, 1, 1))


def record_stage(sequence, kernel, buffers: dict, push: dict, n: int | None = None, listed=None,
                 list_binding: str = "path_list") -> None:
    """Dispatch a renderer's stage kernel over `n` items, or over the items of `listed`, a (list,
    counter) pair: the list bound as `list_binding`, the counter as `item_counter` (the kernel reads
    its item count there, lib/common.glsl ITEM_COUNT) and the dispatch made through the counter."""
    if listed is None:
        sequence.dispatch(kernel, n, buffers, push)
    else:
        buffers = {**buffers, list_binding: listed[0], "item_counter": listed[1]}
        sequence.dispatch(kernel, buffers=buffers, push=push, indirect=listed[1])


def record_compact(sequence, device, alive, indices_in, count_in, indices_out, count_out,
                   items_per_invocation: int = 1) -> None:
    """indices_out[:count_out[0]] = indices_in[i] for the i < count_in[0] with alive[i] != 0 (in no
    fixed order), then the dispatch arguments of count_out. count_in's arguments must be written."""
    kernel = device.kernel("render/compact.comp", local_size=GROUP_SIZE)
    sequence.fill(count_out, 0)
    buffers = {"alive": alive, "indices_in": indices_in, "count_in": count_in, "indices_out": indices_out,
               "count_out": count_out}
    sequence.dispatch(kernel, buffers=buffers, indirect=count_in)
    record_dispatch_args(sequence, device, count_out, items_per_invocation)


def compact_reference(alive: np.ndarray, indices_in: np.ndarray) -> np.ndarray:
    """Specification of compact.comp, up to order: the indices of the live items, sorted."""
    return np.sort(np.asarray(indices_in)[np.asarray(alive) != 0])
