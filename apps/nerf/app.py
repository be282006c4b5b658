"""The NeRF app: declarations on the contract of apps/base.py (data, presets, fitting, evaluation,
renderers). The work is in the sibling modules (apps/nerf/__init__.py lists them).

Evaluation (`ngvk eval nerf`, and the fit's evaluations): each view of a split rendered at the
dataset's resolution over a white background, EVALUATION_SUPERSAMPLING^2 rays per pixel averaged
in linear light, and compared, as 8-bit sRGB, with the view's image
composited over white in linear light (the background the NeRF synthetic scenes are scored on):
PSNR and SSIM per view and their means.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ngvk.apps import metrics
from ngvk.apps.base import App
from ngvk.apps.nerf import networks, scene, tracing, training
from ngvk.apps.nerf.data import NerfViews, load_nerf_dataset
from ngvk.apps.nerf.render import DEFAULT_BACKGROUND, NerfRenderer
from ngvk.engine.errors import NgvkError
from ngvk.engine.model import Model
from ngvk.engine.nn.reference import linear_to_srgb, srgb_to_linear

FIT_EVALUATION_VIEWS = 3  # test views the fit's intermediate evaluations render (all at the end)
DEFAULT_SIZE = (256, 256)  # render and view size when the model does not record its dataset's
# Rays per pixel side of the evaluation's renders: a photo's pixel (and a generated view's,
# supersampled) holds its area's light, which a ray through the centre does not see where texture is
# finer than a pixel; instant-ngp scores its test views with several samples per pixel too.
EVALUATION_SUPERSAMPLING = 2


def composite_reference(views: NerfViews, background=DEFAULT_BACKGROUND) -> np.ndarray:
    """The views' images over `background` (sRGB), composited in linear light, as 8-bit sRGB [N, H, W, 3]."""
    rgb, alpha = views.images[..., :3], views.images[..., 3:]
    linear = srgb_to_linear(rgb) * alpha + srgb_to_linear(np.asarray(background, np.float64)) * (1.0 - alpha)
    return np.floor(linear_to_srgb(linear) * 255.0 + 0.5).astype(np.uint8)


