#version 460
#extension GL_GOOGLE_include_directive : require
// Grid encoding of positions: one invocation per position.
//
// binding | name         | access | contents
// 0       | positions    | read   | float [n, GRID_DIMS], in [0, 1]
// 1       | grid_params  | read   | texels: float [n_entries, GRID_FEATURES]
// 2       | encoded      | write  | float [n, GRID_LEVELS * GRID_FEATURES]
// 3       | item_counter | read   | with ITEM_COUNTER: uint [8], [0] the positions (lib/common.glsl)
// push constants: n (positions; with ITEM_COUNTER, item_counter[0] instead)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/grid_types.glsl"

layout(std430, binding = 0) readonly buffer Positions { float positions[]; };
GRID_PARAMS_BINDING(1);
layout(std430, binding = 2) writeonly buffer Encoded { float encoded[]; };
ITEM_COUNTER_BUFFER(3);
layout(push_constant) uniform Push { uint n; };

#include "lib/grid_encoding.glsl"

void main() {
    uint i = global_index();
    if (i >= ITEM_COUNT) return;
    float pos[GRID_DIMS];
    [[unroll]] for (int d = 0; d < GRID_DIMS; ++d) pos[d] = positions[i * GRID_DIMS + d];
    float features[GRID_OUTPUTS];
    grid_encode(pos, features);
    [[unroll]] for (int k = 0; k < GRID_OUTPUTS; ++k) encoded[i * GRID_OUTPUTS + k] = features[k];
}
