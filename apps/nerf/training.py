"""The NeRF app's training: the occupancy grid that training keeps up to date, and the training graph,
composed from the engine's Trainer, layers and their backward passes and the app's own stages
(nerf/nerf_train.comp).

A step (stages as timed): rays (random pixels of random training images, random backgrounds,
samples marched through the occupancy grid into MARCH_FACTOR x the budget of slots), march_density
(the encoding and the density network, inference only, at every marched sample), compact (each ray
keeps its samples up to where it turns opaque, in the budget's slots: instant-ngp's compaction, so
that the networks' training passes, two thirds of a step, run only on samples that count; on the
spheres scene about a quarter of the marched samples), encoding, mlp_forward (the density network,
the colour network's input, the colour network), composite (volume rendering forward, the loss in
linear colour and its backward pass to the samples), mlp_backward (the colour network, the density
outputs' gradients, the density network), encoding_backward, adam (the grid and both networks).
The rays per step adapt so that their kept samples fill about the budget and their marched ones
the march's slots, as instant-ngp adapts them.

Supersampling (fit --supersampling S): from SUPERSAMPLING_AFTER of the fit on, each pixel trains
on S x S rays on a regular grid in it (the evaluation's rays), the pixel their mean colour in
linear light, as a photo's pixel (and a generated view's, supersampled) holds its area's light.
One ray through the centre asks a point of the scene for the light of a pixel's whole area, which
differs from view to view where texture is finer than a pixel, so such a fit levels off (on the
spheres scene at about 27.4 dB, its train views no better than its test views); S x S rays are
the images' own formation and fit them on. The first part of the fit stays at one ray per pixel:
4 x the rays a pixel cost 4 x fewer pixels a step, slower to learn the coarse scene
(docs/nerf.md "NeRF: quality per minute").

The occupancy grid (instant-ngp's cascaded grids: one 128^3 cascade per power of two of the aabb,
apps/nerf/tracing.py): each cell keeps the largest optical thickness density x STEP seen at random
points in it, decayed by 0.95 at every update (every 16 steps, and before the first); a cell is
occupied where that exceeds min(0.01, the mean over cascade 0's cells), and a cell of cascade k > 0
also where any of the 8 cells of cascade k - 1 inside it is (instant-ngp's max-pooling of the
bits, so that a coarse lookup, taken where steps are long, never skips what a fine one sees). The
first 256 steps (warm-up) update every cell, later ones a random quarter of the cells and as many
picked among the occupied ones.
"""

from __future__ import annotations

import math

import numpy as np

from ngvk.apps.nerf import tracing
from ngvk.engine.errors import NgvkError
from ngvk.engine.nn.layers import MLP, GridEncoding
from ngvk.engine.nn.training import LOSS_CODES, AdamConfig, GridTraining, MLPTraining, Trainer
from ngvk.engine.render.camera import camera_array
from ngvk.engine.render.occupancy import pack_occupancy

LOSS = "huber"  # instant-ngp's NeRF loss, on linear colour (engine/nn/reference.py loss())
OCCUPANCY_DECAY = 0.95
OCCUPANCY_THRESHOLD = 0.01  # instant-ngp's NERF_MIN_OPTICAL_THICKNESS
OCCUPANCY_EVERY = 16
WARMUP_STEPS = 256
MIN_RAYS = 64
MARCH_FACTOR = 4  # marched slots per trained slot: instant-ngp keeps a quarter or less of its marched samples
PROBE_CHUNK = 1 << 18
MAX_SUPERSAMPLING = 4
SUPERSAMPLING_AFTER = 0.25  # of the fit (steps or time): training rays per pixel side go from 1 to supersampling
NO_RAY = 0xFFFFFFFF
HALF_WORD = int(np.float32(0.5).view(np.uint32))  # positions of unused slots: the cube's centre

# NerfTrainRay of nerf/nerf_train.comp in std430: 64 bytes.
TRAIN_RAY_DTYPE = np.dtype([("direction", "<f4", 3), ("first", "<u4"), ("target", "<f4", 3), ("count", "<u4"),
                            ("background", "<f4", 3), ("used", "<u4"), ("march_first", "<u4"),
                            ("march_count", "<u4"), ("dropped", "<u4"), ("pad", "<u4")])
assert TRAIN_RAY_DTYPE.itemsize == 64


