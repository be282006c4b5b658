"""The NeRF app's ray marcher and volume rendering in NumPy: the specification its kernels follow
(nerf/nerf_march.glsl and the kernels around it), forward and backward.

The scene is the axis-aligned box of side `aabb_scale` (a power of two, instant-ngp's; 1 for the
NeRF synthetic scenes) centred on (0.5, 0.5, 0.5): `Aabb`. The occupancy grid has one cascade of
OCCUPANCY_RESOLUTION^3 cells per power of two up to it (instant-ngp's cascaded grids): cascade k
covers the box of side 2^k around the centre, so cascade 0 is the unit cube and the last the
whole aabb. The networks see positions warped into [0, 1]^3: (p - aabb low corner) / aabb_scale.

Step size: in the unit cube (aabb_scale 1) the fixed STEP = sqrt(3) / 1024 (instant-ngp's finest
step, NERF_STEPS = 1024); beyond it, instant-ngp's cone stepping: the step grows with the distance t,
dt = t x CONE_ANGLE (1/256), between STEP and MAX_CONE_STEP (sqrt(3), the coarsest cascade's
cell), so distant parts of a big scene take as few samples as they cover pixels. Steps are whole
numbers in "stepping space" (to_stepping() / from_stepping(): linear in t with STEP, logarithmic,
then linear with MAX_CONE_STEP), so that samples stay on a lattice.

A ray enters the aabb and marches: at t, with dt its step there, the cascade is the finest that
holds o + t d (mip_from_pos) or coarser where dt is larger than the finer cells (mip_from_dt);
where that cell is occupied a sample at t, then t += dt; where it is empty, t jumps past the cell's
exit by a whole number of steps. A render takes SAMPLES_PER_STEP samples per ray and iteration (the
kernels' batch: the networks evaluate them together), composites them front to back and stops a
ray right after the sample where its opacity exceeds 1 - MIN_TRANSMITTANCE (0.99), or when it
leaves the aabb; training composites with the same stop.

Compositing a ray's samples i = 0, 1, ... (density sigma_i = exp(raw_i) of the density network's
first output, colour c_i of the colour network, linear RGB, dt_i the step at t_i):

    alpha_i = 1 - exp(-sigma_i dt_i),  w_i = T_i alpha_i,  T_{i+1} = T_i (1 - alpha_i),  T_0 = 1
    C = sum_i w_i c_i,  the pixel = C + T_end background

stopping after the first sample whose T_{i+1} < MIN_TRANSMITTANCE. Its gradients (the training
backward pass; exact for the samples composited, the stop being piecewise constant):

    dC / dc_i = w_i
    d pixel / d raw_i = sigma_i dt_i (T_{i+1} c_i - (C - C_<=i) - T_end background)

where C_<=i is the sum up to and including sample i. Training rays start at a random fraction of a
step past the aabb's entry (no aliasing along the ray), render rays at the entry. Beyond the aabb
nothing is modelled (instant-ngp likewise): a capture's far background is learnt on the aabb's
walls, and rays that leave it add the background colour for what they did not gather.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ngvk.engine.nn.reference import linear_to_srgb

OCCUPANCY_RESOLUTION = 128
NERF_STEPS = 1024
STEP = float(np.float32(math.sqrt(3.0) / NERF_STEPS))
SAMPLES_PER_STEP = 8
MAX_SAMPLES = NERF_STEPS  # the cube's diagonal is NERF_STEPS steps long
MAX_ITERATIONS = MAX_SAMPLES // SAMPLES_PER_STEP
MIN_TRANSMITTANCE = 0.01  # stop at opacity 0.99
DEPTH_SCALE = 0.5  # the depth mode shows depth x this as grey
MODES = ("color", "depth", "samples")  # nerf/nerf_ray.glsl NERF_MODE_*
MAX_AABB_SCALE = 128  # instant-ngp's limit (NERF_CASCADES = 8)
CONE_ANGLE = 1.0 / 256.0  # instant-ngp's cone_angle_constant, for scenes beyond the unit cube
MAX_CONE_STEP = float(np.float32(math.sqrt(3.0)))  # instant-ngp's MAX_CONE_STEPSIZE: STEP x 2^7 x 1024 / 128


@dataclass(frozen=True)
class Aabb:
    """The scene's box: side `scale` (a power of two, 1 to MAX_AABB_SCALE) around (0.5, 0.5, 0.5),
    with one occupancy cascade per power of two (module docstring)."""

    scale: int = 1

    def __post_init__(self):
        if not (isinstance(self.scale, (int, np.integer)) and 1 <= self.scale <= MAX_AABB_SCALE and
                self.scale & (self.scale - 1) == 0):
            raise ValueError(f"aabb_scale must be a power of two from 1 to {MAX_AABB_SCALE}, not {self.scale!r}")

    @property
    def cascades(self) -> int:
        return int(self.scale).bit_length()

    @property
    def cone_angle(self) -> float:
        """instant-ngp's: fixed steps in the unit cube (as the original NeRF), cone steps beyond it."""
        return 0.0 if self.scale == 1 else CONE_ANGLE

    @property
    def low(self) -> float:
        """The box's low corner on each axis (exact in float32: 0, -0.5, -1.5, ...)."""
        return 0.5 - self.scale / 2

    def entry(self, origin: np.ndarray, direction: np.ndarray):
        """(t_enter, t_exit) of rays [N, 3] through the box: cube_entry()'s test, moved and scaled
        (the unit cube's exactly when scale is 1)."""
        f32 = np.float32
        low, high = f32(self.low), f32(self.low + self.scale)
        with np.errstate(divide="ignore", invalid="ignore"):
            inverse = f32(1) / direction.astype(f32)
            t0, t1 = (low - origin.astype(f32)) * inverse, (high - origin.astype(f32)) * inverse
        enter = np.maximum(np.max(np.minimum(t0, t1), axis=-1), f32(0))
        return enter, np.min(np.maximum(t0, t1), axis=-1)

    def warp(self, positions: np.ndarray) -> np.ndarray:
        """Positions in the box to the networks' [0, 1]^3 (unchanged when scale is 1)."""
        f32 = np.float32
        return ((np.asarray(positions, f32) - f32(self.low)) * f32(1.0 / self.scale)).astype(f32)

    def defines(self) -> dict:
        """The box's and the stepping's constants as the shaders' defines."""
        log1p_c = math.log1p(self.cone_angle) if self.cone_angle else 1.0
        return {"NERF_AABB_SCALE": f"{float(self.scale):.9e}", "NERF_CASCADES": self.cascades,
                "NERF_CONE": int(self.cone_angle > 0), "NERF_LOG1P_CONE": f"{_f32(log1p_c):.9e}",
                **{f"NERF_STEPPING_{k.upper()}": f"{v:.9e}" for k, v in _stepping(self.cone_angle).items()}}


