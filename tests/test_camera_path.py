"""Camera paths (engine/render/camera_path.py): the spline against hand-computed values, both file
formats both ways, instant-ngp's world against its own conversion, and bad files."""

import json
import math

import numpy as np
import pytest

from ngvk.engine.errors import NgvkError
from ngvk.engine.render.camera import Camera
from ngvk.engine.render.camera_path import (CameraPath, Keyframe, from_instant_ngp, load_path, save_path,
                                            to_instant_ngp, to_nerfstudio)

CENTRE = np.array([0.5, 0.5, 0.5])


def orbit(angle_degrees, height=0.5, radius=1.5, fov=45.0):
    a = math.radians(angle_degrees)
    return Camera(position=(0.5 + radius * math.sin(a), height, 0.5 + radius * math.cos(a)), look_at=(0.5, height, 0.5),
                  fov_y=fov)


def close(a: Camera, b: Camera, tolerance=1e-9):
    for x, y in ((a.position, b.position), (a.look_at, b.look_at), (a.up, b.up)):
        np.testing.assert_allclose(x, y, rtol=0, atol=tolerance)
    assert abs(a.fov_y - b.fov_y) < tolerance and a.orthographic_height == b.orthographic_height or \
        abs(a.orthographic_height - b.orthographic_height) < tolerance


def test_the_path_passes_through_its_keyframes_and_ends_on_them():
    path = CameraPath([Keyframe(orbit(0), 0.0), Keyframe(orbit(40, 0.8), 0.5), Keyframe(orbit(100, 0.2, 2.0), 2.0)],
                      fps=10)
    cameras = path.cameras()
    assert len(cameras) == 21  # 2 s at 10 fps, both ends
    assert cameras[0] == path.keyframes[0].camera and cameras[-1] == path.keyframes[-1].camera  # exactly
    assert path.at(0.5) == path.keyframes[1].camera
    close(path.at(0.5 - 1e-12), path.keyframes[1].camera, 1e-9)


def test_positions_follow_catmull_rom_by_hand():
    # Uniform times and a fixed orientation: the pyramid is the textbook uniform Catmull-Rom,
    # p(u) = 0.5 (2 p1 + (p2 - p0) u + (2 p0 - 5 p1 + 4 p2 - p3) u^2 + (3 p1 - p0 - 3 p2 + p3) u^3).
    points = [np.array(p) for p in ([0.0, 0.0, 2.0], [1.0, 0.5, 2.0], [1.5, 1.5, 2.0], [3.0, 1.0, 2.0])]
    keyframes = [Keyframe(Camera(position=tuple(p), look_at=tuple(p - [0, 0, 1])), float(i))
                 for i, p in enumerate(points)]
    path = CameraPath(keyframes)
    p0, p1, p2, p3 = points
    for u in (0.1, 0.3, 0.75):
        expected = 0.5 * (2 * p1 + (p2 - p0) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u ** 2
                          + (3 * p1 - p0 - 3 * p2 + p3) * u ** 3)
        got = path.at(1.0 + u)
        np.testing.assert_allclose(got.position, expected, rtol=0, atol=1e-12)
        np.testing.assert_allclose(np.subtract(got.look_at, got.position), [0, 0, -1], atol=1e-12)  # kept
    # At an end the first keyframe repeats: the first segment's tangent is (p1 - p0) / 2 per unit.
    h = 1e-6
    np.testing.assert_allclose((np.array(path.at(h).position) - p0) / h, (p1 - p0) / 2, atol=1e-5)


def test_velocity_is_continuous_across_unevenly_spaced_keyframes():
    path = CameraPath([Keyframe(orbit(0), 0.0), Keyframe(orbit(30, 0.7), 0.4), Keyframe(orbit(90, 0.3), 1.9),
                       Keyframe(orbit(120), 2.2)])
    h = 1e-5
    for k in path.keyframes[1:-1]:
        before = (np.array(path.at(k.time).position) - path.at(k.time - h).position) / h
        after = (np.array(path.at(k.time + h).position) - path.at(k.time).position) / h
        np.testing.assert_allclose(before, after, rtol=0, atol=1e-3 * np.abs(before).max())


def test_orientations_turn_steadily_along_a_steady_turn():
    # Keyframes 30 degrees apart around the scene at a steady rate: every level of the pyramid stays
    # on that great circle, so halfway is 15 degrees and the view still meets the centre.
    path = CameraPath([Keyframe(orbit(30 * i), float(i)) for i in range(4)])
    camera = path.at(1.5)
    right, up, forward = camera.basis()
    expected = CENTRE - orbit(45).position
    np.testing.assert_allclose(forward, expected / np.linalg.norm(expected), atol=1e-9)
    np.testing.assert_allclose(up, [0, 1, 0], atol=1e-9)


