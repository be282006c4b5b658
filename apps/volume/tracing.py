"""The volume app's free-flight renderer in NumPy: the specification its kernels are to follow
(volume/volume_trace.glsl and the kernels around it), with the occupancy grid and majorant it
needs.

A path of pixel p, sample s: the camera ray enters the unit cube; then, for at most MAX_EVENTS
events, a free-flight distance -ln(1 - u) / majorant (u from the random sequence), which ends
either outside the cube (the path escapes), or in a cell of the occupancy grid that is empty (the
path jumps to the entry of the next occupied cell along the ray and draws again: no density there,
so nothing can happen there, and the exponential distance is memoryless), or at an event: the
albedo and density there are queried and, with probability density / majorant, the path collides,
takes the albedo as its colour and stops (opacity 1; OPACITY_STOP is where a path that accumulates
partial opacity would stop, reached at once here). The pixel is the mean of its samples of
colour * LIGHT + (1 - opacity) * sky, tone-mapped (1 - exp(-EXPOSURE x)) and encoded to sRGB.

Random numbers: engine/nn/reference.py random_uniform(seed, step, item, k), the same PCG sequence
as the device's lib/random.glsl, with item the pixel, step (frame * spp + sample) * MAX_EVENTS +
event, and k 0 for the distance and 1 for the acceptance (the sequence takes k < 4): a render is
reproducible from its seed, and frames of a progressive render draw new samples.
"""

from __future__ import annotations

import numpy as np

from ngvk.engine.nn.reference import linear_to_srgb, random_uniform
from ngvk.engine.render.occupancy import cube_entry, pack_occupancy  # noqa: F401 (the tracer's, re-exported)

MAX_EVENTS = 64
OPACITY_STOP = 0.99
OCCUPANCY_RESOLUTION = 128
OCCUPANCY_THRESHOLD = 0.001  # a cell is occupied where some density in it is above this
OCCUPANCY_PROBES = 3  # per axis: the densities at 3^3 points of each cell (corners, edges, centre)
MAJORANT_MARGIN = 1.1  # a network's majorant: the largest density probed, times this
LIGHT = 1.5  # radiance a colliding path carries, times its albedo
EXPOSURE = 1.0
SKY_LOW, SKY_HIGH = np.array([0.30, 0.40, 0.60]), np.array([0.08, 0.16, 0.40])

MODES = ("color", "density", "events")  # volume/volume_path.glsl VOLUME_MODE_*
FLYING, QUERY, DONE = 0, 1, 2  # VolumePath.status

# VolumePath of volume/volume_path.glsl in std430: 48 bytes.
PATH_DTYPE = np.dtype([("colour", "<f4", 3), ("t", "<f4"), ("t_exit", "<f4"), ("opacity", "<f4"),
                       ("flights", "<u4"), ("events", "<u4"), ("status", "<u4"), ("pixel", "<u4"),
                       ("step", "<u4"), ("pad", "<u4")])
assert PATH_DTYPE.itemsize == 48


def defines() -> dict:
    """The tracer's constants as the shaders' defines (floats written to round-trip float32)."""
    values = {"MAX_EVENTS": MAX_EVENTS, "LIGHT": LIGHT, "EXPOSURE": EXPOSURE}
    for name, colour in (("SKY_LOW", SKY_LOW), ("SKY_HIGH", SKY_HIGH)):
        values.update({f"{name}_{c}": float(v) for c, v in zip("RGB", colour)})
    return {f"VOLUME_{name}": (str(v) if isinstance(v, int) else f"{v:.9e}") for name, v in values.items()}


def occupancy_grid(density_function, resolution: int = OCCUPANCY_RESOLUTION, chunk: int = 1 << 18):
    """(occupied [R, R, R] bool, the largest density probed): a cell is occupied where the density
    at any of its OCCUPANCY_PROBES^3 probe points exceeds OCCUPANCY_THRESHOLD. `density_function`:
    positions [N, 3] -> densities [N]."""
    axis = np.arange(resolution * (OCCUPANCY_PROBES - 1) + 1) / (resolution * (OCCUPANCY_PROBES - 1))
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    values = np.concatenate([np.asarray(density_function(grid[i : i + chunk]), np.float64)
                             for i in range(0, len(grid), chunk)])
    side = len(axis)
    values = values.reshape(side, side, side)
    occupied = np.zeros((resolution,) * 3, bool)
    step = OCCUPANCY_PROBES - 1
    for dx in range(OCCUPANCY_PROBES):
        for dy in range(OCCUPANCY_PROBES):
            for dz in range(OCCUPANCY_PROBES):
                probe = values[dx : dx + resolution * step : step, dy : dy + resolution * step : step,
                               dz : dz + resolution * step : step]
                occupied |= probe > OCCUPANCY_THRESHOLD
    return occupied, float(values.max())


