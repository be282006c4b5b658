#version 460
#extension GL_GOOGLE_include_directive : require
// One Adam step over one parameter group, as tcnn's Adam does it, and with ADAM_AVERAGE the
// parameters' exponential moving average after it, as tcnn's EMA optimiser keeps it.
// Specification: engine/nn/reference.py adam_step() and average_step().
//
// binding | name       | access     | contents
// 0       | params     | read-write | float [n]
// 1       | gradients  | read       | float [n]
// 2       | first      | read-write | float [n]: first moments
// 3       | second     | read-write | float [n]: second moments
// 4       | steps      | read-write | uint [n]: per-parameter step counts (for the bias correction)
// 5       | schedule   | read       | float [3]: learning rate, then the average's debiasing factors
//         |            |            | 1 - decay^(t-1) and 1 / (1 - decay^t) for the step t (the host
//         |            |            | writes it before each step: engine/nn/training.py Adam.schedule)
// 6       | average    | read-write | float [n]: the debiased moving average (ADAM_AVERAGE only)
// push constants: n, is_matrix (1: MLP weights, L2-regularised; 0: grid entries, skipped where the
//                 gradient is exactly zero), beta1, beta2, epsilon, l2_reg, average_decay

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"

layout(std430, binding = 0) buffer Params { float params[]; };
layout(std430, binding = 1) readonly buffer Gradients { float gradients[]; };
layout(std430, binding = 2) buffer First { float first[]; };
layout(std430, binding = 3) buffer Second { float second[]; };
layout(std430, binding = 4) buffer Steps { uint steps[]; };
layout(std430, binding = 5) readonly buffer Schedule { float schedule[]; };
#ifdef ADAM_AVERAGE
layout(std430, binding = 6) buffer Average { float average[]; };
#endif
layout(push_constant) uniform Push {
    uint n;
    uint is_matrix;
    float beta1;
    float beta2;
    float epsilon;
    float l2_reg;
    float average_decay;
};

float adam(uint i) {
    float g = gradients[i];
    float w = params[i];
    if (is_matrix != 0u) {
        g += l2_reg * w;
    } else if (g == 0.0) {
        return w;  // a grid entry no sample touched: leave it and its moments alone
    }
    float m = beta1 * first[i] + (1.0 - beta1) * g;
    float v = beta2 * second[i] + (1.0 - beta2) * g * g;
    uint t = steps[i] + 1u;
    float rate = schedule[0] * sqrt(1.0 - pow(beta2, float(t))) / (1.0 - pow(beta1, float(t)));
    first[i] = m;
    second[i] = v;
    steps[i] = t;
    w -= rate / (sqrt(v) + epsilon) * m;
    params[i] = w;
    return w;
}

void main() {
    uint i = global_index();
    if (i >= n) return;
    float w = adam(i);
#ifdef ADAM_AVERAGE
    // Every parameter, touched or not: the average of the parameters after each step.
    average[i] = (average[i] * average_decay * schedule[1] + w * (1.0 - average_decay)) * schedule[2];
#endif
}
