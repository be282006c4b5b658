"""The image app (GIA, gigapixel image approximation): a grid encoding and an MLP map a position on
an image to its colour.

Colour: the network learns linear RGB (the training image's sRGB values decoded) and rendering
encodes its output back to sRGB, clamped to [0, 1]; PSNR and SSIM compare the 8-bit sRGB render at
the image's own resolution with the 8-bit source. Geometry: the image lies on the plane z = 0,
centred on the origin, one unit high (engine/camera.py); uv = (0, 0) is its top-left corner and
pixel (i, j) of the source has its centre at ((i + 0.5) / width, (j + 0.5) / height).

This module holds the app's model presets, its renderer (four stages, or one fused kernel), its
training batch, fitting and evaluation, and the NumPy references of its own kernels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ngvk.engine.nn import reference
from ngvk.engine.render.camera import Camera
from ngvk.engine.nn.config import MLPConfig, auto_per_level_scale, GridConfig, grid_preset
from ngvk.engine.errors import NgvkError
from ngvk.engine.paths import ASSETS_DIR
from ngvk.engine.nn.layers import MLP, GridEncoding, items_per_invocation
from ngvk.engine.model import Model, load_model
from ngvk.engine.render.frame import FrameRenderer
from ngvk.engine.nn.training import Trainer

from ngvk.apps import metrics
from ngvk.apps.imageio import load_image

APP = "image"
LOSS = "relative_l2"
DEFAULT_BATCH = 1 << 16
DEFAULT_STEPS = {"hashgrid": 500, "densegrid": 500, "lowres": 500}
HASHGRID_LOG2_TABLE = 19
# What the viewer's number keys and `ngvk render --mode` show: the network's image, the source
# image, or |network - source| (times 4, in sRGB). The last two need the source image.
RENDER_MODES = ("network", "source", "error")
MODES_NEEDING_REFERENCE = ("source", "error")
MOVES_IN_3D = False  # the viewer's WASD/QE keys do nothing here (and Q quits)
QUERIES_PER_PIXEL = 1  # network queries per pixel of a frame (the benchmark's samples)


def default_model_path(encoding: str = "hashgrid") -> Path:
    return ASSETS_DIR / f"image_{encoding}.npz"


def load(path: str | Path | None = None) -> Model:
    """The model at `path`, or the shipped hashgrid model."""
    return load_model(path or default_model_path(), app=APP)


def model_configs(encoding: str, width: int, height: int) -> tuple[GridConfig, MLPConfig]:
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


def default_resolution(model: Model) -> tuple[int, int]:
    """The size of the image the model was fitted to."""
    return model.app_data["width"], model.app_data["height"]


def data_resolution(image: np.ndarray) -> tuple[int, int]:
    return image.shape[1], image.shape[0]


def load_data(source: str) -> np.ndarray:
    """The training image: a file, or `skimage:NAME` for one of scikit-image's bundled photos."""
    return load_image(source)


def load_reference(model: Model) -> np.ndarray | None:
    """The image the model was fitted to, when it can still be read (for the source and error
    render modes), else None."""
    try:
        image = load_image(model.app_data.get("source", ""))
    except NgvkError:
        return None
    return image if data_resolution(image) == default_resolution(model) else None


def default_camera(image_aspect: float, width: int, height: int) -> Camera:
    """Looking straight at the image, orthographic, the whole image fitted into the frame."""
    frame_aspect = width / height
    return Camera(
        position=(0.0, 0.0, 1.0),
        look_at=(0.0, 0.0, 0.0),
        up=(0.0, 1.0, 0.0),
        orthographic_height=max(1.0, image_aspect / frame_aspect),
    )


# ---- NumPy references of the app's kernels ------------------------------------------------------


def image_preprocess_reference(camera: Camera, width: int, height: int, image_aspect: float):
    """Specification of lib/image_preprocess.glsl image_preprocess(): (uv [N, 2], coverage [N])."""
    origins, directions = camera.rays(width, height)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(np.abs(directions[:, 2]) > 1e-12, -origins[:, 2] / directions[:, 2], -1.0)
    p = origins + t[:, None] * directions
    uv = np.stack([p[:, 0] / image_aspect + 0.5, 0.5 - p[:, 1]], axis=1)
    inside = (t >= 0) & np.all((uv >= 0) & (uv <= 1), axis=1)
    return np.clip(uv, 0, 1).astype(np.float32), inside.astype(np.float32)


