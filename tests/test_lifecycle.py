"""Engine objects are released deterministically: creating and destroying them repeatedly does not
grow the process."""

import numpy as np


def resident_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cycle(rng) -> None:
    from engine.device import Device

    with Device() as device:
        directions = rng.normal(size=(256, 3)).astype(np.float32)
        source = device.buffer_from(directions, "directions")
        target = device.buffer(256 * 16 * 4, "encoded")
        kernel = device.kernel("sh_encode.comp")
        sequence = device.sequence()
        with sequence.timed("sh"):
            sequence.dispatch(kernel, 256, {"directions": source, "encoded": target}, {"n": 256})
        sequence.run()
        assert "sh" in sequence.timings()
        target.download()
        # Some objects are closed explicitly, the rest by the device.
        sequence.close()
        source.close()
        assert len(device._children) == 2  # the kernel and `target`
    assert device.handle is None and device.instance is None


def test_create_and_destroy_100_times_does_not_leak(rng):
    for _ in range(10):  # warm up: drivers and layers keep one-time caches
        cycle(rng)
    before = resident_mib()
    for _ in range(100):
        cycle(rng)
    grown = resident_mib() - before
    assert grown < 4.0, f"resident memory grew by {grown:.1f} MiB over 100 cycles"
