"""The volume app's kernels for `ngvk check` (App.check_cases()): the fused and wavefront kernels
rendering a grid (the ground truth) and every kernel variant around a small random network, each
against apps/volume/tracing.py render() (float32 on the device against float64: a collision
decided by a hair can go the other way, so the case counts the pixels that differ by more than 0.02
and allows 2% of them)."""

from __future__ import annotations

import time

import numpy as np

from ngvk.apps.volume import tracing, volumes
from ngvk.apps.volume.data import VolumeData
from ngvk.engine.check import CheckResult, compare_pixels
from ngvk.engine.model import Model
from ngvk.engine.nn import reference
from ngvk.engine.nn.config import GridConfig, MLPConfig
from ngvk.engine.poison import POISON_WORD
from ngvk.engine.render.camera import Camera

WIDTH, HEIGHT = 23, 13  # 299 pixels
CAMERA = Camera((1.3, 0.9, 1.5), (0.5, 0.45, 0.5), (0.0, 1.0, 0.0), fov_y=40.0)
SPP = 5  # not a multiple of the samples per invocation
OCCUPANCY = 16


def check_fused_grid(device, rng) -> list:
    """volume_fused and volume_wavefront: the cloud's grid (32^3) in every mode, in tiles of 100
    pixels (the wavefront in a pool of 128 slots)."""
    from ngvk.apps.volume.render import VolumeRenderer

    density, albedo = volumes.rasterise("cloud", 32)
    data = VolumeData("volume:cloud", density, albedo)
    occupied, _ = tracing.occupancy_grid(lambda p: data.sample(p)[:, 3], OCCUPANCY)
    renderer = VolumeRenderer(device, occupied, data.majorant, grid=data.grid(), spp=SPP, seed=3, tile_pixels=100,
                              wavefront_slots=128)
    results = []
    try:
        for mode in tracing.MODES:
            renderer.set_mode(mode)
            expected = tracing.render(CAMERA, WIDTH, HEIGHT, data.sample, occupied, data.majorant, SPP, 3, mode)
            for kernels, kernel in (("fused", "volume_fused"), ("wavefront", "volume_wavefront")):
                start = time.perf_counter()
                frame = renderer.render(CAMERA, WIDTH, HEIGHT, kernels, float_frame=True, poison=POISON_WORD).pixels
                results.append(compare_pixels(kernel, f"cloud grid, mode {mode}", frame, expected,
                                              time.perf_counter() - start))
    finally:
        renderer.close()
    return results


def random_model(rng) -> Model:
    """A volume model with random parameters: a small hashgrid (hashed from its fifth level on) and
    the app's network shape, scaled so that its ReLU outputs make a patchy volume of densities in
    the tens (no occupancy grid yet: fitting.add_occupancy())."""
    grid = GridConfig("hashgrid", 3, 8, 2, 16, 1.5, 14)
    network = MLPConfig(grid.n_output, 4, 64, 2, "relu")
    params = {"encoding": rng.uniform(-1, 1, (grid.n_entries, grid.n_features)).astype(np.float32),
              "network": (network.init_params(rng) * 2).astype(np.float32)}
    return Model(app="volume", encodings={"encoding": grid}, networks={"network": network}, params=params,
                 app_data={"source": "volume:nebula"})


def check_stages(device, rng) -> list:
    """volume_stages (and volume_fused and volume_wavefront with a network): a small random network
    that makes a volume (random_model()), rendered by every kernel variant against the reference
    (the wavefront in a pool of 128 slots; prepost: the wavefront kernel split around the engine's
    encoding and MLP)."""
    from ngvk.apps.volume.render import VolumeRenderer

    model = random_model(rng)
    grid, network, params = model.encoding, model.networks["network"], model.params

    def query(p):
        encoded = reference.grid_encode(grid, params["encoding"], p)
        return reference.mlp_forward(network, params["network"], encoded)

    occupied, largest = tracing.occupancy_grid(lambda p: query(p)[:, 3], OCCUPANCY)
    majorant = max(largest * tracing.MAJORANT_MARGIN, 1e-3)
    renderer = VolumeRenderer(device, occupied, majorant, model=model, spp=SPP, seed=5, tile_pixels=100,
                              wavefront_slots=128)
    results = []
    try:
        for mode in tracing.MODES:
            renderer.set_mode(mode)
            expected = tracing.render(CAMERA, WIDTH, HEIGHT, query, occupied, majorant, SPP, 5, mode)
            if mode == "density":  # the case means something only if paths collide, and not all
                seen = float(np.mean((expected[..., 0] > 0) & (expected[..., 0] < 1)))
                results.append(CheckResult("volume_stages", "random network: pixels partly opaque (1 if under 10 %)",
                                           float(seen < 0.1), 0.0, 0.0))
            for kernels, kernel, form in (("unfused", "volume_stages", ""), ("fused", "volume_fused", ""),
                                          ("wavefront", "volume_wavefront", ""),
                                          ("prepost", "volume_wavefront", "split (prepost), ")):
                start = time.perf_counter()
                frame = renderer.render(CAMERA, WIDTH, HEIGHT, kernels, float_frame=True, poison=POISON_WORD).pixels
                results.append(compare_pixels(kernel, f"{form}random network, mode {mode}", frame, expected,
                                              time.perf_counter() - start))
    finally:
        renderer.close()
    return results


CHECKS = [check_fused_grid, check_stages]
