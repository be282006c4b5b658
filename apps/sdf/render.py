"""The SDF app's renderers: the sphere tracer of a neural SDF (unfused stages, or one fused kernel),
of a built-in shape's analytic distance (the same fused kernel, SDF_SOURCE 1), and the ray-cast
render of a mesh on the CPU (libigl's AABB tree); the last two are the reference renders.

Unfused, per tile (stages as timed): preprocess (camera rays into the cube, then compaction into
the list of rays that entered it); then, per step of the march, advance (the listed rays' query
positions), encoding and mlp over the list (dispatched through its counter, engine/render/rays.py),
advance (each ray's step) and, every COMPACTION_PERIOD steps, the compaction of the rays still
marching into the other list. postprocess: the list of hits, four probe passes (positions,
encoding, mlp, the normal's term), the shadow rays (shaded mode: their own march, stages as above)
and the shading. The host records MAX_STEPS steps without reading anything back; once every ray is
done, the dispatches are empty. A ray that has stopped stays in the list until the next
compaction, and its queries count as made (`Frame.queries` counts what was dispatched).
"""

from __future__ import annotations

import numpy as np

from ngvk.apps.sdf import tracing
from ngvk.engine.errors import NgvkError
from ngvk.engine.model import Model
from ngvk.engine.nn.layers import BLOCK_THREADS, MLP, GridEncoding, items_per_invocation
from ngvk.engine.render.camera import Camera
from ngvk.engine.render.frame import Frame, FrameRenderer, close_all, error_frame
from ngvk.engine.render.rays import counter, record_compact, record_set_count, record_stage
from ngvk.engine.render.wavefront import Wavefront

STAGES = ("preprocess", "encoding", "mlp", "advance", "postprocess")
ERROR_MODE = "error"  # |normals of the model - normals of the reference| x 4 (needs the reference)
RENDER_MODES = tracing.RENDER_MODES + (ERROR_MODE,)
# Steps between compactions of the marching rays. Measured on lavapipe (2-core EPYC, 256 x 256,
# shaded, shipped hashgrid model, unfused frame, median of 5): 391 ms compacting every step, 413 ms
# every 2, 450 ms every 4, 566 ms every 8, 800 ms every 16, 5183 ms never. A compaction costs three
# small dispatches; a finished ray left in the list costs a query.
COMPACTION_PERIOD = 1
# Pixels each slot of the fused kernel may take from the tile's queue (sdf/sdf_fused.comp); it
# launches n / (MLP_ITEMS x this) invocations. More pixels per slot keep the slots busy while other
# rays march on (lavapipe, 256 x 256 shaded, shipped hashgrid: 822 ms with 1, 613 ms with 4), but
# lavapipe (Mesa 22.3) ends an invocation silently after about 65,000 loop iterations in all, and a
# slot's pixel can take up to 260 distance queries of about 130 loop iterations each: only 1 pixel
# per slot stays under that bound whatever the frame. GPUs have no such limit: 4 there (not yet
# measured on one).
FUSED_PIXELS_PER_SLOT = {"CPU": 1, "GPU": 4}
# Slots of the wavefront kernel: the rays in flight at once, refilled from the band's queue as rays
# finish. A CPU driver gains nothing from more; a GPU needs them to fill its cores (an H200 holds
# 270,000 invocations at once: 2^16 slots left it three quarters idle). The prepost kernels keep
# at most a tile's worth, their query buffers beside them.
WAVEFRONT_SLOTS = {"CPU": 1 << 16, "GPU": 1 << 21}
CENTRE = (0.5, 0.45, 0.5)  # what the default camera looks at


def orbit_camera(azimuth: float, elevation: float, distance: float = 1.8, fov_y: float = 40.0) -> Camera:
    """A camera on a sphere around the cube's centre, `azimuth` and `elevation` in degrees."""
    a, e = np.radians(azimuth), np.radians(elevation)
    offset = distance * np.array([np.cos(e) * np.sin(a), np.sin(e), np.cos(e) * np.cos(a)])
    return Camera(tuple(np.add(CENTRE, offset)), CENTRE, (0.0, 1.0, 0.0), fov_y=fov_y)


