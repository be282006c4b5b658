"""The NeRF app's kernels for `ngvk check` (App.check_cases()): the fused render kernel, the
wavefront kernel (with the networks inside, and split around them: the prepost kernels) and the
unfused render stages of a random model against apps/nerf/tracing.py render(), and the training
stages (sample generation, volume rendering forward and backward, the density outputs' gradients)
of one step against the same module's march(), composite() and composite_backward(); each in the
unit cube (fixed steps, one occupancy cascade) and in a box of aabb_scale 4 (cone steps, three
cascades: the `cascades` cases).

Renders compare float32 on the device with float64 in NumPy: a sample that lands a hair on the
other side of a cell boundary changes a ray, so those cases count the pixels that differ by more
than 0.02 and allow 2 % of them. The training cases compare values with RELATIVE_TOLERANCE x the
largest value, like the engine's checks.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np

from ngvk.apps.nerf import networks, tracing
from ngvk.engine.check import RELATIVE_TOLERANCE, CheckResult, compare, compare_pixels
from ngvk.engine.nn.reference import loss, random_uniform, srgb_to_linear
from ngvk.engine.poison import POISON_WORD
from ngvk.engine.render.camera import Camera

WIDTH, HEIGHT = 19, 13  # 247 pixels
CAMERA = Camera((1.25, 0.95, 1.35), (0.5, 0.5, 0.5), (0.0, 1.0, 0.0), fov_y=40.0)
DENSITY_BIAS = 1.0  # makes the random model's ball dense enough that rays stop inside it


CASCADES = tracing.Aabb(4)  # the cascaded cases' box


def _label(aabb) -> str:
    return "" if aabb.scale == 1 else f"aabb_scale {aabb.scale} (cascades, cone steps), "


def check_render(device, rng, aabb=tracing.UNIT, width: int = WIDTH, height: int = HEIGHT) -> list:
    """nerf_fused, nerf_wavefront (whole, and split: prepost) and nerf_stages: a random model
    (networks.random_model) in every mode, in tiles of 100 pixels, against the NumPy marcher."""
    from ngvk.apps.nerf.render import NerfRenderer, model_occupancy

    model = networks.random_model("hashgrid", seed=int(rng.integers(1 << 30)), density_bias=DENSITY_BIAS, aabb=aabb)
    occupied = model_occupancy(model)
    renderer = NerfRenderer(device, model, tile_pixels=100)
    results = []
    try:
        for mode in tracing.MODES:
            renderer.set_mode(mode)
            expected = tracing.render(CAMERA, width, height, lambda p, d: networks.query(model, p, d), occupied, mode,
                                      aabb=aabb)
            if mode == "samples":  # the case means something only if rays stop at several depths
                stopped = float(np.mean((expected[:, 0] > 0) & (expected[:, 0] < 0.5)))
                results.append(CheckResult("nerf_stages", f"{_label(aabb)}random model: rays that stop early (1 if under 10 %)",
                                           float(stopped < 0.1), 0.0, 0.0))
            for kernels, kernel, case in (("unfused", "nerf_stages", ""), ("fused", "nerf_fused", ""),
                                          ("wavefront", "nerf_wavefront", ""),
                                          ("prepost", "nerf_wavefront", "split (prepost), ")):
                start = time.perf_counter()
                frame = renderer.render(CAMERA, width, height, kernels, float_frame=True, poison=POISON_WORD).pixels
                results.append(compare_pixels(kernel, f"{_label(aabb)}{case}random model, mode {mode}", frame[..., :3].reshape(-1, 3),
                                              expected, time.perf_counter() - start))
    finally:
        renderer.close()
    return results


def tiny_views(rng, count: int = 3, size: int = 8, aabb=tracing.UNIT) -> SimpleNamespace:
    """Random RGBA images of `count` views around the cube (what NerfTrainer reads of a dataset)."""
    from ngvk.apps.nerf.render import orbit_camera

    images = rng.random((count, size, size, 4)).astype(np.float32)
    images[..., 3] = np.where(rng.random((count, size, size)) < 0.3, 1.0, images[..., 3])
    cameras = [orbit_camera(40.0 + 110.0 * k, 10.0 + 15.0 * k) for k in range(count)]
    return SimpleNamespace(images=images, cameras=cameras, width=size, height=size, aabb=aabb)


def training_step(device, model, views, budget: int = 1 << 14, seed: int = 3, supersampling: int = 1):
    """One training step with a zero learning rate on `model`'s parameters, `supersampling`^2 rays
    per pixel; returns the trainer (to be closed) after the step, its buffers still holding the
    step's values."""
    from ngvk.apps.nerf.render import model_occupancy
    from ngvk.apps.nerf.training import NerfTrainer, OccupancyGrid
    from ngvk.engine.nn.layers import MLP, GridEncoding
    from ngvk.engine.nn.training import AdamConfig

    layers = [GridEncoding(device, model.encoding, model.params["encoding"]),
              MLP(device, model.networks["density"], model.params["density"]),
              MLP(device, model.networks["color"], model.params["color"])]
    occupancy = OccupancyGrid(aabb=views.aabb)
    occupancy.occupied = model_occupancy(model)
    occupancy.thickness[:] = np.where(occupancy.occupied.reshape(-1), 1.0, 0.0)
    trainer = NerfTrainer(device, views, *layers, budget=budget, seed=seed, occupancy=occupancy,
                          supersampling=supersampling, supersampling_after=0.0)
    trainer.adam.config = AdamConfig(learning_rate=0.0, l2_reg=0.0)
    trainer.rays = 48  # whole pixels at 1, 2 and 4 rays per pixel side
    trainer.own(*layers)
    trainer.step = 1  # past the occupancy update at step 0: the grid stays the model's
    trainer.run_step()
    return trainer


