"""Every inference kernel on the device against its NumPy reference, with the tolerance `ngvk check`
uses: max |gpu - reference| <= 1e-4 * max |reference| (fp32 against float64). The cases are `ngvk
check`'s: 2D and 3D, the three encodings, a hashgrid table that is dense at every level and one that
hashes, random positions plus 0, 1 and points exactly on cell boundaries; every MLP width, depth and
activation; and each kernel again at 1, 7 and 1029 items. Outputs start as NaN (engine/nn/layers.py
run_kernel), so an item a kernel skips fails the comparison."""

import numpy as np
import pytest

from ngvk.engine import check
from ngvk.engine.nn import reference
from ngvk.engine.nn.config import GridConfig, MLPConfig
from ngvk.engine.nn.layers import MLP, GridEncoding, SphericalHarmonics, run_kernel


@pytest.mark.parametrize("name,config", check.grid_cases(), ids=[n for n, _ in check.grid_cases()])
def test_grid_encoding_matches_reference(device, name, config, rng):
    result = check.check_grid(device, name, config, rng)
    assert result.passed, result


def test_spherical_harmonics_match_reference(device, rng):
    result = check.check_sh(device, rng)
    assert result.passed, result


@pytest.mark.parametrize("name,config", check.mlp_cases(), ids=[n for n, _ in check.mlp_cases()])
def test_mlp_matches_reference(device, name, config, rng):
    result = check.check_mlp(device, name, config, rng)
    assert result.passed, result


SHAPES = check.mlp_cases()[:8]  # every width and every depth


@pytest.mark.parametrize("name,config", SHAPES, ids=[n for n, _ in SHAPES])
def test_mlp_with_one_sample_per_invocation_matches_reference(device, name, config, rng, monkeypatch):
    # The variant GPUs run (engine/nn/layers.py items_per_invocation); lavapipe defaults to 8.
    monkeypatch.setenv("NGVK_MLP_ITEMS", "1")
    result = check.check_mlp(device, name, config, rng)
    assert result.passed, result


def test_check_positions_cover_the_edge_cases(rng):
    config = GridConfig("hashgrid", 3, 4, 2, 8, 1.5, 14)
    positions = check.grid_positions(config, rng)
    assert (positions == 0).all(axis=1).any() and (positions == 1).all(axis=1).any()
    # Boundary points: x * scale + 0.5 lands on an integer (up to float32 rounding) on some level.
    on_boundary = np.zeros(len(positions), bool)
    for scale in config.scales():
        p = positions.astype(np.float64) * scale + 0.5
        on_boundary |= (np.abs(p - np.round(p)) < 1e-4).all(axis=1)
    assert on_boundary.sum() >= 16 * config.n_levels


def test_grid_encoding_outside_the_unit_cube_matches_reference(device, rng):
    # Positions slightly outside [0, 1] give negative or overflowing cells; both sides wrap alike.
    config = GridConfig("hashgrid", 2, 4, 2, 8, 1.5, 10)
    params = rng.uniform(-1, 1, (config.n_entries, 2)).astype(np.float32)
    positions = rng.uniform(-0.2, 1.2, (2000, 2)).astype(np.float32)
    encoding = GridEncoding(device, config, params)
    try:
        result = encoding.encode(positions)
    finally:
        encoding.close()
    np.testing.assert_allclose(result, reference.grid_encode(config, params, positions), atol=1e-5)


@pytest.mark.parametrize("n", [1, 7, 1029])
def test_kernels_at_awkward_sizes(device, rng, n):
    # Counts that are not multiples of the samples per invocation (8 on lavapipe) or the workgroup.
    grid = GridConfig("hashgrid", 3, 4, 2, 8, 1.5, 10)
    params = rng.uniform(-1, 1, (grid.n_entries, 2)).astype(np.float32)
    positions = rng.random((n, 3), dtype=np.float32)
    encoding = GridEncoding(device, grid, params)
    try:
        encoded = encoding.encode(positions)
    finally:
        encoding.close()
    np.testing.assert_allclose(encoded, reference.grid_encode(grid, params, positions), atol=1e-5)

    directions = check.unit_directions(rng, n)[:n]
    np.testing.assert_allclose(SphericalHarmonics(device).encode(directions), reference.sh_encode(directions), atol=1e-5)

    network = MLPConfig(grid.n_output, 3, 64, 2, "sigmoid")
    weights = network.init_params(rng)
    mlp = MLP(device, network, weights)
    try:
        outputs = mlp.forward(encoded)
    finally:
        mlp.close()
    np.testing.assert_allclose(outputs, reference.mlp_forward(network, weights, encoded), atol=1e-5)


