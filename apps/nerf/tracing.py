"""The NeRF app's ray marcher and volume rendering in NumPy: the specification its kernels follow
(nerf/nerf_march.glsl and the kernels around it), forward and backward.

A ray enters the unit cube and marches with the fixed step STEP = sqrt(3) / 1024 (instant-ngp's
finest step, NERF_STEPS = 1024, for scenes in the unit cube): a sample at t where the occupancy
cell holding o + t d is occupied, then t += STEP; where the cell is empty, t jumps past the cell's
exit by a whole number of steps, so that every sample stays on the ray's lattice t0 + k STEP. A
render takes SAMPLES_PER_STEP samples per ray and iteration (the kernels' batch: the networks
evaluate them together), composites them front to back and stops a ray right after the sample
where its opacity exceeds 1 - MIN_TRANSMITTANCE (0.99), or when it leaves the cube; training
composites with the same stop.

Compositing a ray's samples i = 0, 1, ... (density sigma_i = exp(raw_i) of the density network's
first output, colour c_i of the colour network, linear RGB):

    alpha_i = 1 - exp(-sigma_i STEP),  w_i = T_i alpha_i,  T_{i+1} = T_i (1 - alpha_i),  T_0 = 1
    C = sum_i w_i c_i,  the pixel = C + T_end background

stopping after the first sample whose T_{i+1} < MIN_TRANSMITTANCE. Its gradients (the training
backward pass; exact for the samples composited, the stop being piecewise constant):

    dC / dc_i = w_i
    d pixel / d raw_i = sigma_i STEP (T_{i+1} c_i - (C - C_<=i) - T_end background)

where C_<=i is the sum up to and including sample i. Training rays start at a random fraction of a
step past the cube's entry (no aliasing along the ray), render rays at the entry.
"""

from __future__ import annotations

import math

import numpy as np

from ngvk.engine.nn.reference import linear_to_srgb
from ngvk.engine.render.occupancy import cube_entry

OCCUPANCY_RESOLUTION = 128
NERF_STEPS = 1024
STEP = float(np.float32(math.sqrt(3.0) / NERF_STEPS))
SAMPLES_PER_STEP = 8
MAX_SAMPLES = NERF_STEPS  # the cube's diagonal is NERF_STEPS steps long
MAX_ITERATIONS = MAX_SAMPLES // SAMPLES_PER_STEP
MIN_TRANSMITTANCE = 0.01  # stop at opacity 0.99
DEPTH_SCALE = 0.5  # the depth mode shows depth x this as grey
MODES = ("color", "depth", "samples")  # nerf/nerf_ray.glsl NERF_MODE_*


def defines() -> dict:
    """The marcher's constants as the shaders' defines (floats written to round-trip float32)."""
    return {"NERF_STEP": f"{STEP:.9e}", "NERF_SAMPLES_PER_STEP": SAMPLES_PER_STEP,
            "NERF_MAX_ITERATIONS": MAX_ITERATIONS, "NERF_MAX_SAMPLES": MAX_SAMPLES,
            "NERF_MIN_TRANSMITTANCE": f"{MIN_TRANSMITTANCE:.9e}", "NERF_DEPTH_SCALE": f"{DEPTH_SCALE:.9e}",
            "NERF_OCCUPANCY_RESOLUTION": OCCUPANCY_RESOLUTION}


def _cell(p: np.ndarray, resolution: int) -> np.ndarray:
    f32 = np.float32
    return np.minimum((np.clip(p, f32(0), f32(1)) * f32(resolution)).astype(np.int64), resolution - 1)


def next_sample(o, d, t: float, t_exit: float, occupied: np.ndarray):
    """(sample t or None, the t to continue from): the first sample at or after t, in float32 as
    nerf_march.glsl nerf_next_sample() computes it."""
    f32 = np.float32
    resolution = occupied.shape[0]
    step = f32(STEP)
    t, t_exit = f32(t), f32(t_exit)
    o, d = o.astype(f32), d.astype(f32)
    while t < t_exit:
        cell = _cell(o + t * d, resolution)
        if occupied[tuple(cell)]:
            return t, f32(t + step)
        bounds = (cell + (d > 0)).astype(f32) / f32(resolution)
        with np.errstate(divide="ignore", invalid="ignore"):
            crossings = np.where(d != 0, (bounds - o) / d, f32(1e30)).astype(f32)
        t_cell = f32(crossings.min())
        t = f32(t + step * f32(max(1.0, math.ceil(float((t_cell - t) / step)))))
    return None, t


