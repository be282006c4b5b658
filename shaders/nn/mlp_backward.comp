#version 460
#extension GL_GOOGLE_include_directive : require
// MLP backward pass, per sample: carries dL/d outputs back through the layers, keeping each
// layer's gradient with respect to its pre-activation (the deltas the weight gradients need) and
// the gradient with respect to the inputs (for the encoding's backward pass).
// Specification: engine/nn/reference.py mlp_backward().
//
// binding | name           | access | contents
// 0       | mlp_weights    | read   | the layers' matrices (lib/mlp_weights.glsl)
// 1       | activations    | read   | texels (4 floats): [MLP_HIDDEN_LAYERS, n, MLP_WIDTH] from mlp_train_forward
// 2       | outputs        | read   | texels (MLP_OUTPUT_COMPONENTS floats): [n, MLP_OUTPUTS] from mlp_train_forward
// 3       | d_outputs      | read   | texels (MLP_OUTPUT_COMPONENTS floats): [n, MLP_OUTPUTS]: dL/d outputs
// 4       | output_deltas  | write  | float [n, MLP_OUTPUTS]: dL/d output pre-activation
// 5       | deltas         | write  | texels (4 floats): [MLP_HIDDEN_LAYERS, n, MLP_WIDTH]: dL/d hidden pre-activations
// 6       | d_inputs       | write  | float [n, MLP_INPUTS]: dL/d inputs (texels of 4 floats when
//         |                |        | MLP_INPUTS is a multiple of 4)
// push constants: n (samples)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/mlp_weights.glsl"

MLP_WEIGHTS_BUFFER(0);
layout(binding = 1) uniform samplerBuffer activations;
layout(binding = 2) uniform samplerBuffer outputs;
layout(binding = 3) uniform samplerBuffer d_outputs;
layout(std430, binding = 4) writeonly buffer OutputDeltas { float output_deltas[]; };
layout(binding = 5, rgba32f) uniform writeonly imageBuffer deltas;
#if MLP_INPUTS % 4 == 0
layout(binding = 6, rgba32f) uniform writeonly imageBuffer d_inputs;
#else
layout(std430, binding = 6) writeonly buffer DInputs { float d_inputs[]; };
#endif
layout(push_constant) uniform Push { uint n; };

#include "lib/mlp.glsl"

void main() {
    uint first = global_index() * MLP_ITEMS;
    if (first >= n) return;

    float y[MLP_ITEMS][MLP_OUTPUTS];
    float delta_out[MLP_ITEMS][MLP_OUTPUTS];
    MLP_FETCH_ITEMS(y, outputs, MLP_OUTPUT_COMPONENTS, 0u, first, n, MLP_OUTPUTS)
    MLP_FETCH_ITEMS(delta_out, d_outputs, MLP_OUTPUT_COMPONENTS, 0u, first, n, MLP_OUTPUTS)
    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
        [[unroll]] for (int k = 0; k < MLP_OUTPUTS; ++k) {
            delta_out[s][k] *= mlp_output_activation_derivative(y[s][k]);
        }
    }
    MLP_STORE_ITEMS(output_deltas, 0u, delta_out, first, n, MLP_OUTPUTS)

    // From the output layer back to the last hidden layer, then hidden layer by hidden layer:
    // delta = (W^T delta_above) * relu'(a), with a the hidden layer's stored output.
    float g[MLP_ITEMS][MLP_WIDTH];
    float a[MLP_ITEMS][MLP_WIDTH];
    MLP_MATVEC_TRANSPOSED(MLP_OUTPUT_OFFSET, MLP_OUTPUTS, MLP_WIDTH, delta_out, g)
    // Hidden layer l's delta from the gradient g arriving at its output: g * relu'(a_l), stored.
#define HIDDEN_DELTA(layer)                                                                        \
    {                                                                                              \
        uint offset = uint(layer) * n * MLP_WIDTH;                                                 \
        MLP_FETCH_ITEMS(a, activations, 4, offset, first, n, MLP_WIDTH)                            \
        [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {                                           \
            [[unroll]] for (int k = 0; k < MLP_WIDTH; ++k) a[s][k] = a[s][k] > 0.0 ? g[s][k] : 0.0; \
        }                                                                                          \
        MLP_STORE_ITEMS_TEXELS(deltas, offset, a, first, n, MLP_WIDTH)                             \
    }
    // Layers unrolled, as in the forward pass (lavapipe, 32-64-64-3, 2^16 samples: 29.7 -> 26 ms),
    // and the last one peeled off rather than skipped with `if (layer > 0)`: a CPU driver runs the
    // body of an `if` that no lane takes anyway, masked.
    [[unroll]] for (int layer = MLP_HIDDEN_LAYERS - 1; layer > 0; --layer) {
        HIDDEN_DELTA(layer)
        MLP_MATVEC_TRANSPOSED(MLP_LAYER_OFFSET(layer), MLP_WIDTH, MLP_WIDTH, a, g)
    }
    HIDDEN_DELTA(0)
    float d_x[MLP_ITEMS][MLP_INPUTS];
    MLP_MATVEC_TRANSPOSED(0, MLP_WIDTH, MLP_INPUTS, a, d_x)
#if MLP_INPUTS % 4 == 0
    MLP_STORE_ITEMS_TEXELS(d_inputs, 0u, d_x, first, n, MLP_INPUTS)
#else
    MLP_STORE_ITEMS(d_inputs, 0u, d_x, first, n, MLP_INPUTS)
#endif
}
