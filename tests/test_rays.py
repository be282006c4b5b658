"""The engine's ray-marching primitives on the device: counters, stream compaction of live items and
indirect dispatch over what is left, iteration after iteration without reading back."""

import numpy as np
import pytest

from ngvk.engine.render.rays import GROUP_SIZE, compact_reference, counter, record_compact, record_dispatch_args

# A stand-in for an iterative renderer's stage: every live ray adds one to its count of visits and
# says whether it lives on (keep[ray], one flag per ray for this iteration), by its place in the list.
VISIT_SHADER = """#version 460
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "lib/common.glsl"
layout(std430, binding = 0) readonly buffer Count { uint count[]; };
layout(std430, binding = 1) readonly buffer Indices { uint indices[]; };
layout(std430, binding = 2) readonly buffer Keep { uint keep[]; };
layout(std430, binding = 3) buffer Visits { uint visits[]; };
layout(std430, binding = 4) writeonly buffer Alive { uint alive[]; };
void main() {
    uint i = global_index();
    if (i >= count[0]) return;
    uint ray = indices[i];
    visits[ray] += 1u;
    alive[i] = keep[ray];
}
"""


def test_compaction_and_indirect_dispatch_over_iterations(device, rng, tmp_path):
    n, iterations = 1029, 4
    (tmp_path / "visit.comp").write_text(VISIT_SHADER)
    visit = device.kernel(str(tmp_path / "visit.comp"))
    assert visit.local_size == GROUP_SIZE
    keep = [(rng.random(n) < 0.6).astype(np.uint32) for _ in range(iterations)]
    lists = [device.buffer_from(np.arange(n, dtype=np.uint32), "indices_a"), device.buffer(n * 4, "indices_b")]
    counters = [counter(device, "count_a", n), counter(device, "count_b")]
    keep_buffers = [device.buffer_from(k, f"keep_{i}") for i, k in enumerate(keep)]
    visits = device.buffer_from(np.zeros(n, np.uint32), "visits")
    alive = device.buffer(n * 4, "alive")
    try:
        with device.sequence() as sequence:
            record_dispatch_args(sequence, device, counters[0])
            for k in range(iterations):
                now, then = k % 2, 1 - k % 2
                buffers = {"count": counters[now], "indices": lists[now], "keep": keep_buffers[k], "visits": visits,
                           "alive": alive}
                sequence.dispatch(visit, buffers=buffers, indirect=counters[now])
                record_compact(sequence, device, alive, lists[now], counters[now], lists[then], counters[then])
            sequence.run()
        # The reference on the host: the rays live while their flags say so.
        expected_visits = np.zeros(n, np.uint32)
        live = np.arange(n, dtype=np.uint32)
        for k in range(iterations):
            expected_visits[live] += 1
            live = compact_reference(keep[k][live], live)
        np.testing.assert_array_equal(visits.download(np.uint32, (n,)), expected_visits)
        final = counters[iterations % 2].download(np.uint32, (4,))
        assert final[0] == len(live) and tuple(final[1:]) == (-(-len(live) // GROUP_SIZE), 1, 1)
        np.testing.assert_array_equal(np.sort(lists[iterations % 2].download(np.uint32, (final[0],))), live)
    finally:
        for buffer in lists + counters + keep_buffers + [visits, alive]:
            buffer.close()


@pytest.mark.parametrize("count,expected,batched", [(0, (0, 1, 1), (0, 1, 1)), (1, (1, 1, 1), (1, 1, 1)),
                                                    (640, (10, 1, 1), (4, 1, 1)), (641, (10, 2, 1), (4, 1, 1)),
                                                    (64 * 25, (10, 3, 1), (9, 1, 1)),
                                                    (64 * 3 * 41, (10, 13, 1), (10, 5, 1))])
def test_dispatch_args_fold_like_kernel_groups(device, count, expected, batched):
    # Beyond max_groups_x workgroups the grid folds into 2D, as Kernel.groups() does (10 here, so
    # that the fold shows with small counts); the batched arguments are for 3 items per invocation.
    kernel = device.kernel("render/dispatch_args.comp", local_size=1)
    with device.buffer_from(np.array([count, 7, 7, 7, 7, 7, 7, 7], np.uint32), "count") as buffer:
        with device.sequence() as sequence:
            sequence.dispatch(kernel, buffers={"count": buffer},
                              push={"group_size": 64, "items": 3, "max_groups_x": 10}, groups=(1, 1, 1))
            sequence.run()
        words = buffer.download(np.uint32, (8,))
        assert tuple(words[1:4]) == expected and words[4] == 3 and tuple(words[5:]) == batched


CAMERA_SHADER = """#version 460
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


def test_rays_of_many_cameras_from_a_buffer(device, rng, tmp_path):
    # Training rays: random pixels of views of different sizes, perspective and orthographic, and a
    # dataset's pinhole camera (its principal point off centre makes camera_forward not unit length).
    from ngvk.engine.nn.layers import run_kernel
    from ngvk.engine.render.camera import Camera, camera_array

    views = [
        (Camera((0.5, 0.5, 2.5), (0.5, 0.5, 0.5), (0.0, 1.0, 0.0), fov_y=40.0), 64, 48),
        (Camera((2.0, 1.0, 0.2), (0.5, 0.4, 0.5), (0.0, 1.0, 0.0), fov_y=70.0), 31, 17),
        (Camera((0.5, 3.0, 0.5), (0.5, 0.0, 0.5), (0.0, 0.0, 1.0), orthographic_height=1.2), 20, 20),
        (Camera.from_pinhole([[0, 0, 1, 1.8], [0, 1, 0, 0.6], [-1, 0, 0, 0.4], [0, 0, 0, 1]], 30.0, 34.0, 9.0, 15.5,
                             25, 22), 25, 22),
    ]
    n = 1029
    cams = rng.integers(0, len(views), n)
    pixels = np.array([rng.integers(0, views[c][1] * views[c][2]) for c in cams])
    (tmp_path / "rays.comp").write_text(CAMERA_SHADER)
    kernel = device.kernel(str(tmp_path / "rays.comp"))
    with device.buffer_from(camera_array(views), "cameras") as cameras, \
            device.buffer_from(np.stack([cams, pixels], 1).astype(np.uint32), "samples") as samples:
        rays = run_kernel(device, kernel, n, {"cameras": cameras, "samples": samples}, {"rays": (n, 6)})["rays"]
    for c, (camera, width, height) in enumerate(views):
        chosen = cams == c
        origins, directions = camera.rays(width, height, pixels[chosen])
        np.testing.assert_allclose(rays[chosen, :3], origins, atol=1e-5)
        np.testing.assert_allclose(rays[chosen, 3:], directions, atol=1e-5)


def test_encoding_and_mlp_run_over_a_counter(device, rng):
    # The unfused renderers' network stages over a list of live rays: the encoding and the MLP
    # dispatched through a counter compute its first count[0] items, as they would directly, and
    # leave the rest of their outputs alone (a count that is not a multiple of the MLP's batch).
    from ngvk.engine.nn.config import MLPConfig, grid_preset
    from ngvk.engine.nn.layers import MLP, GridEncoding, items_per_invocation
    from ngvk.engine.poison import POISON_WORD

    grid = grid_preset("hashgrid", 3, log2_table_size=12)
    network = MLPConfig(grid.n_output, 1, 64, 2, "none")
    encoding = GridEncoding(device, grid, grid.init_params(rng) * 1000)
    mlp = MLP(device, network, network.init_params(rng))
    n, count = 1029, 637
    positions = rng.random((n, 3)).astype(np.float32)
    buffers = [device.buffer_from(positions, "positions"), device.buffer(n * grid.n_output * 4, "encoded"),
               device.buffer(n * 4, "outputs"), counter(device, "count", count)]
    try:
        with device.sequence() as sequence:
            sequence.fill(buffers[1], POISON_WORD)
            sequence.fill(buffers[2], POISON_WORD)
            record_dispatch_args(sequence, device, buffers[3], items_per_invocation(device))
            encoding.record_encode(sequence, buffers[0], buffers[1], n, counter=buffers[3])
            mlp.record_forward(sequence, buffers[1], buffers[2], n, counter=buffers[3])
            sequence.run()
        encoded = buffers[1].download(np.float32, (n, grid.n_output))
        outputs = buffers[2].download(np.float32, (n,))
        np.testing.assert_array_equal(encoded[:count], encoding.encode(positions[:count]))
        np.testing.assert_array_equal(outputs[:count], mlp.forward(encoded[:count])[:, 0])
        assert np.isnan(encoded[count:]).all() and np.isnan(outputs[count:]).all()
    finally:
        for buffer in buffers:
            buffer.close()
        encoding.close()
        mlp.close()
