"""Wavefront rendering: an iterative renderer's work advanced one step per dispatch over a compacted
list of live slots, with new work pulled in as old work finishes.

A pool of `slots` holds work items in flight (a pixel's ray, or one sample's path); the app's
wavefront kernel keeps each slot's state in a buffer of its own. Every iteration is ONE dispatch
over the slots listed in the current list: each listed slot makes its pending network query (the
encoding and the MLP inside the kernel), applies the result (a march step, a collision, samples
composited), and, when its item is finished, writes the result (a pixel) and takes the next item
from the work queue (shaders/lib/wavefront.glsl). Slots that still have a query pending are
appended to the other list, whose counter the kernel also turns into the next dispatch's arguments,
so the next dispatch covers exactly the live slots and no invocation loops for long: the lanes of
a SIMD vector or a GPU warp do one step of similar work each, instead of waiting for the slowest
ray of a per-pixel loop, and a CPU driver's limit on loop iterations per invocation (lavapipe 22.3
ends an invocation silently after about 65,000) is never approached.

The host records the dispatches in rounds (ITERATIONS_PER_ROUND each) and, after each round is run,
reads the length of the next list back: 0 means every item is done. Iterations past the end of
the work dispatch no workgroups.

With `split` (the `prepost` kernels), the same kernel leaves the network out: it writes each kept
slot's query inputs at its place in the next list, and the engine's encoding and MLP kernels run
over that list (dispatched through its counter) before the next iteration reads their outputs by
list place. That is the paper's fusion: the pre- and post-processing of an iteration in one
kernel, the encoding and the MLP in their own.

Buffers (bound by these names): slot_list_in, counter_in, slot_list_out, counter_out, slot_work,
work_queue. A list's counter is engine/render/rays.py's ([0] count, [1..3] workgroups of one item
per invocation, [4] items per invocation, [5..7] workgroups of that many items per invocation: the
encoding's and the MLP's dispatches through it) and four words more: [8..10] the workgroups of the
wavefront kernel's own dispatch, whose workgroup size is the device's (LOCAL_SIZE), [11] unused.
"""

from __future__ import annotations

import os

import numpy as np

from ngvk.engine.errors import NgvkError
from ngvk.engine.render.frame import FRAME, PREPOST, WAVEFRONT, close_all
from ngvk.engine.render.rays import COUNTER_WORDS, GROUP_SIZE

NO_WORK = 0xFFFFFFFF  # slot_work of an empty slot (lib/wavefront.glsl WAVEFRONT_NO_WORK)
# Iterations recorded before the host looks at how many slots are still live. More means fewer
# round trips through the host; fewer means fewer empty dispatches after the last item is done.
ITERATIONS_PER_ROUND = 32
# A dispatch advances each slot one step while the list holds at least FULL slots, and up to
# FULL / live (at most MAX_STEPS) steps as it empties: in the tail of a frame a few long rays would
# otherwise pay a dispatch (and a round trip through a CPU driver's thread pool) per step.
FULL = {"CPU": 4096, "GPU": 1 << 16}
MAX_STEPS = 32
# Invocations per workgroup of the wavefront kernels. A CPU driver runs a workgroup on one thread:
# groups of one SIMD vector (8 lanes on lavapipe) spread even a short list over every core.
LOCAL_SIZE = {"CPU": 8, "GPU": GROUP_SIZE}
OWN_DISPATCH = COUNTER_WORDS  # words 8..10 of a wavefront counter: this kernel's workgroups
WORDS = COUNTER_WORDS + 4


