#version 460
#extension GL_GOOGLE_include_directive : require
// The grid encoding's derivative with respect to the position: one invocation per position.
// Specification: engine/nn/reference.py grid_encode_jacobian().
//
// binding | name         | access | contents
// 0       | positions    | read   | float [n, GRID_DIMS], in [0, 1]
// 1       | grid_params  | read   | texels: float [n_entries, GRID_FEATURES]
// 2       | jacobian     | write  | float [n, GRID_LEVELS * GRID_FEATURES, GRID_DIMS]
// push constants: n (positions)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/grid_types.glsl"

layout(std430, binding = 0) readonly buffer Positions { float positions[]; };
GRID_PARAMS_BINDING(1);
layout(std430, binding = 2) writeonly buffer Jacobian { float jacobian[]; };
layout(push_constant) uniform Push { uint n; };

#include "lib/grid_encoding.glsl"

void main() {
    uint i = global_index();
    if (i >= n) return;
    float pos[GRID_DIMS];
    [[unroll]] for (int d = 0; d < GRID_DIMS; ++d) pos[d] = positions[i * GRID_DIMS + d];
    float result[GRID_OUTPUTS][GRID_DIMS];
    grid_encode_jacobian(pos, result);
    [[unroll]] for (int k = 0; k < GRID_OUTPUTS; ++k)
        [[unroll]] for (int d = 0; d < GRID_DIMS; ++d) jacobian[(i * GRID_OUTPUTS + k) * GRID_DIMS + d] = result[k][d];
}
