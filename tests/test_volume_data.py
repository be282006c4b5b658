"""The volume app's data: trilinear sampling between voxel centres, the built-in volumes, training
samples where the density is, and one-line errors for grids that cannot be used."""

import numpy as np
import pytest

from ngvk.apps.volume import volumes
from ngvk.apps.volume.data import UNIFORM_FRACTION, VolumeData, load_volume_data, sample_grid
from ngvk.engine.errors import NgvkError


def test_trilinear_sampling_reproduces_linear_fields_and_voxel_values(rng):
    shape = (5, 7, 6)
    centres = [(np.arange(s) + 0.5) / s for s in shape]
    x, y, z = np.meshgrid(*centres, indexing="ij")
    linear = np.stack([2 * x - y + 0.5 * z, x * 0 + 3.0], axis=-1)
    # Inside the centres' hull a linear field is interpolated exactly...
    low = np.array([0.5 / s for s in shape])
    high = 1 - low
    p = low + rng.random((500, 3)) * (high - low)
    np.testing.assert_allclose(sample_grid(linear, p), np.stack([2 * p[:, 0] - p[:, 1] + 0.5 * p[:, 2],
                                                                 np.full(500, 3.0)], axis=-1), atol=1e-12)
    # ...at a voxel's centre the value is the voxel's, and beyond the outer centres it is clamped.
    grid = rng.random(shape + (1,))
    np.testing.assert_allclose(sample_grid(grid, np.array([[centres[0][2], centres[1][4], centres[2][1]]])),
                               grid[2, 4, 1][None], atol=1e-12)
    np.testing.assert_allclose(sample_grid(grid, np.zeros((1, 3))), grid[0, 0, 0][None], atol=1e-12)
    np.testing.assert_allclose(sample_grid(grid, np.ones((1, 3))), grid[-1, -1, -1][None], atol=1e-12)


def small(name):
    density, albedo = volumes.rasterise(name, 32)
    return VolumeData(f"volume:{name}", density, albedo)


@pytest.mark.parametrize("name", sorted(volumes.VOLUMES))
def test_the_built_in_volumes_have_structure(name):
    data = small(name)
    assert data.density.shape == (32, 32, 32) and data.albedo.shape == (32, 32, 32, 3)
    assert data.density.min() >= 0 and (data.albedo >= 0).all() and (data.albedo <= 1).all()
    occupied = np.mean(data.density > 1.0)
    assert 0.01 < occupied < 0.5  # a thing in empty space, not a fog
    assert data.majorant > 20  # dense somewhere: opaque along some rays
    again = small(name)
    np.testing.assert_array_equal(data.density, again.density)  # a fixed lattice: the same everywhere


def test_the_cloud_has_a_dense_core_and_holes():
    data = small("cloud")
    d = data.density
    assert d[16, 14, 16] > 0.5 * data.majorant  # the core, at (0.5, 0.45, 0.5)
    # Holes: empty voxels inside the body's outline (filled per z-column from both sides).
    inside = np.maximum.accumulate(d > 1, axis=2) & np.maximum.accumulate((d > 1)[:, :, ::-1], axis=2)[:, :, ::-1]
    assert np.count_nonzero(inside & (d < 0.1)) > 20


def test_training_samples_follow_the_density(rng):
    data = small("nebula")
    positions, targets = data.training_samples(20000, rng)
    assert positions.shape == (20000, 3) and targets.shape == (20000, 4)
    assert positions.min() >= 0 and positions.max() <= 1
    n_uniform = int(20000 * UNIFORM_FRACTION)
    np.testing.assert_allclose(targets, data.sample(positions), rtol=1e-5, atol=1e-4)
    dense = targets[n_uniform:, 3]
    uniform = targets[:n_uniform, 3]
    # Drawn in proportion to density: where the density is, and denser on average than uniform.
    assert np.mean(dense > 0.5) > 0.9 and dense.mean() > 3 * uniform.mean()


@pytest.mark.parametrize("array,words", [
    (np.full((4, 4, 4), np.nan), ("NaN",)),
    (np.full((4, 4, 4), np.inf), ("infinite",)),
    (-np.ones((4, 4, 4)), ("negative",)),
    (np.zeros((4, 4, 4)), ("empty",)),
    (np.ones((4, 4)), ("rank 2",)),
    (np.ones((4, 4, 4, 3)), ("[X, Y, Z, 4]",)),
    (np.ones((4, 4, 4, 4)) * 2, ("albedo",)),
    (np.ones((1, 4, 4)), ("at least 2",)),
    (np.array(["a", "b"]), ("real numbers",)),
])
def test_unusable_grids_are_one_line_errors(tmp_path, array, words):
    path = tmp_path / "grid.npy"
    np.save(path, array)
    with pytest.raises(NgvkError) as error:
        load_volume_data(str(path))
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_missing_unreadable_and_unknown_sources(tmp_path):
    with pytest.raises(NgvkError, match="does not exist"):
        load_volume_data(str(tmp_path / "none.npy"))
    (tmp_path / "bad.npy").write_text("not numpy")
    with pytest.raises(NgvkError, match="NumPy"):
        load_volume_data(str(tmp_path / "bad.npy"))
    with pytest.raises(NgvkError, match="cloud"):
        load_volume_data("volume:teapot")


