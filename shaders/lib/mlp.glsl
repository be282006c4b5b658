// Fully fused MLP in tcnn's form: no biases, ReLU after every hidden layer, then the output
// activation. Forward pass and the backward propagation of gradients through it.
// Specification: engine/nn/reference.py mlp_forward(), mlp_train_forward(), mlp_backward().
//
// Each invocation evaluates MLP_ITEMS samples at once: every weight it loads serves all of them.
// On a CPU driver, where one invocation is one SIMD lane and a weight load is a gather, this is what
// makes the MLP fast; on GPUs MLP_ITEMS is 1. Rows run in a loop and columns are unrolled, so the
// activations are read at constant indices (registers) without unrolling whole layers, which would
// make pipeline creation take minutes on LLVM. Weights come four at a time (lib/mlp_weights.glsl)
// and multiply-adds are written as fma(): lavapipe does not contract a * b + c by itself.
// What was tried on lavapipe and measured slower (32-64-64-3 forward, 2^16 samples): blocks of 2-16
// rows per iteration (more accumulators than registers), 12 or 16 samples per invocation (the same
// or slower, and 2-4x the pipeline-creation time), fully unrolled layers (50-90 s to create, and
// slower), rows spread over the lanes of a subgroup (subgroupBroadcast and shared-memory loads
// are loops over the lanes in Mesa 22.3).
//
// One instance, the kernel's only MLP: before including, define
//   MLP_INPUTS, MLP_WIDTH, MLP_OUTPUTS, MLP_HIDDEN_LAYERS, MLP_ITEMS
//   MLP_OUTPUT_ACTIVATION   0 none, 1 relu, 2 sigmoid, 3 exp (engine/nn/layers.py ACTIVATION_CODES)
// (engine/nn/layers.py MLP.defines()) and declare the weights with MLP_WEIGHTS_BUFFER from
// lib/mlp_weights.glsl: the weight matrices one after another, input layer first, each row-major
// [rows = outputs][columns = inputs] (engine/nn/config.py MLPConfig.layer_shapes). The functions are
// mlp_forward(), mlp_output_activation() and mlp_output_activation_derivative().
// Optionally define MLP_STORE_ACTIVATIONS(layer, h) to see each hidden layer's output (training).
//
// Several instances in one kernel (NeRF's density and colour networks): for each, define
// MLP_INSTANCE as its name, include this file, and undefine MLP_INSTANCE. Instance NAME reads
// NAME_INPUTS, NAME_WIDTH, NAME_OUTPUTS, NAME_HIDDEN_LAYERS, NAME_OUTPUT_ACTIVATION (MLP.defines(NAME))
// and the texel buffer NAME_weights (MLP.bindings(NAME); declare it with
// MLP_WEIGHTS_BUFFER_NAMED(binding, NAME_weights)), and its functions are NAME_forward(),
// NAME_output_activation() and NAME_output_activation_derivative(). MLP_ITEMS is the kernel's, shared.
// Configuration values are tested with constant `if`s, not `#if`: a preprocessor condition cannot
// read a name pasted from MLP_INSTANCE (glslang), and constant branches fold away.

#ifndef NGVK_MLP_GLSL
#define NGVK_MLP_GLSL

#extension GL_EXT_control_flow_attributes : require

#include "lib/common.glsl"

#define MLP_INPUT_WEIGHTS (MLP_WIDTH * MLP_INPUTS)
#define MLP_HIDDEN_WEIGHTS (MLP_WIDTH * MLP_WIDTH)
// First weight of layer l: 0 is the input layer, MLP_HIDDEN_LAYERS the output layer.
#define MLP_LAYER_OFFSET(l) ((l) == 0 ? 0 : MLP_INPUT_WEIGHTS + ((l) - 1) * MLP_HIDDEN_WEIGHTS)
#define MLP_OUTPUT_OFFSET MLP_LAYER_OFFSET(MLP_HIDDEN_LAYERS)

#ifndef MLP_STORE_ACTIVATIONS
#define MLP_STORE_ACTIVATIONS(layer, h)
#endif

float mlp_relu(float v) { return max(v, 0.0); }
float mlp_identity(float v) { return v; }

