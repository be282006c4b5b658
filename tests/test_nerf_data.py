"""The NeRF app's data side, NumPy and files only: the procedural dataset generator (scene.py), the
loader of both dataset formats (data.py), pinhole cameras (Camera.from_pinhole), real captures'
lenses, camera models and missing images, and the `dataset` command (and one `eval` of the shipped
model on a capture with missing images). The datasets are tiny (6 views of 32 x 32, captures of
8 x 6) so that the whole file takes a few seconds."""

import json
import math
import shutil
import warnings

import numpy as np
import pytest
from PIL import Image

from ngvk.apps.nerf import scene
from ngvk.apps.nerf.data import NerfViews, dataset_splits, load_nerf_dataset
from ngvk.engine.errors import NgvkError
from ngvk.engine.nn.reference import srgb_to_linear
from ngvk.engine.render.camera import Camera, load_camera

SIDE = 32


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("nerf") / "tabletop"
    scene.write_dataset("tabletop", out, views=6, resolution=SIDE, seed=3)
    return out


def random_rotation(rng) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def direct_rays(matrix, fx, fy, cx, cy, width, height):
    """The pinhole rays of every pixel's centre straight from the matrix and the intrinsics."""
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    local = np.stack([(u - cx) / fx, -(v - cy) / fy, -np.ones_like(u)], axis=-1).reshape(-1, 3)
    directions = local @ matrix[:3, :3].T
    return np.tile(matrix[:3, 3], (len(local), 1)), directions / np.linalg.norm(directions, axis=1, keepdims=True)


# ---- cameras ------------------------------------------------------------------------------------------


def test_pinhole_camera_rays_are_exact(tmp_path, rng):
    matrix = np.eye(4)
    matrix[:3, :3], matrix[:3, 3] = random_rotation(rng), [0.3, 0.6, 1.9]
    intrinsics = (37.0, 41.5, 22.3, 13.1, 40, 30)  # fx != fy, the principal point off centre, not square
    camera = Camera.from_pinhole(matrix, *intrinsics)
    origins, directions = camera.rays(40, 30)
    expected_origins, expected_directions = direct_rays(matrix, *intrinsics)
    np.testing.assert_allclose(origins, expected_origins, atol=1e-6)
    np.testing.assert_allclose(directions, expected_directions, atol=1e-6)
    camera.save(tmp_path / "camera.json")  # the new fields travel through camera files
    assert load_camera(tmp_path / "camera.json") == camera
    with pytest.raises(NgvkError, match="fov_x"):
        Camera(fov_x=30.0, orthographic_height=1.0)


# ---- the generator ------------------------------------------------------------------------------------


