"""Every reader a user feeds, fuzzed (hypothesis, seeded and bounded): model files, camera files,
camera paths in both formats, NeRF transforms in both formats, .npy density grids, meshes and
images, each made valid here and then corrupted (bytes flipped, cut short, inserted), or, for the
JSON formats, given values of the wrong type or extreme ones. Each case must end in a valid load or
in a one-line NgvkError: never another exception (a traceback for the user) and never a hang
(hypothesis' deadline). `tools/fuzz_loaders.py` runs the same with many more examples."""

import copy
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ngvk.engine.errors import NgvkError  # noqa: E402

EXAMPLES = int(os.environ.get("NGVK_FUZZ_EXAMPLES", "20"))
SETTINGS = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Values a field may be given instead of its own: wrong types, extremes, nothing.
ODD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                       st.sampled_from([0.0, -0.0, 1e308, -1e308, 1e-308, float("inf"), float("-inf"), float("nan")]),
                       st.text(max_size=8), st.lists(st.integers(), max_size=5), st.just({}),
                       st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def byte_damage():
    """(kind, position in [0, 1), amount): how bytes_damaged() breaks a file."""
    return st.tuples(st.sampled_from(["truncate", "flip", "insert", "zero"]), st.floats(0, 0.999),
                     st.integers(1, 64))


def bytes_damaged(data: bytes, damage) -> bytes:
    kind, where, amount = damage
    at = int(where * len(data))
    if kind == "truncate":
        return data[:at]
    if kind == "flip":
        out = bytearray(data)
        for k in range(amount):
            out[(at + 7919 * k) % len(out)] ^= 0x5A
        return bytes(out)
    if kind == "insert":
        return data[:at] + bytes((37 * k + 11) % 256 for k in range(amount)) + data[at:]
    return data[:at] + bytes(amount) + data[at + amount:]


def json_paths(value, prefix=()):
    """Every path to a value inside a JSON document."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from json_paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value[:4]):
            yield from json_paths(item, prefix + (index,))


def json_damaged(document, choice: float, replacement):
    """`document` with the value at one of its paths (picked by `choice` in [0, 1)) replaced, or
    the path's key dropped when `replacement` is the string "<drop>"."""
    out = copy.deepcopy(document)
    paths = list(json_paths(out))[1:]
    path = paths[int(choice * len(paths))]
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    if replacement == "<drop>" and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return out


def loads_or_one_line_error(load, *args):
    try:
        load(*args)
    except NgvkError as error:
        message = str(error)
        assert message and "\n" not in message, repr(message)


# ---- JSON formats --------------------------------------------------------------------------------

def camera_document():
    from ngvk.engine.render.camera import Camera, Lens

    return json.loads(Camera(position=(0.5, 0.6, 2.0), look_at=(0.5, 0.5, 0.5), fov_y=40.0, fov_x=50.0,
                             principal_point=(0.01, -0.02), lens=Lens(k1=0.1, p1=0.01)).to_json())


def path_documents():
    from ngvk.engine.render.camera import Camera
    from ngvk.engine.render.camera_path import CameraPath, Keyframe, to_instant_ngp, to_nerfstudio

    path = CameraPath([Keyframe(Camera(position=(0.5, 0.5, 2.0), look_at=(0.5, 0.5, 0.5)), 0.0),
                       Keyframe(Camera(position=(2.0, 0.6, 0.5), look_at=(0.5, 0.5, 0.5)), 1.0)], fps=2)
    plain = to_instant_ngp(path)
    for entry in plain["path"]:
        del entry["ngvk"]
    return [to_instant_ngp(path), plain, to_nerfstudio(path, 8, 6)]


@SETTINGS
@given(choice=st.floats(0, 0.999), replacement=st.one_of(ODD_VALUES, st.just("<drop>")))
def test_camera_files(tmp_path, choice, replacement):
    from ngvk.engine.render.camera import load_camera

    file = tmp_path / "camera.json"
    file.write_text(json.dumps(json_damaged(camera_document(), choice, replacement)))
    loads_or_one_line_error(load_camera, file)


