"""NumPy references of the image app's own kernels (shaders/image/): their specification, named as
the kernels are. Geometry and colour are described in app.py."""

from __future__ import annotations

import numpy as np

from ngvk.engine.nn import reference
from ngvk.engine.render.camera import Camera


def image_preprocess(camera: Camera, width: int, height: int, image_aspect: float):
    """image_preprocess.comp (image/image_preprocess.glsl): (uv [N, 2], coverage [N]) where each
    pixel's ray meets the image plane z = 0."""
    origins, directions = camera.rays(width, height)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(np.abs(directions[:, 2]) > 1e-12, -origins[:, 2] / directions[:, 2], -1.0)
    p = origins + t[:, None] * directions
    uv = np.stack([p[:, 0] / image_aspect + 0.5, 0.5 - p[:, 1]], axis=1)
    inside = (t >= 0) & np.all((uv >= 0) & (uv <= 1), axis=1)
    return np.clip(uv, 0, 1).astype(np.float32), inside.astype(np.float32)


def exposure_scale(exposure: float) -> float:
    """2^exposure (in stops) as the kernels get it: a float32 push constant."""
    return float(np.float32(2.0**exposure))


def _rational(x, k0, k1, k3, k4, k5):
    return (k0 * x * x + k1 * x) / (k3 * x * x + k4 * x + k5)


def image_tonemap(x: np.ndarray, tonemap: str) -> np.ndarray:
    """image_tonemap() (image/image_postprocess.glsl): tone curve `tonemap` (app.py TONEMAPS) of
    linear RGB [..., 3], x >= 0; instant-ngp's curves (src/render_buffer.cu)."""
    if tonemap == "clamp":  # linear_to_srgb() clamps
        return x
    if tonemap == "reinhard":  # on luminance (Rec. 709 weights): hues kept
        return x / (1.0 + x @ np.array([0.2126, 0.7152, 0.0722]))[..., None]
    if tonemap == "aces":  # Narkowicz's fit with its 0.6 pre-exposure folded into the coefficients
        return _rational(x, 0.6 * 0.6 * 2.51, 0.6 * 0.03, 0.6 * 0.6 * 2.43, 0.6 * 0.59, 0.14)
    if tonemap == "hable":  # Uncharted 2's: white 11.2, exposure bias 2
        a, b, c, d, e, f, white = 0.15, 0.50, 0.10, 0.20, 0.02, 0.30, 11.2
        k0, k1, k3, k4, k5 = a * f - a * e, c * b * f - b * e, a * f, b * f, d * f * f
        white_scale = (k3 * white**2 + k4 * white + k5) / (k0 * white**2 + k1 * white)
        return _rational(x, 4 * k0 * white_scale, 2 * k1 * white_scale, 4 * k3, 2 * k4, k5)
    raise ValueError(f"unknown tone curve {tonemap!r}")


def image_display(linear_rgb, exposure: float = 0.0, tonemap: str = "clamp") -> np.ndarray:
    """image_display() (image/image_postprocess.glsl): linear RGB [..., 3] as displayed, sRGB in
    [0, 1]: negatives to 0, times 2^exposure, the tone curve, sRGB encoding (clamped). At exposure
    0 with the clamp curve this is plain reference.linear_to_srgb()."""
    x = np.maximum(np.asarray(linear_rgb, dtype=np.float64), 0.0) * exposure_scale(exposure)
    return reference.linear_to_srgb(image_tonemap(x, tonemap))


def image_postprocess(linear_rgb, coverage, uv=None, mode: str = "network", source=None, exposure: float = 0.0,
                      tonemap: str = "clamp") -> np.ndarray:
    """image_postprocess.comp (image/image_postprocess.glsl): RGBA in [0, 1], the display sRGB
    (image_display()) over a black background; in the source and error modes `source` (linear RGB
    [H, W, 3]) is sampled at `uv` and displayed the same way."""
    srgb = image_display(linear_rgb, exposure, tonemap)
    if mode != "network":
        source_srgb = image_display(image_batch(source, uv), exposure, tonemap)
        srgb = source_srgb if mode == "source" else np.clip(4.0 * np.abs(srgb - source_srgb), 0, 1)
    srgb = srgb * coverage[:, None]
    return np.concatenate([srgb, np.ones((len(srgb), 1))], axis=1)


def image_batch(image_linear: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """image_batch.comp's targets (image/image_source.glsl): the image bilinear between pixel
    centres at `positions` [N, 2], edges clamped. (Its positions are engine.nn.reference
    random_uniform() numbers 0 and 1 of each sample.)"""
    height, width, _ = image_linear.shape
    p = positions.astype(np.float64) * [width, height] - 0.5
    lower = np.floor(p)
    f = p - lower
    x0 = np.clip(lower[:, 0].astype(int), 0, width - 1)
    y0 = np.clip(lower[:, 1].astype(int), 0, height - 1)
    x1 = np.clip(lower[:, 0].astype(int) + 1, 0, width - 1)
    y1 = np.clip(lower[:, 1].astype(int) + 1, 0, height - 1)
    fx, fy = f[:, :1], f[:, 1:]
    top = image_linear[y0, x0] * (1 - fx) + image_linear[y0, x1] * fx
    bottom = image_linear[y1, x0] * (1 - fx) + image_linear[y1, x1] * fx
    return top * (1 - fy) + bottom * fy
