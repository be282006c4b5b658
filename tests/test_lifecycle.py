"""Engine objects are released deterministically: creating and destroying them repeatedly does not
grow the process.

How the bound is set. Resident memory is read after `malloc_trim`, so that memory the C allocator
has freed but kept in its arenas does not count (without it the reading jumps by a few MiB whenever
an arena grows, which made an earlier version of this test flaky). Measured on lavapipe with the
validation layers, after the warm-up: the process still drifts by about 5 KiB a cycle (Python's
caches and the layers' own bookkeeping; 1 KiB without the layers); 100 cycles grew it by 0.3 to
1.6 MiB in four runs. Each cycle makes a 1 MiB buffer, a 192 KiB one, a pipeline and a device, so leaking any one
of them grows the process by at least 19 MiB over 100 cycles. The bound, 4 MiB, lies well between.
"""

import ctypes
import gc

import numpy as np

N = 16384  # directions per cycle: a 192 KiB input and a 1 MiB output buffer
CYCLES = 100
BOUND_MIB = 4.0


def resident_mib() -> float:
    """Resident memory after a garbage collection and giving freed heap pages back to the system."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cycle(rng) -> None:
    from ngvk.engine.gpu.device import Device

    with Device() as device:
        directions = rng.normal(size=(N, 3)).astype(np.float32)
        source = device.buffer_from(directions, "directions")
        target = device.buffer(N * 16 * 4, "encoded")
        kernel = device.kernel("nn/sh_encode.comp")
        sequence = device.sequence()
        with sequence.timed("sh"):
            sequence.dispatch(kernel, N, {"directions": source, "encoded": target}, {"n": N})
        sequence.run()
        assert "sh" in sequence.timings()
        target.download()
        # Some objects are closed explicitly, the rest by the device.
        sequence.close()
        source.close()
        assert len(device._children) == 2  # the kernel and `target`
    assert device.handle is None and device.instance is None


def test_create_and_destroy_100_times_does_not_leak(rng):
    for _ in range(30):  # warm up: drivers, layers and Python keep one-time caches
        cycle(rng)
    before = resident_mib()
    for _ in range(CYCLES):
        cycle(rng)
    grown = resident_mib() - before
    assert grown < BOUND_MIB, f"resident memory grew by {grown:.1f} MiB over {CYCLES} cycles"