def march(o, d, occupied, t: float | None = None, limit: int = MAX_SAMPLES) -> np.ndarray:
    """The sample ts of a ray (float32), up to `limit`, from the cube entry (or from `t`)."""
    enter, t_exit = cube_entry(o[None].astype(np.float32), d[None].astype(np.float32))
    t = np.float32(enter[0] if t is None else t)
    samples = []
    while len(samples) < limit:
        sample, t = next_sample(o, d, t, t_exit[0], occupied)
        if sample is None:
            break
        samples.append(sample)
    return np.array(samples, np.float32)


def composite(raw: np.ndarray, rgb: np.ndarray, background, stop: bool = True) -> dict:
    """Front-to-back compositing of one ray's samples: raw densities [S], colours [S, 3] (float64).
    Returns the pixel, C, the weights, the transmittances T_0..T_used and `used`, the samples taken
    before the stop."""
    raw, rgb = np.asarray(raw, np.float64), np.asarray(rgb, np.float64)
    transmittance, colour, weights, ts = 1.0, np.zeros(3), [], [1.0]
    used = 0
    for i in range(len(raw)):
        alpha = 1.0 - math.exp(-math.exp(raw[i]) * STEP)
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


def composite_backward(raw, rgb, background, d_pixel) -> tuple[np.ndarray, np.ndarray]:
    """(dL/d raw [S], dL/d rgb [S, 3]) of one ray given dL/d pixel [3]: the formulas in the module
    docstring (zero for samples after the stop)."""
    raw, rgb = np.asarray(raw, np.float64), np.asarray(rgb, np.float64)
    d_pixel = np.asarray(d_pixel, np.float64)
    forward = composite(raw, rgb, background)
    used, weights, ts = forward["used"], forward["weights"], forward["transmittance"]
    t_end = ts[used]
    d_raw, d_rgb = np.zeros(len(raw)), np.zeros((len(raw), 3))
    partial = np.zeros(3)
    for i in range(used):
        partial = partial + weights[i] * rgb[i]
        d_rgb[i] = weights[i] * d_pixel
        sigma = math.exp(raw[i])
        d_colour = ts[i + 1] * rgb[i] - (forward["colour"] - partial) - t_end * np.asarray(background, np.float64)
        d_raw[i] = sigma * STEP * float(d_colour @ d_pixel)
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
           background=(1.0, 1.0, 1.0), pixels=None) -> np.ndarray:
    """Reference render of `pixels` (default all) as RGB [N, 3]: `query(positions [N, 3],
    directions [N, 3])` -> (raw densities [N], colours [N, 3]) stands for the two networks. Each ray
    composites its samples (composite(), with the stop); the kernels evaluate them 8 at a time and
    stop evaluating there, which changes what they compute, not what they composite."""
    origins, directions = camera.rays(width, height, pixels)
    colours, transmittances, depths, counts = [], [], [], []
    for o, d in zip(origins, directions):
        samples = march(o, d, occupied)
        out = {"colour": np.zeros(3), "transmittance": [1.0], "weights": np.zeros(0), "used": 0}
        if len(samples):
            positions = o[None].astype(np.float32) + samples[:, None] * d[None].astype(np.float32)
            raw, rgb = query(positions, np.repeat(d[None], len(samples), axis=0))
            out = composite(raw, rgb, background)
        colours.append(out["colour"])
        transmittances.append(out["transmittance"][out["used"]])
        depths.append(float(out["weights"] @ samples[:out["used"]].astype(np.float64)))
        counts.append(out["used"])
    return resolve(np.array(colours), np.array(transmittances), np.array(depths), np.array(counts), mode, background)
