#!/usr/bin/env python3
"""Mutation check: does the test suite catch small, plausible bugs?

Each mutation below changes one line of a shader or a Python module the way a real slip would (a
hash prime, a level offset, an activation's derivative, a loss gradient, an Adam constant, the
random sequence, tile and invocation arithmetic, sRGB, camera rays, model files, SSIM, a deep MLP
layer). The tool copies the checkout's files (those git tracks, and new ones it does not ignore)
into a temporary folder, runs the tests that should notice each mutation there once unmutated (they
must pass) and then once per mutation, and reports it as caught when a test fails. It never touches
the checkout.

    .venv/bin/python tools/mutation_check.py            # all of them
    .venv/bin/python tools/mutation_check.py -k adam    # those whose name contains "adam"
    .venv/bin/python tools/mutation_check.py --list
    .venv/bin/python tools/mutation_check.py -v         # and which test caught each

Exit status 0 when every mutation was caught. A developer tool: not part of `make test`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 600  # seconds for one pytest run


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # relative to the repository root
    old: str  # must occur exactly once in the file
    new: str
    tests: tuple[str, ...]  # pytest arguments: node ids, or "-k", "expression"


T_KERNELS = "tests/test_kernels.py"
T_TRAINING = "tests/test_training.py"
T_REFERENCE = "tests/test_reference.py"
T_IMAGE = "tests/test_image_app.py"
T_MODEL = "tests/test_model.py"
T_SDF = "tests/test_sdf_data.py"
T_SDF_APP = "tests/test_sdf_app.py"
T_VOLUME_APP = "tests/test_volume_app.py"
T_NERF_APP = "tests/test_nerf_app.py"
T_CHECKS = "tests/test_cli.py::test_check_passes_and_reports_every_kernel"  # every app's check cases

MUTATIONS = [
    # ---- grid encoding
    Mutation("hash prime in the shader", "shaders/lib/grid_encoding.glsl",
             "uint[3](1u, 2654435761u, 805459861u)", "uint[3](1u, 2654435761u, 805459867u)",
             (f"{T_KERNELS}::test_grid_encoding_matches_reference",)),
    Mutation("hash prime in the configuration", "engine/nn/config.py",
             "HASH_PRIMES = (1, 2654435761, 805459861)", "HASH_PRIMES = (1, 2654435761, 805459867)",
             (f"{T_REFERENCE}::test_hash_is_tcnns_coherent_prime_hash",)),
    Mutation("level offset applied before the modulo", "shaders/lib/grid_encoding.glsl",
             "return level.offset + index % level.size;", "return (level.offset + index) % level.size;",
             (f"{T_KERNELS}::test_grid_encoding_matches_reference",)),
    Mutation("level offsets not contiguous", "engine/nn/config.py",
             "            offset += entries\n", "            offset += entries - 8\n",
             (f"{T_REFERENCE}::test_hashgrid_preset_matches_instant_ngp",)),
    Mutation("dense stride off by one", "shaders/lib/grid_encoding.glsl",
             "stride *= level.resolution;", "stride *= level.resolution - 1u;",
             (f"{T_KERNELS}::test_grid_encoding_matches_reference",)),
    Mutation("grid positions without the half-cell shift", "shaders/lib/grid_encoding.glsl",
             "precise float p = pos[d] * level.scale + 0.5;", "precise float p = pos[d] * level.scale;",
             (f"{T_KERNELS}::test_grid_encoding_matches_reference",)),
    Mutation("grid backward without the interpolation weight", "shaders/lib/grid_encoding.glsl",
             "entry + f, weight * d_encoded[l * GRID_FEATURES + f]", "entry + f, d_encoded[l * GRID_FEATURES + f]",
             (T_TRAINING, "-k", "grid_backward")),
    Mutation("a named grid instance's features read from its levels", "shaders/lib/grid_encoding.glsl",
             "#define GRID_FEATURES NGVK_CAT(GRID_INSTANCE, _FEATURES)",
             "#define GRID_FEATURES NGVK_CAT(GRID_INSTANCE, _LEVELS)",
             (T_KERNELS, "-k", "two_grids")),
    # ---- MLP
    Mutation("sixth hidden layer reads the fifth's weights", "shaders/lib/mlp.glsl",
             "{ MLP_HIDDEN(5, a, b) }", "{ MLP_HIDDEN(4, a, b) }",
             (f"{T_KERNELS}::test_mlp_matches_reference",)),
    Mutation("a named MLP instance's width read from its inputs", "shaders/lib/mlp.glsl",
             "#define MLP_WIDTH NGVK_CAT(MLP_INSTANCE, _WIDTH)", "#define MLP_WIDTH NGVK_CAT(MLP_INSTANCE, _INPUTS)",
             (T_KERNELS, "-k", "two_mlps")),
    Mutation("sigmoid derivative in the shader", "shaders/lib/mlp.glsl",
             "if (activation == 2) return y * (1.0 - y);", "if (activation == 2) return 1.0 - y;",
             (T_TRAINING, "-k", "mlp_training")),
    Mutation("sigmoid derivative in the reference", "engine/nn/reference.py",
             "        return y * (1.0 - y)\n", "        return y\n",
             (f"{T_REFERENCE}::test_mlp_backward_reference_matches_finite_differences",)),
    Mutation("ReLU derivative passes gradients at zero", "shaders/nn/mlp_backward.comp",
             "a[s][k] > 0.0 ? g[s][k] : 0.0", "a[s][k] >= 0.0 ? g[s][k] : 0.0",
             (T_TRAINING, "-k", "mlp_training")),
    # ---- losses and Adam
    Mutation("relative L2 gradient without the factor 2", "shaders/lib/loss.glsl",
             "gradient = 2.0 * d * scale;", "gradient = d * scale;",
             (T_TRAINING, "-k", "loss")),
    Mutation("relative L2 reference gradient without the factor 2", "engine/nn/reference.py",
             "d * d * scale, 2.0 * d * scale", "d * d * scale, d * scale",
             (T_REFERENCE, "-k", "loss")),
    Mutation("MAPE gradient without the sign", "shaders/lib/loss.glsl",
             "gradient = sign(d) * scale;", "gradient = scale;",
             (T_TRAINING, "-k", "loss")),
    Mutation("Huber's quadratic part not divided by delta", "engine/nn/reference.py",
             "np.where(inside, d * d / (2 * HUBER_DELTA)", "np.where(inside, d * d / 2",
             (T_REFERENCE, "-k", "loss")),
    Mutation("Adam beta2 0.999 instead of instant-ngp's 0.99", "engine/nn/training.py",
             "beta2: float = 0.99", "beta2: float = 0.999",
             (T_TRAINING, "-k", "adam")),
    Mutation("Adam bias correction with beta1 for beta2", "shaders/nn/adam_step.comp",
             "sqrt(1.0 - pow(beta2, float(t)))", "sqrt(1.0 - pow(beta1, float(t)))",
             (T_TRAINING, "-k", "adam")),
    Mutation("Adam reference without the square root", "engine/nn/reference.py",
             "rate = learning_rate * np.sqrt(1 - beta2**tt) / (1 - beta1**tt)",
             "rate = learning_rate * (1 - beta2**tt) / (1 - beta1**tt)",
             (T_REFERENCE, "-k", "adam")),
    Mutation("Adam L2 regularisation dropped", "shaders/nn/adam_step.comp",
             "g += l2_reg * w;", "g += 0.0 * l2_reg * w;",
             (T_TRAINING, "-k", "adam")),
    Mutation("parameter average not debiased", "shaders/nn/adam_step.comp",
             "w * (1.0 - average_decay)) * schedule[2];", "w * (1.0 - average_decay));",
             (T_TRAINING, "-k", "average")),
    Mutation("Adam ignores the scheduled learning rate", "shaders/nn/adam_step.comp",
             "float rate = schedule[0] *", "float rate = 1e-2 *",
             (T_TRAINING, "-k", "schedule")),
    # ---- random numbers and batches
    Mutation("random sequence ignores the step", "shaders/lib/random.glsl",
             "pcg_hash(step ^ pcg_hash(index * 4u + k))", "pcg_hash(pcg_hash(index * 4u + k))",
             (T_IMAGE, "-k", "training_batch")),
    Mutation("trainer always sends step 1", "engine/nn/training.py",
             "np.array([self.step, self.seed], dtype=np.uint32)", "np.array([1, self.seed], dtype=np.uint32)",
             (T_TRAINING, "-k", "trainer")),
    Mutation("random reference hash constant", "engine/nn/reference.py",
             "np.uint32(277803737)", "np.uint32(277803739)",
             (T_REFERENCE, "-k", "random")),
    Mutation("training targets sampled half a pixel off", "shaders/image/image_source.glsl",
             "vec2 p = uv * vec2(source_width, source_height) - 0.5;", "vec2 p = uv * vec2(source_width, source_height);",
             (T_IMAGE, "-k", "training_batch")),
    # ---- tiles, invocations, workgroups
    Mutation("last tile one pixel short", "engine/render/frame.py",
             "min(self.tile_pixels, end - start)", "min(self.tile_pixels, end - start - 1)",
             (T_IMAGE, "-k", "tiling")),
    Mutation("every band read back into the frame's start", "engine/render/frame.py",
             "pixels[first : first + count] = frame.download", "pixels[:count] = frame.download",
             (T_IMAGE, "-k", "band")),
    Mutation("MLP invocations rounded down", "engine/nn/layers.py",
             "sequence.dispatch(self.kernel(), -(-n // items), buffers, {\"n\": n})",
             "sequence.dispatch(self.kernel(), n // items, buffers, {\"n\": n})",
             (T_KERNELS, "-k", "awkward")),
    Mutation("training MLP invocations rounded down", "engine/nn/training.py",
             "return -(-n // self.items)", "return n // self.items",
             (T_TRAINING, "-k", "mlp_training")),
    Mutation("weight-gradient chunks rounded down", "engine/nn/training.py",
             "return -(-n // self.chunk_samples)", "return n // self.chunk_samples",
             (T_TRAINING, "-k", "mlp_training")),
    Mutation("fused kernel skips the last pixel of each tile", "shaders/image/image_fused.comp",
             "if (first + s >= n) break;", "if (first + s + 1u >= n) break;",
             (T_IMAGE, "-k", "fused_and_unfused")),
    Mutation("fused renderer invocations rounded down", "apps/image/app.py",
             "-(-push[\"n\"] // self.items)", "push[\"n\"] // self.items",
             (T_IMAGE, "-k", "tiling")),
    Mutation("workgroups rounded down", "engine/gpu/kernel.py",
             "total = math.ceil(n / self.local_size)", "total = n // self.local_size",
             (T_KERNELS, "-k", "awkward")),
    # ---- colour, cameras, frames
    Mutation("sRGB exponent 1/2.2 in the shader", "shaders/lib/color.glsl",
             "1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055", "1.055 * pow(c, vec3(1.0 / 2.2)) - 0.055",
             (T_IMAGE, "-k", "preprocess_and_postprocess")),
    Mutation("sRGB exponent 1/2.2 in the reference", "engine/nn/reference.py",
             "1.055 * c ** (1 / 2.4) - 0.055", "1.055 * c ** (1 / 2.2) - 0.055",
             (T_REFERENCE, "-k", "srgb")),
    Mutation("8-bit packing truncates", "shaders/lib/color.glsl",
             "floor(clamp(c, 0.0, 1.0) * 255.0 + 0.5)", "floor(clamp(c, 0.0, 1.0) * 255.0)",
             (T_IMAGE, "-k", "fused_and_unfused and network")),
    Mutation("camera rays through pixel corners in the shader", "shaders/lib/camera.glsl",
             "float x = (float(pixel % width) + 0.5)", "float x = (float(pixel % width) + 0.0)",
             (T_IMAGE, "-k", "preprocess_and_postprocess")),
    Mutation("camera rays through pixel corners in the reference", "engine/render/camera.py",
             "x = ((pixels % width).astype(f32) + f32(0.5))", "x = ((pixels % width).astype(f32) + f32(0.0))",
             (T_IMAGE, "-k", "camera_rays")),
    # ---- the SDF app's data
    Mutation("mug handle in the wrong plane on the device", "shaders/sdf/sdf_shapes.glsl",
             "sdf_torus((q - vec3(0.26, 0.0, 0.0)).xzy", "sdf_torus((q - vec3(0.26, 0.0, 0.0)).xyz",
             (T_SDF_APP, "-k", "check_shapes")),
    Mutation("a quarter of the SDF samples uniform", "apps/sdf/data.py",
             "n_uniform = n // 8", "n_uniform = n // 4",
             (f"{T_SDF}::test_training_samples_follow_instant_ngps_proportions",)),
    # ---- the SDF app's sphere tracer
    Mutation("sphere tracing steps the whole distance", "shaders/sdf/sdf_trace.glsl",
             "ray.t += SDF_STEP_SCALE * d;", "ray.t += d;", (T_SDF_APP, "-k", "check_stages")),
    Mutation("a normal probe at the wrong corner", "shaders/sdf/sdf_trace.glsl",
             ": k == 2u ? vec3(-1.0, 1.0, -1.0)", ": k == 2u ? vec3(-1.0, 1.0, 1.0)", (T_SDF_APP, "-k", "check_stages")),
    Mutation("the shadow ray starts inside the surface (reference)", "apps/sdf/tracing.py",
             "+ SHADOW_OFFSET * rays[\"normal\"]", "- SHADOW_OFFSET * rays[\"normal\"]",
             (T_SDF_APP, "-k", "check_stages")),
    Mutation("unfused tracing compacts away the rays still marching", "shaders/sdf/sdf_stages.comp",
             "alive[i] = ray.status == SDF_MARCHING ? 1u : 0u;\n    } else {",
             "alive[i] = ray.status == SDF_HIT ? 1u : 0u;\n    } else {",
             (T_SDF_APP, "-k", "every_kernel_variant_renders")),
    Mutation("the compacted list of rays left unused", "apps/sdf/render.py",
             "now = 1 - now", "now = now", (T_SDF_APP, "-k", "queries")),
    Mutation("the fused SDF slots take 4 pixels each on a CPU (past lavapipe's loop limit)", "apps/sdf/render.py",
             'FUSED_PIXELS_PER_SLOT = {"CPU": 1, "GPU": 4}', 'FUSED_PIXELS_PER_SLOT = {"CPU": 4, "GPU": 4}',
             (T_SDF_APP, "-k", "loop_limit")),
    # ---- wavefront kernels (engine/render/wavefront.py, lib/wavefront.glsl; the SDF app's kernel)
    Mutation("the wavefront's next dispatch rounds its workgroups down", "shaders/lib/wavefront.glsl",
             "atomicMax(counter_out[8], (total + own - 1u) / own);", "atomicMax(counter_out[8], total / own);",
             (T_SDF_APP, "-k", "every_kernel_variant")),
    Mutation("a wavefront slot whose pixel is done takes no other", "shaders/sdf/sdf_wavefront.comp",
             "pixel[s] = wavefront_take();", "pixel[s] = WAVEFRONT_NO_WORK;",
             (T_SDF_APP, "-k", "every_kernel_variant_renders")),
    Mutation("the prepost kernel reads its first slot's distance for all", "shaders/sdf/sdf_wavefront.comp",
             "d[s] = pixel[s] != WAVEFRONT_NO_WORK ? distances[first + uint(s)] : 0.0;",
             "d[s] = pixel[s] != WAVEFRONT_NO_WORK ? distances[first] : 0.0;",
             (T_SDF_APP, "-k", "every_kernel_variant_renders")),
    Mutation("the wavefront's rounds stop one round early", "engine/render/wavefront.py",
             "if self.live(listed) == 0:", "if self.live(listed) >= 0:",
             (T_SDF_APP, "-k", "loop_limit")),
    # ---- the volume app's free-flight sampling
    Mutation("a collision accepted with the density, not density / majorant", "shaders/volume/volume_trace.glsl",
             "if (u < values.w / majorant) {", "if (u < values.w) {", (T_VOLUME_APP, "-k", "check_cases")),
    Mutation("the unfused resolve sums another pixel's samples", "shaders/volume/volume_stages.comp",
             "sum += volume_sample_value(paths[i * spp + s], d);", "sum += volume_sample_value(paths[i + s], d);",
             (T_VOLUME_APP, "-k", "every_kernel_variant_renders")),
    Mutation("the volume wavefront counts each query twice", "shaders/volume/volume_wavefront.comp",
             "made += 1u;", "made += 2u;", (T_VOLUME_APP, "-k", "every_kernel_variant_renders")),
    Mutation("progressive frames draw the first frame's samples again", "apps/volume/render.py",
             "out.append((count, self.frame_index * self.spp + done,", "out.append((count, done,",
             (T_VOLUME_APP, "-k", "accumulate")),
    # ---- the NeRF app's marcher and training
    Mutation("the colour's gradient forgets the background behind the ray", "shaders/nerf/nerf_train.comp",
             "vec3 d_sigma = t_after * rgb - (colour - partial) - transmittance * ray.background;",
             "vec3 d_sigma = t_after * rgb - (colour - partial);", (T_CHECKS,)),
    Mutation("the reference gradient forgets the background", "apps/nerf/tracing.py",
             "d_colour = ts[i + 1] * rgb[i] - (forward[\"colour\"] - partial) - t_end * np.asarray(background, np.float64)",
             "d_colour = ts[i + 1] * rgb[i] - (forward[\"colour\"] - partial)", (T_NERF_APP, "-k", "finite")),
    Mutation("empty cells skipped off the samples' lattice", "shaders/nerf/nerf_march.glsl",
             "t = t + NERF_STEP * max(1.0, ceil((t_cell - t) / NERF_STEP));", "t = max(t_cell, t + NERF_STEP);",
             (T_CHECKS,)),
    Mutation("rays stop at opacity 0.9", "shaders/nerf/nerf_march.glsl",
             "if (ray.transmittance < NERF_MIN_TRANSMITTANCE) ray.status = NERF_DONE;",
             "if (ray.transmittance < 0.1) ray.status = NERF_DONE;", (T_CHECKS,)),
    Mutation("the compaction drops each ray's last sample before the stop", "shaders/nerf/nerf_train.comp",
             "        count = k + 1u;", "        count = k;", (T_CHECKS,)),
    Mutation("the compaction copies the ts from the trained slots' indices", "shaders/nerf/nerf_train.comp",
             "sample_t[slot] = march_t[from];", "sample_t[slot] = march_t[slot];", (T_CHECKS,)),
    Mutation("the occupancy grid never decays", "apps/nerf/training.py",
             "np.maximum(self.thickness * np.float32(OCCUPANCY_DECAY), measured)", "np.maximum(self.thickness, measured)",
             (T_NERF_APP, "-k", "occupancy")),
    Mutation("coarse occupancy cascades are not max-pooled from the finer ones", "apps/nerf/training.py",
             "self.occupied = pool_cascades(occupied)", "self.occupied = occupied",
             (T_NERF_APP, "-k", "cascades")),
    Mutation("cone steps composite with the fixed step's alpha", "shaders/nerf/nerf_march.glsl",
             "float alpha = 1.0 - exp(-exp(raw) * nerf_step_size(t));", "float alpha = 1.0 - exp(-exp(raw) * NERF_STEP);",
             (T_CHECKS,)),
    Mutation("the unfused colour stage reads another ray's direction", "shaders/nerf/nerf_stages.comp",
             "NerfRay ray = rays[path_list[i / uint(SLOTS)]];", "NerfRay ray = rays[path_list[i % uint(SLOTS)]];",
             (T_NERF_APP, "-k", "every_kernel_variant")),
    Mutation("the NeRF wavefront counts no samples", "shaders/nerf/nerf_wavefront.comp",
             "nerf_network(o, d, ts, valid, raw, rgb);\n        made = uint(SAMPLES);",
             "nerf_network(o, d, ts, valid, raw, rgb);\n        made = 0u;", (T_NERF_APP, "-k", "every_kernel_variant")),
    # ---- files and metrics
    Mutation("models saved as float16", "engine/model.py",
             "arrays = {name: np.ascontiguousarray(array, dtype=self.param_dtype)",
             "arrays = {name: np.ascontiguousarray(array, dtype=np.float16)", (T_MODEL,)),
    Mutation("another app's model accepted", "engine/model.py",
             "if app is not None and header.get(\"app\") != app:", "if app is None and header.get(\"app\") != app:",
             (T_MODEL,)),
    Mutation("extra arrays loaded without checking their shape", "engine/model.py",
             "if array.dtype != dtype or array.shape != shape:", "if array.dtype != dtype:",
             (T_MODEL,)),
    Mutation("SSIM window sigma 3.0", "apps/metrics.py",
             "sigma: float = 1.5", "sigma: float = 3.0",
             (T_IMAGE, "-k", "metrics")),
]


def copy_checkout(destination: Path) -> None:
    """The files git tracks, and the untracked ones it does not ignore, as they are on disk."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, check=True, capture_output=True).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def run_tests(copy: Path, tests: tuple[str, ...], env: dict) -> tuple[int, float, str]:
    """(pytest's exit status, seconds, its short summary: which test failed and how); -1 for a
    time-out."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-rfE", "--tb=line", "-p", "no:cacheprovider", "-n", "0", *tests]  # one process: -x stops at the first failure
    start = time.perf_counter()
    try:
        result = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return -1, time.perf_counter() - start, "timed out"
    lines = (result.stdout + result.stderr).strip().splitlines()
    summary = [line for line in lines if line.startswith(("FAILED", "ERROR"))] + lines[-1:]
    return result.returncode, time.perf_counter() - start, "\n".join(summary)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", dest="select", default="", help="only mutations whose name contains this")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="show which test caught each mutation")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if args.select.lower() in m.name.lower()]
    if args.list:
        for m in chosen:
            print(f"{m.name:55s} {m.path}")
        return 0
    if not chosen:
        print(f"mutation_check: no mutation matches {args.select!r}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="ngvk-mutants-") as folder:
        copy = Path(folder) / "checkout"
        copy_checkout(copy)
        # The copy's modules and shaders, not the installed checkout's: an `ngvk` package of links
        # to the copy's folders (as pyproject.toml maps them), first on the path; its own SPIR-V cache.
        package = Path(folder) / "path" / "ngvk"
        package.mkdir(parents=True)
        for name in ("engine", "apps", "shaders", "assets"):
            (package / name).symlink_to(copy / name)
        env = dict(os.environ, PYTHONPATH=str(package.parent), NGVK_CACHE_DIR=str(Path(folder) / "cache"))
        located = subprocess.run(
            [sys.executable, "-c", "import os, ngvk.engine.paths as p; print(os.path.realpath(p.SHADER_DIR))"],
            cwd=copy, env=env, capture_output=True, text=True).stdout.strip()
        if located != str(copy / "shaders"):
            print(f"mutation_check: the copy's engine is not the one imported ({located})", file=sys.stderr)
            return 2

        suites = sorted({m.tests for m in chosen})
        print(f"{len(chosen)} mutations; first the {len(suites)} test selections they use, unmutated:", flush=True)
        for tests in suites:
            status, seconds, tail = run_tests(copy, tests, env)
            if status != 0:
                print(f"  {' '.join(tests)}: fails unmutated (exit {status}):\n{tail}", file=sys.stderr)
                return 2
            print(f"  {' '.join(tests)}: pass ({seconds:.0f} s)", flush=True)

        missed = []
        start = time.perf_counter()
        for index, mutation in enumerate(chosen, 1):
            path = copy / mutation.path
            original = path.read_text()
            count = original.count(mutation.old)
            if count != 1:
                print(f"mutation_check: {mutation.name!r}: the text to change occurs {count} times in "
                      f"{mutation.path}, not once: update the mutation", file=sys.stderr)
                return 2
            path.write_text(original.replace(mutation.old, mutation.new))
            try:
                status, seconds, tail = run_tests(copy, mutation.tests, env)
            finally:
                path.write_text(original)
            # pytest's 1 means tests ran and some failed; a test that fails in its set-up (an error,
            # not a failure) does not count: it says nothing about what the assertions check.
            caught = status == 1 and " failed" in tail.splitlines()[-1] and "error" not in tail.splitlines()[-1]
            if caught:
                verdict = "caught"
            elif status == -1:
                verdict = "TIMED OUT"
            else:
                verdict = f"NOT CAUGHT (exit {status})"
            print(f"[{index:2d}/{len(chosen)}] {verdict:10s} {seconds:5.1f} s  {mutation.name}  ({mutation.path})",
                  flush=True)
            if not caught:
                missed.append(mutation)
            if not caught or args.verbose:
                print("        " + tail.replace("\n", "\n        "), flush=True)
        total = time.perf_counter() - start
    print(f"{len(chosen) - len(missed)} of {len(chosen)} mutations caught in {total / 60:.1f} minutes")
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