@SETTINGS
@given(which=st.integers(0, 2), choice=st.floats(0, 0.999), replacement=st.one_of(ODD_VALUES, st.just("<drop>")))
def test_camera_path_files(tmp_path, which, choice, replacement):
    from ngvk.engine.render.camera_path import load_path

    file = tmp_path / "path.json"
    file.write_text(json.dumps(json_damaged(path_documents()[which], choice, replacement)))
    loads_or_one_line_error(lambda f: load_path(f).cameras(), file)


@SETTINGS
@given(damage=byte_damage())
def test_camera_and_path_files_damaged(tmp_path, damage):
    from ngvk.engine.render.camera import load_camera
    from ngvk.engine.render.camera_path import load_path

    (tmp_path / "c.json").write_bytes(bytes_damaged(json.dumps(camera_document()).encode(), damage))
    loads_or_one_line_error(load_camera, tmp_path / "c.json")
    (tmp_path / "p.json").write_bytes(bytes_damaged(json.dumps(path_documents()[0]).encode(), damage))
    loads_or_one_line_error(load_path, tmp_path / "p.json")


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    """A tiny generated NeRF dataset, and the same as one instant-ngp transforms.json."""
    from ngvk.apps.nerf import scene

    out = tmp_path_factory.mktemp("fuzz") / "tabletop"
    scene.write_dataset("tabletop", out, views=3, resolution=8, seed=1)
    train = json.loads((out / "transforms_train.json").read_text())
    single = dict(train, frames=train["frames"], aabb_scale=2, fl_x=10.0, fl_y=10.0, cx=4.0, cy=4.0, w=8, h=8,
                  k1=0.01, p1=0.001)
    return out, train, single


@SETTINGS
@given(single=st.booleans(), choice=st.floats(0, 0.999), replacement=st.one_of(ODD_VALUES, st.just("<drop>")))
def test_nerf_transforms(tmp_path, capture, single, choice, replacement):
    from ngvk.apps.nerf.data import load_nerf_dataset

    source, train, instant = capture
    folder = tmp_path / "capture"
    if not folder.exists():
        shutil.copytree(source, folder)
    for name in ("transforms.json", "transforms_train.json", "transforms_val.json", "transforms_test.json"):
        (folder / name).unlink(missing_ok=True)
    if single:
        (folder / "transforms.json").write_text(json.dumps(json_damaged(instant, choice, replacement)))
    else:
        for split in ("train", "val", "test"):
            document = json_damaged(train, choice, replacement) if split == "train" else train
            (folder / f"transforms_{split}.json").write_text(json.dumps(document))
    loads_or_one_line_error(load_nerf_dataset, folder, "train")


# ---- binary formats ------------------------------------------------------------------------------

@SETTINGS
@given(damage=byte_damage())
def test_model_files_damaged(tmp_path, damage):
    from ngvk.engine.model import load_model
    from ngvk.engine.paths import ASSETS_DIR

    file = tmp_path / "model.npz"
    file.write_bytes(bytes_damaged((ASSETS_DIR / "image_lowres.npz").read_bytes(), damage))
    loads_or_one_line_error(load_model, file, "image")


@SETTINGS
@given(choice=st.floats(0, 0.999), replacement=st.one_of(ODD_VALUES, st.just("<drop>")),
       array=st.sampled_from(["keep", "float64", "empty", "nan", "wrong shape"]))
def test_model_headers_and_arrays(tmp_path, choice, replacement, array):
    from ngvk.engine.model import load_model
    from ngvk.engine.paths import ASSETS_DIR

    with np.load(ASSETS_DIR / "image_lowres.npz") as archive:
        arrays = {name: archive[name] for name in archive.files}
    header = json.loads(arrays["header"].tobytes().decode())
    arrays["header"] = np.frombuffer(json.dumps(json_damaged(header, choice, replacement)).encode(), np.uint8)
    name = next(n for n in arrays if n != "header")
    if array == "float64":
        arrays[name] = arrays[name].astype(np.float64)
    elif array == "empty":
        arrays[name] = arrays[name][:0]
    elif array == "nan":
        arrays[name] = np.full_like(arrays[name], np.nan)
    elif array == "wrong shape":
        arrays[name] = arrays[name].reshape(-1)[:-1]
    np.savez(tmp_path / "model.npz", **arrays)
    loads_or_one_line_error(load_model, tmp_path / "model.npz", "image")


