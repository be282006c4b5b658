"""The volume app's renderer: the free-flight tracer of a neural volume (unfused stages, one fused
kernel, or the wavefront and prepost kernels), or of a density grid (the same fused and wavefront
kernels, VOLUME_SOURCE 1: the ground truth).

Samples: `spp` per pixel, traced in passes of at most MAX_SPP_PER_PASS (lavapipe ends an invocation
silently after about 65,000 loop iterations in all; a pass of 16 samples stays well under that,
whatever the volume); each pass adds its samples' values to the pixel's sum in an accumulation
buffer and writes the frame from the mean so far. A progressive render (the viewer) calls
`render()` again with the same view and `accumulate=True`: the next frame's samples (new steps of
the random sequence) join the sum.

Unfused, per tile (stages as timed): preprocess (a path per pixel and sample, into the cube and
its first occupied cell, found once per pixel), then per event: advance (the paths fly to their
next event; those waiting for a query are compacted into a list), encoding and mlp over the list
(through its counter, engine/render/rays.py), advance (each listed path collides or flies on);
postprocess: each pixel's samples summed in order, with the accumulation, into the frame.

Wavefront (engine/render/wavefront.py), per tile and pass: the unfused path's preprocess (every
path begun), then the paths through a pool of slots, one dispatch per event over the paths waiting
for a query (volume/volume_wavefront.comp; prepost: the same kernel with the encoding and the MLP
dispatched apart), each path's state kept in the unfused path's buffer of paths; then the unfused
path's postprocess (the resolve).
"""

from __future__ import annotations

import numpy as np

from ngvk.apps.volume import tracing
from ngvk.engine.errors import NgvkError
from ngvk.engine.model import Model
from ngvk.engine.nn.layers import BLOCK_THREADS, MLP, GridEncoding, items_per_invocation
from ngvk.engine.render.camera import Camera
from ngvk.engine.render.frame import FRAME, Frame, FrameRenderer, close_all, error_frame
from ngvk.engine.render.rays import counter, record_compact, record_set_count, record_stage
from ngvk.engine.render.wavefront import Wavefront

STAGES = ("preprocess", "encoding", "mlp", "advance", "postprocess")
ERROR_MODE = "error"  # |model - ground truth| x 4 in the color mode (needs the data)
MAX_SPP_PER_PASS = 16
PATHS_PER_TILE = 1 << 19  # tile pixels x samples per pass: the unfused buffers stay under 128 MiB
# Slots of the wavefront kernels: the paths in flight at once (up to half a tile's paths: finished
# paths are replaced from the tile's queue). Measured on lavapipe (2-core Intel Xeon, 16 spp,
# shipped hashgrid model): at 128 x 96 (196,608 paths) 2^14 slots about 2 % slower than 2^16, 2^15
# to 2^18 the same within the noise of a shared host; at 256 x 256 (two tiles of 524,288 paths)
# 3,591 ms with 2^18 against 3,805 ms with 2^16. The prepost kernels' buffers take 32 MiB of
# encoded features at 2^18.
WAVEFRONT_SLOTS = 1 << 18
CENTRE = (0.5, 0.45, 0.5)


def orbit_camera(azimuth: float, elevation: float, distance: float = 1.4, fov_y: float = 40.0) -> Camera:
    """A camera on a sphere around the cube's centre, `azimuth` and `elevation` in degrees."""
    a, e = np.radians(azimuth), np.radians(elevation)
    offset = distance * np.array([np.cos(e) * np.sin(a), np.sin(e), np.cos(e) * np.cos(a)])
    return Camera(tuple(np.add(CENTRE, offset)), CENTRE, (0.0, 1.0, 0.0), fov_y=fov_y)