def supersampled(renderer, camera, width: int, height: int, factor: int = EVALUATION_SUPERSAMPLING) -> np.ndarray:
    """8-bit sRGB [H, W, 3] of the camera's view with factor x factor rays per pixel on a regular
    grid (a render at factor x the size), averaged in linear light."""
    # The wavefront kernels: the same image as every variant (tests/test_nerf_app.py), and the
    # fastest on lavapipe and on the H200 (docs/kernels.md "Kernel variants").
    frame = renderer.render(camera, width * factor, height * factor, "wavefront", float_frame=True).rgb
    linear = srgb_to_linear(frame.astype(np.float64)).reshape(height, factor, width, factor, 3).mean(axis=(1, 3))
    return np.floor(np.clip(linear_to_srgb(linear), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


class NerfApp(App):
    name = "nerf"
    title = "neural radiance fields: posed images to a density and colour field, ray-marched"
    data_help = ("a dataset folder in the NeRF synthetic format (transforms_{train,val,test}.json) or "
                 "instant-ngp's (transforms.json); `ngvk dataset nerf NAME --out DIR` writes one")
    render_modes = tracing.MODES
    moves_in_3d = True
    datasets = {name: generated.description for name, generated in scene.SCENES.items()}
    metrics = {"psnr": "PSNR {:.2f} dB", "ssim": "SSIM {:.4f}"}
    metric_notes = {"psnr": f"on 8-bit sRGB over white: each view rendered with {EVALUATION_SUPERSAMPLING}x"
                            f"{EVALUATION_SUPERSAMPLING} rays per pixel averaged in linear light, against its "
                            "image composited over white in linear light",
                    "ssim": "on the same 8-bit sRGB images as psnr; 11-tap Gaussian window, sigma 1.5, mean over RGB"}
    default_steps = {"hashgrid": 6000, "densegrid": 3000, "lowres": 3000}  # the shipped models'
    # Samples trained per step, after compaction (instant-ngp: 2^18). On lavapipe (2 cores) 2^14
    # gave the most PSNR in 5 minutes on the spheres scene (docs/nerf.md "NeRF: quality per minute").
    default_batch_size = 1 << 14

    def __init__(self):
        self.downscale, self.split, self.images, self.dataset_view = 1, "test", None, None
        self.aabb_scale = None  # None: the dataset's
        self.skip_missing = False
        self.supersampling = 1  # training rays per pixel side (fit --supersampling)

    # ---- command line ------------------------------------------------------------------------------

    def add_arguments(self, command: str, parser) -> None:
        if command in ("fit", "eval"):
            parser.add_argument("--downscale", type=int, default=1, metavar="N",
                                help="nerf: read the dataset's images at 1/N of their size (default 1)")
            parser.add_argument("--aabb-scale", type=int, metavar="N",
                                help="nerf: model a box N times the unit cube instead of the dataset's aabb_scale "
                                     "(a power of two up to 128)")
        if command == "fit":
            parser.add_argument("--supersampling", type=int, default=1, metavar="S",
                                help="nerf: train each pixel on S x S rays averaged in linear light, as a photo's "
                                     "pixel holds its area's light and the evaluation renders (default 1: one ray "
                                     "through the centre)")
        if command in ("fit", "eval", "render", "view"):
            parser.add_argument("--skip-missing", action="store_true",
                                help="nerf: leave out the views whose images are missing (a partial download) "
                                     "instead of stopping (render, view: --frame counts the views left)")
        if command == "eval":
            parser.add_argument("--split", default="test", help="nerf: the split to evaluate on (default test)")
            parser.add_argument("--images", metavar="DIR",
                                help="nerf: write the first view's reference, render and difference PNGs into DIR")
        if command in ("render", "view"):
            parser.add_argument("--dataset", metavar="DIR", help="nerf: take the camera from a dataset's view "
                                "(with --split and --frame) instead of --camera")
            parser.add_argument("--split", default="test", help="nerf: the dataset's split (default test)")
            parser.add_argument("--frame", type=int, default=0, metavar="K", help="nerf: the split's view (default 0)")

    def apply_arguments(self, args) -> None:
        self.downscale = getattr(args, "downscale", 1)
        if self.downscale < 1:
            raise NgvkError("--downscale must be at least 1")
        self.aabb_scale = getattr(args, "aabb_scale", None)
        self.skip_missing = getattr(args, "skip_missing", False)
        self.supersampling = getattr(args, "supersampling", 1)
        if not 1 <= self.supersampling <= training.MAX_SUPERSAMPLING:
            raise NgvkError(f"--supersampling {self.supersampling}: give 1 to {training.MAX_SUPERSAMPLING} "
                            "rays per pixel side")
        self.split = getattr(args, "split", "test")
        self.images = getattr(args, "images", None)
        if self.images is not None and not Path(self.images).is_dir():
            raise NgvkError(f"--images {self.images}: no such folder")
        dataset = getattr(args, "dataset", None)
        self.dataset_view = None
        if dataset is not None:
            if getattr(args, "camera", None):
                raise NgvkError("give one of --camera and --dataset")
            views = load_nerf_dataset(dataset, self.split, skip_missing=self.skip_missing)
            frame = getattr(args, "frame", 0)
            if not 0 <= frame < len(views.cameras):
                raise NgvkError(f"--frame {frame}: the {self.split} split of {dataset} has views 0 to "
                                f"{len(views.cameras) - 1}")
            self.dataset_view = (views.cameras[frame], views.width, views.height)

    # ---- models and data ---------------------------------------------------------------------------

    def default_resolution(self, model: Model | None) -> tuple[int, int]:
        if self.dataset_view is not None:
            return self.dataset_view[1], self.dataset_view[2]
        if model is not None and "width" in model.app_data:
            return int(model.app_data["width"]), int(model.app_data["height"])
        return DEFAULT_SIZE

    def data_resolution(self, data: NerfViews) -> tuple[int, int]:
        return data.width, data.height

    def load_data(self, source: str) -> NerfViews:
        return load_nerf_dataset(source, "train", self.downscale, self.aabb_scale, self.skip_missing)

    def make_dataset(self, name, out, views, resolution, seed, progress=None, held_out=None) -> str:
        return scene.write_dataset(name, out, views=views, resolution=resolution, seed=seed, progress=progress,
                                   held_out=held_out)

    def presets(self, encoding: str, data):
        return networks.presets(encoding, data.aabb.scale)

    # ---- rendering -----------------------------------------------------------------------------------

    def renderer(self, device, model: Model, reference=None, tile_pixels: int | None = None) -> NerfRenderer:
        renderer = NerfRenderer(device, model, tile_pixels=tile_pixels)
        if self.dataset_view is not None:
            camera = self.dataset_view[0]
            renderer.default_camera = lambda width, height: camera
        return renderer

    # ---- fitting and evaluation ----------------------------------------------------------------------

    def evaluate_views(self, device, model: Model, views: NerfViews, count: int | None = None) -> dict:
        """PSNR and SSIM of the model's renders of the first `count` views (default all) against
        their images (module docstring): per view and the means."""
        count = len(views.cameras) if count is None else min(count, len(views.cameras))
        expected = composite_reference(views)
        renderer = NerfRenderer(device, model)
        per_view, first = [], None
        try:
            for k in range(count):
                got = supersampled(renderer, views.cameras[k], views.width, views.height)
                per_view.append({"file": views.files[k], "psnr": metrics.psnr(got, expected[k]),
                                 "ssim": metrics.ssim(got, expected[k])})
                if k == 0:
                    first = got
        finally:
            renderer.close()
        result = {"psnr": float(np.mean([v["psnr"] for v in per_view])),
                  "ssim": float(np.mean([v["ssim"] for v in per_view])),
                  "split": views.split, "views": per_view, "color_space": "sRGB, 8 bits",
                  "background": "white, composited in linear light", "resolution": [views.width, views.height]}
        if self.images is not None and first is not None:
            from ngvk.apps.imageio import save_png

            folder = Path(self.images)
            difference = np.abs(first.astype(np.int16) - expected[0].astype(np.int16)).astype(np.uint8)
            for name, image in (("reference", expected[0]), ("render", first), ("difference", difference)):
                save_png(folder / f"{Path(views.files[0]).stem}_{name}.png", image)
            result["images"] = str(folder)
        return result

    def _headline(self, result: dict) -> dict:
        return {name: result[name] for name in self.metrics}

    def evaluate(self, device, model: Model, data: NerfViews) -> dict:
        """The metrics on the split chosen (--split; test by default) of the dataset `data` came from."""
        views = load_nerf_dataset(data.source, self.split, self.downscale, self.aabb_scale, self.skip_missing)
        return self.evaluate_views(device, model, views)

    def fit(self, device, data: NerfViews, encoding="hashgrid", steps=None, batch_size=default_batch_size,
            seed=0, source="", progress=None, max_seconds=None, evaluations=10, live=None,
            initial=None):
        """Fit to the train split; evaluations on the first FIT_EVALUATION_VIEWS test views along the
        way, and on all of them at the end."""
        steps = self.default_steps[encoding] if steps is None else steps
        test = load_nerf_dataset(data.source, "test", self.downscale, data.aabb.scale, self.skip_missing)
        app_data = {"source": str(source or data.source), "width": data.width, "height": data.height,
                    "downscale": self.downscale}
        result = training.fit(device, data, encoding, steps, batch_size, seed,
                              lambda model: self._headline(self.evaluate_views(device, model, test,
                                                                               FIT_EVALUATION_VIEWS)),
                              app_data, progress=progress, max_seconds=max_seconds, evaluations=evaluations,
                              live=live, initial=initial, supersampling=self.supersampling)
        final = self.evaluate_views(device, result.model, test)
        result.metrics = final
        result.model.training.update({"psnr": round(final["psnr"], 3), "ssim": round(final["ssim"], 4),
                                      "test_views": len(final["views"])})
        return result


    def check_cases(self) -> list:
        from ngvk.apps.nerf.checks import CHECKS

        return CHECKS