@pytest.mark.parametrize("name,config", check.grid_cases(), ids=[n for n, _ in check.grid_cases()])
def test_grid_jacobian_matches_reference(device, name, config, rng):
    # d encoded / d position (analytic SDF normals), with the positions `ngvk check` uses.
    params = rng.uniform(-1.0, 1.0, size=(config.n_entries, config.n_features)).astype(np.float32)
    positions = check.grid_positions(config, rng, 1029)
    encoding = GridEncoding(device, config, params)
    try:
        result = encoding.jacobian(positions)
    finally:
        encoding.close()
    expected = reference.grid_encode_jacobian(config, params, positions)
    assert not np.isnan(result).any()
    error = np.max(np.abs(result - expected))
    assert error <= check.RELATIVE_TOLERANCE * np.max(np.abs(expected)), f"max error {error:.3g}"


TWO_MLPS = """#version 460
#extension GL_GOOGLE_include_directive : require
// Two different MLPs in one kernel, chained as NeRF chains its density and colour networks.
layout(local_size_x_id = 0) in;
#include "lib/common.glsl"
#include "lib/mlp_weights.glsl"
layout(binding = 0) uniform samplerBuffer inputs;
MLP_WEIGHTS_BUFFER_NAMED(1, density_weights);
MLP_WEIGHTS_BUFFER_NAMED(2, color_weights);
layout(std430, binding = 3) writeonly buffer Hidden { float hidden[]; };
layout(std430, binding = 4) writeonly buffer Outputs { float outputs[]; };
layout(push_constant) uniform Push { uint n; };
#define MLP_INSTANCE density
#include "lib/mlp.glsl"
#undef MLP_INSTANCE
#define MLP_INSTANCE color
#include "lib/mlp.glsl"
#undef MLP_INSTANCE
void main() {
    uint first = global_index() * MLP_ITEMS;
    if (first >= n) return;
    float x[MLP_ITEMS][density_INPUTS];
    MLP_FETCH_ITEMS(x, inputs, density_INPUT_COMPONENTS, 0u, first, n, density_INPUTS)
    float h[MLP_ITEMS][density_OUTPUTS];
    density_forward(x, h);
    float y[MLP_ITEMS][color_OUTPUTS];
    color_forward(h, y);
    MLP_STORE_ITEMS(hidden, 0u, h, first, n, density_OUTPUTS)
    MLP_STORE_ITEMS(outputs, 0u, y, first, n, color_OUTPUTS)
}
"""


