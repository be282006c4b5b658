"""The SDF app's kernels for `ngvk check` (App.check_cases()): each against its NumPy specification
(apps/sdf/shapes.py, apps/sdf/tracing.py). The stages of sdf/sdf_stages.comp run one by one on ray
states drawn at random (marching, hit and missed rays, rays about to leave the cube or to run out of
steps); the fused kernel renders a built-in shape, compared with tracing.trace() of its NumPy
distance (float32 on the device against float64: a ray grazing a thin part may take another step,
so the case counts the pixels that differ by more than 0.02 and allows 1% of them)."""

from __future__ import annotations

import time

import numpy as np

from ngvk.apps.sdf import shapes, tracing
from ngvk.engine.check import CheckResult, compare
from ngvk.engine.nn.layers import run_kernel
from ngvk.engine.poison import POISON_WORD
from ngvk.engine.render.camera import Camera

WIDTH, HEIGHT = 49, 21  # 1029 pixels
CAMERA = Camera((1.6, 1.1, 1.9), (0.5, 0.45, 0.5), (0.0, 1.0, 0.0), fov_y=40.0)
GROUND = 0.2
FLOAT_FIELDS = ("origin", "t", "direction", "t_exit", "normal", "depth")
UINT_FIELDS = ("steps", "status", "kind", "camera_steps")


def _push(mode: str = "shaded", probe: int = 0, n: int = WIDTH * HEIGHT) -> dict:
    return {**CAMERA.push_constants(WIDTH, HEIGHT), "n": n, "pixel_offset": 0, "frame_offset": 0, "frame_float": 1,
            "render_mode": tracing.RENDER_MODES.index(mode), "ground_height": GROUND, "probe": probe,
            "pixels_per_slot": 1}


def _random_rays(rng, n: int) -> np.ndarray:
    """Camera rays of the frame, part of the way along, in every status and kind."""
    rays = tracing.camera_rays(CAMERA, WIDTH, HEIGHT)[:n]
    rays["t"] = rays["t"] + rng.random(n) * np.maximum(rays["t_exit"] - rays["t"], 0) * 0.9
    rays["t_exit"] = np.where(rng.random(n) < 0.1, rays["t"] + 1e-3, rays["t_exit"])  # about to leave
    rays["steps"] = np.where(rng.random(n) < 0.1, tracing.MAX_STEPS - 1, rng.integers(0, 40, n))  # about to run out
    rays["status"] = rng.choice([tracing.MARCHING, tracing.HIT, tracing.MISSED], n, p=[0.6, 0.3, 0.1])
    rays["normal"] = rng.normal(size=(n, 3)) * 0.01
    return rays


def _compare_rays(kernel: str, case: str, got: np.ndarray, expected: np.ndarray, seconds: float) -> list:
    results = []
    for name in FLOAT_FIELDS:
        results.append(compare(kernel, f"{case}: {name}", got[name], expected[name], seconds))
        seconds = 0.0
    wrong = sum(int(np.count_nonzero(got[name] != expected[name])) for name in UINT_FIELDS)
    results.append(CheckResult(kernel, f"{case}: steps, status, kind (count of wrong ones)", float(wrong), 0.0, 0.0))
    return results


def _run_stage(device, stage: int, n: int, inputs: dict, outputs: dict, push: dict, float_frame: bool = False,
               rays: np.ndarray | None = None):
    """Run one stage of sdf/sdf_stages.comp; returns the outputs and the rays after it."""
    defines = {**tracing.defines(), "SDF_STAGE": stage}
    kernel = device.kernel("sdf/sdf_stages.comp", defines)
    owned = []
    try:
        ray_buffer = device.buffer(max(n, 1) * tracing.RAY_DTYPE.itemsize, "rays")
        owned.append(ray_buffer)
        if rays is not None:
            ray_buffer.upload(rays)
        else:
            ray_buffer.fill(POISON_WORD)
        bound = {"rays": ray_buffer}
        for name, value in inputs.items():
            bound[name] = device.buffer_from(np.ascontiguousarray(value), name)
            owned.append(bound[name])
        out = run_kernel(device, kernel, n, bound, outputs, push)
        return out, ray_buffer.download(np.uint8, (n * tracing.RAY_DTYPE.itemsize,)).view(tracing.RAY_DTYPE)
    finally:
        for buffer in owned:
            buffer.close()


