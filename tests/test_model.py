"""The model file format: round trip, and a clear one-line error for every kind of bad file."""

import json

import numpy as np
import pytest

from ngvk.engine.nn.config import GridConfig, MLPConfig
from ngvk.engine.errors import NgvkError
from ngvk.engine.model import Model, load_model


@pytest.fixture
def model(rng):
    grid = GridConfig("hashgrid", 2, 4, 2, 8, 1.5, 10)
    network = MLPConfig(8, 3, 16, 1)
    return Model(
        app="image",
        encodings={"encoding": grid},
        networks={"network": network},
        params={"encoding": grid.init_params(rng), "network": network.init_params(rng)},
        app_data={"width": 32, "height": 16},
        training={"steps": 3},
    )


def test_round_trip(model, tmp_path):
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = load_model(path, app="image")
    assert loaded.encodings == model.encodings and loaded.networks == model.networks
    assert loaded.app_data == model.app_data and loaded.training == model.training
    for name in model.params:
        np.testing.assert_array_equal(loaded.params[name], model.params[name])
    # A plain NumPy reader sees the arrays and the header.
    with np.load(path) as archive:
        assert json.loads(archive["header"].tobytes())["app"] == "image"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_another_apps_model_is_refused(model, tmp_path):
    model.app = "sdf"
    model.save(tmp_path / "sdf.npz")
    with pytest.raises(NgvkError, match="model of the 'sdf' app, not of 'image'"):
        load_model(tmp_path / "sdf.npz", app="image")


def test_truncated_file_is_refused(model, tmp_path):
    path = tmp_path / "m.npz"
    model.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(NgvkError, match="truncated"):
        load_model(path)


def test_missing_and_foreign_files_are_refused(tmp_path):
    with pytest.raises(NgvkError, match="does not exist"):
        load_model(tmp_path / "none.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(NgvkError, match="not a readable ngvk model"):
        load_model(tmp_path / "text.npz")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(NgvkError, match="no header"):
        load_model(tmp_path / "plain.npz")


def test_shapes_that_do_not_match_the_configuration_are_refused(model, tmp_path):
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays["network"] = arrays["network"][:-1]
    np.savez(path, **arrays)
    with pytest.raises(NgvkError, match="'network' has shape"):
        load_model(path)


def test_newer_format_versions_are_refused(model, tmp_path):
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path) as archive:
        arrays = dict(archive)
    header = json.loads(arrays["header"].tobytes())
    header["version"] = 99
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(NgvkError, match="format version 99"):
        load_model(path)


def test_save_into_a_missing_folder_fails_cleanly(model, tmp_path):
    with pytest.raises(NgvkError, match="does not exist"):
        model.save(tmp_path / "nope" / "m.npz")


def test_parameters_that_are_not_finite_are_refused(model, tmp_path):
    path = tmp_path / "m.npz"
    model.params["encoding"][3, 1] = np.inf
    model.save(path)
    with pytest.raises(NgvkError, match=r"m\.npz: the parameters of 'encoding' hold NaN or infinite values"):
        load_model(path)


def test_several_encodings_networks_and_extras_round_trip(rng, tmp_path):
    # A NeRF-like model: two networks and two grids by name, an occupancy bit grid and a majorant.
    position, detail = GridConfig("hashgrid", 3, 4, 2, 8, 1.5, 10), GridConfig("densegrid", 3, 2, 2, 4, 1.5)
    density, color = MLPConfig(8, 16, 16, 1), MLPConfig(32, 3, 16, 2, "sigmoid")
    occupancy = rng.integers(0, 256, (16, 16, 2), dtype=np.uint8)
    model = Model(
        app="nerf", encodings={"position": position, "detail": detail}, networks={"density": density, "color": color},
        params={"position": position.init_params(rng), "detail": detail.init_params(rng),
                "density": density.init_params(rng), "color": color.init_params(rng)},
        extras={"occupancy": occupancy, "majorant": np.array([3.5], np.float32)},
        descriptions={"occupancy": "bit grid, 16^3 cells", "majorant": "largest density"},
    )
    path = tmp_path / "nerf.npz"
    model.save(path)
    loaded = load_model(path, app="nerf")
    assert loaded.encodings == model.encodings and loaded.networks == model.networks
    assert loaded.descriptions == model.descriptions
    np.testing.assert_array_equal(loaded.extras["occupancy"], occupancy)
    assert loaded.extras["occupancy"].dtype == np.uint8 and loaded.extras["majorant"][0] == np.float32(3.5)
    with np.load(path) as archive:
        header = json.loads(archive["header"].tobytes())
    assert header["version"] == 2
    assert header["extras"]["occupancy"] == {"dtype": "uint8", "shape": [16, 16, 2], "description": "bit grid, 16^3 cells"}
    with pytest.raises(NgvkError, match="used twice"):
        Model(app="nerf", encodings={"density": position}, networks={"density": density},
              params={"density": density.init_params(rng)})
    with pytest.raises(NgvkError, match="no description"):
        Model(app="nerf", encodings={"position": position}, networks={}, params={"position": position.init_params(rng)},
              extras={"occupancy": occupancy})


def test_version_1_files_still_load(model, tmp_path):
    # The format before named encodings and extras: "encoding" in the header, one grid.
    path = tmp_path / "v1.npz"
    header = model.header()
    header["version"] = 1
    header["encoding"] = header.pop("encodings")["encoding"]
    del header["extras"]
    arrays = {name: np.asarray(array, np.float32) for name, array in model.params.items()}
    np.savez(path, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)
    loaded = load_model(path, app="image")
    assert loaded.encodings == model.encodings and loaded.encoding == model.encoding and loaded.extras == {}
    np.testing.assert_array_equal(loaded.params["network"], model.params["network"])


def test_extras_that_do_not_match_their_description_are_refused(model, tmp_path):
    model.extras, model.descriptions = {"box": np.zeros((2, 3), np.float32)}, {"box": "bounding box"}
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays["box"] = np.zeros((3, 3), np.float32)
    np.savez(path, **arrays)
    with pytest.raises(NgvkError, match="'box' is float32 \\(3, 3\\) but the header says float32 \\(2, 3\\)"):
        load_model(path)


def test_float16_parameters_are_stored_as_float16_and_load_as_float32(model, tmp_path):
    from dataclasses import replace

    small = replace(model, param_dtype="float16")
    small.save(tmp_path / "half.npz")
    model.save(tmp_path / "full.npz")
    with np.load(tmp_path / "half.npz") as archive:
        assert all(archive[name].dtype == np.float16 for name in model.params)
    loaded = load_model(tmp_path / "half.npz")
    assert loaded.param_dtype == "float16"
    for name, array in model.params.items():
        assert loaded.params[name].dtype == np.float32
        np.testing.assert_array_equal(loaded.params[name], array.astype(np.float16).astype(np.float32))
    # Values beyond float16's range are refused at saving, and nothing is written.
    too_large = replace(small, params={**small.params, "network": small.params["network"] * 0 + 1e6})
    with pytest.raises(NgvkError, match="float16"):
        too_large.save(tmp_path / "large.npz")
    assert not (tmp_path / "large.npz").exists()
