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


def image_postprocess(linear_rgb, coverage, uv=None, mode: str = "network", source=None) -> np.ndarray:
    """image_postprocess.comp (image/image_postprocess.glsl): RGBA in [0, 1], sRGB over a black
    background; in the source and error modes `source` (linear RGB [H, W, 3]) is sampled at `uv`."""
    srgb = reference.linear_to_srgb(linear_rgb)
    if mode != "network":
        source_srgb = reference.linear_to_srgb(image_batch(source, uv))
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
