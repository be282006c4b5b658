#version 460
#extension GL_GOOGLE_include_directive : require
// Loss of outputs against targets, per sample, and its gradient; the mean over all elements.
// Specification: engine/nn/reference.py loss().
//
// binding | name       | access | contents
// 0       | outputs    | read   | float [n, LOSS_CHANNELS]
// 1       | targets    | read   | float [n, LOSS_CHANNELS]
// 2       | d_outputs  | write  | float [n, LOSS_CHANNELS]: dL/d outputs
// 3       | losses     | write  | float [n]: each sample's share of the loss
// push constants: n (samples)
// defines: LOSS_CHANNELS, LOSS (0: l2, 1: relative_l2 with the denominator held constant, 2: mape,
//          3: huber; engine/nn/training.py LOSS_CODES)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"

layout(std430, binding = 0) readonly buffer Outputs { float outputs[]; };
layout(std430, binding = 1) readonly buffer Targets { float targets[]; };
layout(std430, binding = 2) writeonly buffer DOutputs { float d_outputs[]; };
layout(std430, binding = 3) writeonly buffer Losses { float losses[]; };
layout(push_constant) uniform Push { uint n; };

#include "lib/loss.glsl"

void main() {
    uint i = global_index();
    if (i >= n) return;
    float total = float(n) * float(LOSS_CHANNELS);
    float sum = 0.0;
    for (int k = 0; k < LOSS_CHANNELS; ++k) {
        uint e = i * LOSS_CHANNELS + k;
        float value, gradient;
        loss_element(outputs[e], targets[e], value, gradient);
        sum += value;
        d_outputs[e] = gradient / total;
    }
    losses[i] = sum / total;
}
