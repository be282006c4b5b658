"""The volume app (NVR, neural volume rendering): a grid encoding and an MLP map a point of the unit
cube to albedo and density, and a free-flight renderer draws it.

This module declares the app (data, presets, fitting, evaluation, renderers) on the contract of
apps/base.py; data.py and volumes.py hold its data, fitting.py its training, tracing.py the
renderer's NumPy specification and render.py the renderer.
"""

from __future__ import annotations

import numpy as np

from ngvk.apps import metrics
from ngvk.apps.base import App
from ngvk.apps.volume import fitting, tracing
from ngvk.apps.volume.data import VolumeData, load_volume_data
from ngvk.apps.volume.render import ERROR_MODE, VolumeRenderer, orbit_camera
from ngvk.engine.errors import NgvkError
from ngvk.engine.model import Model

EVALUATION_VIEWS = ((35.0, 20.0), (155.0, 45.0), (275.0, 5.0))
EVALUATION_SIZE = 256
EVALUATION_SPP = 16
DEFAULT_SPP = 16
# The occupancy grid of a live-training frame (the viewer's): 32^3 cells probe the network at 65^3
# points instead of 128^3's 257^3 (17 million, seconds on a CPU device, longer than the frame).
LIVE_OCCUPANCY_RESOLUTION = 32


def model_occupancy(model: Model) -> np.ndarray:
    """The model's occupancy grid (bool [R, R, R]) from its packed extra."""
    resolution = int(model.app_data["occupancy_resolution"])
    bits = np.unpackbits(model.extras["occupancy"].view(np.uint8), bitorder="little")[: resolution**3]
    return bits.reshape((resolution,) * 3).astype(bool)


def data_occupancy(data: VolumeData, resolution: int = tracing.OCCUPANCY_RESOLUTION) -> np.ndarray:
    """The occupancy grid of the data's trilinear density (cached on the data)."""
    cached = getattr(data, "_occupancy", None)
    if cached is None or cached.shape[0] != resolution:
        cached = tracing.grid_occupancy(data.density, resolution)
        data._occupancy = cached
    return cached


def ground_truth_renderer(device, data: VolumeData, occupancy=None, majorant=None, spp=DEFAULT_SPP, seed=0):
    """The same renderer with the grid in place of the network: by default with the data's own
    occupancy grid and majorant."""
    occupancy = data_occupancy(data) if occupancy is None else occupancy
    majorant = data.majorant if majorant is None else majorant
    return VolumeRenderer(device, occupancy, majorant, grid=data.grid(), spp=spp, seed=seed)


def shared_scene(model: Model, data: VolumeData):
    """(occupancy, majorant) for comparing a model's render with the ground truth's, same seeds:
    the union of both occupancy grids and the larger majorant, so that both draw the same free
    flights and differ only where their densities accept a collision differently."""
    occupancy = model_occupancy(model)
    resolution = occupancy.shape[0]
    return occupancy | data_occupancy(data, resolution), max(float(model.app_data["majorant"]), data.majorant)