class _SdfFrames(FrameRenderer):
    """What the SDF renderers share: modes, the default camera, and the error mode."""

    stages = STAGES
    modes = RENDER_MODES

    def __init__(self, device, ground_height: float, reference=None, tile_pixels: int | None = None):
        super().__init__(device, **({"tile_pixels": tile_pixels} if tile_pixels else {}))
        self.ground_height = float(ground_height)
        self.reference = reference  # another SDF renderer, for the error mode

    def set_mode(self, mode: str) -> None:
        if mode not in self.modes:
            raise NgvkError(f"unknown render mode {mode!r} for the SDF app; choose one of {', '.join(self.modes)}")
        if mode == ERROR_MODE and self.reference is None:
            raise NgvkError("render mode 'error' needs the data the model was fitted to, which could not be read")
        self.mode = mode

    def default_camera(self, width: int, height: int) -> Camera:
        return orbit_camera(35.0, 25.0)

    def render(self, camera, width, height, kernels="fused", float_frame=False, download=True, poison=None) -> Frame:
        if self.mode != ERROR_MODE:
            return self._render(camera, width, height, kernels, float_frame, download, poison)
        # The model's normals and the reference's, compared on the host, then shown like any frame.
        self.mode = "normals"
        try:
            frame = self._render(camera, width, height, kernels, True, True, poison)
        finally:
            self.mode = ERROR_MODE
        self.reference.set_mode("normals")
        expected = self.reference.render(camera, width, height, "fused", True).pixels
        pixels = error_frame(frame.pixels, expected, float_frame)
        self.show_pixels(pixels, width, height, float_frame)
        frame.pixels = pixels if download else None
        return frame

    def _render(self, camera, width, height, kernels, float_frame, download, poison) -> Frame:
        return super().render(camera, width, height, kernels, float_frame, download, poison)

    def close(self) -> None:
        super().close()
        close_all(self.reference)