class Wavefront:
    """The slot pool, its two lists and counters, and the work queue of one renderer."""

    def __init__(self, device, slots: int, state_bytes: int, items: int, local_size: int | None = None):
        self.device, self.slots, self.items = device, slots, items
        # A kernel that runs its MLP as a block of the workgroup's samples needs that workgroup.
        self.local_size = local_size or LOCAL_SIZE["CPU" if device.info.type == "CPU" else "GPU"]
        groups = -(-slots // min(self.local_size, GROUP_SIZE))
        if groups > device.info.max_workgroup_count[0]:
            raise NgvkError(f"a wavefront of {slots} slots needs {groups} workgroups in one dimension; "
                            f"this device dispatches at most {device.info.max_workgroup_count[0]}")
        self.state = device.buffer(slots * state_bytes, "slot_state")
        self.work = device.buffer(slots * 4, "slot_work")
        self.identity = device.buffer_from(np.arange(slots, dtype=np.uint32), "slot_identity")
        self.lists = [device.buffer(slots * 4, "slot_list_a"), device.buffer(slots * 4, "slot_list_b")]
        self.counters = [device.buffer(WORDS * 4, "slot_count_a"), device.buffer(WORDS * 4, "slot_count_b")]
        self.start_counter = device.buffer(WORDS * 4, "slot_count_start")
        self.queue = device.buffer(4, "work_queue")
        self._current = 0
        self._network = None

    def kernel(self, shader: str, defines: dict, split: bool):
        """The app's wavefront kernel `shader` with lib/wavefront.glsl's defines for this device
        (`NGVK_WAVEFRONT_FULL` overrides FULL) and its workgroup size."""
        full = int(os.environ.get("NGVK_WAVEFRONT_FULL") or FULL["CPU" if self.device.info.type == "CPU" else "GPU"])
        defines = {**defines, "WAVEFRONT_SPLIT": int(split), "WAVEFRONT_FULL": full, "WAVEFRONT_MAX_STEPS": MAX_STEPS,
                   "WAVEFRONT_LOCAL_SIZE": self.local_size}
        return self.device.kernel(shader, defines, local_size=self.local_size)

    def buffers(self) -> dict:
        """The slot buffers every iteration binds (the lists and counters are added per iteration)."""
        return {"slot_work": self.work, "work_queue": self.queue}

    def record_start(self, sequence, work_items: int):
        """Empty slots and a full queue; returns (list, counter) of the first iteration: every slot
        of the pool that has work to take (at most `work_items`), each of which takes its first
        item in that iteration."""
        used = min(self.slots, work_items)
        sequence.fill(self.work.words(0, used), NO_WORK)
        sequence.fill(self.queue, 0)
        start = self.start_counter
        sequence.fill(start.words(0), used)
        sequence.fill(start.words(OWN_DISPATCH), -(-used // (self.local_size * self.items)))
        sequence.fill(start.words(OWN_DISPATCH + 1, 2), 1)
        self._current = 0
        return self.identity, start

    def record_iteration(self, sequence, kernel, buffers: dict, push: dict, listed):
        """One iteration: `kernel` over the slots of `listed` (a (list, counter) pair), appending
        those that go on to the next list; returns that list as (list, counter)."""
        out_list, out_counter = self.lists[self._current], self.counters[self._current]
        self._current = 1 - self._current
        sequence.fill(out_counter, 0)
        buffers = {**buffers, **self.buffers(), "slot_list_in": listed[0], "counter_in": listed[1],
                   "slot_list_out": out_list, "counter_out": out_counter}
        sequence.dispatch(kernel, buffers=buffers, push=push, indirect=listed[1].words(OWN_DISPATCH - 1, 4))
        return out_list, out_counter

    @staticmethod
    def live(listed) -> int:
        """Slots in `listed`'s list, read back after the sequence that wrote it has run."""
        return int(listed[1].download(np.uint32, (1,))[0])

    def record_rounds(self, sequence, kernel, buffers: dict, push: dict, work_items: int, network=None, end=None):
        """A generator that records a tile's wavefront in rounds (FrameRenderer.record_wavefront):
        the start, then ITERATIONS_PER_ROUND iterations of `kernel` a round, each round timed as
        FRAME and followed by a yield (the caller runs it), until the list of live slots is empty;
        then `end(sequence)`, if given, in a round of its own. `network(sequence, listed)` (the
        prepost kernels) records the encoding and the MLP over each iteration's new list. Stage
        labels: the start "preprocess", the iterations "wavefront" (or "prepost" with a network
        recorded apart; the network labels its own), the end "postprocess"."""
        label = WAVEFRONT if network is None else PREPOST
        with sequence.timed(FRAME):
            with sequence.timed("preprocess"):
                listed = self.record_start(sequence, work_items)
        while True:
            with sequence.timed(FRAME):
                for _ in range(ITERATIONS_PER_ROUND):
                    with sequence.timed(label):
                        listed = self.record_iteration(sequence, kernel, buffers, push, listed)
                    if network is not None:
                        network(sequence, listed)
            yield
            if self.live(listed) == 0:
                break
        if end is not None:
            with sequence.timed(FRAME), sequence.timed("postprocess"):
                end(sequence)
            yield

    def network(self, encoding, mlp, outputs: str) -> "WavefrontNetwork":
        """The prepost kernels' encoding and MLP over this pool's lists (made once, owned here)."""
        if self._network is None:
            self._network = WavefrontNetwork(self.device, self.slots, encoding, mlp, outputs)
        return self._network

    def close(self) -> None:
        close_all(self.state, self.work, self.identity, self.lists, self.counters, self.start_counter, self.queue,
                  self._network)
        self._network = None


class WavefrontNetwork:
    """The prepost kernels' network of one grid encoding and one MLP (the SDF and volume apps'):
    its query buffers, by place in the slot lists, and the two kernels over a list."""

    def __init__(self, device, slots: int, encoding, mlp, outputs: str):
        self.slots, self.encoding, self.mlp, self.outputs = slots, encoding, mlp, outputs
        self.positions = device.buffer(slots * encoding.config.n_dims * 4, "positions")
        self.encoded = device.buffer(slots * encoding.config.n_output * 4, "encoded")
        self.values = device.buffer(slots * mlp.config.n_output * 4, outputs)

    def buffers(self) -> dict:
        """The wavefront kernel's bindings: `positions` (it writes) and the outputs (it reads)."""
        return {"positions": self.positions, self.outputs: self.values}

    def record(self, sequence, listed) -> None:
        """The encoding and the MLP over the positions of the listed queries, through the list's counter."""
        with sequence.timed("encoding"):
            self.encoding.record_encode(sequence, self.positions, self.encoded, self.slots, counter=listed[1])
        with sequence.timed("mlp"):
            self.mlp.record_forward(sequence, self.encoded, self.values, self.slots, counter=listed[1])

    def close(self) -> None:
        close_all(self.positions, self.encoded, self.values)
