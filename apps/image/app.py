"""The image app (GIA, gigapixel image approximation): a grid encoding and an MLP map a position on
an image to its colour.

Colour: the network learns linear-light RGB (apps/imageio.py load_linear_image(): an 8- or 16-bit
file's sRGB values decoded, an EXR's or float TIFF's values as stored, above 1 included; no output
activation bounds it). Rendering displays it: times 2^exposure, a tone curve (TONEMAPS; the default
leaves it for the sRGB encoding to clamp to [0, 1]), sRGB. PSNR and SSIM compare the 8-bit render at
the image's own resolution, exposure 0, default curve, with the source displayed the same way and
rounded to 8 bits (METRIC_NOTES), which for an 8-bit source is the file's own values.

Geometry: the image lies on the plane z = 0, centred on the origin, one unit high
(engine/render/camera.py); uv = (0, 0) is its top-left corner and pixel (i, j) of the source has its
centre at ((i + 0.5) / width, (j + 0.5) / height).

This module holds the app (presets, data, fitting, evaluation) and its renderer (four stages, or
one fused kernel); reference.py holds the NumPy references of its kernels.
"""

from __future__ import annotations

import numpy as np

from ngvk.apps import metrics
from ngvk.apps.base import App
from ngvk.apps.image import reference as image_reference
from ngvk.apps.imageio import linear_rgb, load_linear_image
from ngvk.engine.errors import NgvkError
from ngvk.engine.fit import continued_record, fit_loop, starting_params
from ngvk.engine.model import Model
from ngvk.engine.nn.config import GridConfig, MLPConfig, auto_per_level_scale, grid_preset
from ngvk.engine.nn.layers import MLP, GridEncoding, items_per_invocation
from ngvk.engine.nn.training import grid_mlp_trainer
from ngvk.engine.render.camera import Camera
from ngvk.engine.render.frame import FrameRenderer

LOSS = "relative_l2"
HASHGRID_LOG2_TABLE = 19
MIN_SIDE = 16  # smaller images: too few pixels for the finest grid level and SSIM's 11-pixel window
# What the viewer's number keys and `ngvk render --mode` show: the network's image, the source
# image, or |network - source| (times 4, in sRGB). The last two need the source image.
RENDER_MODES = ("network", "source", "error")
MODES_NEEDING_REFERENCE = ("source", "error")
# The tone curves of `--tonemap` (image/image_postprocess.glsl image_tonemap(), instant-ngp's):
# clamp (linear values above 1 are white), then three that roll them off: reinhard, aces, hable.
TONEMAPS = ("clamp", "reinhard", "aces", "hable")
METRIC_NOTES = {
    "psnr": "on 8-bit sRGB: the render at the image's resolution (exposure 0, tone curve clamp: linear values "
            "clamped to [0, 1]) against the source displayed the same way and rounded to 8 bits (an 8-bit "
            "source: its own values); all pixels and RGB channels, peak 1.0",
    "ssim": "on the same 8-bit sRGB images as psnr; 11-tap Gaussian window, sigma 1.5, mean over RGB",
}


def presets(encoding: str, width: int, height: int) -> tuple[GridConfig, MLPConfig]:
    """The encoding and network for an image of this size.

    hashgrid: instant-ngp's image preset (16 levels, 2 features, base resolution 16) with a
    2^19-entry table (instead of 2^24, which a CPU device cannot bind) and the finest level at the
    image's largest side (instead of half of it: at half, 512 x 512 photos stay below 35 dB). In 2D
    every level up to 724 x 724 pixels then fits its table densely. densegrid and lowres are the
    paper's two dense presets, unchanged. The network is instant-ngp's: 64 wide, 2 hidden layers.
    """
    if encoding == "hashgrid":
        finest = max(width, height)
        grid = GridConfig("hashgrid", 2, 16, 2, 16, auto_per_level_scale(16, 16, finest), HASHGRID_LOG2_TABLE)
    else:
        grid = grid_preset(encoding, 2)
    return grid, MLPConfig(grid.n_output, 3, 64, 2, "none")