@SETTINGS
@given(damage=byte_damage(), values=st.sampled_from(["keep", "nan", "inf", "negative", "huge", "int", "4d", "2d"]))
def test_volume_grids(tmp_path, damage, values):
    from ngvk.apps.volume.data import load_volume_data

    grid = np.random.default_rng(0).random((6, 5, 4)).astype(np.float32)
    grid = {"keep": grid, "nan": np.where(grid > 0.5, np.nan, grid), "inf": np.where(grid > 0.9, np.inf, grid),
            "negative": -grid, "huge": grid * 1e38, "int": (grid * 10).astype(np.int64),
            "4d": np.stack([grid] * 5, -1), "2d": grid[0]}[values]
    np.save(tmp_path / "grid.npy", grid)
    loads_or_one_line_error(load_volume_data, str(tmp_path / "grid.npy"))
    (tmp_path / "bad.npy").write_bytes(bytes_damaged((tmp_path / "grid.npy").read_bytes(), damage))
    loads_or_one_line_error(load_volume_data, str(tmp_path / "bad.npy"))


CUBE_OBJ = "\n".join(["v 0 0 0", "v 1 0 0", "v 1 1 0", "v 0 1 0", "v 0 0 1", "v 1 0 1", "v 1 1 1", "v 0 1 1",
                      "f 1 3 2", "f 1 4 3", "f 5 6 7", "f 5 7 8", "f 1 2 6", "f 1 6 5", "f 2 3 7", "f 2 7 6",
                      "f 3 4 8", "f 3 8 7", "f 4 1 5", "f 4 5 8"]) + "\n"


@settings(SETTINGS, max_examples=max(5, EXAMPLES // 2))
@given(damage=byte_damage(), suffix=st.sampled_from([".obj", ".ply", ".stl"]))
def test_meshes_damaged(tmp_path, damage, suffix):
    import trimesh

    from ngvk.apps.sdf.data import load_mesh

    mesh = trimesh.load(trimesh.util.wrap_as_stream(CUBE_OBJ), file_type="obj", process=False)
    file = tmp_path / f"mesh{suffix}"
    file.write_bytes(bytes_damaged(mesh.export(file_type=suffix[1:]) if suffix != ".obj" else CUBE_OBJ.encode(),
                                   damage) if damage[0] != "truncate" or damage[1] > 0.05 else b"")
    loads_or_one_line_error(load_mesh, file)


@SETTINGS
@given(damage=byte_damage(), kind=st.sampled_from(["png8", "png16", "tiff16", "exr"]))
def test_images_damaged(tmp_path, damage, kind):
    from ngvk.apps.imageio import load_image

    rgb = np.random.default_rng(1).random((17, 19, 3))
    file = tmp_path / {"png8": "i.png", "png16": "i16.png", "tiff16": "i.tif", "exr": "i.exr"}[kind]
    if kind == "png8":
        from PIL import Image

        Image.fromarray((rgb * 255).astype(np.uint8)).save(file)
    elif kind == "png16":
        import png

        png.from_array((rgb * 65535).astype(np.uint16).reshape(17, -1), "RGB;16").save(str(file))
    elif kind == "tiff16":
        import tifffile

        tifffile.imwrite(file, (rgb * 65535).astype(np.uint16))
    else:
        import OpenEXR

        OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage},
                     {"RGB": rgb.astype(np.float32)}).write(str(file))
    file.write_bytes(bytes_damaged(file.read_bytes(), damage))
    loads_or_one_line_error(load_image, file)
