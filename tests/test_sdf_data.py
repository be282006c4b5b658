"""The SDF app's data (no Vulkan): the analytic shapes against geometric facts, surface sampling,
training samples in instant-ngp's proportions, meshes normalised and measured by libigl against a
torus's exact distance, and one-line errors for unusable meshes."""

import numpy as np
import pytest

from ngvk.apps.sdf import shapes
from ngvk.apps.sdf.data import MARGIN, load_sdf_data, sample_implicit_surface
from ngvk.engine.errors import NgvkError


def test_primitives_are_exact_distances():
    o = np.zeros((1, 3))
    # A torus of radii 0.25 and 0.08 around y: its centre is 0.17 from the tube, a point on the
    # ring 0.08 inside it, a point above the ring 0.1 above the tube.
    assert shapes.torus(o, 0.25, 0.08)[0] == pytest.approx(0.17)
    assert shapes.torus(np.array([[0.25, 0.0, 0.0]]), 0.25, 0.08)[0] == pytest.approx(-0.08)
    assert shapes.torus(np.array([[0.0, 0.18, 0.25]]), 0.25, 0.08)[0] == pytest.approx(0.1)
    # A box: distance to a face, to an edge and to a corner; rounding takes off the corner.
    b = (0.1, 0.2, 0.3)
    assert shapes.box(np.array([[0.3, 0.0, 0.0]]), b)[0] == pytest.approx(0.2)
    assert shapes.box(np.array([[0.4, 0.6, 0.0]]), b)[0] == pytest.approx(0.5)
    assert shapes.box(np.array([[0.4, 0.6, 0.7]]), b)[0] == pytest.approx(np.sqrt(0.3**2 + 0.4**2 + 0.4**2))
    assert shapes.box(o, b)[0] == pytest.approx(-0.1)
    corner = np.array([[0.2, 0.3, 0.4]])
    assert shapes.box(corner, b)[0] == pytest.approx(0.1 * np.sqrt(3))
    assert shapes.box(corner, b, 0.05)[0] == pytest.approx(0.15 * np.sqrt(3) - 0.05)  # rounded off
    # A capped cylinder along y.
    assert shapes.cylinder(np.array([[0.5, 0.0, 0.0]]), 0.2, 0.3)[0] == pytest.approx(0.3)
    assert shapes.cylinder(np.array([[0.0, 0.5, 0.0]]), 0.2, 0.3)[0] == pytest.approx(0.2)
    assert shapes.cylinder(np.array([[0.5, 0.7, 0.0]]), 0.2, 0.3)[0] == pytest.approx(0.5)


@pytest.mark.parametrize("name", sorted(shapes.SHAPES))
def test_shapes_are_distance_bounds_inside_the_cube(name, rng):
    # Exact distances have a gradient of length 1; unions and subtractions of them are bounds:
    # never above the true distance, so |d(p) - d(q)| <= |p - q| (1-Lipschitz) must hold.
    f = shapes.SHAPES[name]
    p = rng.random((20000, 3))
    q = p + rng.normal(size=p.shape) * 0.01
    assert np.all(np.abs(f(p) - f(q)) <= np.linalg.norm(p - q, axis=1) * (1 + 1e-9))
    # Inside the cube with room to spare: the faces of the cube are outside the object.
    faces = np.concatenate([np.c_[rng.random((500, 2)), np.full(500, v)][:, np.roll([0, 1, 2], k)]
                            for v in (0.0, 1.0) for k in range(3)])
    assert f(faces).min() > 0.05
    assert (f(p) < 0).any()  # and it has an inside


def test_surface_samples_lie_on_the_surface_and_spread(rng):
    f = shapes.SHAPES["mug"]
    points = sample_implicit_surface(f, 4000, rng)
    assert points.shape == (4000, 3) and np.abs(f(points)).max() < 1e-5
    # Spread over the mug: its top rim, its bottom and its handle are all sampled.
    assert points[:, 1].max() > 0.74 and points[:, 1].min() < 0.26 and points[:, 0].max() > 0.83


def test_training_samples_follow_instant_ngps_proportions(rng):
    data = load_sdf_data("shape:ring")
    n = 8000
    positions, distances = data.training_samples(n, rng)
    assert positions.shape == (n, 3) and distances.shape == (n,) and positions.dtype == np.float32
    uniform, exact, offset = slice(0, n // 8), slice(n // 8, n // 8 + n // 2), slice(n // 8 + n // 2, n)
    np.testing.assert_array_equal(distances[exact], 0.0)
    np.testing.assert_allclose(data.distance(positions[exact]), 0.0, atol=1e-5)
    np.testing.assert_allclose(distances[uniform], data.distance(positions[uniform]), atol=1e-6)
    np.testing.assert_allclose(distances[offset], data.distance(positions[offset]), atol=1e-6)
    near = np.abs(distances[offset])
    assert np.median(near[: len(near) // 2]) < 2e-3 < np.median(near[len(near) // 2 :]) < 2e-2  # two scales
    assert abs(np.mean(positions[uniform]) - 0.5) < 0.02


def test_a_mesh_is_normalised_and_measured(tmp_path, rng):
    import trimesh

    # A torus mesh of radii 2 and 0.5 around z (extent 5 x 5 x 1): it becomes 0.8 wide, centred.
    mesh = trimesh.creation.torus(2.0, 0.5, major_sections=128, minor_sections=48)
    path = tmp_path / "torus.obj"
    mesh.export(path)
    data = load_sdf_data(str(path))
    scale = data.transform["scale"]
    assert scale == pytest.approx((1 - 2 * MARGIN) / 5.0, rel=1e-3)
    bounds = data.mesh.bounds
    np.testing.assert_allclose(bounds[0], [MARGIN, MARGIN, 0.5 - 0.08], atol=2e-3)
    np.testing.assert_allclose(bounds[1], [1 - MARGIN, 1 - MARGIN, 0.5 + 0.08], atol=2e-3)
    # libigl's signed distance against the exact torus (trimesh's torus lies around z).
    p = rng.random((3000, 3))
    local = (p - 0.5) / scale
    exact = shapes.torus(local[:, [0, 2, 1]], 2.0, 0.5) * scale
    np.testing.assert_allclose(data.distance(p), exact, atol=2e-3)  # the facets' sagitta, scaled
    surface = data.surface_sampler(1000, rng)
    assert np.abs(data.distance(surface)).max() < 1e-6


def test_unusable_meshes_get_one_line_errors(tmp_path):
    cases = {
        "missing.obj": None,
        "text.stl": "not a mesh at all",
        "no_faces.obj": "v 0 0 0\nv 1 0 0\nv 0 1 0\n",
        "nan.obj": "v 0 0 0\nv nan 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 3 4\nf 1 4 2\nf 2 4 3\n",
    }
    for name, text in cases.items():
        if text is not None:
            (tmp_path / name).write_text(text)
        with pytest.raises(NgvkError) as error:
            load_sdf_data(str(tmp_path / name))
        assert "\n" not in str(error.value) and name in str(error.value)
    with pytest.raises(NgvkError, match="no built-in shape 'teapot'"):
        load_sdf_data("shape:teapot")


def test_an_open_mesh_is_used_with_a_warning(tmp_path):
    import trimesh

    box = trimesh.creation.box()
    box.update_faces(np.arange(len(box.faces)) != 0)  # one triangle missing
    box.export(tmp_path / "open.ply")
    with pytest.warns(UserWarning, match="not watertight"):
        data = load_sdf_data(str(tmp_path / "open.ply"))
    assert data.distance(np.array([[0.5, 0.5, 0.5]]))[0] < 0  # still mostly enclosed: inside