def test_orthographic_heights_zoom_steadily():
    # Heights doubling from keyframe to keyframe: in log space a straight line, which the spline keeps
    # away from the ends (where the end keyframe repeats).
    cameras = [Camera(position=(0, 0, 1), look_at=(0, 0, 0), orthographic_height=h) for h in (1.0, 2.0, 4.0, 8.0)]
    path = CameraPath([Keyframe(c, float(i)) for i, c in enumerate(cameras)])
    assert path.at(1.5).orthographic_height == pytest.approx(math.sqrt(8), abs=1e-12)


def test_instant_ngp_files_both_ways(tmp_path):
    path = CameraPath([Keyframe(orbit(0), 0.0), Keyframe(orbit(50, 0.9, fov=60), 1.5), Keyframe(orbit(80), 2.0)], 24)
    save_path(path, tmp_path / "p.json")
    data = json.loads((tmp_path / "p.json").read_text())
    assert [k["timestamp"] for k in data["path"]][:2] == [1.5, 2.0] and data["duration_seconds"] == 2.0
    back = load_path(tmp_path / "p.json")
    assert back.fps == 24 and [k.time for k in back.keyframes] == [0.0, 1.5, 2.0]
    assert [k.camera for k in back.keyframes] == [k.camera for k in path.keyframes]  # exact through "ngvk"
    for entry in data["path"]:
        del entry["ngvk"]  # as instant-ngp writes it: R, T and fov only
    plain = from_instant_ngp(data, "plain")
    for a, b in zip(plain.keyframes, path.keyframes):
        assert a.time == pytest.approx(b.time, abs=1e-12)
        assert np.allclose(a.camera.basis(), b.camera.basis(), atol=1e-9)
        np.testing.assert_allclose(a.camera.position, b.camera.position, atol=1e-12)
        assert a.camera.fov_y == pytest.approx(b.camera.fov_y)


def test_instant_ngp_world_is_its_loaders():
    # A transforms.json camera through instant-ngp's nerf_matrix_to_ngp (written out here from
    # src/nerf_loader.h: columns 1 and 2 negated, position scaled by 0.33 and moved by 0.5, then the
    # rows cycled xyz <- yzx), saved as a keyframe, is the camera ngvk's NeRF loader makes of it.
    from ngvk.apps.nerf.data import data_to_scene

    a = math.radians(35)
    matrix = np.eye(4)
    matrix[:3, :3] = [[math.cos(a), 0, math.sin(a)], [math.sin(a), 0, -math.cos(a)], [0, 1, 0]]
    matrix[:3, 3] = [1.2, -0.4, 0.9]
    ngp = matrix[:3].copy()
    ngp[:, 1:3] *= -1
    ngp[:, 3] = ngp[:, 3] * 0.33 + 0.5
    ngp = ngp[[1, 2, 0]]
    from ngvk.engine.render.camera_path import matrix_to_quaternion

    entry = {"R": matrix_to_quaternion(ngp[:, :3]).tolist(), "T": ngp[:, 3].tolist(), "fov": 40.0, "timestamp": 1.0}
    camera = from_instant_ngp({"path": [entry]}, "one").keyframes[0].camera
    expected = Camera.from_pinhole(data_to_scene(matrix), 100, 100, 50, 50, 100, 100)
    np.testing.assert_allclose(camera.position, expected.position, atol=1e-12)
    assert np.allclose(camera.basis(), expected.basis(), atol=1e-12)


def test_nerfstudio_files_both_ways(tmp_path):
    path = CameraPath([Keyframe(orbit(0), 0.0), Keyframe(orbit(60, 0.8), 1.0)], fps=8)
    save_path(path, tmp_path / "ns.json", "nerfstudio", 64, 48)
    data = json.loads((tmp_path / "ns.json").read_text())
    assert len(data["camera_path"]) == 9 and data["render_width"] == 64 and data["fps"] == 8
    assert data["camera_path"][0]["aspect"] == pytest.approx(64 / 48)
    for entry in data["camera_path"]:
        del entry["ngvk"]  # as nerfstudio writes it
    (tmp_path / "plain.json").write_text(json.dumps(data))
    back = load_path(tmp_path / "plain.json")
    assert back.frame_count() == 9
    for a, b in zip(back.cameras(), path.cameras()):
        np.testing.assert_allclose(a.position, b.position, atol=1e-12)
        assert np.allclose(a.basis(), b.basis(), atol=1e-9) and a.fov_y == pytest.approx(b.fov_y)


