"""The app contract: everything the command line, the viewer and the benchmark know about an app.

An app is a subclass of `App`, registered by name in `ngvk/apps/__init__.py`. It declares its
presets, data, renderer, training graph and metrics; the generic pieces (engine/fit.py's loop, the
frame renderer's tiling and timing, the viewer, the benchmark) do the rest. Nothing outside an
app's own package names the app or tests which one it is. docs/adding-an-app.md walks
through a new one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ngvk.engine.model import Model, load_model
from ngvk.engine.paths import ASSETS_DIR


class App:
    # ---- declarations ----------------------------------------------------------------------------
    name: str = ""  # the APP word of the command line, the model files' "app", the assets' prefix
    title: str = ""  # one line for help texts
    data_help: str = ""  # what DATA is for `ngvk fit` and `ngvk eval`
    render_modes: tuple[str, ...] = ("network",)  # the first is the default; number keys pick them
    moves_in_3d: bool = False  # the viewer's WASD/QE keys fly the camera (else Q quits)
    renders_data: bool = False  # `ngvk render APP --data DATA` renders the data itself (data_renderer)
    # The renderer draws random samples: the viewer keeps adding frames (render(..., accumulate=True))
    # while the view is still, a converging image.
    progressive: bool = False
    # The headline metrics of `fit` and `eval`, by name, with how to print each (str.format).
    metrics: dict[str, str] = {}
    # How metrics are measured where a name alone does not say (metric name -> one line); `fit --json`
    # and `eval --json` write them as "metric_notes".
    metric_notes: dict[str, str] = {}
    default_steps: dict[str, int] = {}  # training steps per encoding
    default_batch_size: int = 1 << 16
    # Numbers a camera path's keyframes may set per frame (engine/render/camera_path.py extras), by
    # name, with what each does; apply_path_extras() hands them to the renderer.
    path_extras: dict[str, str] = {}
    # The procedural datasets `ngvk dataset APP NAME` writes (make_dataset()): name -> one line of
    # what it holds. Empty: the app has no generator.
    datasets: dict[str, str] = {}

    # ---- models ----------------------------------------------------------------------------------
    def default_model_path(self, encoding: str = "hashgrid") -> Path:
        """The model shipped in assets/ for `encoding`."""
        return ASSETS_DIR / f"{self.name}_{encoding}.npz"

    def load_model(self, path: str | Path | None = None) -> Model:
        """The model at `path` (checked to be this app's), or the shipped hashgrid model."""
        return load_model(path or self.default_model_path(), app=self.name)

    def default_resolution(self, model: Model | None) -> tuple[int, int]:
        """The frame size of `ngvk render` and `ngvk view` when none is given (model None: a
        render of the data)."""
        raise NotImplementedError

    def data_resolution(self, data) -> tuple[int, int]:
        """The window size of `ngvk view --train` on `data` when none is given (no model yet)."""
        return self.default_resolution(None)

    # ---- data ------------------------------------------------------------------------------------
    def load_data(self, source: str):
        """The data a model is fitted to or evaluated against; NgvkError when it is unusable."""
        raise NotImplementedError

    def make_dataset(self, name: str, out: str | Path, views: int, resolution: int, seed: int,
                     progress=None, held_out: int | None = None) -> str:
        """Write the procedural dataset `name` (one of `datasets`) to the folder `out`, new or empty,
        all or nothing: `views` views of `resolution` pixels square (and `held_out` validation and
        test views each, where the data has them; None: the app's default), deterministic for `seed`;
        `progress(done, total)` after each piece. Returns one line saying what was written."""
        raise NotImplementedError

    def load_reference(self, model: Model):
        """What the render modes that compare with the source need (the source image, the mesh...),
        read again from what the model records; None when it cannot be had."""
        return None

    # ---- rendering -------------------------------------------------------------------------------
    def renderer(self, device, model: Model, reference=None):
        """An engine.render.frame.FrameRenderer for `model`; `reference` enables the comparing modes."""
        raise NotImplementedError

    def apply_path_extras(self, renderer, extras: dict[str, float]) -> None:
        """Set a frame's `extras` (names of path_extras) on `renderer` before it renders the frame.
        Nothing by default."""

    def data_renderer(self, device, data):
        """A FrameRenderer of the data itself (the ground truth a model is judged against), for
        apps that declare `renders_data`."""
        raise NotImplementedError

    # ---- fitting and evaluation ------------------------------------------------------------------
    def presets(self, encoding: str, data):
        """(GridConfig, {network name: MLPConfig}) of a model of `encoding` fitted to `data`."""
        raise NotImplementedError

    def fit(self, device, data, encoding: str, steps: int, batch_size: int, seed: int, source: str,
            progress=None, max_seconds: float | None = None, evaluations: int = 10, live=None, initial=None):
        """Fit a model to `data`: an engine.fit.FitResult (through engine.fit.fit_loop, which calls
        `live` after each step: the viewer's live training), from fresh parameters or, continuing a
        fit, from the model `initial`'s (engine.fit.starting_params())."""
        raise NotImplementedError

    def renderable(self, device, model: Model, live: bool = False) -> Model:
        """`model` made ready to render where a fit's snapshot lacks something its renderer needs
        (the volume app: the occupancy grid and majorant, built from the network); in place. The
        viewer's live training renders snapshots through this, `live` for a frame's (where building
        it at full quality would cost more than the frame; a saved model is built at full quality).
        Nothing by default."""
        return model

    def evaluate(self, device, model: Model, data) -> dict[str, float]:
        """The app's metrics of `model` against `data`, headline metrics first."""
        raise NotImplementedError

    def format_metrics(self, metrics: dict) -> str:
        """The headline metrics in one line, e.g. 'PSNR 36.56 dB, SSIM 0.9646'."""
        return ", ".join(form.format(metrics[name]) for name, form in self.metrics.items() if name in metrics)

    # ---- command line and checks -----------------------------------------------------------------
    def add_arguments(self, command: str, parser: argparse.ArgumentParser) -> None:
        """Add this app's own options of `command` ("fit", "render", "view", "eval") to `parser` (an
        argument group named after the app); the app reads them from the parsed arguments. None by
        default."""

    def apply_arguments(self, args) -> None:
        """Take this app's own options (add_arguments()) from the parsed command line, before the
        command runs. None by default."""

    def check_cases(self) -> list:
        """The app's own kernels for `ngvk check`: engine.check cases (none by default)."""
        return []
