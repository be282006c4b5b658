#version 460
#extension GL_GOOGLE_include_directive : require
// MLP forward pass for training: also stores every hidden layer's output for the backward pass.
//
// binding | name         | access | contents
// 0       | inputs       | read   | texels of MLP_INPUT_COMPONENTS floats (4 or 1): [n, MLP_INPUTS]
// 1       | mlp_weights  | read   | the layers' matrices (lib/mlp_weights.glsl)
// 2       | activations  | write  | texels (4 floats): [MLP_HIDDEN_LAYERS, n, MLP_WIDTH]: a_1 .. a_H after ReLU
// 3       | outputs      | write  | float [n, MLP_OUTPUTS], after the output activation
// push constants: n (samples)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/mlp_weights.glsl"

layout(binding = 0) uniform samplerBuffer inputs;
MLP_WEIGHTS_BUFFER(1);
layout(binding = 2, rgba32f) uniform writeonly imageBuffer activations;
layout(std430, binding = 3) writeonly buffer Outputs { float outputs[]; };
layout(push_constant) uniform Push { uint n; };

uint first_sample;

#define MLP_STORE_ACTIVATIONS(layer, h) \
    MLP_STORE_ITEMS_TEXELS(activations, uint(layer) * n * MLP_WIDTH, h, first_sample, n, MLP_WIDTH)

#include "lib/mlp.glsl"

void main() {
    first_sample = global_index() * MLP_ITEMS;
    if (first_sample >= n) return;
    float x[MLP_ITEMS][MLP_INPUTS];
    MLP_FETCH_ITEMS(x, inputs, MLP_INPUT_COMPONENTS, 0u, first_sample, n, MLP_INPUTS)
    float y[MLP_ITEMS][MLP_OUTPUTS];
    mlp_forward(x, y);
    MLP_STORE_ITEMS(outputs, 0u, y, first_sample, n, MLP_OUTPUTS)
}