# ---- rendering ----------------------------------------------------------------------------------


class ImageRenderer(FrameRenderer):
    """The image app's renderer: stages preprocess, encoding, mlp, postprocess, or one fused kernel."""

    modes = RENDER_MODES

    def __init__(self, device, model: Model, reference_image: np.ndarray | None = None, tile_pixels: int | None = None,
                 exposure: float = 0.0, tonemap: str = "clamp"):
        """`reference_image` (the source: uint8 sRGB or float linear RGB [H, W, 3]) enables the
        source and error modes; `exposure` (stops) and `tonemap` (one of TONEMAPS) say how linear
        colours are displayed."""
        super().__init__(device, **({"tile_pixels": tile_pixels} if tile_pixels else {}))
        if model.app != "image":
            raise NgvkError(f"a {model.app!r} model cannot be rendered by the image app")
        self.model = model
        self.image_aspect = model.app_data["width"] / model.app_data["height"]
        self.encoding = GridEncoding(device, model.encoding, model.params["encoding"])
        self.mlp = MLP(device, model.networks["network"], model.params["network"])
        self.items = items_per_invocation(device)
        if tonemap not in TONEMAPS:
            raise NgvkError(f"unknown tone curve {tonemap!r}; choose one of {', '.join(TONEMAPS)}")
        self.exposure, self.tonemap = exposure, tonemap
        self._tile_buffers = None
        self.has_reference = reference_image is not None
        if reference_image is None:
            reference_image = np.zeros((1, 1, 3), np.uint8)  # bound but unread in network mode
        self.source_height, self.source_width, _ = reference_image.shape
        self.source_image = device.buffer_from(linear_rgb(reference_image), "source_image")

    def set_mode(self, mode: str) -> None:
        """Switch to render mode `mode` (one of RENDER_MODES)."""
        if mode not in RENDER_MODES:
            raise NgvkError(f"unknown render mode {mode!r} for the image app; choose one of {', '.join(RENDER_MODES)}")
        if mode in MODES_NEEDING_REFERENCE and not self.has_reference:
            raise NgvkError(f"render mode {mode!r} needs the source image, which could not be read")
        self.mode = mode

    def default_camera(self, width: int, height: int) -> Camera:
        """Looking straight at the image, orthographic, the whole image fitted into the frame."""
        frame_aspect = width / height
        return Camera(position=(0.0, 0.0, 1.0), look_at=(0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0),
                      orthographic_height=max(1.0, self.image_aspect / frame_aspect))

    def push_constants(self, camera: Camera, width: int, height: int) -> dict:
        return {
            **camera.push_constants(width, height),
            "image_aspect": self.image_aspect,
            "render_mode": RENDER_MODES.index(self.mode),
            "source_width": self.source_width,
            "source_height": self.source_height,
            "exposure_scale": image_reference.exposure_scale(self.exposure),
            "tonemap": TONEMAPS.index(self.tonemap),
        }

    def _buffers(self):
        if self._tile_buffers is None:
            n, device = self.tile_pixels, self.device
            self._tile_buffers = {
                "positions": device.buffer(n * 8, "positions"),
                "coverage": device.buffer(n * 4, "coverage"),
                "encoded": device.buffer(n * self.model.encoding.n_output * 4, "encoded"),
                "rgb": device.buffer(n * 12, "rgb"),
            }
        return self._tile_buffers

    def record_unfused(self, sequence, frame, push: dict, float_frame: bool) -> None:
        b = self._buffers()
        n = push["n"]
        device = self.device
        with sequence.timed("preprocess"):
            kernel = device.kernel("image/image_preprocess.comp")
            sequence.dispatch(kernel, n, {"positions": b["positions"], "coverage": b["coverage"]}, push)
        with sequence.timed("encoding"):
            self.encoding.record_encode(sequence, b["positions"], b["encoded"], n)
        with sequence.timed("mlp"):
            self.mlp.record_forward(sequence, b["encoded"], b["rgb"], n)
        with sequence.timed("postprocess"):
            kernel = device.kernel("image/image_postprocess.comp")
            buffers = {
                "rgb": b["rgb"],
                "coverage": b["coverage"],
                "positions": b["positions"],
                "source_image": self.source_image,
                "frame": frame,
            }
            sequence.dispatch(kernel, n, buffers, push)

    def record_fused(self, sequence, frame, push: dict, float_frame: bool) -> None:
        defines = {**self.encoding.defines(), **self.mlp.defines()}
        kernel = self.device.kernel("image/image_fused.comp", defines)
        buffers = {**self.encoding.bindings(), **self.mlp.bindings(), "source_image": self.source_image, "frame": frame}
        sequence.dispatch(kernel, -(-push["n"] // self.items), buffers, push)

    def render_source_view(self, kernels: str = "fused"):
        """The whole image at its own resolution (what PSNR is measured on)."""
        width, height = self.model.app_data["width"], self.model.app_data["height"]
        return self.render(self.default_camera(width, height), width, height, kernels)

    def close(self) -> None:
        super().close()
        if self._tile_buffers:
            for buffer in self._tile_buffers.values():
                buffer.close()
        self.encoding.close()
        self.mlp.close()
        self.source_image.close()


# ---- the app ------------------------------------------------------------------------------------


def displayed_8bit(image: np.ndarray) -> np.ndarray:
    """The image (uint8 sRGB, or float linear RGB) as the metrics see it: displayed at exposure 0
    with the clamp curve and rounded to 8 bits as frames are (lib/color.glsl pack_rgba8). An 8-bit
    sRGB image is itself, and so is one decoded from 8 bits: the round trip is exact."""
    if image.dtype == np.uint8:
        return image
    return np.floor(image_reference.image_display(image) * 255.0 + 0.5).astype(np.uint8)


class ImageApp(App):
    name = "image"
    title = "gigapixel image approximation: a position on an image to its colour"
    data_help = ("an image file (OpenEXR, 16-bit PNG or TIFF, or anything Pillow reads), or skimage:NAME for a "
                 "photo bundled with scikit-image")
    render_modes = RENDER_MODES
    metrics = {"psnr": "PSNR {:.2f} dB", "ssim": "SSIM {:.4f}"}
    metric_notes = METRIC_NOTES
    default_steps = {"hashgrid": 500, "densegrid": 500, "lowres": 500}

    def __init__(self):
        self.exposure, self.tonemap = 0.0, "clamp"

    def add_arguments(self, command: str, parser) -> None:
        if command in ("render", "view"):
            parser.add_argument("--exposure", type=float, default=0.0, metavar="STOPS",
                                help="image: multiply the linear colours by 2^STOPS before the tone curve (default 0)")
            parser.add_argument("--tonemap", choices=TONEMAPS, default="clamp",
                                help="image: the tone curve from linear colours to the display: clamp (values above "
                                     "1 are white; the default), or reinhard, aces, hable (roll highlights off)")

    def apply_arguments(self, args) -> None:
        self.exposure = getattr(args, "exposure", 0.0)
        self.tonemap = getattr(args, "tonemap", "clamp")
        if not -64.0 <= self.exposure <= 64.0:  # also refuses nan; 2^64 is past any display
            raise NgvkError(f"--exposure {self.exposure}: give a number of stops from -64 to 64")

    def default_resolution(self, model: Model) -> tuple[int, int]:
        """The size of the image the model was fitted to."""
        return model.app_data["width"], model.app_data["height"]

    def data_resolution(self, data) -> tuple[int, int]:
        return data.shape[1], data.shape[0]

    def load_data(self, source: str) -> np.ndarray:
        """The image as float32 linear RGB [H, W, 3] (apps/imageio.py load_linear_image()): a file,
        or `skimage:NAME` for one of scikit-image's photos."""
        image = load_linear_image(source)
        height, width, _ = image.shape
        if min(width, height) < MIN_SIDE:
            raise NgvkError(f"image {source} is {width}x{height}: the image app needs at least {MIN_SIDE} pixels a side")
        return image

    def load_reference(self, model: Model) -> np.ndarray | None:
        """The image the model was fitted to, when it can still be read (for the source and error
        render modes), else None."""
        try:
            image = load_linear_image(model.app_data.get("source", ""))
        except NgvkError:
            return None
        return image if image.shape[1::-1] == self.default_resolution(model) else None

    def renderer(self, device, model: Model, reference=None, tile_pixels: int | None = None) -> ImageRenderer:
        """Displayed with the command line's --exposure and --tonemap (apply_arguments())."""
        return ImageRenderer(device, model, reference, tile_pixels, self.exposure, self.tonemap)

    def check_cases(self) -> list:
        from ngvk.apps.image.checks import CHECKS

        return CHECKS

    def presets(self, encoding: str, data: np.ndarray):
        grid, network = presets(encoding, data.shape[1], data.shape[0])
        return grid, {"network": network}

    def evaluate(self, device, model: Model, data: np.ndarray) -> dict:
        """PSNR and SSIM of the model's 8-bit render at the image's resolution against the image
        (uint8 sRGB, or float linear RGB) as displayed in 8 bits (METRIC_NOTES)."""
        height, width, _ = data.shape
        if self.default_resolution(model) != (width, height):
            raise NgvkError(
                f"the model was fitted to a {model.app_data.get('width')}x{model.app_data.get('height')} image, "
                f"this one is {width}x{height}"
            )
        renderer = ImageRenderer(device, model)  # exposure 0, tone curve clamp, whatever the command line says
        try:
            frame = renderer.render_source_view()
        finally:
            renderer.close()
        target = displayed_8bit(data)
        return {"psnr": metrics.psnr(frame.rgb, target), "ssim": metrics.ssim(frame.rgb, target),
                "render_ms": frame.frame_ms}

    def fit(self, device, data, encoding="hashgrid", steps=None, batch_size=App.default_batch_size, seed=0, source="",
            progress=None, max_seconds=None, evaluations=10, live=None, initial=None):
        """Fit a model to the image `data` (uint8 sRGB, or float linear RGB [H, W, 3]) in linear light
        with the relative L2 loss (its squared error divided by the prediction's square, plus 0.01,
        weighs a bright HDR pixel's error as a dark one's, relative to its value)."""
        height, width, _ = data.shape
        steps = self.default_steps[encoding] if steps is None else steps
        grid_config, networks = self.presets(encoding, data)
        start = starting_params({"encoding": grid_config, **networks}, np.random.default_rng(seed), initial)
        encoding_layer = GridEncoding(device, grid_config, start["encoding"])
        mlp = MLP(device, networks["network"], start["network"])
        image_buffer = device.buffer_from(linear_rgb(data), "source_image")
        trainer = None
        try:
            def record_batch(sequence, state, positions, targets, n):
                kernel = device.kernel("image/image_batch.comp")
                buffers = {"source_image": image_buffer, "training_state": state, "positions": positions,
                           "targets": targets}
                sequence.dispatch(kernel, n, buffers, {"n": n, "source_width": width, "source_height": height})

            trainer = grid_mlp_trainer(encoding_layer, mlp, batch_size, LOSS, record_batch, seed=seed)

            def snapshot(training: dict) -> Model:
                return Model(app=self.name, encodings={"encoding": grid_config}, networks=networks,
                             params={"encoding": trainer.params(encoding_layer), "network": trainer.params(mlp)},
                             app_data={"width": width, "height": height, "source": source}, training=training)

            return fit_loop(trainer, steps, snapshot, lambda model: self.evaluate(device, model, data), evaluations,
                            max_seconds, progress, record={"loss": LOSS, **continued_record(initial)}, live=live)
        finally:
            if trainer is not None:
                trainer.close()
            image_buffer.close()
            encoding_layer.close()
            mlp.close()
