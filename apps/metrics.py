"""Image quality metrics, on 8-bit images as they are written to disk (values / 255)."""

from __future__ import annotations

import math

import numpy as np


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB over all pixels and channels, peak 1.0 (values / 255)."""
    a = np.asarray(image, dtype=np.float64) / 255.0
    b = np.asarray(reference, dtype=np.float64) / 255.0
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


def _gaussian_filter(x: np.ndarray, sigma: float = 1.5, radius: int = 5) -> np.ndarray:
    """Separable Gaussian blur of [H, W] with an 11-tap window, valid region only."""
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    rows = np.apply_along_axis(lambda r: np.convolve(r, taps, mode="valid"), 1, x)
    return np.apply_along_axis(lambda c: np.convolve(c, taps, mode="valid"), 0, rows)


def ssim(image: np.ndarray, reference: np.ndarray) -> float:
    """Structural similarity (Wang et al. 2004: Gaussian window sigma 1.5, K1 0.01, K2 0.03), the
    mean over channels, values / 255."""
    a = np.asarray(image, dtype=np.float64) / 255.0
    b = np.asarray(reference, dtype=np.float64) / 255.0
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    c1, c2 = 0.01**2, 0.03**2
    scores = []
    for channel in range(a.shape[2]):
        x, y = a[..., channel], b[..., channel]
        mx, my = _gaussian_filter(x), _gaussian_filter(y)
        sxx = _gaussian_filter(x * x) - mx * mx
        syy = _gaussian_filter(y * y) - my * my
        sxy = _gaussian_filter(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
        scores.append(float(s.mean()))
    return float(np.mean(scores))
