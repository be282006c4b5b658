"""The SDF app (NSDF, neural signed distance fields): a grid encoding and an MLP map a point of the
unit cube to its signed distance to a surface, and a sphere tracer renders it.

This module declares the app (data, presets, fitting, evaluation, renderers) on the contract of
apps/base.py; data.py and shapes.py hold its data, fitting.py its training, tracing.py the tracer's
NumPy specification and render.py its renderers.
"""

from __future__ import annotations

import numpy as np

from ngvk.apps import metrics
from ngvk.apps.base import App
from ngvk.apps.sdf import fitting
from ngvk.apps.sdf.data import SHAPE_PREFIX, SdfData, load_sdf_data
from ngvk.apps.sdf.render import RENDER_MODES, MeshRenderer, SdfRenderer, orbit_camera
from ngvk.apps.sdf.shapes import SHAPE_CODES
from ngvk.engine.errors import NgvkError
from ngvk.engine.model import Model

# The views of the evaluation's normals-mode PSNR: around the object, from above and nearly level.
EVALUATION_VIEWS = ((35.0, 25.0), (155.0, 40.0), (275.0, 10.0))
EVALUATION_SIZE = 256


def reference_renderer(device, data: SdfData, ground_height: float | None = None):
    """The render of the data itself: a built-in shape's analytic distance sphere-traced on the
    device, or a mesh ray-cast on the CPU."""
    ground = data.ground_height() if ground_height is None else ground_height
    if data.source.startswith(SHAPE_PREFIX):
        return SdfRenderer(device, shape=SHAPE_CODES[data.source[len(SHAPE_PREFIX):]], ground_height=ground)
    return MeshRenderer(device, data.mesh, ground)


class SdfApp(App):
    name = "sdf"
    title = "neural signed distance fields: a point to its distance to a surface, sphere-traced"
    data_help = "a mesh file (OBJ, PLY, STL, GLB, ...) or shape:NAME for a built-in object (mug, bracket, ring)"
    render_modes = RENDER_MODES
    moves_in_3d = True
    renders_data = True
    metrics = {"normals_psnr": "normals PSNR {:.2f} dB", "near_surface_error": "near-surface error {:.2e}",
               "iou": "IoU {:.4f}"}
    default_steps = {"hashgrid": 2000, "densegrid": 2000, "lowres": 2000}
    default_batch_size = 1 << 16

    def default_resolution(self, model: Model | None) -> tuple[int, int]:
        return 640, 480

    def load_data(self, source: str) -> SdfData:
        return load_sdf_data(source)

    def load_reference(self, model: Model) -> SdfData | None:
        """The data the model was fitted to, when it can still be read (for the error mode)."""
        try:
            return load_sdf_data(model.app_data.get("source", ""))
        except NgvkError:
            return None

    def renderer(self, device, model: Model, reference: SdfData | None = None,
                 tile_pixels: int | None = None) -> SdfRenderer:
        ground = model.app_data.get("ground", 0.0)
        compare = reference_renderer(device, reference, ground) if reference is not None else None
        return SdfRenderer(device, model, ground_height=ground, reference=compare, tile_pixels=tile_pixels)

    def data_renderer(self, device, data: SdfData):
        return reference_renderer(device, data)

    def presets(self, encoding: str, data):
        grid, network = fitting.presets(encoding)
        return grid, {"network": network}

    def check_cases(self) -> list:
        from ngvk.apps.sdf.checks import CHECKS

        return CHECKS

    def normals_psnr(self, device, model: Model, data: SdfData, size: int = EVALUATION_SIZE) -> float:
        """PSNR of the model's normals-mode render against the reference render's, from the three
        EVALUATION_VIEWS at size x size, over all their pixels together (8-bit frames)."""
        ground = model.app_data.get("ground", 0.0)
        renderer = SdfRenderer(device, model, ground_height=ground)
        reference = reference_renderer(device, data, ground)
        try:
            renderer.set_mode("normals")
            reference.set_mode("normals")
            views = [orbit_camera(*view) for view in EVALUATION_VIEWS]
            got = np.stack([renderer.render(camera, size, size).rgb for camera in views])
            expected = np.stack([reference.render(camera, size, size).rgb for camera in views])
        finally:
            renderer.close()
            reference.close()
        return metrics.psnr(got, expected)

    def evaluate(self, device, model: Model, data: SdfData) -> dict:
        """The normals PSNR, then the distance errors and the IoU (fitting.distance_metrics)."""
        return {"normals_psnr": self.normals_psnr(device, model, data),
                **fitting.distance_metrics(device, model, data)}

    def fit(self, device, data: SdfData, encoding="hashgrid", steps=None, batch_size=App.default_batch_size, seed=0,
            source="", progress=None, max_seconds=None, evaluations=10, live=None,
            initial=None):
        """Fit a model to `data` with the MAPE loss; the metrics along the way are the distance
        metrics, and the final model's also the normals PSNR."""
        steps = self.default_steps[encoding] if steps is None else steps
        result = fitting.fit(device, data, encoding, steps, batch_size, seed, progress, max_seconds, evaluations,
                             live=live, initial=initial)
        psnr = self.normals_psnr(device, result.model, data)
        result.metrics = {"normals_psnr": psnr, **result.metrics}
        result.model.training["normals_psnr"] = psnr
        return result