def grid_occupancy(density: np.ndarray, resolution: int = OCCUPANCY_RESOLUTION) -> np.ndarray:
    """occupied [R, R, R] of a density grid [X, Y, Z] sampled trilinearly (data.py): a cell is
    occupied where a voxel whose value its trilinear density can reach exceeds the threshold (the
    interpolation never exceeds its corners, so this marks every cell occupancy_grid() would, and
    reads each voxel once instead of probing)."""
    out = np.asarray(density, np.float64) > OCCUPANCY_THRESHOLD
    for axis in range(3):
        size = out.shape[axis]
        cells = np.arange(resolution)
        low = np.clip(np.floor(cells * size / resolution - 0.5), 0, size - 1).astype(np.int64)
        high = np.clip(np.ceil((cells + 1) * size / resolution - 0.5), 0, size - 1).astype(np.int64)
        moved = np.moveaxis(out, axis, 0)
        out = np.moveaxis(np.stack([moved[a : b + 1].any(axis=0) for a, b in zip(low, high)]), 0, axis)
    return out


def next_occupied(origin, direction, t, t_exit, occupied):
    """For each ray, the t at which it enters the first occupied cell at or after t (t_exit when
    none): a walk through the cells (Amanatides and Woo)."""
    resolution = occupied.shape[0]
    t = t.copy()
    for i in range(len(t)):
        o, d = origin[i], direction[i]
        while t[i] < t_exit[i]:
            p = np.clip(o + t[i] * d, 0.0, np.nextafter(1.0, 0.0))
            cell = np.minimum((p * resolution).astype(np.int64), resolution - 1)
            if occupied[tuple(cell)]:
                break
            with np.errstate(divide="ignore"):
                bounds = (cell + (d > 0)) / resolution
                steps = np.where(d != 0, (bounds - o) / d, np.inf)
            t[i] = max(float(np.min(steps)), t[i]) + 1e-6
    return np.minimum(t, t_exit)


def sky(direction: np.ndarray) -> np.ndarray:
    return SKY_LOW + (SKY_HIGH - SKY_LOW) * np.clip(direction[:, 1:2], 0.0, 1.0)


def trace_sample(origin, direction, query, occupied, majorant: float, seed: int, step: int, pixels):
    """One sample of each path: (colour [N, 3], opacity [N], events [N])."""
    n = len(origin)
    t, t_exit = cube_entry(origin, direction)
    colour, opacity, events = np.zeros((n, 3)), np.zeros(n), np.zeros(n, np.int64)
    live = t < t_exit
    t = np.where(live, next_occupied(origin, direction, t, t_exit, occupied), t)
    for event in range(MAX_EVENTS):
        index = np.flatnonzero(live)
        if not len(index):
            break
        u = random_uniform(seed, step * MAX_EVENTS + event, pixels[index], 0).astype(np.float64)
        t_new = t[index] - np.log(1.0 - u) / majorant
        p = origin[index] + t_new[:, None] * direction[index]
        escaped = t_new >= t_exit[index]
        cells = np.minimum((np.clip(p, 0, 1) * occupied.shape[0]).astype(np.int64), occupied.shape[0] - 1)
        empty = ~escaped & ~occupied[cells[:, 0], cells[:, 1], cells[:, 2]]
        t[index] = t_new
        skip = index[empty]
        t[skip] = next_occupied(origin[skip], direction[skip], t[skip], t_exit[skip], occupied)
        live[index[escaped]] = False
        at = index[~escaped & ~empty]
        if len(at):
            values = np.asarray(query(np.clip(origin[at] + t[at, None] * direction[at], 0.0, 1.0)), np.float64)
            events[at] += 1
            accept = random_uniform(seed, step * MAX_EVENTS + event, pixels[at], 1) < values[:, 3] / majorant
            hit = at[accept]
            colour[hit] = values[accept, :3]
            opacity[hit] = 1.0
            live[hit] = False
        live &= t < t_exit
    return colour, opacity, events


def render(camera, width: int, height: int, query, occupied, majorant: float, spp: int, seed: int,
           mode: str = "color", frame: int = 0) -> np.ndarray:
    """The frame, RGBA float [height, width, 4], of a volume given by `query` (positions [N, 3] ->
    [N, 4] albedo RGB and density), its occupancy grid and majorant, `spp` samples per pixel."""
    origin, direction = (a.astype(np.float64) for a in camera.rays(width, height))
    pixels = np.arange(width * height)
    total, alpha, events = np.zeros((len(pixels), 3)), np.zeros(len(pixels)), np.zeros(len(pixels))
    for sample in range(spp):
        colour, opacity, count = trace_sample(origin, direction, query, occupied, majorant, seed,
                                              frame * spp + sample, pixels)
        total += colour * LIGHT + (1.0 - opacity)[:, None] * sky(direction)
        alpha += opacity
        events += count
    out = np.ones((len(pixels), 4))
    if mode == "color":
        out[:, :3] = linear_to_srgb(1.0 - np.exp(-EXPOSURE * total / spp))
    elif mode == "density":
        out[:, :3] = (alpha / spp)[:, None]
    else:
        x = events / spp / MAX_EVENTS
        out[:, :3] = np.clip(np.stack([2 * x - 0.5, 1 - np.abs(2 * x - 1), 1 - 2 * x], axis=-1), 0, 1)
    return out.reshape(height, width, 4)