UNIT = Aabb(1)


def defines(aabb: Aabb = UNIT) -> dict:
    """The marcher's constants as the shaders' defines (floats written to round-trip float32)."""
    return {"NERF_STEP": f"{STEP:.9e}", "NERF_MAX_CONE_STEP": f"{MAX_CONE_STEP:.9e}",
            "NERF_SAMPLES_PER_STEP": SAMPLES_PER_STEP,
            "NERF_MAX_ITERATIONS": MAX_ITERATIONS, "NERF_MAX_SAMPLES": MAX_SAMPLES,
            "NERF_MIN_TRANSMITTANCE": f"{MIN_TRANSMITTANCE:.9e}", "NERF_DEPTH_SCALE": f"{DEPTH_SCALE:.9e}",
            "NERF_OCCUPANCY_RESOLUTION": OCCUPANCY_RESOLUTION, **aabb.defines()}


def _f32(x) -> float:
    return float(np.float32(x))


def _stepping(cone_angle: float) -> dict:
    """instant-ngp's stepping-space breakpoints (nerf_device.cuh to_stepping_space()): a and b in
    steps, at and bt in t, where the step stops being STEP and starts being MAX_CONE_STEP."""
    if not cone_angle:
        return {"a": 0.0, "b": 0.0, "at": 0.0, "bt": 0.0}
    log1p_c = math.log1p(cone_angle)
    a = (math.log(STEP) - math.log(log1p_c)) / log1p_c
    b = (math.log(MAX_CONE_STEP) - math.log(log1p_c)) / log1p_c
    return {"a": _f32(a), "b": _f32(b), "at": _f32(math.exp(a * log1p_c)), "bt": _f32(math.exp(b * log1p_c))}