class VolumeRenderer(FrameRenderer):
    """The free-flight tracer on the device, of a model (every kernel variant) or of a grid (`grid`,
    float [X, Y, Z, 4] albedo RGB and density; fused and wavefront only), with its occupancy grid
    (bool [R, R, R]) and majorant. `wavefront_slots`: the wavefront's pool (WAVEFRONT_SLOTS)."""

    stages = STAGES
    modes = tracing.MODES + (ERROR_MODE,)
    wavefront_by_tile = True  # each pass's paths live in the tile's paths[] (record_wavefront)

    def __init__(self, device, occupancy: np.ndarray, majorant: float, model: Model | None = None,
                 grid: np.ndarray | None = None, spp: int = 16, seed: int = 0, tile_pixels: int | None = None,
                 reference=None, wavefront_slots: int = WAVEFRONT_SLOTS):
        super().__init__(device, tile_pixels or PATHS_PER_TILE // MAX_SPP_PER_PASS)
        self.wavefront_slots = min(wavefront_slots, self.tile_pixels * MAX_SPP_PER_PASS)
        self.reference = reference  # the ground truth's renderer, for the error mode
        if model is not None and model.app != "volume":
            raise NgvkError(f"a {model.app!r} model cannot be rendered by the volume app")
        self.model, self.majorant = model, float(majorant)
        self.set_samples(spp, seed)
        self.occupancy_resolution = occupancy.shape[0]
        self.occupancy = device.buffer_from(tracing.pack_occupancy(occupancy), "occupancy")
        self.items = items_per_invocation(device)
        # A grid's ground-truth render has no network to run apart (prepost) or in stages (unfused).
        self.kernels = ("fused", "wavefront", "prepost", "unfused") if model is not None else ("fused", "wavefront")
        self.encoding = self.mlp = self.grid = None
        self.grid_shape = (1, 1, 1)
        if model is not None:
            self.encoding = GridEncoding(device, model.encoding, model.params["encoding"])
            self.mlp = MLP(device, model.networks["network"], model.params["network"])
        else:
            self.grid_shape = grid.shape[:3]
            self.grid = device.buffer_from(np.ascontiguousarray(grid, np.float32), "volume_grid")
        self.queries = device.buffer(4, "queries")
        self._accumulation = None
        self._tile_buffers = None
        self._paths = self._identity = None
        self._wavefront = None
        self.samples_done = 0  # in the accumulation, for a progressive render
        self.frame_index = 0

    def set_mode(self, mode: str) -> None:
        if mode not in self.modes:
            raise NgvkError(f"unknown render mode {mode!r} for the volume app; choose one of {', '.join(self.modes)}")
        if mode == ERROR_MODE and self.reference is None:
            raise NgvkError("render mode 'error' needs the data the model was fitted to, which could not be read")
        self.mode = mode

    def set_samples(self, spp: int, seed: int) -> None:
        if spp < 1:
            raise NgvkError("--spp must be at least 1")
        self.spp, self.seed = int(spp), int(seed)

    def default_camera(self, width: int, height: int) -> Camera:
        return orbit_camera(35.0, 20.0)

    def push_constants(self, camera: Camera, width: int, height: int) -> dict:
        x, y, z = self.grid_shape
        return {**camera.push_constants(width, height), "render_mode": tracing.MODES.index(self.mode),
                "majorant": self.majorant, "seed": self.seed, "occupancy_resolution": self.occupancy_resolution,
                "grid_x": x, "grid_y": y, "grid_z": z}

    def network_queries(self, width: int, height: int) -> int:
        return int(self.queries.download(np.uint32, (1,))[0])

    def passes(self):
        """(spp, sample_base, samples_before) of each pass of this frame."""
        done, out = 0, []
        while done < self.spp:
            count = min(MAX_SPP_PER_PASS, self.spp - done)
            out.append((count, self.frame_index * self.spp + done, self.samples_done + done))
            done += count
        return out

    def render(self, camera, width, height, kernels="fused", float_frame=False, download=True, poison=None,
               accumulate: bool = False) -> Frame:
        """Render a frame of `spp` samples per pixel; with `accumulate`, add them to those of the
        previous frames (same view and size: the caller's to keep so), with new random steps."""
        if not accumulate:
            self.samples_done, self.frame_index = 0, 0
        if self.mode == ERROR_MODE:
            return self._render_error(camera, width, height, kernels, float_frame, download, poison, accumulate)
        self.queries.upload(np.zeros(1, np.uint32))
        frame = super().render(camera, width, height, kernels, float_frame, download, poison)
        self.samples_done += self.spp
        self.frame_index += 1
        return frame

    def _render_error(self, camera, width, height, kernels, float_frame, download, poison, accumulate) -> Frame:
        """|model - ground truth| x 4 of the color renders (same seeds), composed on the host and
        shown like any frame."""
        self.mode = "color"
        try:
            frame = self.render(camera, width, height, kernels, True, True, poison, accumulate)
        finally:
            self.mode = ERROR_MODE
        self.reference.set_mode("color")
        expected = self.reference.render(camera, width, height, "fused", True, accumulate=accumulate).pixels
        pixels = error_frame(frame.pixels, expected, float_frame)
        self.show_pixels(pixels, width, height, float_frame)
        frame.pixels = pixels if download else None
        return frame

    def _accumulation_buffer(self, pixels: int):
        if self._accumulation is None or self._accumulation.nbytes < pixels * 16:
            if self._accumulation is not None:
                self._accumulation.close()
            self._accumulation = self.device.buffer(pixels * 16, "accumulation")
        return self._accumulation

    def record(self, sequence, camera, width, height, kernels, float_frame=False, poison=None, first=0, count=None):
        count = width * height - first if count is None else count
        self._accumulation_buffer(count)
        return super().record(sequence, camera, width, height, kernels, float_frame, poison, first, count)

    def _defines(self) -> dict:
        return tracing.defines()

    def _source(self, defines: dict, buffers: dict, network: bool = True) -> None:
        """Add the albedo and density's source to a fused or wavefront kernel's defines and buffers
        (volume/volume_values.glsl): the network (without it when `network` is False: the prepost
        kernels run it apart), or the grid."""
        if self.model is not None:
            defines["VOLUME_SOURCE"] = 0
            if network:
                defines.update({**self.encoding.defines(), **self.mlp.defines()})
                buffers.update({**self.encoding.bindings(), **self.mlp.bindings()})
        else:
            defines["VOLUME_SOURCE"] = 1
            buffers["volume_grid"] = self.grid

    def record_fused(self, sequence, frame, push: dict, float_frame: bool) -> None:
        defines = {**self._defines(), "MLP_ITEMS": self.items}
        buffers = {"occupancy": self.occupancy, "accumulation": self._accumulation, "frame": frame,
                   "queries": self.queries}
        self._source(defines, buffers)
        kernel = self.device.kernel("volume/volume_fused.comp", defines)
        for spp, base, before in self.passes():
            sequence.dispatch(kernel, push["n"], buffers,
                              {**push, "spp": spp, "sample_base": base, "samples_before": before})

    # ---- wavefront ----------------------------------------------------------------------------

    def record_wavefront(self, sequence, frame, push: dict, float_frame: bool, split: bool):
        """Each pass: its n x spp paths begun (the unfused path's preprocess, stage 0), a
        wavefront over them (volume/volume_wavefront.comp), and the unfused path's resolve (stage
        4): the pixels' samples summed in sample order from the paths' final states, with the
        accumulation, into the frame."""
        # On GPUs the queries of a workgroup go through the MLP as one block (lib/mlp_rows.glsl).
        rows = not split and self.mlp is not None and self.mlp.in_rows
        if self._wavefront is None:
            # The paths' states live in paths[] by path id (the kernel says why), not per slot: the
            # pool's own state buffer is left unused, at one word a slot.
            self._wavefront = Wavefront(self.device, self.wavefront_slots, 4, 1 if rows else self.items,
                                        BLOCK_THREADS if rows else None)
        wavefront = self._wavefront
        defines = {**self._defines(), "MLP_ITEMS": wavefront.items}
        buffers = {"occupancy": self.occupancy, "paths": self._paths_buffer(), "queries": self.queries}
        self._source(defines, buffers, network=not split)
        if rows:
            defines.update(self.mlp.rows_defines())
        network = None
        if split:
            queries = wavefront.network(self.encoding, self.mlp, "values")
            buffers.update(queries.buffers())
            network = queries.record
        kernel = wavefront.kernel("volume/volume_wavefront.comp", defines, split)
        n = push["n"]
        for spp, base, before in self.passes():
            pass_push = {**push, "spp": spp, "sample_base": base, "samples_before": before}
            resolve = lambda sequence, pass_push=pass_push: self._stage(  # noqa: E731
                sequence, 4, pass_push, n, {"accumulation": self._accumulation, "frame": frame})
            with sequence.timed(FRAME), sequence.timed("preprocess"):
                self._stage(sequence, 0, pass_push, n, {"identity": self._path_identity()})
            yield from wavefront.record_rounds(sequence, kernel, buffers, pass_push, n * spp, network, resolve)

    # ---- unfused ------------------------------------------------------------------------------

    def _paths_buffer(self):
        """VolumePath [tile pixels x MAX_SPP_PER_PASS]: a pass's paths, tile pixel i's samples at
        i x spp (the unfused stages' and the wavefront's; the resolve reads them)."""
        if self._paths is None:
            self._paths = self.device.buffer(self.tile_pixels * MAX_SPP_PER_PASS * tracing.PATH_DTYPE.itemsize, "paths")
        return self._paths

    def _path_identity(self):
        """uint [tile pixels x MAX_SPP_PER_PASS]: i at i, which the begin stage writes (the unfused
        path's list of every path; the wavefront's begin leaves it unread)."""
        if self._identity is None:
            self._identity = self.device.buffer(self.tile_pixels * MAX_SPP_PER_PASS * 4, "identity")
        return self._identity

    def _buffers(self) -> dict:
        if self._tile_buffers is None:
            paths, device = self.tile_pixels * MAX_SPP_PER_PASS, self.device
            self._tile_buffers = {
                "alive": device.buffer(paths * 4, "alive"),
                "lists": [device.buffer(paths * 4, "path_list_a"), device.buffer(paths * 4, "path_list_b")],
                "counters": [counter(device, "count_a"), counter(device, "count_b")],
                "all": counter(device, "count_all"),
                "positions": device.buffer(paths * 12, "positions"),
                "encoded": device.buffer(paths * self.model.encoding.n_output * 4, "encoded"),
                "values": device.buffer(paths * 16, "values"),
            }
        return self._tile_buffers

    def _stage(self, sequence, stage: int, push: dict, n: int, buffers: dict, listed=None) -> None:
        kernel = self.device.kernel("volume/volume_stages.comp", {**self._defines(), "VOLUME_STAGE": stage})
        buffers = {"paths": self._paths_buffer(), "occupancy": self.occupancy, **buffers}
        record_stage(sequence, kernel, buffers, push, n, listed)

    def record_unfused(self, sequence, frame, push: dict, float_frame: bool) -> None:
        b = self._buffers()
        lists, counters = b["lists"], b["counters"]
        n = push["n"]
        for spp, base, before in self.passes():
            pass_push = {**push, "spp": spp, "sample_base": base, "samples_before": before}
            paths = n * spp
            with sequence.timed("preprocess"):
                record_set_count(sequence, self.device, b["all"], paths, self.items)
                self._stage(sequence, 0, pass_push, n, {"identity": self._path_identity()})
            listed = (self._path_identity(), b["all"])
            now = 0
            for _ in range(tracing.MAX_EVENTS):
                with sequence.timed("advance"):
                    self._stage(sequence, 1, pass_push, paths, {"alive": b["alive"]}, listed=listed)
                    record_compact(sequence, self.device, b["alive"], listed[0], listed[1], lists[now], counters[now],
                                   self.items)
                    listed = (lists[now], counters[now])
                    now = 1 - now
                    self._stage(sequence, 2, pass_push, paths, {"positions": b["positions"]}, listed=listed)
                with sequence.timed("encoding"):
                    self.encoding.record_encode(sequence, b["positions"], b["encoded"], paths, counter=listed[1])
                with sequence.timed("mlp"):
                    self.mlp.record_forward(sequence, b["encoded"], b["values"], paths, counter=listed[1])
                with sequence.timed("advance"):
                    self._stage(sequence, 3, pass_push, paths, {"values": b["values"], "queries": self.queries},
                                listed=listed)
            with sequence.timed("postprocess"):
                self._stage(sequence, 4, pass_push, n, {"accumulation": self._accumulation, "frame": frame})

    def close(self) -> None:
        super().close()
        close_all(self._tile_buffers, self._paths, self._identity, self._wavefront, self.encoding,
                  self.mlp, self.grid, self._accumulation, self.reference, self.occupancy, self.queries)
        self._tile_buffers = self._paths = self._identity = self._wavefront = None