// y[s][r] = activate(sum_c W[r][c] x[s][c]) for every sample s, W at `offset`, [rows][cols]. With
// cols a multiple of 4 (row starts then fall on texel boundaries) the weights come a texel at a time.
#define MLP_MATVEC(offset, rows, cols, x, y, activate)                                      \
    [[dont_unroll]] for (int r = 0; r < (rows); ++r) {                                      \
        float acc[MLP_ITEMS];                                                               \
        [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) acc[s] = 0.0;                        \
        uint row = uint((offset) + r * (cols));                                             \
        if ((cols) % 4 == 0) {                                                              \
            [[unroll]] for (int c4 = 0; c4 < (cols) / 4; ++c4) {                            \
                vec4 w = MLP_WEIGHT4(row / 4u + uint(c4));                                  \
                [[unroll]] for (int q = 0; q < 4; ++q)                                      \
                    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s)                          \
                        acc[s] = fma(w[q], x[s][min(c4 * 4 + q, (cols) - 1)], acc[s]);      \
            }                                                                               \
        } else {                                                                            \
            [[unroll]] for (int c = 0; c < (cols); ++c) {                                   \
                float w = MLP_WEIGHT(row + uint(c));                                        \
                [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) acc[s] = fma(w, x[s][c], acc[s]); \
            }                                                                               \
        }                                                                                   \
        [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) y[s][r] = activate(acc[s]);          \
    }

// g[s][c] = sum_r W[r][c] d[s][r]: the transposed product that carries gradients backwards. With
// cols a multiple of 4, four columns at a time, each texel serving four of them.
#define MLP_MATVEC_TRANSPOSED(offset, rows, cols, d, g)                                     \
    if ((cols) % 4 == 0) {                                                                  \
        [[dont_unroll]] for (int c4 = 0; c4 < (cols) / 4; ++c4) {                           \
            vec4 acc[MLP_ITEMS];                                                            \
            [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) acc[s] = vec4(0.0);              \
            [[unroll]] for (int r = 0; r < (rows); ++r) {                                   \
                vec4 w = MLP_WEIGHT4(uint((offset) + r * (cols)) / 4u + uint(c4));          \
                [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) acc[s] = fma(w, vec4(d[s][r]), acc[s]); \
            }                                                                               \
            [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s)                                  \
                [[unroll]] for (int q = 0; q < 4; ++q)                                      \
                    g[s][min(c4 * 4 + q, (cols) - 1)] = acc[s][q];                          \
        }                                                                                   \
    } else {                                                                                \
        [[dont_unroll]] for (int c = 0; c < (cols); ++c) {                                  \
            float acc[MLP_ITEMS];                                                           \
            [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) acc[s] = 0.0;                    \
            [[unroll]] for (int r = 0; r < (rows); ++r) {                                   \
                float w = MLP_WEIGHT(uint((offset) + r * (cols) + c));                      \
                [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) acc[s] = fma(w, d[s][r], acc[s]); \
            }                                                                               \
            [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) g[s][c] = acc[s];                \
        }                                                                                   \
    }

// Hidden layers alternate between two arrays (no whole-array copies: those make LLVM-based drivers
// take many times longer to create the pipeline). Up to 8 hidden layers (MLPConfig checks it).
#define MLP_HIDDEN(layer, from, to)                                                         \
    MLP_MATVEC(MLP_LAYER_OFFSET(layer), MLP_WIDTH, MLP_WIDTH, from, to, mlp_relu)           \
    MLP_STORE_ACTIVATIONS(layer, to);

// values[s][k] = float offset + (first + s) * size + k of a texel buffer of `components` floats per
// texel (4: offset and size multiples of 4; else 1); samples past n repeat the last one. On CPU
// drivers a fetch gathers four floats for all lanes at once. Unrolled, so that `values` is indexed
// by constants: on lavapipe a private array indexed by a variable is scattered and gathered lane
// by lane.
#define MLP_FETCH_ITEMS(values, texels, components, offset, first, n, size)                     \
    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {                                        \
        uint item_ = (offset) + min((first) + uint(s), (n) - 1u) * uint(size);             \
        if ((components) == 4) {                                                            \
            [[unroll]] for (int t = 0; t < (size) / 4; ++t) {                               \
                vec4 v = texelFetch(texels, int(item_ / 4u) + t);                           \
                [[unroll]] for (int q = 0; q < 4; ++q) values[s][t * 4 + q] = v[q];              \
            }                                                                               \
        } else {                                                                            \
            [[unroll]] for (int k = 0; k < (size); ++k) values[s][k] = texelFetch(texels, int(item_) + k).r; \
        }                                                                                   \
    }

// image[offset + (first + s) * size + k] = values[s][k] for the samples below n, into a storage
// texel buffer of RGBA32F texels (offset and size multiples of 4), a whole texel per imageStore.
#define MLP_STORE_ITEMS_TEXELS(image, offset, values, first, n, size)                       \
    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {                                        \
        if ((first) + uint(s) < (n)) {                                                      \
            uint item_ = (offset) + ((first) + uint(s)) * uint(size);                       \
            [[unroll]] for (int t = 0; t < (size) / 4; ++t) {                               \
                imageStore(image, int(item_ / 4u) + t, vec4(values[s][t * 4], values[s][t * 4 + 1], \
                                                            values[s][t * 4 + 2], values[s][t * 4 + 3])); \
            }                                                                               \
        }                                                                                   \
    }

