#version 460
#extension GL_GOOGLE_include_directive : require
// A training batch drawn from a pool of precomputed samples on the device (the SDF app's positions
// and distances, computed on the host once): sample i of step `step` is pool entry
// floor(u * pool_size), u the random sequence's number 0 of item i (lib/random.glsl).
// Specification: engine/nn/reference.py pool_batch().
//
// binding | name           | access | contents
// 0       | pool_positions | read   | float [pool_size, POOL_DIMS]
// 1       | pool_targets   | read   | float [pool_size, POOL_CHANNELS]
// 2       | training_state | read   | uint [2]: step, seed (written by the host before each step)
// 3       | positions      | write  | float [n, POOL_DIMS]
// 4       | targets        | write  | float [n, POOL_CHANNELS]
// push constants: n (batch size), pool_size
// defines: POOL_DIMS, POOL_CHANNELS

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/random.glsl"

layout(std430, binding = 0) readonly buffer PoolPositions { float pool_positions[]; };
layout(std430, binding = 1) readonly buffer PoolTargets { float pool_targets[]; };
layout(std430, binding = 2) readonly buffer TrainingState { uint training_state[]; };
layout(std430, binding = 3) writeonly buffer Positions { float positions[]; };
layout(std430, binding = 4) writeonly buffer Targets { float targets[]; };
layout(push_constant) uniform Push { uint n; uint pool_size; };

void main() {
    uint i = global_index();
    if (i >= n) return;
    float u = random_uniform(training_state[1], training_state[0], i, 0u);
    uint entry = min(uint(u * float(pool_size)), pool_size - 1u);
    for (int d = 0; d < POOL_DIMS; ++d) positions[i * POOL_DIMS + d] = pool_positions[entry * POOL_DIMS + d];
    for (int c = 0; c < POOL_CHANNELS; ++c) targets[i * POOL_CHANNELS + c] = pool_targets[entry * POOL_CHANNELS + c];
}