class VolumeApp(App):
    name = "volume"
    title = "neural volume rendering: a point to its albedo and density, drawn by free-flight sampling"
    data_help = ("a density grid (.npy, [X, Y, Z] or [X, Y, Z, 4] with RGB albedo; .vdb with OpenVDB's Python module) "
                 "or volume:NAME (cloud, nebula)")
    render_modes = tracing.MODES + (ERROR_MODE,)
    moves_in_3d = True
    renders_data = True
    progressive = True
    metrics = {"psnr": "PSNR {:.2f} dB", "relative_density_error": "relative density error {:.4f}"}
    default_steps = {"hashgrid": 2000, "densegrid": 2000, "lowres": 2000}
    default_batch_size = 1 << 16

    path_extras = {"spp": "samples per pixel of the frame (rounded; at least 1), instead of --spp"}

    def __init__(self):
        self.spp, self.seed = DEFAULT_SPP, 0

    def apply_path_extras(self, renderer, extras: dict[str, float]) -> None:
        if "spp" in extras:
            renderer.set_samples(max(1, round(extras["spp"])), renderer.seed)

    def add_arguments(self, command: str, parser) -> None:
        if command in ("render", "view"):
            parser.add_argument("--spp", type=int, default=DEFAULT_SPP, metavar="N",
                                help=f"samples per pixel (volume; default {DEFAULT_SPP}; the viewer adds more while still)")
            parser.add_argument("--seed", type=int, default=0, metavar="S",
                                help="seed of the random sequence (volume; default 0): the same seed, the same image")

    def apply_arguments(self, args) -> None:
        self.spp = getattr(args, "spp", DEFAULT_SPP)
        self.seed = getattr(args, "seed", 0) if args.command in ("render", "view") else 0
        if self.spp < 1:
            raise NgvkError("--spp must be at least 1")

    def default_resolution(self, model: Model | None) -> tuple[int, int]:
        return 320, 240

    def load_data(self, source: str) -> VolumeData:
        return load_volume_data(source)

    def load_reference(self, model: Model) -> VolumeData | None:
        try:
            return load_volume_data(model.app_data.get("source", ""))
        except NgvkError:
            return None

    def renderer(self, device, model: Model, reference: VolumeData | None = None,
                 tile_pixels: int | None = None) -> VolumeRenderer:
        if model.app != self.name:
            raise NgvkError(f"a {model.app!r} model cannot be rendered by the volume app")
        occupancy, majorant = model_occupancy(model), float(model.app_data["majorant"])
        compare = None
        if reference is not None:  # the error mode's ground truth: flights like the model's where it can
            compare = ground_truth_renderer(device, reference, *shared_scene(model, reference), self.spp, self.seed)
        return VolumeRenderer(device, occupancy, majorant, model=model, spp=self.spp, seed=self.seed,
                              tile_pixels=tile_pixels, reference=compare)

    def data_renderer(self, device, data: VolumeData) -> VolumeRenderer:
        return ground_truth_renderer(device, data, spp=self.spp, seed=self.seed)

    def presets(self, encoding: str, data):
        grid, network = fitting.presets(encoding)
        return grid, {"network": network}

    def check_cases(self) -> list:
        from ngvk.apps.volume.checks import CHECKS

        return CHECKS

    def render_psnr(self, device, model: Model, data: VolumeData, size: int = EVALUATION_SIZE) -> float:
        """PSNR of the model's render against the ground truth's, same seeds and scene, EVALUATION_SPP
        samples per pixel, from the three EVALUATION_VIEWS at size x size (8-bit frames)."""
        occupancy, majorant = shared_scene(model, data)
        renderer = VolumeRenderer(device, occupancy, majorant, model=model, spp=EVALUATION_SPP)
        truth = ground_truth_renderer(device, data, occupancy, majorant, EVALUATION_SPP)
        try:
            views = [orbit_camera(*view) for view in EVALUATION_VIEWS]
            got = np.stack([renderer.render(camera, size, size).rgb for camera in views])
            expected = np.stack([truth.render(camera, size, size).rgb for camera in views])
        finally:
            renderer.close()
            truth.close()
        return metrics.psnr(got, expected)

    def evaluate(self, device, model: Model, data: VolumeData) -> dict:
        return {"psnr": self.render_psnr(device, model, data), **fitting.density_metrics(device, model, data)}

    def renderable(self, device, model: Model, live: bool = False) -> Model:
        """The occupancy grid and majorant the renderer needs, from the network (a fit's snapshots
        have neither); for a live frame at LIVE_OCCUPANCY_RESOLUTION."""
        if "occupancy" not in model.extras:
            fitting.add_occupancy(device, model, LIVE_OCCUPANCY_RESOLUTION if live else None)
        return model

    def fit(self, device, data: VolumeData, encoding="hashgrid", steps=None, batch_size=App.default_batch_size,
            seed=0, source="", progress=None, max_seconds=None, evaluations=10, live=None,
            initial=None):
        """Fit with the L2 loss, then build the model's occupancy grid and majorant from the network,
        and measure the render PSNR."""
        steps = self.default_steps[encoding] if steps is None else steps
        result = fitting.fit(device, data, encoding, steps, batch_size, seed, progress, max_seconds, evaluations,
                             live=live, initial=initial)
        self.renderable(device, result.model)
        psnr = self.render_psnr(device, result.model, data)
        result.metrics = {"psnr": psnr, **result.metrics}
        result.model.training["psnr"] = psnr
        return result
