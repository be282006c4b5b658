"""The volume app's free-flight renderer in NumPy (apps/volume/tracing.py, the specification of its
kernels): unbiased against the analytic transmittance of simple media, empty space skipped without
changing the result, reproducible from its seed, and a conservative occupancy grid."""

import numpy as np
import pytest

from ngvk.apps.volume import tracing
from ngvk.apps.volume.data import VolumeData, sample_grid
from ngvk.engine.render.camera import Camera

SIGMA = 1.5  # density of the test media, per unit length


def slab(density_in_upper_half_only: bool, resolution: int = 16) -> VolumeData:
    density = np.full((resolution,) * 3, SIGMA, np.float32)
    if density_in_upper_half_only:
        density[:, :, : resolution // 2] = 0.0  # z < 0.5 empty
    albedo = np.broadcast_to(np.array([0.9, 0.2, 0.1], np.float32), (resolution,) * 3 + (3,))
    return VolumeData("test", density, np.ascontiguousarray(albedo))  # red: unlike the sky


# Orthographic, looking along +z through the cube's middle: every ray crosses 1 unit of the cube.
CAMERA = Camera((0.5, 0.5, -1.0), (0.5, 0.5, 0.0), (0.0, 1.0, 0.0), orthographic_height=0.5)


@pytest.mark.parametrize("half", [False, True])
def test_opacity_is_the_analytic_absorption(half):
    # Delta tracking with a majorant above the density (twice it) and empty-space skipping: the
    # mean opacity of many paths is 1 - exp(-sigma L), L = 1 or 0.5 (the empty half skipped).
    data = slab(half)
    occupied, _ = tracing.occupancy_grid(lambda p: data.sample(p)[:, 3], 8)
    assert occupied.all() != half
    frame = tracing.render(CAMERA, 4, 4, data.sample, occupied, 2 * SIGMA, spp=256, seed=3, mode="density")
    expected = 1 - np.exp(-SIGMA * (0.5 if half else 1.0))
    # 16 pixels x 256 samples: the standard error of the mean is about 0.008.
    assert frame[..., 0].mean() == pytest.approx(expected, abs=0.03)


def test_the_same_seed_gives_the_same_frame_and_another_seed_another():
    data = slab(False)
    occupied = np.ones((8, 8, 8), bool)
    a = tracing.render(CAMERA, 6, 5, data.sample, occupied, 2 * SIGMA, spp=2, seed=7)
    b = tracing.render(CAMERA, 6, 5, data.sample, occupied, 2 * SIGMA, spp=2, seed=7)
    c = tracing.render(CAMERA, 6, 5, data.sample, occupied, 2 * SIGMA, spp=2, seed=8)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0.05  # another noise pattern
    later = tracing.render(CAMERA, 6, 5, data.sample, occupied, 2 * SIGMA, spp=2, seed=7, frame=1)
    assert np.abs(a - later).max() > 0.05  # a progressive render's next frame draws new samples


def test_the_occupancy_grid_covers_every_density(rng):
    grid = np.zeros((20, 20, 20, 4))
    grid[rng.random((20, 20, 20)) < 0.02, 3] = 5.0  # scattered dense voxels
    occupied, largest = tracing.occupancy_grid(lambda p: sample_grid(grid, p)[:, 3], 16)
    assert largest == pytest.approx(5.0)
    # Wherever the trilinear density is above the threshold, the cell is marked.
    p = rng.random((20000, 3))
    density = sample_grid(grid, p)[:, 3]
    cells = np.minimum((p * 16).astype(int), 15)
    marked = occupied[cells[:, 0], cells[:, 1], cells[:, 2]]
    assert marked[density > 0.05].all()
    assert 0 < occupied.mean() < 0.9
    # The grid's own occupancy, from its voxels, marks every cell the probes mark.
    from_voxels = tracing.grid_occupancy(grid[..., 3], 16)
    assert (from_voxels | ~occupied).all() and from_voxels.mean() < 0.95
    words = tracing.pack_occupancy(occupied)
    bits = np.unpackbits(words.view(np.uint8), bitorder="little")[: occupied.size]
    np.testing.assert_array_equal(bits.reshape(occupied.shape), occupied)