def to_stepping(t, aabb: Aabb = UNIT):
    """t in steps (float32, as nerf_march.glsl nerf_to_stepping())."""
    f32 = np.float32
    t = f32(t)
    if not aabb.cone_angle:
        return f32(t / f32(STEP))
    k = _stepping(aabb.cone_angle)
    log1p_c = f32(math.log1p(aabb.cone_angle))
    if t <= f32(k["at"]):
        return f32((t - f32(k["at"])) / f32(STEP) + f32(k["a"]))
    if t <= f32(k["bt"]):
        return f32(f32(math.log(t)) / log1p_c)
    return f32((t - f32(k["bt"])) / f32(MAX_CONE_STEP) + f32(k["b"]))


def from_stepping(n, aabb: Aabb = UNIT):
    """to_stepping()'s inverse (float32)."""
    f32 = np.float32
    n = f32(n)
    if not aabb.cone_angle:
        return f32(n * f32(STEP))
    k = _stepping(aabb.cone_angle)
    log1p_c = f32(math.log1p(aabb.cone_angle))
    if n <= f32(k["a"]):
        return f32((n - f32(k["a"])) * f32(STEP) + f32(k["at"]))
    if n <= f32(k["b"]):
        return f32(math.exp(f32(n * log1p_c)))
    return f32((n - f32(k["b"])) * f32(MAX_CONE_STEP) + f32(k["bt"]))


def advance(t, steps, aabb: Aabb = UNIT):
    """t moved on by `steps` (a whole or fractional number) steps: t + steps x STEP in the unit cube."""
    f32 = np.float32
    if not aabb.cone_angle:
        return f32(f32(t) + f32(STEP) * f32(steps))
    return from_stepping(to_stepping(t, aabb) + f32(steps), aabb)


def step_size(t, aabb: Aabb = UNIT):
    """dt at t: the distance to the next step (STEP in the unit cube)."""
    f32 = np.float32
    if not aabb.cone_angle:
        return f32(STEP)
    return f32(advance(t, 1, aabb) - f32(t))


def _exponent(x: float) -> int:
    """frexp's exponent: x = m 2^e with m in [0.5, 1) (0 for x = 0, as C's and GLSL's frexp)."""
    return int(np.frexp(np.float32(x))[1])


def mip_from_pos(p, aabb: Aabb = UNIT) -> int:
    """The finest cascade that holds p (instant-ngp's mip_from_pos)."""
    value = float(np.max(np.abs(np.asarray(p, np.float32) - np.float32(0.5))))
    return min(max(_exponent(value) + 1, 0), aabb.cascades - 1)


def mip_from_dt(dt, p, aabb: Aabb = UNIT) -> int:
    """The cascade to look up for a step dt at p: mip_from_pos, or coarser where its cells are
    smaller than half a step (instant-ngp's mip_from_dt)."""
    mip = mip_from_pos(p, aabb)
    x = float(np.float32(dt) * np.float32(2 * OCCUPANCY_RESOLUTION))
    if x < 1.0:
        return mip
    return min(max(mip, _exponent(x)), aabb.cascades - 1)


def _cascade_low(mip: int) -> np.float32:
    return np.float32(0.5 - 2.0 ** (mip - 1)) if mip else np.float32(0.0)


