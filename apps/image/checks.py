"""The image app's kernels for `ngvk check` (App.check_cases()): each against apps/image/reference.py,
with a small synthetic image, at sizes that are not multiples of the samples per invocation."""

from __future__ import annotations

import time

import numpy as np

from ngvk.apps.image import reference as image_reference
from ngvk.engine.check import compare
from ngvk.engine.model import Model
from ngvk.engine.nn import reference
from ngvk.engine.nn.config import MLPConfig, grid_preset
from ngvk.engine.nn.layers import run_kernel
from ngvk.engine.poison import POISON_WORD
from ngvk.engine.render.camera import Camera

WIDTH, HEIGHT = 49, 21  # 1029 pixels
CAMERA = Camera((0.6, 0.2, 1.2), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0), fov_y=50.0)  # sees past the image's edges


def _model(rng) -> Model:
    grid = grid_preset("lowres", 2)
    network = MLPConfig(grid.n_output, 3, 64, 2, "none")
    params = {"encoding": rng.uniform(-1, 1, (grid.n_entries, grid.n_features)).astype(np.float32),
              "network": network.init_params(rng)}
    return Model(app="image", encodings={"encoding": grid}, networks={"network": network}, params=params,
                 app_data={"width": 40, "height": 30, "source": ""})


def check_stages(device, rng):
    """image_preprocess and image_postprocess, in every render mode and with every tone curve."""
    from ngvk.apps.image.app import RENDER_MODES, ImageRenderer

    source = rng.integers(0, 256, (30, 40, 3)).astype(np.uint8)
    renderer = ImageRenderer(device, _model(rng), source)
    n = WIDTH * HEIGHT
    try:
        start = time.perf_counter()
        push = {**renderer.push_constants(CAMERA, WIDTH, HEIGHT), "n": n, "pixel_offset": 0, "frame_offset": 0,
            "frame_float": 1}
        out = run_kernel(device, device.kernel("image/image_preprocess.comp"), n, {},
                         {"positions": (n, 2), "coverage": (n,)}, push)
        uv, coverage = image_reference.image_preprocess(CAMERA, WIDTH, HEIGHT, renderer.image_aspect)
        results = [compare("image_preprocess", "uv", out["positions"], uv, time.perf_counter() - start),
                   compare("image_preprocess", "coverage", out["coverage"], coverage, 0.0)]
        linear = rng.uniform(-0.1, 1.2, (n, 3)).astype(np.float32)
        linear_source = reference.srgb_to_linear(source / 255.0).astype(np.float32)
        kernel = device.kernel("image/image_postprocess.comp")
        for index, mode in enumerate(RENDER_MODES):
            start = time.perf_counter()
            inputs = {"rgb": linear, "coverage": coverage, "positions": uv, "source_image": renderer.source_image}
            frame = run_kernel(device, kernel, n, inputs, {"frame": (n, 4)}, {**push, "render_mode": index})["frame"]
            expected = image_reference.image_postprocess(linear, coverage, uv, mode, linear_source)
            results.append(compare("image_postprocess", f"mode {mode}", frame, expected, time.perf_counter() - start))
        # HDR colours (up to 8) through each tone curve, at +1.5 stops (2^1.5 is not a power of two).
        from ngvk.apps.image.app import TONEMAPS

        hdr = rng.uniform(-0.5, 8.0, (n, 3)).astype(np.float32)
        for index, tonemap in enumerate(TONEMAPS):
            start = time.perf_counter()
            inputs = {"rgb": hdr, "coverage": coverage, "positions": uv, "source_image": renderer.source_image}
            display = {**push, "render_mode": 0, "exposure_scale": image_reference.exposure_scale(1.5), "tonemap": index}
            frame = run_kernel(device, kernel, n, inputs, {"frame": (n, 4)}, display)["frame"]
            expected = image_reference.image_postprocess(hdr, coverage, exposure=1.5, tonemap=tonemap)
            results.append(compare("image_postprocess", f"tone curve {tonemap}, +1.5 stops", frame, expected,
                                   time.perf_counter() - start))
    finally:
        renderer.close()
    return results


def check_fused(device, rng):
    """image_fused: a whole 49 x 21 frame in tiles of 100 pixels against every stage's reference."""
    from ngvk.apps.image.app import ImageRenderer

    model = _model(rng)
    renderer = ImageRenderer(device, model, tile_pixels=100)
    try:
        start = time.perf_counter()
        frame = renderer.render(CAMERA, WIDTH, HEIGHT, "fused", float_frame=True, poison=POISON_WORD).pixels
        seconds = time.perf_counter() - start
        uv, coverage = image_reference.image_preprocess(CAMERA, WIDTH, HEIGHT, renderer.image_aspect)
    finally:
        renderer.close()
    encoded = reference.grid_encode(model.encoding, model.params["encoding"], uv)
    rgb = reference.mlp_forward(model.networks["network"], model.params["network"], encoded)
    expected = image_reference.image_postprocess(rgb, coverage).reshape(HEIGHT, WIDTH, 4)
    # Compared in linear light: sRGB's slope (up to 12.92 near black) would multiply the network's
    # rounding by as much (an H200's frame: 1.13e-4 apart in sRGB), where the tolerance is meant
    # for the network's outputs. A wrong transfer function is still far off.
    frame, expected = frame.astype(np.float64), expected.copy()
    for rgba in (frame, expected):
        rgba[..., :3] = reference.srgb_to_linear(rgba[..., :3])
    return compare("image_fused", "49x21 frame, tiles of 100 (linear light)", frame, expected, seconds)


def check_batch(device, rng, n: int = 1029):
    """image_batch: random positions (the sequence to the last bit) and bilinear targets."""
    image = rng.random((20, 30, 3)).astype(np.float32)
    step, seed = 7, 3
    start = time.perf_counter()
    with device.buffer_from(np.array([step, seed], np.uint32), "training_state") as state:
        out = run_kernel(device, device.kernel("image/image_batch.comp"), n,
                         {"source_image": image, "training_state": state},
                         {"positions": (n, 2), "targets": (n, 3)}, {"source_width": 30, "source_height": 20})
    seconds = time.perf_counter() - start
    expected = np.stack([reference.random_uniform(seed, step, np.arange(n), k) for k in (0, 1)], axis=1)
    return [compare("image_batch", "positions (the random sequence)", out["positions"], expected, seconds),
            compare("image_batch", "targets", out["targets"], image_reference.image_batch(image, out["positions"]), 0.0)]


CHECKS = [check_stages, check_fused, check_batch]