class SdfRenderer(_SdfFrames):
    """The sphere tracer on the device: of a model (fused or unfused), or of a built-in shape's
    analytic distance (`shape`, a code of apps/sdf/shapes.py SHAPE_CODES; fused only)."""

    def __init__(self, device, model: Model | None = None, shape: int | None = None, ground_height: float | None = None,
                 reference=None, tile_pixels: int | None = None, wavefront_slots: int | None = None):
        if model is not None and model.app != "sdf":
            raise NgvkError(f"a {model.app!r} model cannot be rendered by the SDF app")
        ground = model.app_data.get("ground", 0.0) if ground_height is None else ground_height
        super().__init__(device, ground, reference, tile_pixels)
        self.model, self.shape = model, shape
        # A shape's reference render has no network to run apart (prepost) or in stages (unfused).
        self.kernels = ("fused", "wavefront", "prepost", "unfused") if model is not None else ("fused", "wavefront")
        self.items = items_per_invocation(device)
        self.encoding = self.mlp = None
        if model is not None:
            self.encoding = GridEncoding(device, model.encoding, model.params["encoding"])
            self.mlp = MLP(device, model.networks["network"], model.params["network"])
        self.queries = device.buffer(4, "queries")
        self.pixel_queue = device.buffer(4, "pixel_queue")
        self._tile_buffers = None
        self._wavefronts = {}  # split (the prepost kernels) or not -> its Wavefront
        self.wavefront_slots = wavefront_slots or WAVEFRONT_SLOTS["CPU" if device.info.type == "CPU" else "GPU"]

    # ---- what the frame renderer asks ---------------------------------------------------------

    def push_constants(self, camera: Camera, width: int, height: int) -> dict:
        return {**camera.push_constants(width, height), "render_mode": tracing.RENDER_MODES.index(self.mode),
                "ground_height": self.ground_height, "probe": 0, "pixels_per_slot": self.pixels_per_slot()}

    def network_queries(self, width: int, height: int) -> int:
        return int(self.queries.download(np.uint32, (1,))[0])

    def _render(self, camera, width, height, kernels, float_frame, download, poison) -> Frame:
        self.queries.upload(np.zeros(1, np.uint32))
        return super()._render(camera, width, height, kernels, float_frame, download, poison)

    def pixels_per_slot(self) -> int:
        """Pixels each slot of the fused kernel may take (FUSED_PIXELS_PER_SLOT)."""
        return FUSED_PIXELS_PER_SLOT["CPU" if self.device.info.type == "CPU" else "GPU"]

    def record_fused(self, sequence, frame, push: dict, float_frame: bool) -> None:
        defines = {**tracing.defines(), "MLP_ITEMS": self.items}
        buffers = {"frame": frame, "queries": self.queries, "pixel_queue": self.pixel_queue}
        if self.model is not None:
            defines.update({**self.encoding.defines(), **self.mlp.defines(), "SDF_SOURCE": 0, "SDF_SHAPE": 0})
            buffers.update({**self.encoding.bindings(), **self.mlp.bindings()})
        else:
            defines.update({"SDF_SOURCE": 1, "SDF_SHAPE": self.shape})
        kernel = self.device.kernel("sdf/sdf_fused.comp", defines)
        sequence.fill(self.pixel_queue, 0)
        invocations = -(-push["n"] // (self.items * push["pixels_per_slot"]))
        sequence.dispatch(kernel, invocations, buffers, push)

    # ---- wavefront ----------------------------------------------------------------------------

    def record_wavefront(self, sequence, frame, push: dict, float_frame: bool, split: bool):
        # On GPUs the queries of a workgroup go through the MLP as one block (lib/mlp_rows.glsl).
        rows = not split and self.mlp is not None and self.mlp.in_rows
        if split not in self._wavefronts:
            slots = min(self.wavefront_slots, self.tile_pixels) if split else self.wavefront_slots
            self._wavefronts[split] = Wavefront(self.device, slots, tracing.SLOT_DTYPE.itemsize,
                                                1 if rows else self.items, BLOCK_THREADS if rows else None)
        wavefront = self._wavefronts[split]
        defines = {**tracing.defines(), "MLP_ITEMS": wavefront.items, "SDF_SOURCE": 0 if self.model is not None else 1,
                   "SDF_SHAPE": self.shape or 0}
        buffers = {"frame": frame, "queries": self.queries, "slot_state": wavefront.state}
        network = None
        if split:
            queries = wavefront.network(self.encoding, self.mlp, "distances")
            buffers.update(queries.buffers())
            network = queries.record
        elif self.model is not None:
            defines.update({**self.encoding.defines(), **(self.mlp.rows_defines() if rows else self.mlp.defines())})
            buffers.update({**self.encoding.bindings(), **self.mlp.bindings()})
        kernel = wavefront.kernel("sdf/sdf_wavefront.comp", defines, split)
        return wavefront.record_rounds(sequence, kernel, buffers, push, push["n"], network)

    # ---- unfused ------------------------------------------------------------------------------

    def _buffers(self) -> dict:
        if self._tile_buffers is None:
            n, device = self.tile_pixels, self.device
            self._tile_buffers = {
                "rays": device.buffer(n * tracing.RAY_DTYPE.itemsize, "rays"),
                "alive": device.buffer(n * 4, "alive"),
                "identity": device.buffer(n * 4, "identity"),
                "lists": [device.buffer(n * 4, "ray_list_a"), device.buffer(n * 4, "ray_list_b")],
                "counters": [counter(device, "count_a"), counter(device, "count_b")],
                "all": counter(device, "count_all"),
                "positions": device.buffer(n * 12, "positions"),
                "encoded": device.buffer(n * self.model.encoding.n_output * 4, "encoded"),
                "distances": device.buffer(n * 4, "distances"),
            }
        return self._tile_buffers

    def _stage(self, sequence, stage: int, push: dict, buffers: dict, float_frame: bool = False, listed=None) -> None:
        """Dispatch stage `stage` of sdf/sdf_stages.comp: over the tile's pixels, or over the rays
        of `listed` (a (list, counter) pair)."""
        defines = {**tracing.defines(), "SDF_STAGE": stage}
        kernel = self.device.kernel("sdf/sdf_stages.comp", defines)
        buffers = {"rays": self._buffers()["rays"], **buffers}
        record_stage(sequence, kernel, buffers, push, push["n"], listed, "ray_list")

    def _query_pass(self, sequence, push: dict, listed, probe: int, label: str) -> None:
        """Positions, encoding and MLP over the listed rays, then their step (probe 0) or the
        probe's term of their normal."""
        b = self._buffers()
        push = {**push, "probe": probe}
        with sequence.timed(label):
            self._stage(sequence, 1, push, {"positions": b["positions"]}, listed=listed)
        with sequence.timed("encoding"):
            self.encoding.record_encode(sequence, b["positions"], b["encoded"], push["n"], counter=listed[1])
        with sequence.timed("mlp"):
            self.mlp.record_forward(sequence, b["encoded"], b["distances"], push["n"], counter=listed[1])
        with sequence.timed(label):
            self._stage(sequence, 2, push, {"distances": b["distances"], "alive": b["alive"], "queries": self.queries},
                        listed=listed)

    def _march(self, sequence, push: dict, label: str) -> None:
        """March the rays whose alive flags the last stage over all pixels set."""
        b = self._buffers()
        lists, counters = b["lists"], b["counters"]
        with sequence.timed(label):
            record_compact(sequence, self.device, b["alive"], b["identity"], b["all"], lists[0], counters[0], self.items)
        now = 0
        for step in range(tracing.MAX_STEPS):
            self._query_pass(sequence, push, (lists[now], counters[now]), 0, label)
            if (step + 1) % COMPACTION_PERIOD == 0 and step + 1 < tracing.MAX_STEPS:
                with sequence.timed(label):
                    record_compact(sequence, self.device, b["alive"], lists[now], counters[now], lists[1 - now],
                                   counters[1 - now], self.items)
                now = 1 - now

    def record_unfused(self, sequence, frame, push: dict, float_frame: bool) -> None:
        b = self._buffers()
        n = push["n"]
        with sequence.timed("preprocess"):
            record_set_count(sequence, self.device, b["all"], n, self.items)
            self._stage(sequence, 0, push, {"alive": b["alive"], "identity": b["identity"]})
        self._march(sequence, push, "advance")
        with sequence.timed("postprocess"):
            self._stage(sequence, 3, push, {"alive": b["alive"]})
            record_compact(sequence, self.device, b["alive"], b["identity"], b["all"], b["lists"][0], b["counters"][0],
                           self.items)
        for probe in range(1, 5):
            self._query_pass(sequence, push, (b["lists"][0], b["counters"][0]), probe, "postprocess")
        with sequence.timed("postprocess"):
            self._stage(sequence, 4, push, {"alive": b["alive"]})
        if self.mode == "shaded":
            self._march(sequence, push, "postprocess")
        with sequence.timed("postprocess"):
            self._stage(sequence, 5, push, {"frame": frame}, float_frame)

    def close(self) -> None:
        super().close()
        close_all(self._tile_buffers, self.encoding, self.mlp, self.queries, self.pixel_queue, self._wavefronts)
        self._tile_buffers = None
        self._wavefronts = {}


class MeshRenderer(_SdfFrames):
    """The reference render of a mesh: camera and shadow rays cast against its triangles on the CPU
    (libigl's AABB tree), flat face normals, shaded by apps/sdf/tracing.py shade() as the device
    shades the sphere tracer's hits. No march, so the steps mode shows nothing; no GPU time."""

    kernels = ("fused", "wavefront", "prepost", "unfused")  # all the same: the CPU casts the rays

    def __init__(self, device, mesh, ground_height: float):
        super().__init__(device, ground_height)
        import igl

        self.vertices = np.ascontiguousarray(mesh.vertices, dtype=np.float64)
        self.faces = np.ascontiguousarray(mesh.faces, dtype=np.int64)
        self.face_normals = np.asarray(mesh.face_normals, dtype=np.float64)
        self.tree = igl.AABB()
        self.tree.init(self.vertices, self.faces)

    def _cast(self, origins: np.ndarray, directions: np.ndarray):
        faces, t, _ = self.tree.intersect_ray_first(self.vertices, self.faces, np.ascontiguousarray(origins, np.float64),
                                                    np.ascontiguousarray(directions, np.float64))
        return faces, t

    def _render(self, camera, width, height, kernels, float_frame, download, poison) -> Frame:
        eye, view = (a.astype(np.float64) for a in camera.rays(width, height))
        rays = tracing.new_rays(width * height)
        rays["origin"], rays["direction"] = eye, view
        faces, t = self._cast(eye, view)
        hit = faces >= 0
        rays["status"] = np.where(hit, tracing.HIT, tracing.MISSED)
        rays["t"] = np.where(hit, t, 0.0)
        normals = self.face_normals[np.maximum(faces, 0)]
        rays["normal"] = np.where(hit[:, None], normals, 0.0)
        tracing.shadow_begin(rays, self.ground_height)
        if self.mode == "shaded":
            marching = np.flatnonzero(rays["status"] == tracing.MARCHING)
            origins = rays["origin"][marching] + rays["t"][marching, None] * rays["direction"][marching]
            blocked, _ = self._cast(origins, rays["direction"][marching])
            rays["status"][marching] = np.where(blocked >= 0, tracing.HIT, tracing.MISSED)
        frame = tracing.shade(rays, eye, view, self.mode).reshape(height, width, 4)
        pixels = frame.astype(np.float32) if float_frame else np.floor(np.clip(frame, 0, 1) * 255 + 0.5).astype(np.uint8)
        if not download:
            self.show_pixels(pixels, width, height, float_frame)
        return Frame(pixels if download else None, {}, 0.0, True, 0)

    def set_mode(self, mode: str) -> None:
        if mode == ERROR_MODE:
            raise NgvkError("render mode 'error' compares a model with its data; the data itself has none")
        super().set_mode(mode)
