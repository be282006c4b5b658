#version 460
#extension GL_GOOGLE_include_directive : require
// Fully fused MLP forward pass: MLP_ITEMS samples per invocation.
//
// binding | name         | access | contents
// 0       | inputs       | read   | texels of MLP_INPUT_COMPONENTS floats (4 or 1): [n, MLP_INPUTS]
// 1       | mlp_weights  | read   | the layers' matrices (lib/mlp_weights.glsl)
// 2       | outputs      | write  | float [n, MLP_OUTPUTS]
// 3       | item_counter | read   | with ITEM_COUNTER: uint [8], [0] the samples (lib/common.glsl)
// push constants: n (samples; with ITEM_COUNTER, item_counter[0] instead)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/mlp_weights.glsl"

layout(binding = 0) uniform samplerBuffer inputs;
MLP_WEIGHTS_BUFFER(1);
// (A storage buffer: imageStore of whole texels measured slower here, 60 -> 49 GFLOP/s with 4 outputs.)
layout(std430, binding = 2) writeonly buffer Outputs { float outputs[]; };
ITEM_COUNTER_BUFFER(3);
layout(push_constant) uniform Push { uint n; };

#include "lib/mlp.glsl"

void main() {
    uint first = global_index() * MLP_ITEMS;
    uint count = ITEM_COUNT;
    if (first >= count) return;
    float x[MLP_ITEMS][MLP_INPUTS];
    MLP_FETCH_ITEMS(x, inputs, MLP_INPUT_COMPONENTS, 0u, first, count, MLP_INPUTS)
    float y[MLP_ITEMS][MLP_OUTPUTS];
    mlp_forward(x, y);
    MLP_STORE_ITEMS(outputs, 0u, y, first, count, MLP_OUTPUTS)
}
