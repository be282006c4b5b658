#version 460
#extension GL_GOOGLE_include_directive : require
// Grid encoding backward pass: one invocation per position scatters its feature gradients into the
// grid's gradient buffer (float atomics: many positions share grid points).
//
// binding | name            | access     | contents
// 0       | positions       | read       | float [n, GRID_DIMS]
// 1       | d_encoded       | read       | float [n, GRID_LEVELS * GRID_FEATURES]: dL/d encoded
// 2       | grid_gradients  | read-write | float [n_entries, GRID_FEATURES], accumulated into
// push constants: n (positions)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/atomics.glsl"
#include "lib/grid_types.glsl"

layout(std430, binding = 0) readonly buffer Positions { float positions[]; };
layout(std430, binding = 1) readonly buffer DEncoded { float d_encoded[]; };
FLOAT_ATOMIC_BUFFER(2, GridGradients, grid_gradients);
layout(push_constant) uniform Push { uint n; };

#define GRID_BACKWARD_ONLY
#include "lib/grid_encoding.glsl"

void main() {
    uint i = global_index();
    if (i >= n) return;
    float pos[GRID_DIMS];
    [[unroll]] for (int d = 0; d < GRID_DIMS; ++d) pos[d] = positions[i * GRID_DIMS + d];
    float d_features[GRID_OUTPUTS];
    [[unroll]] for (int k = 0; k < GRID_OUTPUTS; ++k) d_features[k] = d_encoded[i * GRID_OUTPUTS + k];
    grid_backward(pos, d_features);
}
