"""The NeRF app's renderer: rays marched through the occupancy grid, the density and colour networks
on their samples, composited front to back (unfused stages, one fused kernel, or a wavefront).

Unfused, per tile (stages as timed): preprocess (a ray per pixel, into the cube and on to its first
sample; those that have one listed), then per
iteration: march (each live ray's next SAMPLES_PER_STEP samples into slots), encoding and mlp (the
density network) over the slots, color (the colour network's inputs) and mlp (the colour network),
composite (each ray takes its slots' samples in order and goes on to its next sample; the rays that
have one are compacted into the next list, engine/render/rays.py); postprocess: background, sRGB,
the frame. Fused: one dispatch per tile that does all of it per ray (nerf/nerf_fused.comp).
Wavefront: one dispatch per step of the live rays, a slot taking the next pixel as its ray finishes
(nerf/nerf_wavefront.comp, engine/render/wavefront.py); prepost: the same kernel without the
networks, which run over its samples in between (the encoding and the MLPs, and the colour input).
Every path evaluates 8 samples per step of a ray (Frame.queries), the same samples, the same image.

The camera may have a lens (a dataset's views do): its Camera.lens_block() goes into the `lens`
buffer before a frame is recorded, and every kernel that shoots rays reads it (lib/camera.glsl
CAMERA_LENS); the push constants have no room for it.
"""

from __future__ import annotations

import numpy as np

from ngvk.apps.nerf import tracing
from ngvk.apps.nerf.networks import model_aabb
from ngvk.engine.errors import NgvkError
from ngvk.engine.model import Model
from ngvk.engine.nn.layers import MLP, GridEncoding, items_per_invocation
from ngvk.engine.nn.reference import srgb_to_linear
from ngvk.engine.render.camera import LENS_VEC4S, Camera
from ngvk.engine.render.frame import FrameRenderer, close_all
from ngvk.engine.render.occupancy import pack_occupancy
from ngvk.engine.render.rays import (COUNTER_WORDS, GROUP_SIZE, counter, record_compact, record_dispatch_args,
                                     record_set_count, record_stage)
from ngvk.engine.render.wavefront import Wavefront

STAGES = ("preprocess", "march", "encoding", "mlp", "color", "composite", "postprocess")
RAYS_PER_TILE = 1 << 16  # the unfused slot buffers (x 8 samples, 32 floats each) stay under 128 MiB
# Slots of the wavefront kernels: the rays in flight at once, refilled from the tile's queue as rays
# finish (at most the tile's pixels; the prepost kernels keep 8 samples' network inputs and outputs
# per slot, about 2.3 KiB with the hashgrid). Measured on lavapipe (2-core EPYC, shared; 128x96, the
# shipped models, wavefront, median of 5): hashgrid 34.6 / 33.3 / 31.1 / 30.4 / 29.9 / 30.3 ms with
# 16384 / 8192 / 4096 / 2048 / 1024 / 512 slots; densegrid and lowres likewise flat from 4096 down
# and 12-25 % slower with 16384 (the prepost kernels within 2 % from 16384 down). A GPU needs
# enough rays in flight to fill it: a tile's worth there (not yet measured on one).
WAVEFRONT_SLOTS = {"CPU": 2048, "GPU": 1 << 21}
CENTRE = (0.5, 0.5, 0.5)
DEFAULT_BACKGROUND = (1.0, 1.0, 1.0)  # sRGB: white, as the NeRF synthetic scenes are evaluated

# NerfRay of nerf/nerf_ray.glsl in std430: 48 bytes.
RAY_DTYPE = np.dtype([("colour", "<f4", 3), ("transmittance", "<f4"), ("t", "<f4"), ("t_exit", "<f4"),
                      ("depth", "<f4"), ("samples", "<u4"), ("pixel", "<u4"), ("status", "<u4"),
                      ("steps", "<u4"), ("pad", "<u4")])
assert RAY_DTYPE.itemsize == 48


def orbit_camera(azimuth: float, elevation: float, distance: float = 1.33, fov_y: float = 40.0) -> Camera:
    """A camera on a sphere around the cube's centre (y up), `azimuth` and `elevation` in degrees."""
    a, e = np.radians(azimuth), np.radians(elevation)
    offset = distance * np.array([np.cos(e) * np.sin(a), np.sin(e), np.cos(e) * np.cos(a)])
    return Camera(tuple(np.add(CENTRE, offset)), CENTRE, (0.0, 1.0, 0.0), fov_y=fov_y)