def _counter(count: int) -> np.ndarray:
    return np.array([count, 0, 0, 0, 0, 0, 0, 0], np.uint32)


def check_stages(device, rng) -> list:
    """Every stage of sdf/sdf_stages.comp against tracing.py, on a 49 x 21 frame's rays."""
    n = WIDTH * HEIGHT
    results = []

    start = time.perf_counter()
    out, rays = _run_stage(device, 0, n, {}, {"alive": (n,), "identity": (n,)}, _push())
    expected = tracing.camera_rays(CAMERA, WIDTH, HEIGHT)
    seconds = time.perf_counter() - start
    results += _compare_rays("sdf_stages", "preprocess", rays, expected, seconds)
    alive_wrong = np.count_nonzero(out["alive"].view(np.uint32) != (expected["status"] == tracing.MARCHING))
    alive_wrong += np.count_nonzero(out["identity"].view(np.uint32) != np.arange(n))
    results.append(CheckResult("sdf_stages", "preprocess: alive and identity (count of wrong ones)",
                               float(alive_wrong), 0.0, 0.0))

    # positions and advance: over a list of 700 of the rays (in shuffled order), through a counter
    # whose length is smaller than the dispatch.
    state = _random_rays(rng, n)
    listed = rng.permutation(n)[:700].astype(np.uint32)
    count = 650
    for probe in range(5):
        start = time.perf_counter()
        inputs = {"ray_list": listed, "item_counter": _counter(count)}
        out, _ = _run_stage(device, 1, n, inputs, {"positions": (n, 3)}, _push(probe=probe), rays=state)
        group = state[listed[:count]]
        expected = tracing.position(group) if probe == 0 else tracing.probe_position(group, probe - 1)
        results.append(compare("sdf_stages", f"positions, probe {probe}", out["positions"][:count], expected,
                               time.perf_counter() - start))
        if np.isfinite(out["positions"][count:]).any():
            results.append(CheckResult("sdf_stages", f"positions, probe {probe}: past the count", 1.0, 0.0, 0.0))

        start = time.perf_counter()
        distances = rng.normal(size=n).astype(np.float32) * 0.05
        distances[rng.random(n) < 0.2] = tracing.HIT_DISTANCE * rng.uniform(0.5, 1.5)
        inputs = {**inputs, "distances": distances, "queries": np.array([5], np.uint32)}
        out, after = _run_stage(device, 2, n, inputs, {"alive": (n,)}, _push(probe=probe), rays=state)
        expected = state.copy()
        group = expected[listed[:count]]
        if probe == 0:
            marching = group["status"] == tracing.MARCHING
            moved = group[marching]
            tracing.advance(moved, distances[:count][marching].astype(np.float64))
            group[marching] = moved
        else:
            group["normal"] = group["normal"] + tracing.PROBE_CORNERS[probe - 1] * distances[:count, None]
        expected[listed[:count]] = group
        results += _compare_rays("sdf_stages", f"advance, probe {probe}", after, expected, time.perf_counter() - start)
        if probe == 0:
            wrong = np.count_nonzero(out["alive"][:count].view(np.uint32) != (group["status"] == tracing.MARCHING))
            results.append(CheckResult("sdf_stages", "advance: alive (count of wrong ones)", float(wrong), 0.0, 0.0))

    start = time.perf_counter()
    out, _ = _run_stage(device, 3, n, {}, {"alive": (n,)}, _push(), rays=state)
    wrong = np.count_nonzero(out["alive"].view(np.uint32) != (state["status"] == tracing.HIT))
    results.append(CheckResult("sdf_stages", "surfaces: alive (count of wrong ones)", float(wrong), 0.0,
                               time.perf_counter() - start))

    start = time.perf_counter()
    done = state.copy()
    done["status"] = np.where(done["status"] == tracing.MARCHING, tracing.MISSED, done["status"])
    done["normal"] = rng.normal(size=(n, 3))
    out, after = _run_stage(device, 4, n, {}, {"alive": (n,)}, _push(), rays=done)
    expected = done.copy()
    tracing.shadow_begin(expected, GROUND)
    results += _compare_rays("sdf_stages", "shadow", after, expected, time.perf_counter() - start)
    wrong = np.count_nonzero(out["alive"].view(np.uint32) != (expected["status"] == tracing.MARCHING))
    results.append(CheckResult("sdf_stages", "shadow: alive (count of wrong ones)", float(wrong), 0.0, 0.0))

    eye, view = (a.astype(np.float64) for a in CAMERA.rays(WIDTH, HEIGHT))
    shaded = expected.copy()
    shaded["status"] = rng.choice([tracing.HIT, tracing.MISSED], n)
    shaded["camera_steps"] = rng.integers(0, tracing.MAX_STEPS + 1, n)
    for mode in tracing.RENDER_MODES:
        start = time.perf_counter()
        out, _ = _run_stage(device, 5, n, {}, {"frame": (n, 4)}, _push(mode), float_frame=True, rays=shaded)
        results.append(compare("sdf_stages", f"shade, mode {mode}", out["frame"], tracing.shade(shaded, eye, view, mode),
                               time.perf_counter() - start))
    return results