def test_a_grid_with_albedo_loads_both(tmp_path, rng):
    grid = rng.random((6, 5, 4, 4)).astype(np.float32)
    np.save(tmp_path / "grid.npy", grid)
    data = load_volume_data(str(tmp_path / "grid.npy"))
    np.testing.assert_array_equal(data.density, grid[..., 0])
    np.testing.assert_array_equal(data.albedo, grid[..., 1:])
    np.testing.assert_array_equal(data.grid(), np.concatenate([grid[..., 1:], grid[..., :1]], axis=-1))


class FloatGrid:
    """A stand-in for OpenVDB's Python FloatGrid, with the calls apps/volume/data.py load_vdb() makes
    (OpenVDB's module is not on PyPI, so the suite cannot install it): sparse voxels from a dict."""

    def __init__(self, name, voxels):
        self.name, self.voxels = name, voxels

    def evalActiveVoxelBoundingBox(self):
        ijk = np.array(list(self.voxels))
        return tuple(ijk.min(axis=0)), tuple(ijk.max(axis=0))

    def activeVoxelCount(self):
        return len(self.voxels)

    def copyToArray(self, array, ijk):
        for (i, j, k), value in self.voxels.items():
            array[i - ijk[0], j - ijk[1], k - ijk[2]] = value


class Vec3SGrid(FloatGrid):
    pass


def fake_openvdb(monkeypatch, grids):
    import sys
    import types

    module = types.SimpleNamespace(readAll=lambda path: (grids, {}))
    monkeypatch.setitem(sys.modules, "openvdb", module)


def test_an_openvdb_density_grid_is_cut_to_its_voxels_and_centred_in_a_cube(tmp_path, monkeypatch):
    path = tmp_path / "cloud.vdb"
    path.write_bytes(b"stand-in")
    # Active voxels from (-3, 10, 5) to (0, 11, 5): a 4 x 2 x 1 box, centred in a 4^3 cube.
    voxels = {(-3, 10, 5): 1.0, (0, 11, 5): 2.0, (-1, 10, 5): 0.5}
    fake_openvdb(monkeypatch, [Vec3SGrid("velocity", {(0, 0, 0): 1.0}), FloatGrid("temperature", {(0, 0, 0): 9.0}),
                               FloatGrid("density", voxels)])
    data = load_volume_data(str(path))
    assert data.density.shape == (4, 4, 4) and data.albedo.shape == (4, 4, 4, 3)
    expected = np.zeros((4, 4, 4), np.float32)
    expected[0, 1, 1], expected[3, 2, 1], expected[2, 1, 1] = 1.0, 2.0, 0.5
    np.testing.assert_array_equal(data.density, expected)
    # Bigger than the cap: box-filtered by a whole factor.
    monkeypatch.setattr("ngvk.apps.volume.data.VDB_MAX_SIDE", 2)
    small = load_volume_data(str(path)).density
    np.testing.assert_allclose(small, expected.reshape(2, 2, 2, 2, 2, 2).mean(axis=(1, 3, 5)))


def test_vdb_problems_are_one_line_errors(tmp_path, monkeypatch):
    import sys

    path = tmp_path / "cloud.vdb"
    path.write_bytes(b"stand-in")
    for name in ("openvdb", "pyopenvdb"):
        monkeypatch.setitem(sys.modules, name, None)  # not installed
    with pytest.raises(NgvkError, match="needs OpenVDB's Python module"):
        load_volume_data(str(path))
    fake_openvdb(monkeypatch, [Vec3SGrid("velocity", {(0, 0, 0): 1.0})])
    with pytest.raises(NgvkError, match=r"no float grid to take as density \(its grids: Vec3SGrid\)"):
        load_volume_data(str(path))
    fake_openvdb(monkeypatch, [FloatGrid("density", {(0, 0, 0): -1.0, (1, 1, 1): -2.0})])
    with pytest.raises(NgvkError, match="holds no positive density"):
        load_volume_data(str(path))
    (tmp_path / "cloud.nvdb").write_bytes(b"x")
    with pytest.raises(NgvkError, match="nanovdb_convert"):
        load_volume_data(str(tmp_path / "cloud.nvdb"))