def _cell(p: np.ndarray, resolution: int, mip: int = 0) -> np.ndarray:
    """The cell of cascade `mip` holding p (clamped into the cascade)."""
    f32 = np.float32
    q = (p - _cascade_low(mip)) * f32(2.0**-mip)
    return np.minimum((np.clip(q, f32(0), f32(1)) * f32(resolution)).astype(np.int64), resolution - 1)


def cascades_of(occupied: np.ndarray) -> np.ndarray:
    """An occupancy grid as bool [cascades, R, R, R] (a single cascade may be given as [R, R, R])."""
    occupied = np.asarray(occupied, bool)
    return occupied[None] if occupied.ndim == 3 else occupied


def next_sample(o, d, t: float, t_exit: float, occupied: np.ndarray, aabb: Aabb = UNIT):
    """(sample t or None, the t to continue from): the first sample at or after t, in float32 as
    nerf_march.glsl nerf_next_sample() computes it."""
    f32 = np.float32
    occupied = cascades_of(occupied)
    resolution = occupied.shape[1]
    t, t_exit = f32(t), f32(t_exit)
    o, d = o.astype(f32), d.astype(f32)
    while t < t_exit:
        p = o + t * d
        dt = step_size(t, aabb)
        mip = mip_from_dt(dt, p, aabb)
        cell = _cell(p, resolution, mip)
        if occupied[(mip, *cell)]:
            return t, f32(t + dt)
        bounds = _cascade_low(mip) + (cell + (d > 0)).astype(f32) * f32(2.0**mip / resolution)
        with np.errstate(divide="ignore", invalid="ignore"):
            crossings = np.where(d != 0, (bounds - o) / d, f32(1e30)).astype(f32)
        t_cell = f32(crossings.min())
        if aabb.cone_angle:
            now = to_stepping(t, aabb)
            t = from_stepping(now + f32(max(1.0, math.ceil(float(to_stepping(t_cell, aabb) - now)))), aabb)
        else:
            t = f32(t + f32(STEP) * f32(max(1.0, math.ceil(float((t_cell - t) / f32(STEP))))))
    return None, t


def march(o, d, occupied, t: float | None = None, limit: int = MAX_SAMPLES, aabb: Aabb = UNIT) -> np.ndarray:
    """The sample ts of a ray (float32), up to `limit`, from the aabb's entry (or from `t`)."""
    enter, t_exit = aabb.entry(o[None].astype(np.float32), d[None].astype(np.float32))
    t = np.float32(enter[0] if t is None else t)
    samples = []
    while len(samples) < limit:
        sample, t = next_sample(o, d, t, t_exit[0], occupied, aabb)
        if sample is None:
            break
        samples.append(sample)
    return np.array(samples, np.float32)


def step_sizes(ts, aabb: Aabb = UNIT) -> np.ndarray:
    """dt of each sample t (float64, for composite())."""
    return np.array([step_size(t, aabb) for t in np.asarray(ts, np.float32)], np.float64)


def composite(raw: np.ndarray, rgb: np.ndarray, background, stop: bool = True, dts=None) -> dict:
    """Front-to-back compositing of one ray's samples: raw densities [S], colours [S, 3] (float64),
    their steps dt [S] (default STEP each: the unit cube's). Returns the pixel, C, the weights, the
    transmittances T_0..T_used and `used`, the samples taken before the stop."""
    raw, rgb = np.asarray(raw, np.float64), np.asarray(rgb, np.float64)
    dts = np.full(len(raw), STEP) if dts is None else np.asarray(dts, np.float64)
    transmittance, colour, weights, ts = 1.0, np.zeros(3), [], [1.0]
    used = 0
    for i in range(len(raw)):
        alpha = 1.0 - math.exp(-math.exp(raw[i]) * dts[i])
        weight = transmittance * alpha
        colour = colour + weight * rgb[i]
        transmittance *= 1.0 - alpha
        weights.append(weight)
        ts.append(transmittance)
        used = i + 1
        if stop and transmittance < MIN_TRANSMITTANCE:
            break
    pixel = colour + transmittance * np.asarray(background, np.float64)
    return {"pixel": pixel, "colour": colour, "weights": np.array(weights), "transmittance": np.array(ts),
            "used": used}


