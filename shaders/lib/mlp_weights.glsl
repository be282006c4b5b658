// Declaration of the MLP's weight buffer, separate from lib/mlp.glsl because the buffer must be
// declared before the functions that read it. In a kernel: `MLP_WEIGHTS_BUFFER(binding);`.
//
// With MLP_WEIGHTS_UNIFORM = 1 (the network fits the device's uniform-buffer range, 64 KiB on most)
// the weights are a uniform buffer: on CPU drivers a uniform load is one gather instruction where a
// storage-buffer load is a loop over the SIMD lanes, which is both slower to run and much slower to
// compile. Otherwise they are a storage buffer. MLP_WEIGHT(i) reads weight i either way.

#ifndef NGVK_MLP_WEIGHTS_GLSL
#define NGVK_MLP_WEIGHTS_GLSL

#if MLP_WEIGHTS_UNIFORM
// std140 packs a float array with a 16-byte stride, so the weights are vec4s: MLP_WEIGHT_VEC4S of them.
#define MLP_WEIGHTS_BUFFER(index) \
    layout(std140, binding = index) uniform MlpWeights { vec4 mlp_weights[MLP_WEIGHT_VEC4S]; }
#define MLP_WEIGHT(i) (mlp_weights[(i) >> 2][(i) & 3u])
#else
#define MLP_WEIGHTS_BUFFER(index) \
    layout(std430, binding = index) readonly buffer MlpWeights { float mlp_weights[]; }
#define MLP_WEIGHT(i) (mlp_weights[i])
#endif

#endif