def test_two_mlps_instanced_in_one_kernel_match_two_passes(device, rng, tmp_path):
    # Different widths, depths, activations and sizes; the same functions as the one-MLP kernels.
    density_config = MLPConfig(32, 16, 64, 1, "exp")
    color_config = MLPConfig(16, 3, 32, 3, "sigmoid")
    density = MLP(device, density_config, density_config.init_params(rng) * 0.5)
    color = MLP(device, color_config, color_config.init_params(rng))
    n = 1029
    x = rng.normal(size=(n, 32)).astype(np.float32)
    (tmp_path / "two_mlps.comp").write_text(TWO_MLPS)
    try:
        kernel = device.kernel(str(tmp_path / "two_mlps.comp"), {**density.defines("density"), **color.defines("color")})
        items = density.defines("density")["MLP_ITEMS"]
        with device.buffer_from(x, "inputs") as inputs:
            out = run_kernel(device, kernel, n, {"inputs": inputs.texels(4), **density.bindings("density"),
                                                 **color.bindings("color")},
                             {"hidden": (n, 16), "outputs": (n, 3)}, invocations=-(-n // items))
        hidden = density.forward(x)  # two unfused passes, one kernel each
        outputs = color.forward(hidden)
        weights = density.get_params(), color.get_params()
    finally:
        density.close()
        color.close()
    np.testing.assert_array_equal(out["hidden"], hidden)  # the same functions: the same bits
    np.testing.assert_array_equal(out["outputs"], outputs)
    expected = reference.mlp_forward(color_config, weights[1], reference.mlp_forward(density_config, weights[0], x))
    np.testing.assert_allclose(out["outputs"], expected, atol=1e-5)


TWO_GRIDS = """#version 460
#extension GL_GOOGLE_include_directive : require
// Two different grids in one kernel, encoding the same positions.
layout(local_size_x_id = 0) in;
#include "lib/common.glsl"
#include "lib/grid_types.glsl"
layout(std430, binding = 0) readonly buffer Positions { float positions[]; };
GRID_PARAMS_BINDING_NAMED(1, coarse_params);
GRID_PARAMS_BINDING_NAMED(2, fine_params);
layout(std430, binding = 3) writeonly buffer Coarse { float coarse[]; };
layout(std430, binding = 4) writeonly buffer Fine { float fine[]; };
layout(push_constant) uniform Push { uint n; };
#define GRID_INSTANCE coarse
#include "lib/grid_encoding.glsl"
#undef GRID_INSTANCE
#define GRID_INSTANCE fine
#include "lib/grid_encoding.glsl"
#undef GRID_INSTANCE
void main() {
    uint i = global_index();
    if (i >= n) return;
    float pos[3] = float[3](positions[3 * i], positions[3 * i + 1], positions[3 * i + 2]);
    float a[coarse_LEVELS * coarse_FEATURES];
    float b[fine_LEVELS * fine_FEATURES];
    coarse_encode(pos, a);
    fine_encode(pos, b);
    for (int k = 0; k < coarse_LEVELS * coarse_FEATURES; ++k) coarse[i * coarse_LEVELS * coarse_FEATURES + k] = a[k];
    for (int k = 0; k < fine_LEVELS * fine_FEATURES; ++k) fine[i * fine_LEVELS * fine_FEATURES + k] = b[k];
}
"""


def test_two_grids_instanced_in_one_kernel_match_two_passes(device, rng, tmp_path):
    coarse_config = GridConfig("densegrid", 3, 2, 4, 8, 1.5)
    fine_config = GridConfig("hashgrid", 3, 6, 2, 16, 1.6, 12)
    configs = {"coarse": coarse_config, "fine": fine_config}
    layers = {name: GridEncoding(device, c, rng.uniform(-1, 1, (c.n_entries, c.n_features)).astype(np.float32))
              for name, c in configs.items()}
    n = 1029
    positions = rng.random((n, 3), dtype=np.float32)
    (tmp_path / "two_grids.comp").write_text(TWO_GRIDS)
    try:
        defines = {k: v for name, layer in layers.items() for k, v in layer.defines(name).items()}
        kernel = device.kernel(str(tmp_path / "two_grids.comp"), defines)
        bindings = {k: v for name, layer in layers.items() for k, v in layer.bindings(name).items()}
        out = run_kernel(device, kernel, n, {"positions": positions, **bindings},
                         {name: (n, c.n_output) for name, c in configs.items()})
        for name, layer in layers.items():
            np.testing.assert_array_equal(out[name], layer.encode(positions))  # one pass each: the same bits
            params = layer.get_params()
            np.testing.assert_allclose(out[name], reference.grid_encode(configs[name], params, positions), atol=1e-5)
    finally:
        for layer in layers.values():
            layer.close()


def test_check_reports_a_kernel_that_disagrees(device, rng, monkeypatch):
    # A wrong result is a failed check, not a pass: here the reference is made to disagree.
    monkeypatch.setattr(reference, "sh_encode", lambda directions: np.ones((len(directions), 16)))
    result = check.check_sh(device, rng)
    assert not result.passed and result.max_error > result.tolerance
