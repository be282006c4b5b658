#version 460
#extension GL_GOOGLE_include_directive : require
// Fully fused MLP forward pass: one invocation per sample.
//
// binding | name         | access | contents
// 0       | inputs       | read   | float [n, MLP_INPUTS]
// 1       | mlp_weights  | read   | float, the layers' matrices (lib/mlp.glsl)
// 2       | outputs      | write  | float [n, MLP_OUTPUTS]
// push constants: n (samples)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"

layout(std430, binding = 0) readonly buffer Inputs { float inputs[]; };
layout(std430, binding = 1) readonly buffer MlpWeights { float mlp_weights[]; };
layout(std430, binding = 2) writeonly buffer Outputs { float outputs[]; };
layout(push_constant) uniform Push { uint n; };

#include "lib/mlp.glsl"

void main() {
    uint i = global_index();
    if (i >= n) return;
    float x[MLP_INPUTS];
    for (int k = 0; k < MLP_INPUTS; ++k) x[k] = inputs[i * MLP_INPUTS + k];
    float y[MLP_OUTPUTS];
    mlp_forward(x, y);
    for (int k = 0; k < MLP_OUTPUTS; ++k) outputs[i * MLP_OUTPUTS + k] = y[k];
}