def composite_backward(raw, rgb, background, d_pixel, dts=None) -> tuple[np.ndarray, np.ndarray]:
    """(dL/d raw [S], dL/d rgb [S, 3]) of one ray given dL/d pixel [3]: the formulas in the module
    docstring (zero for samples after the stop)."""
    raw, rgb = np.asarray(raw, np.float64), np.asarray(rgb, np.float64)
    dts = np.full(len(raw), STEP) if dts is None else np.asarray(dts, np.float64)
    d_pixel = np.asarray(d_pixel, np.float64)
    forward = composite(raw, rgb, background, dts=dts)
    used, weights, ts = forward["used"], forward["weights"], forward["transmittance"]
    t_end = ts[used]
    d_raw, d_rgb = np.zeros(len(raw)), np.zeros((len(raw), 3))
    partial = np.zeros(3)
    for i in range(used):
        partial = partial + weights[i] * rgb[i]
        d_rgb[i] = weights[i] * d_pixel
        sigma = math.exp(raw[i])
        d_colour = ts[i + 1] * rgb[i] - (forward["colour"] - partial) - t_end * np.asarray(background, np.float64)
        d_raw[i] = sigma * dts[i] * float(d_colour @ d_pixel)
    return d_raw, d_rgb


def resolve(colour, transmittance, depth, samples, mode: str, background) -> np.ndarray:
    """The frame's RGB of composited rays (arrays over rays): sRGB of C + T background (color),
    expected depth x DEPTH_SCALE (depth), samples / MAX_SAMPLES x 8 (samples), as grey."""
    opacity = 1.0 - np.asarray(transmittance, np.float64)
    if mode == "color":
        return linear_to_srgb(np.asarray(colour) + np.asarray(transmittance)[:, None] * np.asarray(background))
    if mode == "depth":
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(opacity > 0, np.asarray(depth) / np.maximum(opacity, 1e-30), 0.0)
        return np.repeat(np.clip(value * DEPTH_SCALE, 0.0, 1.0)[:, None], 3, axis=1)
    value = np.asarray(samples, np.float64) * 8.0 / MAX_SAMPLES
    return np.repeat(np.clip(value, 0.0, 1.0)[:, None], 3, axis=1)


def render(camera, width: int, height: int, query, occupied: np.ndarray, mode: str = "color",
           background=(1.0, 1.0, 1.0), pixels=None, aabb: Aabb = UNIT) -> np.ndarray:
    """Reference render of `pixels` (default all) as RGB [N, 3]: `query(positions [N, 3] warped into
    [0, 1]^3, directions [N, 3])` -> (raw densities [N], colours [N, 3]) stands for the two networks. Each ray
    composites its samples (composite(), with the stop); the kernels evaluate them 8 at a time and
    stop evaluating there, which changes what they compute, not what they composite."""
    origins, directions = camera.rays(width, height, pixels)
    colours, transmittances, depths, counts = [], [], [], []
    for o, d in zip(origins, directions):
        samples = march(o, d, occupied, aabb=aabb)
        out = {"colour": np.zeros(3), "transmittance": [1.0], "weights": np.zeros(0), "used": 0}
        if len(samples):
            positions = aabb.warp(o[None].astype(np.float32) + samples[:, None] * d[None].astype(np.float32))
            raw, rgb = query(positions, np.repeat(d[None], len(samples), axis=0))
            out = composite(raw, rgb, background, dts=step_sizes(samples, aabb))
        colours.append(out["colour"])
        transmittances.append(out["transmittance"][out["used"]])
        depths.append(float(out["weights"] @ samples[:out["used"]].astype(np.float64)))
        counts.append(out["used"])
    return resolve(np.array(colours), np.array(transmittances), np.array(depths), np.array(counts), mode, background)
