// Declaration of the MLP's weights, separate from lib/mlp.glsl because the binding must be declared
// before the functions that read it. In a kernel: `MLP_WEIGHTS_BUFFER(binding);`, or for a named
// instance (lib/mlp.glsl) `MLP_WEIGHTS_BUFFER_NAMED(binding, NAME_weights);`.
//
// The weights are a uniform texel buffer of RGBA32F texels (engine/nn/layers.py MLP.bindings()): the
// layers' matrices one after another, row-major, four weights per texel. On CPU drivers (lavapipe)
// a texel fetch is one call that gathers four weights for every lane, where a uniform- or
// storage-buffer load at a computed offset gathers one weight lane by lane; lavapipe, 2 cores,
// 32-64-64-3 forward: 60 GFLOP/s against 46 with a uniform buffer. GPUs cache texel fetches well.
// MLP_WEIGHT(i) reads weight i; MLP_WEIGHT4(t) reads weights 4t .. 4t + 3.

#ifndef NGVK_MLP_WEIGHTS_GLSL
#define NGVK_MLP_WEIGHTS_GLSL

#define MLP_WEIGHTS_BUFFER(index) layout(binding = index) uniform samplerBuffer mlp_weights
#define MLP_WEIGHTS_BUFFER_NAMED(index, name) layout(binding = index) uniform samplerBuffer name
// MLP_WEIGHTS names the weights of the instance being compiled (lib/mlp.glsl).
#define MLP_WEIGHT4(t) texelFetch(MLP_WEIGHTS, int(t))
#define MLP_WEIGHT(i) (MLP_WEIGHT4((i) >> 2)[(i) & 3u])

#endif