def step_values(trainer) -> dict:
    """The step's buffers as arrays, by name (the trainer's, and its networks' training buffers)."""
    from ngvk.apps.nerf.training import TRAIN_RAY_DTYPE

    budget, march, b = trainer.budget, trainer.march_budget, trainer.buffers
    return {
        "rays": b["rays"].download(np.uint8, (trainer.max_rays * TRAIN_RAY_DTYPE.itemsize,)).view(TRAIN_RAY_DTYPE),
        "train_rays": int(b["train_rays"].download(np.uint32, (1,))[0]),
        "march_positions": b["march_positions"].download(np.float32, (march, 3)),
        "march_t": b["march_t"].download(np.float32, (march,)),
        "march_raw": b["march_density"].download(np.float32, (march, 16))[:, 0],
        "positions": b["positions"].download(np.float32, (budget, 3)),
        "sample_t": b["sample_t"].download(np.float32, (budget,)),
        "raw": b["density_out"].download(np.float32, (budget, 16))[:, 0],
        "rgb": b["color_out"].download(np.float32, (budget, 3)),
        "d_raw": b["d_raw"].download(np.float32, (budget,)),
        "d_rgb": b["d_color_out"].download(np.float32, (budget, 3)),
        "losses": b["losses"].download(np.float32, (budget,)),
        "d_color_in": b["d_color_in"].download(np.float32, (budget, 32)),
        "d_density_out": b["d_density_out"].download(np.float32, (budget, 16)),
    }


