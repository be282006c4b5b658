"""Occupancy grids of the unit cube, as the 3D apps' ray marchers read them: R^3 cells, one bit each,
packed into uint32 words; and where a ray enters and leaves the cube.

Cell (x, y, z) of an [R, R, R] boolean grid is bit (x * R + y) * R + z, LSB first (shaders/lib/
occupancy.glsl reads it so). `cube_entry()` is the NumPy specification of the kernels' ray-box test.
"""

from __future__ import annotations

import numpy as np


def pack_occupancy(occupied: np.ndarray) -> np.ndarray:
    """The bits of occupied [R, R, R] as uint32 words, cell (x, y, z) at bit index (x * R + y) * R
    + z, LSB first (the layout the kernels read)."""
    bits = np.packbits(occupied.reshape(-1).astype(np.uint8), bitorder="little")
    return bits.view(np.uint32) if bits.size % 4 == 0 else np.pad(bits, (0, -bits.size % 4)).view(np.uint32)


def unpack_occupancy(words: np.ndarray, resolution: int) -> np.ndarray:
    """pack_occupancy()'s inverse: bool [R, R, R]."""
    bits = np.unpackbits(np.asarray(words).view(np.uint8), bitorder="little")[: resolution**3]
    return bits.reshape((resolution,) * 3).astype(bool)


def cube_entry(origin: np.ndarray, direction: np.ndarray):
    """(t_enter, t_exit) of rays [N, 3] through the unit cube (t_enter >= 0; missed: enter >= exit)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = 1.0 / direction
        t0, t1 = (0.0 - origin) * inverse, (1.0 - origin) * inverse
    enter = np.maximum(np.max(np.minimum(t0, t1), axis=-1), 0.0)
    leave = np.min(np.maximum(t0, t1), axis=-1)
    return enter, leave