def model_occupancy(model: Model) -> np.ndarray:
    """The model's occupancy grid, bool [cascades, R, R, R]."""
    r, cascades = int(model.app_data["occupancy_resolution"]), model_aabb(model).cascades
    bits = np.unpackbits(np.asarray(model.extras["occupancy"]).view(np.uint8), bitorder="little")
    if bits.size < cascades * r**3:
        raise NgvkError(f"the model's occupancy grid has {bits.size} bits, fewer than {cascades} cascade(s) of {r}^3")
    return bits[:cascades * r**3].reshape(cascades, r, r, r).astype(bool)


class NerfRenderer(FrameRenderer):
    """The NeRF marcher on the device, fused or unfused, of a model (its encoding, density and
    colour networks and occupancy grid), over `background` (sRGB)."""

    stages = STAGES
    modes = tracing.MODES
    lenses = True

    def __init__(self, device, model: Model, background=DEFAULT_BACKGROUND, tile_pixels: int | None = None):
        super().__init__(device, tile_pixels or RAYS_PER_TILE)
        if model.app != "nerf":
            raise NgvkError(f"a {model.app!r} model cannot be rendered by the nerf app")
        self.model = model
        self.aabb = model_aabb(model)
        self.background = tuple(float(c) for c in srgb_to_linear(np.asarray(background, np.float64)))
        self.items = items_per_invocation(device)
        self.encoding = GridEncoding(device, model.encoding, model.params["encoding"])
        self.density = MLP(device, model.networks["density"], model.params["density"])
        self.color = MLP(device, model.networks["color"], model.params["color"])
        self.occupancy = device.buffer_from(pack_occupancy(model_occupancy(model)), "occupancy")
        self.queries = device.buffer(4, "queries")
        self.lens = device.buffer(LENS_VEC4S * 16, "lens")  # the frame camera's lens_block(): record()
        self.kernels = ("fused", "wavefront", "prepost", "unfused")
        self._tile_buffers = None
        self._wavefronts = {}  # split (the prepost kernels) or not -> its Wavefront
        self._sample_buffers = None

    def set_occupancy(self, occupied: np.ndarray) -> None:
        """Render with this occupancy grid (training: the grid being updated), of the model's cascades."""
        self.occupancy.upload(pack_occupancy(tracing.cascades_of(occupied)))

    def default_camera(self, width: int, height: int) -> Camera:
        return orbit_camera(30.0, 25.0)

    def push_constants(self, camera: Camera, width: int, height: int) -> dict:
        r, g, b = self.background
        return {**camera.push_constants(width, height), "render_mode": tracing.MODES.index(self.mode),
                "background_r": r, "background_g": g, "background_b": b}

    def network_queries(self, width: int, height: int) -> int:
        return int(self.queries.download(np.uint32, (1,))[0])

    def render(self, camera, width, height, kernels="fused", float_frame=False, download=True, poison=None):
        self.queries.upload(np.zeros(1, np.uint32))
        return super().render(camera, width, height, kernels, float_frame, download, poison)

    def record(self, sequence, camera, width, height, kernels, float_frame=False, poison=None, first=0, count=None):
        # Uploaded now, before the caller runs what the generator records (renders run one at a time).
        self.lens.upload(camera.lens_block(width, height))
        return super().record(sequence, camera, width, height, kernels, float_frame, poison, first, count)

    def record_fused(self, sequence, frame, push: dict, float_frame: bool) -> None:
        defines = {**tracing.defines(self.aabb), **self.encoding.defines(), **self.density.defines("density"),
                   **self.color.defines("color"), "MLP_ITEMS": self.items}
        buffers = {**self.encoding.bindings(), **self.density.bindings("density"), **self.color.bindings("color"),
                   "occupancy": self.occupancy, "frame": frame, "queries": self.queries, "lens": self.lens}
        sequence.dispatch(self.device.kernel("nerf/nerf_fused.comp", defines), push["n"], buffers, push)

    # ---- wavefront ----------------------------------------------------------------------------

    def _wavefront_pool(self, split: bool) -> Wavefront:
        """The wavefront's pool (WAVEFRONT_SLOTS; the prepost kernels' at most a tile's worth, their
        8 samples a slot beside them)."""
        if split not in self._wavefronts:
            slots = WAVEFRONT_SLOTS["CPU" if self.device.info.type == "CPU" else "GPU"]
            self._wavefronts[split] = Wavefront(self.device, min(slots, self.tile_pixels) if split else slots,
                                                RAY_DTYPE.itemsize, 1)
        return self._wavefronts[split]

    def record_wavefront(self, sequence, frame, push: dict, float_frame: bool, split: bool):
        wavefront = self._wavefront_pool(split)
        defines = {**tracing.defines(self.aabb), "MLP_ITEMS": self.items}
        buffers = {"occupancy": self.occupancy, "frame": frame, "queries": self.queries, "slot_state": wavefront.state,
                   "lens": self.lens}
        network = None
        if split:
            b = self._wavefront_samples()
            buffers.update({name: b[name] for name in ("sample_t", "positions", "density_out", "color_out",
                                                       "sample_counter")})
            network = lambda sequence, listed: self._record_network(sequence, listed, push)  # noqa: E731
            sequence.fill(b["sample_counter"], 0)  # the first iteration grows it; _record_network zeroes it again
        else:
            defines.update({**self.encoding.defines(), **self.density.defines("density"),
                            **self.color.defines("color")})
            buffers.update({**self.encoding.bindings(), **self.density.bindings("density"),
                            **self.color.bindings("color")})
        kernel = wavefront.kernel("nerf/nerf_wavefront.comp", defines, split)
        yield from wavefront.record_rounds(sequence, kernel, buffers, push, push["n"], network)

    def _wavefront_samples(self) -> dict:
        """The prepost kernels' sample buffers: 8 samples per slot, by place in the slot lists (the
        ts by slot), and the counter of the samples of the list the kernel writes."""
        if self._sample_buffers is None:
            device, slots = self.device, self._wavefronts[True].slots
            samples = slots * tracing.SAMPLES_PER_STEP
            if -(-samples // GROUP_SIZE) > device.info.max_workgroup_count[0]:
                raise NgvkError(f"a wavefront of {slots} slots has {samples} samples to dispatch over; this device "
                                f"dispatches at most {device.info.max_workgroup_count[0]} workgroups in one dimension")
            self._sample_buffers = {**self._sample_arrays(samples),
                                    "sample_counter": device.buffer(COUNTER_WORDS * 4, "sample_counter")}
        return self._sample_buffers

    def _record_network(self, sequence, listed, push: dict) -> None:
        """The networks over the samples the prepost kernel marched for the slots of `listed`, by
        place: encoding, density MLP, the colour network's input (nerf_stages stage 2, reading each
        slot's ray for its direction) and colour MLP, dispatched through the sample counter; then
        the counter is zeroed for the next iteration to grow."""
        b = self._wavefront_samples()
        pool = self._wavefronts[True]
        samples, n = b["sample_counter"], pool.slots * tracing.SAMPLES_PER_STEP
        with sequence.timed("encoding"):
            self.encoding.record_encode(sequence, b["positions"], b["encoded"], n, counter=samples)
        with sequence.timed("mlp"):
            self.density.record_forward(sequence, b["encoded"], b["density_out"], n, counter=samples)
        with sequence.timed("color"):
            kernel = self.device.kernel("nerf/nerf_stages.comp", {**tracing.defines(self.aabb), "NERF_STAGE": 2})
            record_stage(sequence, kernel, {"rays": pool.state, "occupancy": self.occupancy, "lens": self.lens,
                                            "density_out": b["density_out"], "color_in": b["color_in"]},
                         push, n, (listed[0], samples))
        with sequence.timed("mlp"):
            self.color.record_forward(sequence, b["color_in"], b["color_out"], n, counter=samples)
        sequence.fill(samples, 0)

    # ---- unfused ------------------------------------------------------------------------------

    def _buffers(self) -> dict:
        if self._tile_buffers is None:
            rays, device = self.tile_pixels, self.device
            slots = rays * tracing.SAMPLES_PER_STEP
            self._tile_buffers = {
                "rays": device.buffer(rays * RAY_DTYPE.itemsize, "rays"),
                "alive": device.buffer(rays * 4, "alive"),
                "identity": device.buffer(rays * 4, "identity"),
                "lists": [device.buffer(rays * 4, "ray_list_a"), device.buffer(rays * 4, "ray_list_b")],
                "counters": [counter(device, "count_a"), counter(device, "count_b")],
                "all": counter(device, "count_all"),
                "slots": counter(device, "count_slots"),
                **self._sample_arrays(slots),
            }
        return self._tile_buffers

    def _sample_arrays(self, samples: int) -> dict:
        """The buffers of `samples` samples between the march and the composite (unfused and prepost):
        their ts, positions, encodings, the density network's outputs, the colour network's inputs
        and outputs."""
        device = self.device
        return {
            "sample_t": device.buffer(samples * 4, "sample_t"),
            "positions": device.buffer(samples * 12, "positions"),
            "encoded": device.buffer(samples * self.model.encoding.n_output * 4, "encoded"),
            "density_out": device.buffer(samples * self.density.config.n_output * 4, "density_out"),
            "color_in": device.buffer(samples * self.color.config.n_input * 4, "color_in"),
            "color_out": device.buffer(samples * self.color.config.n_output * 4, "color_out"),
        }

    def _stage(self, sequence, stage: int, push: dict, n: int, buffers: dict, listed=None) -> None:
        kernel = self.device.kernel("nerf/nerf_stages.comp", {**tracing.defines(self.aabb), "NERF_STAGE": stage})
        buffers = {"rays": self._buffers()["rays"], "occupancy": self.occupancy, **buffers}
        if stage != 4:  # the stages that shoot rays (nerf/nerf_stages.comp)
            buffers["lens"] = self.lens
        record_stage(sequence, kernel, buffers, push, n, listed)

    def record_unfused(self, sequence, frame, push: dict, float_frame: bool) -> None:
        b = self._buffers()
        lists, counters, slots = b["lists"], b["counters"], b["slots"]
        n = push["n"]
        samples = n * tracing.SAMPLES_PER_STEP
        with sequence.timed("preprocess"):
            record_set_count(sequence, self.device, b["all"], n, self.items)
            self._stage(sequence, 0, push, n, {"identity": b["identity"], "alive": b["alive"]})
            # The first list: the rays that have a sample at all.
            record_compact(sequence, self.device, b["alive"], b["identity"], b["all"], lists[0], counters[0],
                           self.items)
        listed = (lists[0], counters[0])
        now = 1
        for _ in range(tracing.MAX_ITERATIONS):
            with sequence.timed("march"):
                self._stage(sequence, 1, push, n, {"sample_counter": slots,
                                                   "sample_t": b["sample_t"], "positions": b["positions"]},
                            listed=listed)
                record_dispatch_args(sequence, self.device, slots, self.items)
            with sequence.timed("encoding"):
                self.encoding.record_encode(sequence, b["positions"], b["encoded"], samples, counter=slots)
            with sequence.timed("mlp"):
                self.density.record_forward(sequence, b["encoded"], b["density_out"], samples, counter=slots)
            with sequence.timed("color"):
                self._stage(sequence, 2, push, samples, {"density_out": b["density_out"], "color_in": b["color_in"]},
                            listed=(listed[0], slots))
            with sequence.timed("mlp"):
                self.color.record_forward(sequence, b["color_in"], b["color_out"], samples, counter=slots)
            with sequence.timed("composite"):
                self._stage(sequence, 3, push, n, {"sample_t": b["sample_t"], "density_out": b["density_out"],
                                                   "color_out": b["color_out"], "alive": b["alive"],
                                                   "queries": self.queries}, listed=listed)
                record_compact(sequence, self.device, b["alive"], listed[0], listed[1], lists[now], counters[now],
                               self.items)
                listed = (lists[now], counters[now])
                now = 1 - now
        with sequence.timed("postprocess"):
            self._stage(sequence, 4, push, n, {"frame": frame})

    def close(self) -> None:
        super().close()
        close_all(self._tile_buffers, self.encoding, self.density, self.color, self.occupancy, self.queries,
                  self.lens, self._wavefronts, self._sample_buffers)
        self._tile_buffers = self._sample_buffers = None
        self._wavefronts = {}
