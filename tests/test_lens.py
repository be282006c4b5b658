"""Lens distortion: engine/render/camera.py Lens and the rays of a camera with one (Camera.rays(), the
specification) against OpenCV's closed-form distortion written out here; camera files with a lens;
lib/camera.glsl's rays of lens cameras on the device against Camera.rays(), from a camera array
(training rays) and from the push constants with the CAMERA_LENS buffer (frames)."""

import json
from dataclasses import replace

import numpy as np
import pytest

from ngvk.engine.errors import NgvkError
from ngvk.engine.render.camera import CAMERA_ARRAY_VEC4S, Camera, Lens, camera_array, load_camera

# Calibrations of the kinds real captures have: strong barrel with k3 and a little tangential
# distortion (an action camera), mild pincushion, and a fisheye.
LENSES = {
    "opencv barrel": Lens("opencv", k1=-0.28, k2=0.09, k3=-0.012, p1=0.0011, p2=-0.0008),
    "opencv pincushion": Lens("opencv", k1=0.12, k2=0.03, k3=0.01, p1=-0.004, p2=0.006),
    "fisheye": Lens("fisheye", k1=0.06, k2=-0.012, k3=0.004, k4=-0.0007),
}
WIDTH, HEIGHT, FX, FY, CX, CY = 40, 30, 24.0, 25.0, 20.3, 14.6  # normalised corners at about (+-0.83, +-0.6)
# Directions of the float32 kernels against the float64 Newton of Camera.rays(): measured at most
# 2.4e-6 (fisheye, its float32 atan and theta powers) and 3e-7 (opencv) on lavapipe; a wrong sign or
# a coefficient in the wrong place moves them by 1e-3 and more. Origins are the pinhole's, exactly.
GPU_TOLERANCE = 1e-5


def opencv_distort(lens: Lens, x, y):
    """OpenCV's distortion of normalised points (x right, y down), in closed form."""
    if lens.model == "fisheye":  # cv::fisheye: theta_d = theta (1 + k1 theta^2 + ... + k4 theta^8)
        r = np.hypot(x, y)
        theta = np.arctan(r)
        theta_d = theta * (1 + lens.k1 * theta**2 + lens.k2 * theta**4 + lens.k3 * theta**6 + lens.k4 * theta**8)
        return x * theta_d / r, y * theta_d / r
    r2 = x * x + y * y
    radial = 1 + lens.k1 * r2 + lens.k2 * r2**2 + lens.k3 * r2**3
    return (x * radial + 2 * lens.p1 * x * y + lens.p2 * (r2 + 2 * x * x),
            y * radial + 2 * lens.p2 * x * y + lens.p1 * (r2 + 2 * y * y))


POSE = np.eye(4)  # camera axes = world axes: right x, up y, looking along -z
POSE[:3, 3] = [0.2, 0.4, 1.7]


@pytest.mark.parametrize("name", list(LENSES))
def test_rays_go_through_the_undistorted_points(name):
    # Known undistorted points, distorted in closed form: each lands in some pixel of the frame;
    # the camera shifted by under half a pixel puts that pixel's centre exactly on it, and its ray
    # must go through the known point. The points reach into the frame's corners.
    lens = LENSES[name]
    xs, ys = np.meshgrid(np.linspace(-1.3, 1.3, 36), np.linspace(-1.0, 1.0, 28))
    xd, yd = opencv_distort(lens, xs.ravel(), ys.ravel())
    u, v = np.floor(xd * FX + CX), np.floor(yd * FY + CY)  # the pixel each lands in
    inside = (u >= 0) & (u < WIDTH) & (v >= 0) & (v < HEIGHT)
    corner = (np.minimum(u, WIDTH - 1 - u) < 3) & (np.minimum(v, HEIGHT - 1 - v) < 3)
    assert inside.sum() > 150 and (inside & corner).sum() >= 4, "the points must cover the frame and its corners"
    points = zip(xs.ravel()[inside], ys.ravel()[inside], xd[inside], yd[inside], u[inside], v[inside])
    for x, y, xd_, yd_, u_, v_ in points:
        cx, cy = u_ + 0.5 - xd_ * FX, v_ + 0.5 - yd_ * FY
        camera = Camera.from_pinhole(POSE, FX, FY, cx, cy, WIDTH, HEIGHT, lens)
        origins, directions = camera.rays(WIDTH, HEIGHT, [int(v_) * WIDTH + int(u_)])
        expected = np.array([x, -y, -1.0]) / np.linalg.norm([x, y, 1.0])  # y down in the lens's coordinates
        np.testing.assert_allclose(directions[0], expected, atol=1e-6, err_msg=f"{name} at ({x}, {y})")
        np.testing.assert_allclose(origins[0], POSE[:3, 3], atol=1e-6)