def test_generated_dataset_loads_with_alpha_at_the_edges(dataset):
    assert dataset_splits(dataset) == ["train", "val", "test"]
    frame = json.loads((dataset / "transforms_train.json").read_text())["frames"][0]
    assert frame["file_path"] == "./train/r_0"  # without ".png", as the NeRF synthetic scenes have it
    for split, count in (("train", 6), ("val", 2), ("test", 2)):
        views = load_nerf_dataset(dataset, split)
        assert isinstance(views, NerfViews) and views.split == split and views.source == str(dataset)
        assert views.images.shape == (count, SIDE, SIDE, 4) and views.images.dtype == np.float32
        assert (views.width, views.height) == (SIDE, SIDE) and len(views.cameras) == len(views.files) == count
        alpha = views.images[..., 3]
        assert np.all(alpha[:, [0, 0, -1, -1], [0, -1, 0, -1]] == 0)  # the corners see past the scene
        assert np.all(alpha[:, SIDE // 2 - 1:SIDE // 2 + 1, SIDE // 2 - 1:SIDE // 2 + 1] == 1)  # the ball at the origin
        assert np.count_nonzero((alpha > 0) & (alpha < 1)) > 10 * count  # antialiased edges
        assert views.images[..., :3][alpha > 0].std() > 0.1  # colourful


def test_generator_is_deterministic_for_a_seed(dataset, tmp_path):
    again, other = tmp_path / "again", tmp_path / "other"
    scene.write_dataset("tabletop", again, views=6, resolution=SIDE, seed=3)
    scene.write_dataset("tabletop", other, views=6, resolution=SIDE, seed=4)
    files = sorted(p.relative_to(dataset) for p in dataset.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((dataset / f).read_bytes() == (again / f).read_bytes() for f in files)
    assert (dataset / "transforms_train.json").read_text() != (other / "transforms_train.json").read_text()


def test_views_circle_the_scene_which_fits_the_unit_cube():
    positions = scene.camera_positions(100, seed=0)
    assert {split: len(p) for split, p in positions.items()} == {"train": 100, "val": 10, "test": 10}
    train = positions["train"]
    np.testing.assert_allclose(np.linalg.norm(train, axis=1), scene.CAMERA_DISTANCE)
    elevation = np.degrees(np.arcsin(train[:, 2] / scene.CAMERA_DISTANCE))
    assert elevation.min() < 0 < 45 < elevation.max()  # the upper hemisphere and a little below
    azimuth = np.arctan2(train[:, 1], train[:, 0])
    assert np.histogram(azimuth, bins=4, range=(-np.pi, np.pi))[0].min() >= 20  # all around
    # The scene lies within 1.3 of the origin (inside the unit cube after the loader's scale 0.33),
    # and each part's bounding sphere is a bound of its distance.
    q = np.random.default_rng(0).uniform(-1.6, 1.6, (100000, 3))
    for name, generated in scene.SCENES.items():
        inside = generated.distance(q) < 0
        assert inside.any() and np.abs(q[inside]).max() < 1.5, name  # 1.5: the unit cube's half-width
        assert all(np.all(part.bound(q) <= part.distance(q) + 1e-12) for part in generated.parts), name
    assert np.linalg.norm(q[scene.SCENES["tabletop"].distance(q) < 0], axis=1).max() < 1.3


# ---- the loader -------------------------------------------------------------------------------------


def test_loaded_rays_are_the_pinhole_rays_of_the_json(dataset):
    """Every view's rays against the JSON's own pinhole, with the axes turned (x, y, z) -> (x, z, -y)
    and scaled by 0.33 about (0.5, 0.5, 0.5) written out here; the scene's centre is on the
    optical axis of each view."""
    document = json.loads((dataset / "transforms_test.json").read_text())
    views = load_nerf_dataset(dataset, "test")
    focal = SIDE / 2 / math.tan(document["camera_angle_x"] / 2)
    turn = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=np.float64)
    for frame, camera in zip(document["frames"], views.cameras):
        matrix = np.array(frame["transform_matrix"])
        origins, directions = direct_rays(matrix, focal, focal, SIDE / 2, SIDE / 2, SIDE, SIDE)
        origins, directions = origins @ turn.T * 0.33 + 0.5, directions @ turn.T
        got_origins, got_directions = camera.rays(SIDE, SIDE)
        np.testing.assert_allclose(got_origins, origins, atol=1e-6)
        np.testing.assert_allclose(got_directions, directions, atol=1e-6)
        origin, axis = camera.rays(1, 1)  # the one pixel of a 1 x 1 frame: the optical axis
        to_centre = 0.5 - origin[0]
        assert np.linalg.norm(np.cross(to_centre, axis[0])) < 1e-6 and to_centre @ axis[0] > 0


def write_ngp(folder, dataset, frames=None, **fields) -> None:
    """An instant-ngp transforms.json in `folder` over the generated train images."""
    source = json.loads((dataset / "transforms_train.json").read_text())
    folder.mkdir(exist_ok=True)
    focal = SIDE / 2 / math.tan(source["camera_angle_x"] / 2)
    document = {"fl_x": focal, "fl_y": focal, "cx": SIDE / 2, "cy": SIDE / 2, "w": SIDE, "h": SIDE, **fields,
                "frames": frames if frames is not None else [
                    {"file_path": str(dataset / (f["file_path"] + ".png")), "transform_matrix": f["transform_matrix"]}
                    for f in source["frames"]]}
    (folder / "transforms.json").write_text(json.dumps(document))


def test_both_formats_give_the_same_views(dataset, tmp_path):
    write_ngp(tmp_path, dataset)
    synthetic, ngp = load_nerf_dataset(dataset), load_nerf_dataset(tmp_path)
    np.testing.assert_array_equal(ngp.images, synthetic.images)
    for a, b in zip(ngp.cameras, synthetic.cameras):
        for key, value in a.push_constants(SIDE, SIDE).items():
            np.testing.assert_allclose(value, b.push_constants(SIDE, SIDE)[key], atol=1e-9)
    # One file: train is every frame, val and test every 8th (frame 0 of 6); a JSON file works too.
    assert dataset_splits(tmp_path) == ["train", "val", "test"]
    test = load_nerf_dataset(tmp_path / "transforms.json", "test")
    assert test.files == synthetic.files[:1]
    # scale, offset and a frame's own intrinsics; aabb_scale makes the box (overridable), a power of two.
    frames = json.loads((tmp_path / "transforms.json").read_text())["frames"]
    frames[1]["fl_x"], frames[1]["cx"] = 30.0, 15.0
    write_ngp(tmp_path, dataset, frames, scale=0.25, offset=[0.5, 0.4, 0.5], aabb_scale=4)
    moved = load_nerf_dataset(tmp_path)
    assert moved.aabb.scale == 4 and moved.aabb.cascades == 3 and moved.aabb.cone_angle == 1 / 256
    assert load_nerf_dataset(tmp_path, aabb_scale=1).aabb.scale == 1
    with pytest.raises(NgvkError, match="--aabb-scale: aabb_scale must be a power of two"):
        load_nerf_dataset(tmp_path, aabb_scale=3)
    write_ngp(tmp_path, dataset, frames, aabb_scale=6)
    with pytest.raises(NgvkError, match="transforms.json: aabb_scale must be a power of two from 1 to 128"):
        load_nerf_dataset(tmp_path)
    write_ngp(tmp_path, dataset, frames, scale=0.25, offset=[0.5, 0.4, 0.5], aabb_scale=4)
    position = np.array(frames[0]["transform_matrix"])[:3, 3]
    np.testing.assert_allclose(moved.cameras[0].position,
                               [position[0] * 0.25 + 0.5, position[2] * 0.25 + 0.4, -position[1] * 0.25 + 0.5])
    assert moved.cameras[1].fov_x == pytest.approx(math.degrees(2 * math.atan(SIDE / 60.0)))
    assert moved.cameras[1].principal_point[0] == pytest.approx(15.0 / 16.0 - 1.0)


def test_downscale_halves_images_and_focal_length(dataset):
    full, half = load_nerf_dataset(dataset, "val"), load_nerf_dataset(dataset, "val", downscale=2)
    assert half.images.shape == (2, SIDE // 2, SIDE // 2, 4) and (half.width, half.height) == (16, 16)
    for a, b in zip(full.cameras, half.cameras):
        focal = (lambda camera, side: side / 2 / math.tan(math.radians(camera.fov_x) / 2))
        assert focal(b, 16) == pytest.approx(focal(a, SIDE) / 2)
        assert b.principal_point == pytest.approx(a.principal_point)
    # Box-filtered: alpha is the block's mean; colour its mean premultiplied by alpha, in linear light.
    blocks = full.images.reshape(2, 16, 2, 16, 2, 4).astype(np.float64)
    alpha = blocks[..., 3].mean(axis=(2, 4))
    np.testing.assert_allclose(half.images[..., 3], alpha, atol=1e-6)
    premultiplied = (srgb_to_linear(blocks[..., :3]) * blocks[..., 3:]).mean(axis=(2, 4))
    covered = alpha > 0.2
    np.testing.assert_allclose(srgb_to_linear(half.images[..., :3])[covered] * alpha[covered][:, None],
                               premultiplied[covered], atol=2e-5)
    assert load_nerf_dataset(dataset, "val", downscale=3).images.shape == (2, 10, 10, 4)
    with pytest.raises(NgvkError, match="downscale"):
        load_nerf_dataset(dataset, "val", downscale=0)


# ---- bad datasets: one line naming the file and the frame -------------------------------------------


def _breakers():
    def matrix_of(scaled=1.0, column=None, row=None):
        def change(frames):
            m = np.array(frames[3]["transform_matrix"])
            m[:3, :3] *= scaled
            if column is not None:
                m[:3, column] *= -1
            if row is not None:
                m[3] = row
            frames[3]["transform_matrix"] = m.tolist()
        return change

    def frame_field(index, **values):
        def change(frames):
            frames[index].update(values)
        return change

    return {
        "missing image": (frame_field(2, file_path="train/nothing"), ["1 of 6 images are missing (train/nothing)",
                                                                      "--skip-missing", "other 5"]),
        "unreadable image": (frame_field(1, file_path="broken.png"), ["frame 1", "broken.png", "not an image"]),
        "scaled rotation": (matrix_of(scaled=1.01), ["frame 3", "not rigid"]),
        "reflection": (matrix_of(column=0), ["frame 3", "reflection"]),
        "last row": (matrix_of(row=[0, 0, 1, 1]), ["frame 3", "last row"]),
        "no matrix": (frame_field(4, transform_matrix=[1, 2, 3]), ["frame 4", "transform_matrix"]),
        "size against intrinsics": (frame_field(5, w=64), ["frame 5", "32x32", "w 64"]),
        "sizes differ": (frame_field(4, file_path="small.png"), ["frame 4", "small.png", "16x16", "frame 0"]),
        "no focal length": (frame_field(0), ["frame 0", "focal"]),
    }


@pytest.mark.parametrize("case", list(_breakers()))
def test_bad_frames_are_one_line_errors_naming_file_and_frame(dataset, tmp_path, case):
    change, words = _breakers()[case]
    (tmp_path / "broken.png").write_text("not a PNG")
    Image.new("RGBA", (16, 16)).save(tmp_path / "small.png")
    write_ngp(tmp_path, dataset)
    document = json.loads((tmp_path / "transforms.json").read_text())
    if case == "no focal length":
        for key in ("fl_x", "fl_y"):
            del document[key]
    change(document["frames"])
    (tmp_path / "transforms.json").write_text(json.dumps(document))
    with pytest.raises(NgvkError) as error:
        load_nerf_dataset(tmp_path)
    message = str(error.value)
    assert "\n" not in message and "transforms.json" in message
    for word in words:
        assert word in message, (case, message)


def test_bad_datasets_are_one_line_errors(dataset, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "invalid").mkdir()
    (tmp_path / "invalid" / "transforms.json").write_text("{not json")
    (tmp_path / "no_frames").mkdir()
    (tmp_path / "no_frames" / "transforms_train.json").write_text('{"camera_angle_x": 0.7, "frames": []}')
    cases = {
        "missing folder": (tmp_path / "nowhere", "train", ["nowhere", "does not exist"]),
        "no JSON": (tmp_path / "empty", "train", ["empty", "transforms_train.json", "transforms.json"]),
        "invalid JSON": (tmp_path / "invalid", "train", ["invalid/transforms.json", "not valid JSON"]),
        "empty split": (tmp_path / "no_frames", "train", ["transforms_train.json", "no frames"]),
        "missing split": (tmp_path / "no_frames", "val", ["no split 'val'", "train"]),
        "unknown split": (dataset, "holdout", ["no split 'holdout'", "train, val, test"]),
    }
    for case, (path, split, words) in cases.items():
        with pytest.raises(NgvkError) as error:
            load_nerf_dataset(path, split)
        message = str(error.value)
        assert "\n" not in message and all(word in message for word in words), (case, message)


# ---- real captures: lenses, missing images 

CAPTURE = {"fl_x": 7.0, "fl_y": 7.5, "cx": 4.2, "cy": 2.9, "w": 8, "h": 6}
OPENCV = {"k1": -0.21, "k2": 0.05, "k3": -0.004, "p1": 0.0012, "p2": -0.0007}
FISHEYE = {"is_fisheye": True, "k1": 0.03, "k2": -0.01, "k3": 0.002, "k4": -0.0004}


def write_capture(folder, frames: int = 3, missing=(), **fields):
    """A tiny instant-ngp capture: `frames` views of 8 x 6 random pixels (frame k at images/000k.png,
    those in `missing` left unwritten), near the scene, looking along the data's -z; `fields` at the
    file level."""
    (folder / "images").mkdir(parents=True)
    rng = np.random.default_rng(len(folder.name))
    listed = []
    for k in range(frames):
        name = f"images/{k:04d}.png"
        if k not in missing:
            Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).save(folder / name)
        matrix = np.eye(4)
        matrix[:3, 3] = [0.2 * k, 0.1, 1.2]
        listed.append({"file_path": name, "transform_matrix": matrix.tolist()})
    (folder / "transforms.json").write_text(json.dumps({**CAPTURE, **fields, "frames": listed}))
    return folder


def rewrite(folder, change) -> dict:
    document = json.loads((folder / "transforms.json").read_text())
    change(document)
    (folder / "transforms.json").write_text(json.dumps(document))
    return document


def test_lens_distortion_is_read_as_instant_ngp_reads_it(tmp_path):
    from ngvk.apps.nerf.data import data_to_scene
    from ngvk.engine.render.camera import Lens

    # File-level radial-tangential coefficients (k3 kept); frame 1 its own fisheye, frame 2 none.
    folder = write_capture(tmp_path / "lens", **OPENCV)
    document = rewrite(folder, lambda d: (d["frames"][1].update(FISHEYE, p1=0, p2=0),
                                          d["frames"][2].update({key: 0 for key in OPENCV})))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # distortion is modelled now: no warning
        views = load_nerf_dataset(folder)
    fisheye = {key: value for key, value in FISHEYE.items() if key != "is_fisheye"}
    lenses = [Lens("opencv", **OPENCV), Lens("fisheye", **fisheye), None]
    assert [camera.lens for camera in views.cameras] == lenses
    for frame, camera, lens in zip(document["frames"], views.cameras, lenses):
        pose = data_to_scene(frame["transform_matrix"])
        assert camera == Camera.from_pinhole(pose, 7.0, 7.5, 4.2, 2.9, 8, 6, lens)
    # End to end for the radial-tangential view: each pixel's ray, in the camera's OpenCV axes (x
    # right, y down, z forward) and distorted in closed form, lands on the pixel's centre.
    _, directions = views.cameras[0].rays(8, 6)
    local = directions @ data_to_scene(document["frames"][0]["transform_matrix"])[:3, :3]  # OpenGL: y up, z back
    x, y = local[:, 0] / -local[:, 2], -local[:, 1] / -local[:, 2]
    r2 = x * x + y * y
    radial = 1 + OPENCV["k1"] * r2 + OPENCV["k2"] * r2**2 + OPENCV["k3"] * r2**3
    xd = x * radial + 2 * OPENCV["p1"] * x * y + OPENCV["p2"] * (r2 + 2 * x * x)
    yd = y * radial + 2 * OPENCV["p2"] * x * y + OPENCV["p1"] * (r2 + 2 * y * y)
    u, v = np.meshgrid(np.arange(8) + 0.5, np.arange(6) + 0.5)
    np.testing.assert_allclose(xd, ((u - 4.2) / 7.0).ravel(), atol=1e-5)
    np.testing.assert_allclose(yd, ((v - 2.9) / 7.5).ravel(), atol=1e-5)
    # Normalised coordinates do not change with the image's size: a downscale keeps the lens.
    half = load_nerf_dataset(folder, downscale=2)
    for a, b in zip(views.cameras, half.cameras):
        assert b.lens == a.lens and b.principal_point == pytest.approx(a.principal_point)
    # Exporters' camera_model strings: fisheye or not from the name.
    for model, fields, expected in (("OPENCV_FISHEYE", {"k1": 0.02}, Lens("fisheye", k1=0.02)),
                                    ("SIMPLE_RADIAL", {"k1": 0.02}, Lens("opencv", k1=0.02)),
                                    ("PINHOLE", {"k1": 0}, None)):
        capture = write_capture(tmp_path / model, camera_model=model, **fields)
        assert all(camera.lens == expected for camera in load_nerf_dataset(capture).cameras), model


@pytest.mark.parametrize("fields,frame,words", [
    ({"camera_model": "EQUIRECTANGULAR"}, {},
     "transforms.json: camera model EQUIRECTANGULAR is not supported (supported: OPENCV, OPENCV_FISHEYE, PINHOLE"),
    ({}, {"camera_model": "FULL_OPENCV"}, "frame 1: camera model FULL_OPENCV is not supported"),
    ({"ftheta_p0": 1.0}, {}, "camera model FTHETA (ftheta_p0) is not supported"),
    ({}, {"latlong": True}, "frame 1: camera model LATLONG (latlong) is not supported"),
    ({"camera_model": "OPENCV_FISHEYE", "is_fisheye": False}, {}, "is_fisheye false contradicts camera model"),
    ({"camera_model": "PINHOLE", "k1": 0.1}, {}, "camera model PINHOLE has no distortion, but k1 is 0.1"),
    ({"is_fisheye": "yes"}, {}, "is_fisheye must be true or false"),
    ({"k4": 0.1}, {}, "k4 (0.1) belongs to the fisheye model"),
    ({"is_fisheye": True, "p1": 0.01}, {}, "p1, p2 (0.01, 0) belong to the opencv model"),
    ({}, {"k1": "0.1"}, "frame 1: k1 must be a number"),
    ({"aabb_scale": 3}, {}, "aabb_scale must be a power of two from 1 to 128, not 3"),
    ({"aabb_scale": 256}, {}, "aabb_scale must be a power of two from 1 to 128, not 256"),
])
def test_unmodelled_cameras_and_bad_lenses_are_one_line_errors(tmp_path, fields, frame, words):
    folder = write_capture(tmp_path / "capture", **fields)
    rewrite(folder, lambda d: d["frames"][1].update(frame))
    with pytest.raises(NgvkError) as error:
        load_nerf_dataset(folder)
    message = str(error.value)
    assert "\n" not in message and words in message, message


def test_missing_images_are_named_and_can_be_skipped(tmp_path, capsys):
    from ngvk.apps import cli

    folder = write_capture(tmp_path / "partial", frames=9, missing=(1, 2, 5), **OPENCV)
    json_path = folder / "transforms.json"
    with pytest.raises(NgvkError) as error:
        load_nerf_dataset(folder)
    assert str(error.value) == (f"{json_path}: 3 of 9 images are missing (images/0001.png, images/0002.png, "
                                "images/0005.png); pass --skip-missing to train on the other 6")
    with pytest.warns(UserWarning, match="skipped 3 of 9 views of split 'train'"):
        views = load_nerf_dataset(folder, skip_missing=True)
    assert [f[-8:] for f in views.files] == [f"{k:04d}.png" for k in (0, 3, 4, 6, 7, 8)]
    assert len(views.cameras) == len(views.images) == 6
    # Many missing: five named, the rest counted; none left: nothing to skip to.
    many = write_capture(tmp_path / "many", frames=9, missing=range(1, 8))
    with pytest.raises(NgvkError, match=r"7 of 9 images are missing \(images/0001.png, .*images/0005.png, …\); "
                                        r"pass --skip-missing to train on the other 2"):
        load_nerf_dataset(many)
    gone = write_capture(tmp_path / "gone", frames=2, missing=(0, 1))
    with pytest.raises(NgvkError, match="all 2 images of split 'train' are missing"):
        load_nerf_dataset(gone, skip_missing=True)
    # The command line: fit and eval stop, or with --skip-missing go on (eval renders the views left
    # of the test split, through their lens).
    model = cli.get_app("nerf").default_model_path()
    assert cli.main(["fit", "nerf", str(folder), "--out", str(tmp_path / "m.npz")]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "pass --skip-missing" in error
    assert cli.main(["eval", "nerf", "--model", str(model), str(many), "--skip-missing"]) == 0
    captured = capsys.readouterr()
    assert "ngvk: warning:" in captured.err and "skipped 7 of 9 views of split 'train'" in captured.err
    assert "PSNR" in captured.out


# ---- the app and the command line ---------------------------------------------------------------------


def test_dataset_command(dataset, tmp_path, capsys):
    from ngvk.apps import cli

    assert "tabletop" in cli.get_app("nerf").datasets
    out = tmp_path / "written"
    assert cli.main(["dataset", "nerf", "tabletop", "--out", str(out), "--views", "2", "--resolution", "8"]) == 0
    assert "written to" in capsys.readouterr().out and dataset_splits(out) == ["train", "val", "test"]
    assert len(cli.get_app("nerf").load_data(str(out)).cameras) == 2
    held = tmp_path / "held"
    assert cli.main(["dataset", "nerf", "spheres", "--out", str(held), "--views", "3", "--resolution", "8",
                     "--held-out", "1"]) == 0
    assert "3 train, 1 val and 1 test views" in capsys.readouterr().out
    assert [len(json.loads((held / f"transforms_{split}.json").read_text())["frames"]) for split in
            ("train", "val", "test")] == [3, 1, 1]
    cases = {
        "an app without datasets": (["image", "anything", "--out", str(tmp_path / "a")], "no dataset generator"),
        "an unknown name": (["nerf", "lego", "--out", str(tmp_path / "b")], "tabletop"),
        "a non-empty --out": (["nerf", "tabletop", "--out", str(dataset)], "not an empty folder"),
        "no parent folder": (["nerf", "tabletop", "--out", str(tmp_path / "x" / "y")], "does not exist"),
        "too few pixels": (["nerf", "tabletop", "--out", str(tmp_path / "c"), "--resolution", "4"], "--resolution"),
        "no held-out views": (["nerf", "tabletop", "--out", str(tmp_path / "d"), "--held-out", "0"], "--held-out"),
    }
    before = sorted(dataset.rglob("*"))
    for case, (args, words) in cases.items():
        assert cli.main(["dataset", *args]) == 1, case
        error = capsys.readouterr().err
        assert error.startswith("ngvk: error:") and error.count("\n") == 1 and words in error, (case, error)
    assert sorted(dataset.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["held", "written"]


def test_interrupted_writing_leaves_nothing(tmp_path):
    def interrupt(done, total):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scene.write_dataset("tabletop", tmp_path / "out", views=4, resolution=8, progress=interrupt)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "out").mkdir()  # an empty folder is taken
    scene.write_dataset("tabletop", tmp_path / "out", views=2, resolution=8)
    assert dataset_splits(tmp_path / "out") == ["train", "val", "test"]
    shutil.rmtree(tmp_path / "out")