class OccupancyGrid:
    """The occupancy grid training keeps (module docstring): per cell the decayed largest optical
    thickness seen (`thickness`, float32 [cascades R^3]) and the bits (`occupied`, bool [cascades,
    R, R, R]), of the scene's box `aabb`."""

    def __init__(self, resolution: int = tracing.OCCUPANCY_RESOLUTION, aabb: tracing.Aabb = tracing.UNIT):
        self.resolution, self.aabb = resolution, aabb
        self.thickness = np.zeros(aabb.cascades * resolution**3, np.float32)
        self.occupied = np.ones((aabb.cascades,) + (resolution,) * 3, bool)

    @property
    def cells(self) -> int:
        return self.aabb.cascades * self.resolution**3

    def sample_cells(self, rng: np.random.Generator, warmup: bool) -> np.ndarray:
        """Cell indices to probe: every cell in the warm-up, else a random quarter of them and as
        many random occupied ones."""
        if warmup:
            return np.arange(self.cells)
        uniform = rng.integers(0, self.cells, self.cells // 4)
        occupied = np.flatnonzero(self.occupied.reshape(-1))
        if len(occupied) == 0:
            return uniform
        return np.concatenate([uniform, occupied[rng.integers(0, len(occupied), self.cells // 4)]])

    def positions(self, cells: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A uniformly random point in each of `cells` (indices k R^3 + (x * R + y) * R + z of
        cascade k), warped into the networks' [0, 1]^3 (tracing.Aabb.warp()), float32 [N, 3]."""
        r = self.resolution
        cascade, index = cells // r**3, cells % r**3
        xyz = np.stack([index // (r * r), index // r % r, index % r], axis=1)
        size = np.exp2(cascade.astype(np.float64))[:, None]  # cascade k's side
        world = ((xyz + rng.random((len(cells), 3))) / r - 0.5) * size + 0.5
        return self.aabb.warp(world)

    def update(self, cells: np.ndarray, thickness: np.ndarray) -> None:
        """Fold the optical thicknesses measured in `cells` in: per cell the largest of them and the
        previous value times OCCUPANCY_DECAY; then the bits against min(threshold, cascade 0's
        mean), max-pooled into the coarser cascades."""
        measured = np.zeros(self.cells, np.float32)
        np.maximum.at(measured, cells, np.asarray(thickness, np.float32))
        self.thickness = np.maximum(self.thickness * np.float32(OCCUPANCY_DECAY), measured)
        r = self.resolution
        threshold = min(OCCUPANCY_THRESHOLD, float(self.thickness[:r**3].mean(dtype=np.float64)))
        occupied = (self.thickness > threshold).reshape((self.aabb.cascades,) + (r,) * 3)
        self.occupied = pool_cascades(occupied)

    def occupied_fraction(self) -> float:
        return float(self.occupied.mean())


def pool_cascades(occupied: np.ndarray) -> np.ndarray:
    """bool [cascades, R, R, R] with each cascade's central half (where cascade k - 1 lies) also
    occupied where any of the 8 finer cells in a cell is (instant-ngp's bitfield_max_pool)."""
    occupied = occupied.copy()
    r = occupied.shape[1]
    for k in range(1, len(occupied)):
        finer = occupied[k - 1].reshape(r // 2, 2, r // 2, 2, r // 2, 2).any(axis=(1, 3, 5))
        occupied[k, r // 4:3 * r // 4, r // 4:3 * r // 4, r // 4:3 * r // 4] |= finer
    return occupied


class DensityProbe:
    """The density network's raw output at many positions, in chunks (the occupancy grid's update)."""

    def __init__(self, encoding: GridEncoding, density: MLP, chunk: int = PROBE_CHUNK):
        self.device, self.chunk = encoding.device, chunk
        self.encoding, self.density = encoding, density
        self.positions = self.device.buffer(chunk * 12, "probe_positions")
        self.encoded = self.device.buffer(chunk * encoding.config.n_output * 4, "probe_encoded")
        self.outputs = self.device.buffer(chunk * density.config.n_output * 4, "probe_outputs")
        self.sequence = self.device.sequence()
        self.encoding.record_encode(self.sequence, self.positions, self.encoded, chunk)
        self.density.record_forward(self.sequence, self.encoded, self.outputs, chunk)

    def raw_density(self, positions: np.ndarray) -> np.ndarray:
        out = np.empty(len(positions), np.float32)
        outputs = self.density.config.n_output
        for first in range(0, len(positions), self.chunk):
            part = positions[first:first + self.chunk]
            padded = np.full((self.chunk, 3), 0.5, np.float32)
            padded[:len(part)] = part
            self.positions.upload(padded)
            self.sequence.run()
            out[first:first + len(part)] = self.outputs.download(np.float32, (self.chunk, outputs))[:len(part), 0]
        return out

    def close(self) -> None:
        self.sequence.close()
        for buffer in (self.positions, self.encoded, self.outputs):
            buffer.close()


def pack_images(images: np.ndarray) -> np.ndarray:
    """float [N, H, W, 4] in [0, 1] -> uint32 [N * H * W] RGBA8 (R in the low byte), as the kernel
    unpacks them."""
    bytes_ = np.floor(np.clip(images, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(bytes_).view(np.uint32).reshape(-1)


class NerfTrainer(Trainer):
    """The NeRF training graph (module docstring) on `views` (data.NerfViews), a budget of `budget`
    trained sample slots per step (and MARCH_FACTOR x as many marched), with the layers given (their
    parameters are trained in place)."""

    def __init__(self, device, views, encoding: GridEncoding, density: MLP, color: MLP, budget: int,
                 seed: int = 0, occupancy: OccupancyGrid | None = None, adam: AdamConfig = AdamConfig(),
                 supersampling: int = 1, supersampling_after: float = SUPERSAMPLING_AFTER):
        super().__init__(device, budget, seed, adam)
        self.encoding, self.density, self.color = encoding, density, color
        self.budget = budget
        self.march_budget = MARCH_FACTOR * budget
        if not 1 <= supersampling <= MAX_SUPERSAMPLING:
            raise NgvkError(f"supersampling {supersampling}: give 1 to {MAX_SUPERSAMPLING} rays per pixel side")
        self.supersampling, self.supersampling_after = supersampling, supersampling_after
        # max_rays: whole pixels at every step's rays per pixel; a pixel's rays are all kept or all skipped.
        self.max_rays = self._whole_pixels(max(MIN_RAYS, budget // 4), supersampling)
        self.rays = min(self.max_rays, self._whole_pixels(max(MIN_RAYS, budget // 256), supersampling))
        self.rng = np.random.default_rng(seed)
        self.aabb = views.aabb
        self.occupancy = occupancy or OccupancyGrid(aabb=self.aabb)
        if self.occupancy.aabb != self.aabb:
            raise NgvkError(f"the occupancy grid's aabb_scale {self.occupancy.aabb.scale} is not the views' "
                            f"{self.aabb.scale}")
        self.samples_per_ray = float("nan")  # marched
        self.trained_per_ray = float("nan")
        try:
            self._build(views)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _whole_pixels(rays: float, side: int) -> int:
        """`rays` rounded down to whole pixels of side x side rays (at least one pixel's)."""
        return max(1, int(rays) // (side * side)) * side * side

    def step_supersampling(self) -> int:
        """Rays per pixel side at this step: one through the centre for the first
        `supersampling_after` of the fit, `supersampling` from there (module docstring)."""
        return self.supersampling if self.progress >= self.supersampling_after else 1

    def _build(self, views) -> None:
        device, budget, own = self.device, self.budget, self.own
        count, height, width = views.images.shape[:3]
        limit = device.info.max_storage_buffer_range
        if count * height * width * 4 > limit:
            size = count * height * width * 4
            raise NgvkError(f"the training images take {size / 2**20:.0f} MiB as RGBA8, more than this device binds "
                            f"at once ({limit / 2**20:.0f} MiB): read them smaller with "
                            f"--downscale {math.ceil(math.sqrt(size / limit))}")
        self.probe = own(DensityProbe(self.encoding, self.density))
        self.occupancy_bits = own(device.buffer_from(pack_occupancy(self.occupancy.occupied), "occupancy"))
        blocks = camera_array([(camera, width, height) for camera in views.cameras])
        cameras = own(device.buffer_from(blocks.reshape(-1, 4), "cameras"))
        images = own(device.buffer_from(pack_images(views.images), "images"))
        self.train_rays = own(device.buffer(8, "train_rays"))
        self.sample_count = own(device.buffer(8, "sample_count"))
        rays = own(device.buffer(self.max_rays * TRAIN_RAY_DTYPE.itemsize, "train_rays_state"))
        sample_ray = own(device.buffer(budget * 4, "sample_ray"))
        positions = own(device.buffer(budget * 12, "positions"))
        encoded = own(device.buffer(budget * self.encoding.config.n_output * 4, "encoded"))
        d_raw = own(device.buffer(budget * 4, "d_raw"))
        sample_t = own(device.buffer(budget * 4, "sample_t"))
        march = self.march_budget
        march_positions = own(device.buffer(march * 12, "march_positions"))
        march_t = own(device.buffer(march * 4, "march_t"))
        march_encoded = own(device.buffer(march * self.encoding.config.n_output * 4, "march_encoded"))
        march_density = own(device.buffer(march * self.density.config.n_output * 4, "march_density"))
        density_training = own(MLPTraining(self.density, budget))
        color_training = own(MLPTraining(self.color, budget))
        grid_training = own(GridTraining(self.encoding))
        color_in = own(device.buffer(budget * self.color.config.n_input * 4, "color_in"))
        self.optimise(self.encoding.params, grid_training.gradients, self.encoding.config.n_params, False, "grid")
        self.optimise(self.density.weights, density_training.gradients, self.density.config.n_params, True, "density")
        self.optimise(self.color.weights, color_training.gradients, self.color.config.n_params, True, "color")

        def stage(number):
            return device.kernel("nerf/nerf_train.comp", {**tracing.defines(self.aabb), "NERF_TRAIN_STAGE": number,
                                                          "LOSS": LOSS_CODES[LOSS]})

        buffers = {
            "occupancy": self.occupancy_bits, "cameras": cameras, "images": images, "train_rays": self.train_rays,
            "sample_count": self.sample_count, "rays": rays, "sample_ray": sample_ray, "positions": positions,
            "density_out": density_training.outputs, "color_in": color_in, "color_out": color_training.outputs,
            "d_color_out": color_training.d_outputs, "d_raw": d_raw, "losses": self.losses,
            "d_color_in": color_training.d_inputs, "d_density_out": density_training.d_outputs,
            "training_state": self.state, "sample_t": sample_t, "march_positions": march_positions,
            "march_t": march_t, "march_density": march_density,
        }
        push = {"budget": budget, "march_budget": march, "image_count": count, "image_width": width,
                "image_height": height}
        self.buffers = buffers  # the step's buffers by binding name (checks read them after a step)

        def dispatch(sequence, number, n):
            kernel = stage(number)
            names = {b.name for b in kernel.bindings}
            sequence.dispatch(kernel, n, {k: v for k, v in buffers.items() if k in names}, {**push, "n": n})

        def record_rays(s):
            s.fill(march_positions, HALF_WORD)
            s.fill(positions, HALF_WORD)
            s.fill(sample_ray, NO_RAY)
            s.fill(self.sample_count, 0)
            s.fill(color_training.d_outputs, 0)
            s.fill(d_raw, 0)
            s.fill(self.losses, 0)
            dispatch(s, 0, self.max_rays)

        def record_forward(s):
            density_training.record_forward(s, encoded, budget)
            dispatch(s, 1, budget)
            color_training.record_forward(s, color_in, budget)

        def record_backward(s):
            color_training.record_backward(s, color_in, budget)
            dispatch(s, 3, budget)
            density_training.record_backward(s, encoded, budget)

        def record_march_density(s):
            self.encoding.record_encode(s, march_positions, march_encoded, march)
            self.density.record_forward(s, march_encoded, march_density, march)

        self.stage("rays", record_rays)
        self.stage("march_density", record_march_density)
        self.stage("compact", lambda s: dispatch(s, 4, self.max_rays))
        self.stage("encoding", lambda s: self.encoding.record_encode(s, positions, encoded, budget))
        self.stage("mlp_forward", record_forward)
        self.stage("composite", lambda s: dispatch(s, 2, self.max_rays))  # pixels past the step's return
        self.stage("mlp_backward", record_backward)
        self.stage("encoding_backward",
                   lambda s: grid_training.record_backward(s, positions, density_training.d_inputs, budget))

    def update_occupancy(self) -> None:
        """One update of the occupancy grid from the density network (module docstring)."""
        cells = self.occupancy.sample_cells(self.rng, self.step < WARMUP_STEPS)
        raw = self.probe.raw_density(self.occupancy.positions(cells, self.rng))
        with np.errstate(over="ignore"):
            thickness = np.exp(raw.astype(np.float64)) * tracing.STEP
        self.occupancy.update(cells, np.minimum(thickness, 1e30))
        self.occupancy_bits.upload(pack_occupancy(self.occupancy.occupied))

    def run_step(self) -> None:
        if self.step % OCCUPANCY_EVERY == 0:
            self.update_occupancy()
        side = self.step_supersampling()
        self.rays = self._whole_pixels(self.rays, side)
        self.train_rays.upload(np.array([self.rays, side], np.uint32))
        super().run_step()
        marched, trained = (int(v) for v in self.sample_count.download(np.uint32, (2,)))
        self.samples_per_ray = marched / self.rays
        # The rays the march kept (it drops those beyond its slots) asked for the trained slots.
        kept = self.rays * min(1.0, self.march_budget / max(marched, 1))
        self.trained_per_ray = trained / max(kept, 1.0)
        # Next step's rays: as many as fill 95 % of both budgets at this step's samples per ray
        # (rays beyond either are dropped, their samples wasted).
        rays = min(self.march_budget / max(self.samples_per_ray, 1.0), self.budget / max(self.trained_per_ray, 1.0))
        self.rays = int(np.clip(0.95 * rays, MIN_RAYS, self.max_rays))  # rounded to whole pixels at the next step

    def status(self) -> dict:
        """What the progress bar shows beside the loss."""
        return {"rays": self.rays, "samples/ray": f"{self.samples_per_ray:.1f}",
                "trained/ray": f"{self.trained_per_ray:.1f}",
                "occupied": f"{100 * self.occupancy.occupied_fraction():.1f}%"}


def fit(device, views, encoding: str, steps: int, budget: int, seed: int, evaluate, app_data: dict,
        param_dtype: str = "float16", progress=None, max_seconds: float | None = None, evaluations: int = 10,
        adam: AdamConfig = AdamConfig(), live=None, initial=None, supersampling: int = 1,
        supersampling_after: float = None):
    """Fit a NeRF model of `encoding` to the training views (engine/fit.py's loop): `evaluate(model)`
    gives the metrics along the way; snapshots round the parameters to `param_dtype`, so that the
    evaluations see the model that is saved. `initial`: a model to continue (engine/fit.py
    starting_params())."""
    from ngvk.apps.nerf.networks import make_model, presets
    from ngvk.engine.fit import continued_record, fit_loop, starting_params

    grid, networks = presets(encoding, views.aabb.scale)
    start = starting_params({"encoding": grid, **networks}, np.random.default_rng(seed), initial)
    layers = [GridEncoding(device, grid, start["encoding"]),
              MLP(device, networks["density"], start["density"]),
              MLP(device, networks["color"], start["color"])]
    trainer = None
    try:
        trainer = NerfTrainer(device, views, *layers, budget=budget, seed=seed, adam=adam,
                              supersampling=supersampling,
                              supersampling_after=SUPERSAMPLING_AFTER if supersampling_after is None
                              else supersampling_after)

        def snapshot(training: dict):
            params = {name: trainer.params(layer) for name, layer in zip(("encoding", "density", "color"), layers)}
            params = {name: array.astype(param_dtype).astype(np.float32) for name, array in params.items()}
            return make_model(grid, networks, params, trainer.occupancy.occupied, app_data, param_dtype, training,
                              aabb=views.aabb)

        result = fit_loop(trainer, steps, snapshot, evaluate, evaluations, max_seconds, progress,
                          record={"loss": LOSS, "samples_per_step": budget, "supersampling": supersampling,
                                  "supersampling_after": trainer.supersampling_after,
                                  **continued_record(initial)}, live=live)
        result.model.training.update({"rays_per_step": trainer.rays,
                                      "samples_per_ray": round(trainer.samples_per_ray, 2),
                                      "trained_samples_per_ray": round(trainer.trained_per_ray, 2),
                                      "occupied_fraction": round(trainer.occupancy.occupied_fraction(), 4)})
        return result
    finally:
        if trainer is not None:
            trainer.close()
        for layer in layers:
            layer.close()