def test_instant_ngp_timestamps_spaced_evenly_when_they_do_not_increase():
    entry = {"R": [0, 0, 0, 1], "T": [0.5, 0.5, 2.0], "fov": 45.0, "timestamp": 0.0}
    path = from_instant_ngp({"path": [entry, dict(entry, T=[0.6, 0.5, 2.0]), dict(entry, T=[0.7, 0.5, 2.0])],
                             "duration_seconds": 4.0}, "even")
    assert [k.time for k in path.keyframes] == [0.0, 2.0, 4.0]


@pytest.mark.parametrize("content, message", [
    ({"path": []}, "no keyframes"),
    ({"camera_path": []}, "no keyframes"),
    ({"frames": []}, "not a camera path"),
    ({"path": [{"R": [0, 0, 0, 2], "T": [0, 0, 1], "fov": 45}]}, "not a unit quaternion"),
    ({"path": [{"R": [0, 0, 0, 1], "T": [0, float("nan"), 1], "fov": 45}]}, "finite"),
    ({"path": [{"R": [0, 0, 0, 1], "T": [0, 0], "fov": 45}]}, "list of 3"),
    ({"path": [{"T": [0, 0, 1], "fov": 45}]}, "no \"R\""),
    ({"camera_path": [{"camera_to_world": [2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], "fov": 50}]},
     "orthonormal"),
    ({"camera_path": [{"camera_to_world": [1] * 16}], "fps": 30}, "no camera_to_world and fov"),
    ({"camera_path": [], "fps": -1}, "positive"),
    ([1, 2], "not a camera path"),
])
def test_bad_path_files_are_one_line_errors(tmp_path, content, message):
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(content))
    with pytest.raises(NgvkError, match=message) as error:
        load_path(file)
    assert "\n" not in str(error.value) and str(file) in str(error.value)


def test_a_nearly_unit_quaternion_is_normalised_with_a_warning(tmp_path):
    file = tmp_path / "near.json"
    file.write_text(json.dumps({"path": [{"R": [0, 0, 0, 1.0002], "T": [0.5, 0.5, 2], "fov": 45}]}))
    warnings = []
    path = load_path(file, warnings.append)
    assert len(warnings) == 1 and "normalised" in warnings[0]
    np.testing.assert_allclose(path.keyframes[0].camera.up, [0, -1, 0], atol=1e-12)  # instant-ngp's y is down


def test_to_formats_keep_every_keyframe():
    path = CameraPath([Keyframe(orbit(0), 0.0)])
    assert len(to_instant_ngp(path)["path"]) == 1 and len(to_nerfstudio(path, 4, 4)["camera_path"]) == 1


def test_extras_are_linear_between_keyframes_and_kept_by_both_formats(tmp_path):
    path = CameraPath([Keyframe(orbit(0), 0.0, {"spp": 1.0}), Keyframe(orbit(40), 1.0, {"spp": 5.0}),
                       Keyframe(orbit(80), 3.0, {"spp": 5.0})], fps=2)
    assert path.extras_at(0.25) == {"spp": 2.0} and path.extras_at(2.0) == {"spp": 5.0}
    assert path.extras_at(-1.0) == {"spp": 1.0} and path.extras_at(9.0) == {"spp": 5.0}
    assert [e["spp"] for e in path.frame_extras()] == [1.0, 3.0, 5.0, 5.0, 5.0, 5.0, 5.0]
    save_path(path, tmp_path / "ngp.json")
    assert [k.extras for k in load_path(tmp_path / "ngp.json").keyframes] == [k.extras for k in path.keyframes]
    save_path(path, tmp_path / "ns.json", "nerfstudio", 8, 8)
    assert load_path(tmp_path / "ns.json").frame_extras() == path.frame_extras()
    path.add(orbit(90))
    assert path.keyframes[-1].extras == {"spp": 5.0}  # a keyframe added keeps the extras going
    with pytest.raises(NgvkError, match="in every keyframe"):
        CameraPath([Keyframe(orbit(0), 0.0, {"spp": 1.0}), Keyframe(orbit(40), 1.0)])
    with pytest.raises(NgvkError, match="finite"):
        CameraPath([Keyframe(orbit(0), 0.0, {"spp": float("nan")})])
