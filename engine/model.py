"""Model files: one format for every app.

A model file is a NumPy `.npz` archive (zip), readable with `numpy.load` and nothing else:

    header            uint8 [n]   UTF-8 JSON, see below
    <encoding name>   float32 [n_entries, n_features]   one array per grid encoding ("encoding" for
                                                        the image, SDF and volume apps)
    <network name>    float32 [n_params]                one array per network ("network" for the
                                                        image, SDF and volume apps)
                      (float16 when the header's "param_dtype" says so: half the size, for shipped
                      models; loaded as float32)
    <extra name>      any dtype and shape                arrays an app keeps with the model (an
                                                        occupancy grid, a density majorant, a bounding
                                                        box), each described in the header

The header (version 2):

    {"format": "ngvk-model", "version": 2, "app": "image", "param_dtype": "float32",
     "encodings": {"encoding": {GridConfig fields}},
     "networks": {"network": {MLPConfig fields}},
     "extras": {"occupancy": {"dtype": "uint8", "shape": [128, 128, 16], "description": "..."}},
     "app_data": {what the app needs: image size, bounding box, ...},
     "training": {steps, seconds, psnr, device, ... as recorded by `ngvk fit`}}

Version 1 files (one grid, "encoding": {...} in the header, no extras) still load. Names are unique
across encodings, networks and extras. Loading validates everything against the configuration (app,
format version, array shapes and dtypes, finite parameters) and reports any problem as a one-line
`NgvkError`. Saving writes a temporary file and renames it, so an interrupted save never leaves a
half-written model behind.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ngvk.engine.errors import NgvkError
from ngvk.engine.files import write_atomically
from ngvk.engine.nn.config import GridConfig, MLPConfig

FORMAT = "ngvk-model"
VERSION = 2
READS = (1, 2)  # the format versions this ngvk reads
PARAM_DTYPES = ("float32", "float16")


@dataclass
class Model:
    """An app's trained model: its encodings and networks by name, their parameters (`params`, by
    the same names), extra arrays with a description each, and app data."""

    app: str
    encodings: dict[str, GridConfig]
    networks: dict[str, MLPConfig]
    params: dict[str, np.ndarray]  # one entry per encoding and per network
    app_data: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)  # extra name -> what it holds
    source: str = field(default="", compare=False)  # the file it was read from, for error messages
    param_dtype: str = "float32"  # how the file stores the parameters: "float32" or "float16"

    def __post_init__(self):
        where = self.source or "model"
        if self.param_dtype not in PARAM_DTYPES:
            raise NgvkError(f"{where}: parameters are stored as {' or '.join(PARAM_DTYPES)}, not {self.param_dtype!r}")
        names = list(self.encodings) + list(self.networks) + list(self.extras)
        repeated = sorted({name for name in names if names.count(name) > 1} | ({"header"} & set(names)))
        if repeated:
            raise NgvkError(f"{where}: the names {repeated} are used twice (or reserved)")
        missing = set(self.extras) - set(self.descriptions)
        if missing:
            raise NgvkError(f"{where}: the extra arrays {sorted(missing)} have no description")
        expected = {name: (config.n_entries, config.n_features) for name, config in self.encodings.items()}
        expected.update({name: (config.n_params,) for name, config in self.networks.items()})
        for name, shape in expected.items():
            if name not in self.params:
                raise NgvkError(f"{where}: the parameters of {name!r} are missing")
            if tuple(self.params[name].shape) != shape:
                raise NgvkError(
                    f"{where}: {name!r} has shape {tuple(self.params[name].shape)} but its configuration needs {shape}"
                )
        extra = set(self.params) - set(expected)
        if extra:
            raise NgvkError(f"{where}: unexpected arrays {sorted(extra)}")
        for name in expected:
            if not np.isfinite(self.params[name]).all():
                raise NgvkError(f"{where}: the parameters of {name!r} hold NaN or infinite values: fit the model again")

    @property
    def encoding(self) -> GridConfig:
        """The encoding of an app with one (the first, for apps with several)."""
        return next(iter(self.encodings.values()))

    def summary(self) -> str:
        parts = [f"{name}: {config.summary()}" for name, config in {**self.encodings, **self.networks}.items()]
        return f"{self.app} model: " + "; ".join(parts)

    def header(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "app": self.app,
            "param_dtype": self.param_dtype,
            "encodings": {name: config.to_dict() for name, config in self.encodings.items()},
            "networks": {name: config.to_dict() for name, config in self.networks.items()},
            "extras": {name: {"dtype": str(array.dtype), "shape": list(array.shape),
                              "description": self.descriptions[name]} for name, array in self.extras.items()},
            "app_data": self.app_data,
            "training": self.training,
        }

    def save(self, path: str | Path) -> None:
        """Write the model to `path` atomically (a temporary file in the same folder, then rename)."""
        header = np.frombuffer(json.dumps(self.header(), indent=1).encode("utf-8"), dtype=np.uint8)
        with np.errstate(over="ignore"):  # overflow to float16 is reported just below
            arrays = {name: np.ascontiguousarray(array, dtype=self.param_dtype) for name, array in self.params.items()}
        for name, array in arrays.items():
            if np.isfinite(self.params[name]).all() and not np.isfinite(array).all():  # fp16 overflow
                raise NgvkError(f"{path}: the parameters of {name!r} do not fit in {self.param_dtype}")
        arrays.update({name: np.ascontiguousarray(array) for name, array in self.extras.items()})

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
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error, NotImplementedError) as error:
        # zlib.error: a compressed member damaged; NotImplementedError: a member's compression method
        # damaged into one zipfile does not know.
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise NgvkError(f"{path} is not a readable ngvk model (damaged, truncated or not an .npz file: {reason})") from None
    if "header" not in arrays:
        raise NgvkError(f"{path} is not an ngvk model: it has no header")
    try:
        header = json.loads(arrays.pop("header").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise NgvkError(f"{path}: the model header is not valid JSON") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise NgvkError(f"{path} is not an ngvk model")
    if header.get("version") not in READS:
        raise NgvkError(
            f"{path} has model format version {header.get('version')}; this ngvk reads versions "
            f"{', '.join(map(str, READS))}"
        )
    if app is not None and header.get("app") != app:
        raise NgvkError(f"{path} is a model of the {header.get('app')!r} app, not of {app!r}")
    try:
        if header["version"] == 1:
            encodings = {"encoding": GridConfig(**header["encoding"])}
        else:
            encodings = {name: GridConfig(**config) for name, config in header["encodings"].items()}
        networks = {name: MLPConfig(**config) for name, config in header["networks"].items()}
        described = header.get("extras", {})
        descriptions = {name: str(entry["description"]) for name, entry in described.items()}
        kinds = {name: (np.dtype(entry["dtype"]), tuple(entry["shape"])) for name, entry in described.items()}
        if not isinstance(header["app"], str):
            raise TypeError(f"app is {header['app']!r}, not a name")
        for key in ("app_data", "training"):
            if not isinstance(header.get(key, {}), dict):
                raise TypeError(f"{key} is not an object")
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
        raise NgvkError(f"{path}: invalid configuration in the model header ({error})") from None
    param_dtype = header.get("param_dtype", "float32")
    if param_dtype not in PARAM_DTYPES:
        raise NgvkError(f"{path}: unknown param_dtype {param_dtype!r} in the model header")
    extras = {}
    for name, (dtype, shape) in kinds.items():
        if name not in arrays:
            raise NgvkError(f"{path}: the extra array {name!r} is missing")
        array = arrays.pop(name)
        if array.dtype != dtype or array.shape != shape:
            raise NgvkError(f"{path}: {name!r} is {array.dtype} {array.shape} but the header says {dtype} {shape}")
        extras[name] = array
    for name, array in arrays.items():
        if array.dtype != np.dtype(param_dtype):
            raise NgvkError(f"{path}: {name!r} is {array.dtype} but the header says {param_dtype}")
    arrays = {name: array.astype(np.float32) for name, array in arrays.items()}
    return Model(
        app=header["app"],
        encodings=encodings,
        networks=networks,
        params=arrays,
        app_data=header.get("app_data", {}),
        training=header.get("training", {}),
        extras=extras,
        descriptions=descriptions,
        source=str(path),
        param_dtype=param_dtype,
    )