def image_postprocess_reference(linear_rgb, coverage, uv=None, mode: str = "network", source=None) -> np.ndarray:
    """Specification of lib/image_postprocess.glsl image_postprocess(): RGBA in [0, 1], sRGB over
    a black background; in the source and error modes `source` (linear RGB [H, W, 3]) is sampled
    at `uv`."""
    srgb = reference.linear_to_srgb(linear_rgb)
    if mode != "network":
        source_srgb = reference.linear_to_srgb(training_batch_reference(source, uv))
        srgb = source_srgb if mode == "source" else np.clip(4.0 * np.abs(srgb - source_srgb), 0, 1)
    srgb = srgb * coverage[:, None]
    return np.concatenate([srgb, np.ones((len(srgb), 1))], axis=1)


def training_batch_reference(image_linear: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Specification of image_batch.comp's targets: bilinear between pixel centres, edges clamped."""
    height, width, _ = image_linear.shape
    p = positions.astype(np.float64) * [width, height] - 0.5
    lower = np.floor(p)
    f = p - lower
    x0 = np.clip(lower[:, 0].astype(int), 0, width - 1)
    y0 = np.clip(lower[:, 1].astype(int), 0, height - 1)
    x1 = np.clip(lower[:, 0].astype(int) + 1, 0, width - 1)
    y1 = np.clip(lower[:, 1].astype(int) + 1, 0, height - 1)
    fx, fy = f[:, :1], f[:, 1:]
    top = image_linear[y0, x0] * (1 - fx) + image_linear[y0, x1] * fx
    bottom = image_linear[y1, x0] * (1 - fx) + image_linear[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


# ---- rendering ----------------------------------------------------------------------------------


class ImageRenderer(FrameRenderer):
    """The image app's renderer: stages preprocess, encoding, mlp, postprocess, or one fused kernel."""

    modes = RENDER_MODES

    def __init__(self, device, model: Model, reference_image: np.ndarray | None = None, tile_pixels: int | None = None):
        """`reference_image` (uint8 [H, W, 3], the source) enables the source and error modes."""
        super().__init__(device, **({"tile_pixels": tile_pixels} if tile_pixels else {}))
        if model.app != APP:
            raise NgvkError(f"a {model.app!r} model cannot be rendered by the image app")
        self.model = model
        self.image_aspect = model.app_data["width"] / model.app_data["height"]
        self.encoding = GridEncoding(device, model.encoding, model.params["encoding"])
        self.mlp = MLP(device, model.networks["network"], model.params["network"])
        self.items = items_per_invocation(device)
        self._tile_buffers = None
        self.has_reference = reference_image is not None
        if reference_image is None:
            reference_image = np.zeros((1, 1, 3), np.uint8)  # bound but unread in network mode
        self.source_height, self.source_width, _ = reference_image.shape
        linear = reference.srgb_to_linear(reference_image.astype(np.float64) / 255.0).astype(np.float32)
        self.source_image = device.buffer_from(linear, "source_image")

    def set_mode(self, mode: str) -> None:
        """Switch to render mode `mode` (one of RENDER_MODES)."""
        if mode not in RENDER_MODES:
            raise NgvkError(f"unknown render mode {mode!r} for the image app; choose one of {', '.join(RENDER_MODES)}")
        if mode in MODES_NEEDING_REFERENCE and not self.has_reference:
            raise NgvkError(f"render mode {mode!r} needs the source image, which could not be read")
        self.mode = mode

    def default_camera(self, width: int, height: int) -> Camera:
        return default_camera(self.image_aspect, width, height)

    def push_constants(self, camera: Camera, width: int, height: int) -> dict:
        return {
            **camera.push_constants(width, height),
            "image_aspect": self.image_aspect,
            "render_mode": RENDER_MODES.index(self.mode),
            "source_width": self.source_width,
            "source_height": self.source_height,
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
            kernel = device.kernel("image/image_postprocess.comp", {"FRAME_FLOAT": int(float_frame)})
            buffers = {
                "rgb": b["rgb"],
                "coverage": b["coverage"],
                "positions": b["positions"],
                "source_image": self.source_image,
                "frame": frame,
            }
            sequence.dispatch(kernel, n, buffers, push)

    def record_fused(self, sequence, frame, push: dict, float_frame: bool) -> None:
        defines = {**self.encoding.defines(), **self.mlp.defines(), "FRAME_FLOAT": int(float_frame)}
        kernel = self.device.kernel("image/image_fused.comp", defines)
        buffers = {**self.encoding.bindings(), **self.mlp.bindings(), "source_image": self.source_image, "frame": frame}
        sequence.dispatch(kernel, -(-push["n"] // self.items), buffers, push)

    def render_source_view(self, fused: bool = True):
        """The whole image at its own resolution (what PSNR is measured on)."""
        width, height = self.model.app_data["width"], self.model.app_data["height"]
        return self.render(self.default_camera(width, height), width, height, fused)

    def close(self) -> None:
        super().close()
        if self._tile_buffers:
            for buffer in self._tile_buffers.values():
                buffer.close()
        self.encoding.close()
        self.mlp.close()
        self.source_image.close()


# ---- fitting and evaluation ---------------------------------------------------------------------


@dataclass
class FitResult:
    model: Model
    psnr: float
    ssim: float
    seconds: float
    steps: int
    history: list[dict]


def evaluate(device, model: Model, image: np.ndarray) -> dict:
    """PSNR and SSIM of the model's render at the image's resolution against the 8-bit image."""
    height, width, _ = image.shape
    if (model.app_data.get("width"), model.app_data.get("height")) != (width, height):
        raise NgvkError(
            f"the model was fitted to a {model.app_data.get('width')}x{model.app_data.get('height')} image, "
            f"this one is {width}x{height}"
        )
    renderer = ImageRenderer(device, model)
    try:
        frame = renderer.render_source_view()
    finally:
        renderer.close()
    return {
        "psnr": metrics.psnr(frame.rgb, image),
        "ssim": metrics.ssim(frame.rgb, image),
        "render_ms": frame.frame_ms,
    }


def fit(
    device,
    image: np.ndarray,
    encoding: str = "hashgrid",
    steps: int | None = None,
    batch_size: int = DEFAULT_BATCH,
    seed: int = 0,
    source: str = "",
    progress=None,
    evaluations: int = 10,
) -> FitResult:
    """Fit a model to `image` (uint8 [H, W, 3]); `progress(step, loss, psnr)` after each step
    (psnr is None except at the evaluation points)."""
    height, width, _ = image.shape
    steps = DEFAULT_STEPS[encoding] if steps is None else steps
    if steps < 1:
        raise NgvkError("--steps must be at least 1")
    grid_config, mlp_config = model_configs(encoding, width, height)
    rng = np.random.default_rng(seed)
    encoding_layer = GridEncoding(device, grid_config, grid_config.init_params(rng))
    mlp = MLP(device, mlp_config, mlp_config.init_params(rng))
    linear = reference.srgb_to_linear(image.astype(np.float64) / 255.0).astype(np.float32)
    image_buffer = device.buffer_from(linear, "source_image")

    def record_batch(sequence, state, positions, targets, n):
        kernel = device.kernel("image/image_batch.comp")
        buffers = {"source_image": image_buffer, "training_state": state, "positions": positions, "targets": targets}
        sequence.dispatch(kernel, n, buffers, {"n": n, "source_width": width, "source_height": height})

    trainer = Trainer(encoding_layer, mlp, batch_size, LOSS, record_batch, seed=seed)
    app_data = {"width": width, "height": height, "source": source}

    def snapshot(training: dict) -> Model:
        return Model(
            app=APP,
            encoding=grid_config,
            networks={"network": mlp_config},
            params={"encoding": encoding_layer.get_params(), "network": mlp.get_params()},
            app_data=app_data,
            training=training,
        )

    history = []
    check_every = max(1, steps // max(1, evaluations))
    start = time.perf_counter()
    try:
        for step in range(1, steps + 1):
            trainer.run_step()
            loss = trainer.last_loss()
            psnr = None
            if step % check_every == 0 or step == steps:
                # The evaluation after the last step is also the final one: no second render.
                quality = evaluate(device, snapshot({}), image)
                psnr = quality["psnr"]
                history.append({"step": step, "loss": loss, "psnr": psnr, "seconds": time.perf_counter() - start})
            if progress:
                progress(step, loss, psnr)
        seconds = time.perf_counter() - start
        training = {
            "steps": steps,
            "batch_size": batch_size,
            "loss": LOSS,
            "seed": seed,
            "seconds": round(seconds, 2),
            "device": device.info.name,
            "driver": f"{device.info.driver_name} {device.info.driver_info}".strip(),
            "step_ms": {k: round(v, 3) for k, v in trainer.timings().items()},
            "psnr": round(quality["psnr"], 3),
            "ssim": round(quality["ssim"], 4),
        }
        model = snapshot(training)
    finally:
        trainer.close()
        image_buffer.close()
        encoding_layer.close()
        mlp.close()
    return FitResult(model, quality["psnr"], quality["ssim"], seconds, steps, history)


Renderer = ImageRenderer
