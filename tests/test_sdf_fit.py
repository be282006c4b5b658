"""Fitting a neural SDF on the device (the SDF app's training side): a short fit of the ring learns
its distances and its inside, and the model it writes loads and evaluates the same."""

import pytest

from ngvk.apps.sdf import fitting
from ngvk.apps.sdf.data import load_sdf_data
from ngvk.engine.model import load_model
from ngvk.engine.nn.config import GridConfig, MLPConfig


def test_a_short_fit_learns_the_ring(device, tmp_path):
    data = load_sdf_data("shape:ring")
    grid = GridConfig("hashgrid", 3, 8, 2, 16, 1.5, 14)  # small: a quick fit
    configs = (grid, MLPConfig(grid.n_output, 1, 64, 2, "none"))
    result = fitting.fit(device, data, steps=200, batch_size=1 << 13, evaluations=3, pool_size=1 << 16,
                         configs=configs)
    first, last = result.history[0], result.history[-1]
    assert last["near_surface_error"] < first["near_surface_error"]
    assert last["near_surface_error"] < 0.01 and last["iou"] > 0.8  # the ring's tube is 0.16 across
    assert result.model.training["loss"] == "mape" and result.model.app == "sdf"
    path = tmp_path / "ring.npz"
    result.model.save(path)
    again = fitting.distance_metrics(device, load_model(path, app="sdf"), data)
    assert again == pytest.approx(result.metrics, rel=1e-6)
