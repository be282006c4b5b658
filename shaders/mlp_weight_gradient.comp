#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// Weight gradient of one MLP layer, dW[r][c] = sum over samples of delta[r] * layer_input[c],
// reduced in two stages: each workgroup sums its samples into its own row of `partials` (subgroup
// sums, then a float atomic per subgroup), and reduce_partials.comp sums the rows. Partial rows per
// workgroup, not per subgroup, because the number of subgroups in a workgroup can vary by device.
// Specification: engine/reference.py mlp_backward() (its `grads`).
//
// binding | name          | access     | contents
// 0       | deltas        | read       | float [.., n, WG_ROWS] from delta_offset: dL/d layer pre-activation
// 1       | layer_inputs  | read       | float [.., n, WG_COLS] from input_offset: what the layer multiplied
// 2       | partials      | read-write | float [workgroups, WG_ROWS * WG_COLS], zeroed before
// push constants: n (samples), delta_offset, input_offset (in floats)
// defines: WG_ROWS, WG_COLS, WG_ITEMS (samples per invocation), NGVK_FLOAT_ATOMICS,
//          WG_SUBGROUP_REDUCE (1 where the device has subgroup arithmetic; else every invocation
//          adds its own sums atomically)

layout(local_size_x_id = 0) in;

#if WG_SUBGROUP_REDUCE
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

#include "lib/common.glsl"
#include "lib/atomics.glsl"

layout(std430, binding = 0) readonly buffer Deltas { float deltas[]; };
layout(std430, binding = 1) readonly buffer LayerInputs { float layer_inputs[]; };
FLOAT_ATOMIC_BUFFER(2, Partials, partials);
layout(push_constant) uniform Push { uint n; uint delta_offset; uint input_offset; };

void main() {
    // No early return: every invocation takes part in the subgroup sums (samples past n add zero).
    uint first = global_index() * WG_ITEMS;
    float d[WG_ITEMS][WG_ROWS];
    float a[WG_ITEMS][WG_COLS];
    // Loads in loops that are not unrolled (see lib/mlp.glsl); samples past n contribute zeros.
    [[dont_unroll]] for (int s = 0; s < WG_ITEMS; ++s) {
        uint i = first + uint(s);
        bool inside = i < n;
        uint di = delta_offset + min(i, n - 1u) * WG_ROWS;
        uint ai = input_offset + min(i, n - 1u) * WG_COLS;
        [[dont_unroll]] for (int k = 0; k < WG_ROWS; ++k) d[s][k] = inside ? deltas[di + k] : 0.0;
        [[dont_unroll]] for (int k = 0; k < WG_COLS; ++k) a[s][k] = inside ? layer_inputs[ai + k] : 0.0;
    }
    uint row = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * uint(WG_ROWS * WG_COLS);
    [[dont_unroll]] for (int r = 0; r < WG_ROWS; ++r) {
        float totals[WG_COLS];
        [[unroll]] for (int c = 0; c < WG_COLS; ++c) {
            float acc = 0.0;
            [[unroll]] for (int s = 0; s < WG_ITEMS; ++s) acc += d[s][r] * a[s][c];
#if WG_SUBGROUP_REDUCE
            totals[c] = subgroupAdd(acc);
#else
            totals[c] = acc;
#endif
        }
        // One atomic per subgroup and weight, in a loop of its own: on CPU drivers an atomic expands
        // to a loop over the SIMD lanes, and unrolling 64 of them slows pipeline creation badly.
#if WG_SUBGROUP_REDUCE
        if (subgroupElect())
#endif
        {
            [[dont_unroll]] for (int c = 0; c < WG_COLS; ++c) {
                ATOMIC_ADD_FLOAT(partials, row + uint(r * WG_COLS + c), totals[c]);
            }
        }
    }
}
