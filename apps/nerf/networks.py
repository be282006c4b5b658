"""The NeRF app's model: its presets (grid encoding, density and colour networks), the model file's
layout, and the two networks in NumPy (engine/nn/reference.py) for checks and tests.

A NeRF model holds the encoding "encoding", the networks "density" (encoded position -> 16 outputs,
the first the log-density) and "color" ([16 density outputs, SH degree 4 of the direction] -> RGB,
sigmoid), and the extra "occupancy" (the occupancy grid's bits, engine/render/occupancy.py, one
cascade after another); its app data records "aabb_scale" (the scene's box, apps/nerf/tracing.py;
1 when absent) and "occupancy_resolution".
"""

from __future__ import annotations

import numpy as np

from ngvk.apps.nerf import tracing
from ngvk.engine.model import Model
from ngvk.engine.nn import reference
from ngvk.engine.nn.config import SH_OUTPUTS, GridConfig, MLPConfig, shipped_3d_preset
from ngvk.engine.render.occupancy import pack_occupancy

DENSITY_OUTPUTS = 16

# instant-ngp's NeRF hashgrid (configs/nerf/base.json): 8 levels of 4 features, N_min 16, b 2.0
# (finest 2048); the table is 2^16 entries per level instead of 2^19 so that the shipped model is a
# few MB (3.4 MB in float16 instead of 27 MB; assets/README.md). The dense grids are the 3D presets
# the SDF and volume apps ship (engine/nn/config.py shipped_3d_preset).
HASHGRID = GridConfig("hashgrid", 3, 8, 4, 16, 2.0, 16)


def presets(encoding: str, aabb_scale: int = 1) -> tuple[GridConfig, dict[str, MLPConfig]]:
    """(grid, {"density": ..., "color": ...}) of a model of `encoding` for a scene of `aabb_scale`.
    A hashgrid's finest level is 2048 x aabb_scale (instant-ngp: the per-level scale grows with the
    box, so the unit cube keeps its finest resolution); the dense grids keep theirs over the box."""
    grid = HASHGRID if encoding == "hashgrid" else shipped_3d_preset(encoding)
    if encoding == "hashgrid" and aabb_scale > 1:
        finest = grid.base_resolution * grid.per_level_scale ** (grid.n_levels - 1) * aabb_scale
        scale = float(np.exp(np.log(finest / grid.base_resolution) / (grid.n_levels - 1)))
        grid = GridConfig(grid.encoding, grid.n_dims, grid.n_levels, grid.n_features, grid.base_resolution, scale,
                          grid.log2_table_size)
    density = MLPConfig(grid.n_output, DENSITY_OUTPUTS, 64, 1, "none")
    color = MLPConfig(DENSITY_OUTPUTS + SH_OUTPUTS, 3, 64, 2, "sigmoid")
    return grid, {"density": density, "color": color}


def make_model(grid: GridConfig, networks: dict, params: dict, occupied: np.ndarray, app_data: dict | None = None,
               param_dtype: str = "float32", training: dict | None = None, aabb: tracing.Aabb = tracing.UNIT) -> Model:
    """A NeRF model of these parameters and occupancy grid (bool [cascades, R, R, R], or [R, R, R]
    for the unit cube) of the scene's box `aabb`."""
    occupied = tracing.cascades_of(occupied)
    if len(occupied) != aabb.cascades:
        raise ValueError(f"an aabb_scale {aabb.scale} model has {aabb.cascades} occupancy cascades, not {len(occupied)}")
    r = occupied.shape[1]
    description = (f"the occupancy grid's bits, cell (x, y, z) of cascade k at bit k R^3 + (x * R + y) * R + z "
                   f"for R = {r}, {len(occupied)} cascade(s), LSB first (engine/render/occupancy.py)")
    data = {"occupancy_resolution": int(r), **({"aabb_scale": aabb.scale} if aabb.scale > 1 else {}),
            **(app_data or {})}
    return Model(app="nerf", encodings={"encoding": grid}, networks=dict(networks), params=dict(params),
                 param_dtype=param_dtype, training=dict(training or {}), app_data=data,
                 extras={"occupancy": pack_occupancy(occupied)}, descriptions={"occupancy": description})


def model_aabb(model: Model) -> tracing.Aabb:
    """The model's scene box (aabb_scale 1 for models from before there were others)."""
    return tracing.Aabb(int(model.app_data.get("aabb_scale", 1)))


def random_model(encoding: str = "hashgrid", seed: int = 0, occupied: np.ndarray | None = None,
                 density_bias: float = 0.0, aabb: tracing.Aabb = tracing.UNIT) -> Model:
    """A model with random parameters (grid features uniform in +-1 rather than tcnn's +-1e-4, so that
    the networks' outputs vary over the scene), for checks and tests; by default a ball of occupied
    cells (in every cascade: beyond the unit cube, a ball of a third of the box)."""
    rng = np.random.default_rng(seed)
    grid, networks = presets(encoding, aabb.scale)
    params = {"encoding": rng.uniform(-1, 1, (grid.n_entries, grid.n_features)).astype(np.float32),
              "density": networks["density"].init_params(rng), "color": networks["color"].init_params(rng)}
    if occupied is None:
        r = tracing.OCCUPANCY_RESOLUTION
        axis = (np.arange(r) + 0.5) / r - 0.5
        x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
        occupied = np.stack([x * x + y * y + z * z < (0.3 if k == 0 else 0.33)**2 for k in range(aabb.cascades)])
    model = make_model(grid, networks, params, occupied, aabb=aabb)
    if density_bias:
        # Raise the log-density (output 0): the network has no biases, so add to output 0's row of
        # the output layer, which raises it by density_bias x the sum of the (ReLU, non-negative)
        # hidden activations: checks want rays that stop inside the ball.
        weights = model.params["density"]
        c = networks["density"]
        offset = c.n_params - c.n_output * c.width
        weights[offset:offset + c.width] += density_bias
    return model


def query(model: Model, positions: np.ndarray, directions: np.ndarray):
    """(raw densities [N], colours [N, 3]) of the model at positions and directions [N, 3] in NumPy
    (float64): the networks' specification, for tracing.render()."""
    encoded = reference.grid_encode(model.encoding, model.params["encoding"], positions)
    density = reference.mlp_forward(model.networks["density"], model.params["density"], encoded)
    color_input = np.concatenate([density, reference.sh_encode(directions)], axis=1)
    rgb = reference.mlp_forward(model.networks["color"], model.params["color"], color_input)
    return density[:, 0], rgb