def test_lens_without_distortion_is_the_pinhole_and_zero_blocks():
    pinhole = Camera.from_pinhole(POSE, FX, FY, CX, CY, WIDTH, HEIGHT)
    for lens in (None, Lens("opencv"), Lens("fisheye")):
        camera = Camera.from_pinhole(POSE, FX, FY, CX, CY, WIDTH, HEIGHT, lens)
        for got, want in zip(camera.rays(WIDTH, HEIGHT), pinhole.rays(WIDTH, HEIGHT)):
            assert np.array_equal(got, want)
        assert not camera.lens_block(WIDTH, HEIGHT).any()
    fisheye = Camera.from_pinhole(POSE, FX, FY, CX, CY, WIDTH, HEIGHT, LENSES["fisheye"])
    blocks = camera_array([(pinhole, WIDTH, HEIGHT), (fisheye, WIDTH, HEIGHT)])
    assert blocks.shape == (2, CAMERA_ARRAY_VEC4S, 4) and not blocks[0, 5:].any()
    assert blocks[1, 6, 2] == 2  # the lens mode: fisheye
    # The lens moves rays most at the corners: several degrees here.
    distorted = Camera.from_pinhole(POSE, FX, FY, CX, CY, WIDTH, HEIGHT, LENSES["opencv barrel"])
    angle = np.degrees(np.arccos(np.clip(np.sum(distorted.rays(WIDTH, HEIGHT)[1] * pinhole.rays(WIDTH, HEIGHT)[1],
                                                axis=1), -1, 1)))
    assert angle.max() > 3 and angle.reshape(HEIGHT, WIDTH)[HEIGHT // 2, WIDTH // 2] < 0.1


def test_camera_files_keep_the_lens(tmp_path):
    for lens in LENSES.values():
        camera = Camera.from_pinhole(POSE, FX, FY, CX, CY, WIDTH, HEIGHT, lens)
        camera.save(tmp_path / "camera.json")
        assert json.loads((tmp_path / "camera.json").read_text())["lens"]["model"] == lens.model
        assert load_camera(tmp_path / "camera.json") == camera
    bad = {
        "unknown model": ({"model": "kannala"}, "model must be one of opencv, fisheye"),
        "not a number": ({"k1": "0.1"}, "k1 must be a finite number"),
        "not finite": ({"k2": float("inf")}, "k2 must be a finite number"),
        "k4 on opencv": ({"model": "opencv", "k4": 0.1}, "k4"),
        "p1 on fisheye": ({"model": "fisheye", "p1": 0.1}, "p1, p2"),
        "unknown field": ({"k5": 0.1}, "unknown fields ['k5']"),
        "not an object": ([0.1, 0.2], "lens must be an object"),
        "orthographic": ({"k1": 0.1}, "a lens is for perspective cameras"),
    }
    for case, (lens, words) in bad.items():
        data = {"position": [0, 0, 1], "lens": lens}
        if case == "orthographic":
            data["orthographic_height"] = 1.0
        (tmp_path / "bad.json").write_text(json.dumps(data).replace("Infinity", "1e999"))
        with pytest.raises(NgvkError) as error:
            load_camera(tmp_path / "bad.json")
        message = str(error.value)
        assert "\n" not in message and "bad.json" in message and words in message, (case, message)


# ---- on the device -------------------------------------------------------------------------------


ARRAY_SHADER = """#version 460
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "lib/common.glsl"
layout(std430, binding = 0) readonly buffer Cameras { vec4 cameras[]; };
layout(std430, binding = 1) readonly buffer Samples { uvec2 samples[]; };  // (camera, pixel)
layout(std430, binding = 2) writeonly buffer Rays { float rays[]; };       // origin, direction
layout(push_constant) uniform Push { uint n; };
#define CAMERA_ARRAY cameras
#include "lib/camera.glsl"
void main() {
    uint i = global_index();
    if (i >= n) return;
    vec3 origin, direction;
    camera_ray_indexed(samples[i].x, 1u, samples[i].y, origin, direction);
    for (int k = 0; k < 3; ++k) { rays[6 * i + k] = origin[k]; rays[6 * i + 3 + k] = direction[k]; }
}
"""

FRAME_SHADER = """#version 460
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "lib/common.glsl"
#include "lib/frame_push.glsl"
layout(std430, binding = 0) readonly buffer Lens { vec4 lens[]; };
layout(std430, binding = 1) writeonly buffer Rays { float rays[]; };  // origin, direction
layout(push_constant) uniform Push { CAMERA_PUSH_CONSTANTS uint n; };
#define CAMERA_LENS lens
#include "lib/camera.glsl"
void main() {
    uint i = global_index();
    if (i >= n) return;
    vec3 origin, direction;
    camera_ray(i, origin, direction);
    for (int k = 0; k < 3; ++k) { rays[6 * i + k] = origin[k]; rays[6 * i + 3 + k] = direction[k]; }
}
"""


def device_views():
    """(camera, width, height): each lens on a pinhole of its own size and pose, a look-at camera
    with a lens (no principal point, no fov_x), and a pinhole among them."""
    turned = np.array([[0, 0, 1, 1.8], [0, 1, 0, 0.6], [-1, 0, 0, 0.4], [0, 0, 0, 1]], np.float64)
    views = [(Camera.from_pinhole(POSE if k % 2 else turned, FX + 3 * k, FY, CX - k, CY + k, WIDTH + k, HEIGHT, lens),
              WIDTH + k, HEIGHT) for k, lens in enumerate(LENSES.values())]
    views.append((Camera((0.5, 0.5, 2.5), (0.5, 0.5, 0.5), (0.0, 1.0, 0.0), fov_y=50.0,
                         lens=LENSES["opencv barrel"]), 17, 13))
    views.append((Camera.from_pinhole(turned, 30.0, 34.0, 9.0, 15.5, 25, 22), 25, 22))
    return views


def test_device_rays_of_lens_cameras(device, tmp_path):
    from ngvk.engine.nn.layers import run_kernel

    views = device_views()
    (tmp_path / "array.comp").write_text(ARRAY_SHADER)
    (tmp_path / "frame.comp").write_text(FRAME_SHADER)
    array_kernel = device.kernel(str(tmp_path / "array.comp"))
    frame_kernel = device.kernel(str(tmp_path / "frame.comp"))
    # Training rays: every pixel of every view from one camera array.
    cams = np.concatenate([np.full(w * h, c) for c, (_, w, h) in enumerate(views)])
    pixels = np.concatenate([np.arange(w * h) for _, w, h in views])
    n = len(cams)
    with device.buffer_from(camera_array(views), "cameras") as cameras, \
            device.buffer_from(np.stack([cams, pixels], 1).astype(np.uint32), "samples") as samples:
        rays = run_kernel(device, array_kernel, n, {"cameras": cameras, "samples": samples}, {"rays": (n, 6)})["rays"]
    for c, (camera, width, height) in enumerate(views):
        origins, directions = camera.rays(width, height)
        np.testing.assert_allclose(rays[cams == c, :3], origins, atol=GPU_TOLERANCE)
        np.testing.assert_allclose(rays[cams == c, 3:], directions, atol=GPU_TOLERANCE, err_msg=f"view {c}")
        # A frame: the camera from the push constants, its lens from the CAMERA_LENS buffer; the
        # same function as the array's, so the same rays bit for bit.
        frame = run_kernel(device, frame_kernel, width * height, {"lens": camera.lens_block(width, height)},
                           {"rays": (width * height, 6)}, camera.push_constants(width, height))["rays"]
        assert np.array_equal(frame, rays[cams == c]), f"view {c}"


def test_renderers_without_lenses_refuse_a_lens(device):
    # Only the NeRF app's kernels read a lens; another app drawing the camera as a pinhole would be
    # wrong without saying so.
    from ngvk.apps import get_app

    app = get_app("image")
    renderer = app.renderer(device, app.load_model())
    camera = Camera((0.0, 0.0, 1.5), (0.0, 0.0, 0.0), fov_y=40.0)
    try:
        assert renderer.render(camera, 8, 8).pixels.shape == (8, 8, 4)
        assert renderer.render(replace(camera, lens=Lens("fisheye")), 8, 8).pixels.shape == (8, 8, 4)  # no distortion
        with pytest.raises(NgvkError, match="pinhole cameras only"):
            renderer.render(replace(camera, lens=LENSES["fisheye"]), 8, 8)
    finally:
        renderer.close()