// buffer[offset + (first + s) * size + k] = x[s][k] for the samples below n.
#define MLP_STORE_ITEMS(buffer, offset, x, first, n, size)                              \
    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {                                    \
        if ((first) + uint(s) < (n)) {                                                  \
            uint item_ = (offset) + ((first) + uint(s)) * uint(size);                   \
            [[unroll]] for (int k = 0; k < (size); ++k) buffer[item_ + k] = x[s][k];    \
        }                                                                               \
    }

#endif  // NGVK_MLP_GLSL

// ---- one instance: included once per MLP of the kernel ------------------------------------------

#ifdef MLP_INSTANCE
#define MLP_INPUTS NGVK_CAT(MLP_INSTANCE, _INPUTS)
#define MLP_WIDTH NGVK_CAT(MLP_INSTANCE, _WIDTH)
#define MLP_OUTPUTS NGVK_CAT(MLP_INSTANCE, _OUTPUTS)
#define MLP_HIDDEN_LAYERS NGVK_CAT(MLP_INSTANCE, _HIDDEN_LAYERS)
#define MLP_OUTPUT_ACTIVATION NGVK_CAT(MLP_INSTANCE, _OUTPUT_ACTIVATION)
#define MLP_WEIGHTS NGVK_CAT(MLP_INSTANCE, _weights)
#define MLP_FN(name) NGVK_CAT(MLP_INSTANCE, NGVK_CAT(_, name))
#elif !defined(NGVK_MLP_DEFAULT_INSTANCE)
#define NGVK_MLP_DEFAULT_INSTANCE
#define MLP_WEIGHTS mlp_weights
#define MLP_FN(name) NGVK_CAT(mlp_, name)
#endif

#ifdef MLP_FN
float MLP_FN(output_activation)(float v) {
    const int activation = MLP_OUTPUT_ACTIVATION;
    if (activation == 1) return max(v, 0.0);
    if (activation == 2) return 1.0 / (1.0 + exp(-v));
    if (activation == 3) return exp(v);
    return v;
}

// Derivative of the output activation, from its output y.
float MLP_FN(output_activation_derivative)(float y) {
    const int activation = MLP_OUTPUT_ACTIVATION;
    if (activation == 1) return y > 0.0 ? 1.0 : 0.0;
    if (activation == 2) return y * (1.0 - y);
    if (activation == 3) return y;
    return 1.0;
}

void MLP_FN(forward)(float x[MLP_ITEMS][MLP_INPUTS], out float y[MLP_ITEMS][MLP_OUTPUTS]) {
    float a[MLP_ITEMS][MLP_WIDTH];
    float b[MLP_ITEMS][MLP_WIDTH];
    MLP_MATVEC(0, MLP_WIDTH, MLP_INPUTS, x, a, mlp_relu)
    MLP_STORE_ACTIVATIONS(0, a);
    if (MLP_HIDDEN_LAYERS > 1) { MLP_HIDDEN(1, a, b) }
    if (MLP_HIDDEN_LAYERS > 2) { MLP_HIDDEN(2, b, a) }
    if (MLP_HIDDEN_LAYERS > 3) { MLP_HIDDEN(3, a, b) }
    if (MLP_HIDDEN_LAYERS > 4) { MLP_HIDDEN(4, b, a) }
    if (MLP_HIDDEN_LAYERS > 5) { MLP_HIDDEN(5, a, b) }
    if (MLP_HIDDEN_LAYERS > 6) { MLP_HIDDEN(6, b, a) }
    if (MLP_HIDDEN_LAYERS > 7) { MLP_HIDDEN(7, a, b) }
    if (MLP_HIDDEN_LAYERS % 2 == 1) {
        MLP_MATVEC(MLP_OUTPUT_OFFSET, MLP_OUTPUTS, MLP_WIDTH, a, y, MLP_FN(output_activation))
    } else {
        MLP_MATVEC(MLP_OUTPUT_OFFSET, MLP_OUTPUTS, MLP_WIDTH, b, y, MLP_FN(output_activation))
    }
}
#undef MLP_FN
#endif

#ifdef MLP_INSTANCE
#undef MLP_INPUTS
#undef MLP_WIDTH
#undef MLP_OUTPUTS
#undef MLP_HIDDEN_LAYERS
#undef MLP_OUTPUT_ACTIVATION
#undef MLP_WEIGHTS
#endif