def expected_rays(views, step: int, seed: int, rays: int, occupied, aabb=tracing.UNIT, supersampling: int = 1):
    """What nerf_train.comp stage 0 computes for the step's rays, in NumPy: (origin, direction,
    sample ts, target, background) per ray. Ray i is ray i % s^2 of its pixel's s x s grid (s =
    `supersampling`): the ray of that frame `s` times larger; the pixel's rays share its draws."""
    count, height, width = views.images.shape[:3]
    s = supersampling
    out = []
    for i in range(rays):
        group, sub = divmod(i, s * s)
        u = [random_uniform(seed, step * 2, group, k) for k in range(3)] + [random_uniform(seed, step * 2, i, 3)]
        image = min(int(u[0] * np.float32(count)), count - 1)
        x, y = min(int(u[1] * np.float32(width)), width - 1), min(int(u[2] * np.float32(height)), height - 1)
        camera = views.cameras[image]
        o, d = camera.rays(width * s, height * s, [(y * s + sub // s) * width * s + x * s + sub % s])
        enter, _ = aabb.entry(o, d)
        t0 = tracing.advance(enter[0], u[3], aabb)
        ts = tracing.march(o[0], d[0], occupied, t=t0, aabb=aabb)
        background = np.array([random_uniform(seed, step * 2 + 1, group, k) for k in range(3)], np.float64)
        texel = np.floor(np.clip(views.images[image, y, x], 0, 1) * 255 + 0.5) / 255
        target = srgb_to_linear(texel[:3]) * texel[3] + background * (1 - texel[3])
        out.append((o[0], d[0], ts, target, background))
    return out


def check_training(device, rng, aabb=tracing.UNIT, supersampling: int = 1) -> list:
    """nerf_train: one step on random images of a random model: each ray's marched samples against
    tracing.march() from the same jittered start; the samples each ray keeps for training (the
    compaction) against those before tracing.composite()'s stop on the marched densities, copied
    exactly; each pixel's loss (its rays' mean colour against its target) and each ray's dL/d raw
    density and dL/d colour against tracing.composite_backward() (the loss's gradient from
    engine/nn/reference.py loss(), shared by the pixel's rays), and dL/d density outputs (the colour
    network's input gradient plus dL/d raw density)."""
    from ngvk.apps.nerf.render import model_occupancy
    from ngvk.apps.nerf.training import LOSS

    start = time.perf_counter()
    model = networks.random_model("hashgrid", seed=int(rng.integers(1 << 30)), density_bias=DENSITY_BIAS, aabb=aabb)
    views = tiny_views(rng, aabb=aabb)
    trainer = training_step(device, model, views, supersampling=supersampling)
    try:
        values = step_values(trainer)
        seed, step = trainer.seed, trainer.step
    finally:
        trainer.close()
    seconds = time.perf_counter() - start
    rays, n = values["rays"], values["train_rays"]
    expected = expected_rays(views, step, seed, n, model_occupancy(model), aabb, supersampling)
    positions, wanted, kept, copied = [], [], [], []
    d_raw, d_rgb, got_raw, got_rgb, losses, got_losses = [], [], [], [], [], []
    for i, (o, d, ts, target, background) in enumerate(expected):
        ray = rays[i]
        if ray["march_count"] == 0:
            continue
        first, count = int(ray["march_first"]), int(ray["march_count"])
        wanted.append((count, len(ts)))
        positions.append((values["march_positions"][first:first + count], aabb.warp(o[None] + ts[:, None] * d[None])))
        # The compaction: the samples before the stop on the marched densities, in order.
        march_ts = values["march_t"][first:first + count]
        stop = tracing.composite(values["march_raw"][first:first + count], np.zeros((count, 3)), np.zeros(3),
                                 dts=tracing.step_sizes(march_ts, aabb))["used"]
        marched = np.concatenate([values["march_positions"][first:first + stop], march_ts[:stop, None]], axis=1)
        first, count = int(ray["first"]), int(ray["count"])
        kept.append((count, stop))
        if count > 0:
            copied.append((np.concatenate([values["positions"][first:first + count],
                                           values["sample_t"][first:first + count, None]], axis=1), marched))
    pixel_rays = supersampling * supersampling
    pixels = n // pixel_rays
    scale = 1.0 / (3.0 * pixels)  # loss() is the mean over a pixel's 3 values; the step's over its pixels x 3
    for g in range(pixels):
        group = range(g * pixel_rays, (g + 1) * pixel_rays)
        if any(rays[i]["dropped"] for i in group):
            continue
        target, background = expected[group[0]][3], expected[group[0]][4]
        parts = []
        for i in group:
            first, count = int(rays[i]["first"]), int(rays[i]["count"])
            # The ray's ts as the kernel kept them (equal to NumPy's, checked with the positions): their steps.
            dts = tracing.step_sizes(values["sample_t"][first:first + count], aabb)
            raw, rgb = values["raw"][first:first + count], values["rgb"][first:first + count]
            colour = tracing.composite(raw, rgb, background, dts=dts)["pixel"] if count else background
            parts.append((first, count, raw, rgb, dts, colour))
        value, gradient = loss(LOSS, np.mean([part[-1] for part in parts], axis=0)[None], target[None])
        for first, count, raw, rgb, dts, _ in parts:
            if count == 0:
                continue
            g_raw, g_rgb = tracing.composite_backward(raw, rgb, background, gradient[0] * 3.0 * scale / pixel_rays,
                                                      dts=dts)
            d_raw.append(g_raw)
            d_rgb.append(g_rgb)
            got_raw.append(values["d_raw"][first:first + count])
            got_rgb.append(values["d_rgb"][first:first + count])
        losses.append(float(value[0]) * 3.0 * scale)
        got_losses.append(float(values["losses"][g]))
    matched = [(got, want) for got, want in positions if len(got) == len(want)]
    label = _label(aabb) + ("" if supersampling == 1 else f"{supersampling} x {supersampling} rays per pixel, ")
    # Cone steps go through log and exp, which GLSL does not round correctly (lavapipe: within a few
    # ulps): a cell's exit or a step can land a hair the other side of a cell boundary, so that a
    # ray takes a sample more or less (2 of 48 rays seen); fixed steps (the unit cube) match exactly.
    # The steps dt enter the gradients likewise, hence the looser tolerance there.
    mismatch_allowed, loose = (0.0, 1.0) if not aabb.cone_angle else (0.1 * len(wanted), 4.0)
    results = [
        CheckResult("nerf_train", f"{label}rays: sample counts as NumPy's march (mismatched rays)",
                    float(sum(a != b for a, b in wanted)), mismatch_allowed, seconds),
        compare("nerf_train", f"{label}rays: sample positions", np.concatenate([got for got, want in matched]),
                np.concatenate([want for got, want in matched]), 0.0),
        # The stop compares a transmittance with a threshold: float32 against float64 may fall either
        # side of it on a sample, hence a ray or two allowed.
        CheckResult("nerf_train", f"{label}compact: samples kept as NumPy's stop (mismatched rays)",
                    float(sum(a != b for a, b in kept)), max(1.0, 0.05 * len(kept)), seconds),
        compare("nerf_train", f"{label}compact: kept samples copied in order",
                np.concatenate([got for got, want in copied if len(got) == len(want)] or [np.zeros((0, 4))]),
                np.concatenate([want for got, want in copied if len(got) == len(want)] or [np.zeros((0, 4))]), 0.0, 0.0),
        compare("nerf_train", f"{label}composite: loss per pixel", np.array(got_losses), np.array(losses), 0.0,
                loose * RELATIVE_TOLERANCE),
        compare("nerf_train", f"{label}composite: dL/d raw density", np.concatenate(got_raw), np.concatenate(d_raw), 0.0,
                loose * RELATIVE_TOLERANCE),
        compare("nerf_train", f"{label}composite: dL/d colour", np.concatenate(got_rgb), np.concatenate(d_rgb), 0.0,
                loose * RELATIVE_TOLERANCE),
        compare("nerf_train", f"{label}density: dL/d density outputs", values["d_density_out"],
                np.concatenate([values["d_color_in"][:, :16] + np.pad(values["d_raw"][:, None], ((0, 0), (0, 15)))],
                               axis=1), 0.0),
        CheckResult("nerf_train", f"{label}rays with samples (1 if under 8)", float(len(wanted) < 8), 0.0, 0.0),
        CheckResult("nerf_train", f"{label}compact: rays that stop before their last marched sample (1 if none)",
                    float(not any(stop < count for (_, stop), (count, _) in zip(kept, wanted))), 0.0, 0.0),
    ]
    return results


def check_render_cascades(device, rng) -> list:
    # A smaller frame: NumPy's cone-step march (a Python loop per sample) is most of the case's time.
    return check_render(device, rng, CASCADES, 13, 9)


def check_training_cascades(device, rng) -> list:
    return check_training(device, rng, CASCADES)


def check_training_supersampled(device, rng) -> list:
    return check_training(device, rng, supersampling=2)


CHECKS = [check_render, check_training, check_render_cascades, check_training_cascades, check_training_supersampled]