def check_fused(device, rng) -> list:
    """sdf_fused and sdf_wavefront: the mug's analytic distance rendered in tiles of 100 pixels (the
    wavefront in pools of 37 slots, so that slots take several pixels), every mode, against
    tracing.trace() of shapes.mug."""
    from ngvk.apps.sdf import render

    renderer = render.SdfRenderer(device, shape=shapes.SHAPE_CODES["mug"], ground_height=GROUND, tile_pixels=100,
                                  wavefront_slots=37)
    results = []
    try:
        for kernels in ("fused", "wavefront"):
            for mode in tracing.RENDER_MODES:
                start = time.perf_counter()
                renderer.set_mode(mode)
                frame = renderer.render(CAMERA, WIDTH, HEIGHT, kernels, float_frame=True, poison=POISON_WORD).pixels
                expected, _ = tracing.trace(CAMERA, WIDTH, HEIGHT, shapes.mug, mode, GROUND)
                off = np.max(np.abs(frame - expected), axis=-1) > 0.02
                off |= ~np.isfinite(frame).all(axis=-1)
                results.append(CheckResult(f"sdf_{kernels}", f"mug, mode {mode} (fraction of pixels off by > 0.02)",
                                           float(np.mean(off)), 0.01, time.perf_counter() - start))
    finally:
        renderer.close()
    return results


def check_shapes(device, rng) -> list:
    """shape_distance: every built-in shape on the device against shapes.py, near the surface and
    anywhere in the cube (float32 against float64)."""
    from ngvk.apps.sdf.data import sample_implicit_surface

    results = []
    for name, function in sorted(shapes.SHAPES.items()):
        start = time.perf_counter()
        positions = np.concatenate([rng.random((1029, 3)), sample_implicit_surface(function, 1000, rng)])
        positions = positions.astype(np.float32)
        kernel = device.kernel("sdf/shape_distance.comp", {"SDF_SHAPE": shapes.SHAPE_CODES[name]})
        n = len(positions)
        got = run_kernel(device, kernel, n, {"positions": positions}, {"distances": (n,)})["distances"]
        results.append(compare("shape_distance", name, got, function(positions.astype(np.float64)),
                               time.perf_counter() - start))
    return results


CHECKS = [check_shapes, check_stages, check_fused]
