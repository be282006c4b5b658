// Stateless random numbers: a PCG hash of (seed, step, index), so every invocation of every training
// step draws its own numbers without any state kept between dispatches.
// Specification: engine/nn/reference.py random_uniform().

#ifndef NGVK_RANDOM_GLSL
#define NGVK_RANDOM_GLSL

uint pcg_hash(uint v) {
    uint state = v * 747796405u + 2891336453u;
    uint word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// The k-th uniform number in [0, 1) of item `index` at training step `step`.
float random_uniform(uint seed, uint step, uint index, uint k) {
    uint h = pcg_hash(seed ^ pcg_hash(step ^ pcg_hash(index * 4u + k)));
    return float(h >> 8) * (1.0 / 16777216.0);
}

#endif
