"""Model files: one format for every app.

A model file is a NumPy `.npz` archive (zip), readable with `numpy.load` and nothing else:

    header            uint8 [n]   UTF-8 JSON, see below
    encoding          float32 [n_entries, n_features]   grid parameters
    <network name>    float32 [n_params]                one array per network ("network" for the
                                                        image, sdf and volume apps)

The header:

    {"format": "ngvk-model", "version": 1, "app": "image",
     "encoding": {GridConfig fields}, "networks": {"network": {MLPConfig fields}},
     "app_data": {what the app needs: image size, bounding box, ...},
     "training": {steps, seconds, psnr, device, ... as recorded by `ngvk fit`}}

Loading validates everything against the configuration (app, format version, array shapes, finite
parameters) and reports any problem as a one-line `NgvkError`. Saving writes a temporary file and
renames it, so an interrupted save never leaves a half-written model behind.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ngvk.engine.nn.config import GridConfig, MLPConfig
from ngvk.engine.errors import NgvkError
from ngvk.engine.files import write_atomically

FORMAT = "ngvk-model"
VERSION = 1


@dataclass
class Model:
    """An app's trained model: its encoding and networks, their parameters, and app data."""

    app: str
    encoding: GridConfig
    networks: dict[str, MLPConfig]
    params: dict[str, np.ndarray]  # "encoding" and one entry per network
    app_data: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    source: str = field(default="", compare=False)  # the file it was read from, for error messages

    def __post_init__(self):
        self._check_params(self.params, self.source or "model")

    def _check_params(self, params: dict, where: str) -> None:
        expected = {"encoding": (self.encoding.n_entries, self.encoding.n_features)}
        expected.update({name: (config.n_params,) for name, config in self.networks.items()})
        for name, shape in expected.items():
            if name not in params:
                raise NgvkError(f"{where}: the parameters of {name!r} are missing")
            if tuple(params[name].shape) != shape:
                raise NgvkError(
                    f"{where}: {name!r} has shape {tuple(params[name].shape)} but its configuration needs {shape}"
                )
        extra = set(params) - set(expected)
        if extra:
            raise NgvkError(f"{where}: unexpected arrays {sorted(extra)}")
        for name in expected:
            if not np.isfinite(params[name]).all():
                raise NgvkError(f"{where}: the parameters of {name!r} hold NaN or infinite values: fit the model again")

    def summary(self) -> str:
        networks = "; ".join(f"{name}: {config.summary()}" for name, config in self.networks.items())
        return f"{self.app} model: {self.encoding.summary()}; {networks}"

    def header(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "app": self.app,
            "encoding": self.encoding.to_dict(),
            "networks": {name: config.to_dict() for name, config in self.networks.items()},
            "app_data": self.app_data,
            "training": self.training,
        }

    def save(self, path: str | Path) -> None:
        """Write the model to `path` atomically (a temporary file in the same folder, then rename)."""
        header = np.frombuffer(json.dumps(self.header(), indent=1).encode("utf-8"), dtype=np.uint8)
        arrays = {name: np.ascontiguousarray(array, dtype=np.float32) for name, array in self.params.items()}

        def write(temporary):
            with open(temporary, "wb") as out:  # a file object: savez would append .npz to a name
                np.savez_compressed(out, header=header, **arrays)

        write_atomically(path, write)


def load_model(path: str | Path, app: str | None = None) -> Model:
    """Read and validate a model file; with `app`, it must be that app's model."""
    path = Path(path)
    if not path.is_file():
        raise NgvkError(f"model file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise NgvkError(f"{path} is not a readable ngvk model (truncated or not an .npz file: {error})") from None
    if "header" not in arrays:
        raise NgvkError(f"{path} is not an ngvk model: it has no header")
    try:
        header = json.loads(arrays.pop("header").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise NgvkError(f"{path}: the model header is not valid JSON") from None
    if header.get("format") != FORMAT:
        raise NgvkError(f"{path} is not an ngvk model")
    if header.get("version") != VERSION:
        raise NgvkError(
            f"{path} has model format version {header.get('version')}; this ngvk reads version {VERSION}"
        )
    if app is not None and header.get("app") != app:
        raise NgvkError(f"{path} is a model of the {header.get('app')!r} app, not of {app!r}")
    try:
        encoding = GridConfig(**header["encoding"])
        networks = {name: MLPConfig(**config) for name, config in header["networks"].items()}
    except (KeyError, TypeError, ValueError) as error:
        raise NgvkError(f"{path}: invalid configuration in the model header ({error})") from None
    return Model(
        app=header["app"],
        encoding=encoding,
        networks=networks,
        params=arrays,
        app_data=header.get("app_data", {}),
        training=header.get("training", {}),
        source=str(path),
    )
