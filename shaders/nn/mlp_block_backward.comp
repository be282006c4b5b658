#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// MLP backward pass for GPUs, fp32 (the portable-gpu path, lib/mlp_block.glsl): the block of
// MLP_BLOCK samples, MLP_ROWS at a time, carries dL/d outputs back through the layers as
// mlp_block_forward.comp carries the inputs forward: per layer, G = D W (the transposed product:
// the weights staged as they are stored, read down their columns), each invocation its micro-tile,
// then the hidden layer's delta G * relu'(a) in place. Keeps each layer's delta (for the weight
// gradients: mlp_weight_gradient.comp) and dL/d inputs (for the encoding's backward pass).
// Specification: engine/nn/reference.py mlp_backward().
//
// binding | name           | access | contents
// 0       | mlp_weights    | read   | the layers' matrices (lib/mlp_weights.glsl)
// 1       | activations    | read   | float [MLP_HIDDEN_LAYERS, n, MLP_WIDTH] from the training forward pass
// 2       | outputs        | read   | float [n, MLP_OUTPUTS] from the training forward pass
// 3       | d_outputs      | read   | float [n, MLP_OUTPUTS]: dL/d outputs
// 4       | output_deltas  | write  | float [n, MLP_OUTPUTS]: dL/d output pre-activation
// 5       | deltas         | write  | float [MLP_HIDDEN_LAYERS, n, MLP_WIDTH]: dL/d hidden pre-activations
// 6       | d_inputs       | write  | float [n, MLP_INPUTS]: dL/d inputs
// push constants: n (samples)
// defines: as mlp_block_forward.comp's

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/mlp_weights.glsl"

MLP_WEIGHTS_BUFFER(0);
layout(std430, binding = 1) readonly buffer Activations { float activations[]; };
layout(std430, binding = 2) readonly buffer Outputs { float outputs[]; };
layout(std430, binding = 3) readonly buffer DOutputs { float d_outputs[]; };
layout(std430, binding = 4) writeonly buffer OutputDeltas { float output_deltas[]; };
layout(std430, binding = 5) writeonly buffer Deltas { float deltas[]; };
layout(std430, binding = 6) writeonly buffer DInputs { float d_inputs[]; };
layout(push_constant) uniform Push { uint n; };

#ifndef MLP_ITEMS
#define MLP_ITEMS 1  // lib/mlp.glsl needs it; these kernels use only its activations and layer offsets
#endif
#include "lib/mlp.glsl"
#include "lib/mlp_block.glsl"
#define ACT_COLS max(MLP_OUTPUTS, MLP_WIDTH)
#define W_ROWS max(MLP_WIDTH, MLP_OUTPUTS)
#define W_COLS max(MLP_INPUTS, MLP_WIDTH)
#include "lib/mlp_block_tiles.glsl"

uint row0;

// The gradient g arriving at hidden layer `hidden`'s output: its delta g * relu'(a), in place.
#define BACKWARD_HIDDEN(hidden, r, c, g)                                                         \
    {                                                                                            \
        uint at_ = (uint(hidden) * n + row0 + (r)) * uint(MLP_WIDTH) + (c);                      \
        bool live_ = row0 + (r) < n;                                                             \
        float d_ = live_ && activations[at_] > 0.0 ? g : 0.0;                                    \
        act[(r) * ACT_STRIDE + (c)] = d_;                                                        \
        if (live_) deltas[at_] = d_;                                                             \
    }
// Going back through weight layer `layer` (>= 1) reaches hidden layer layer - 1.
#define BACKWARD_HIDDEN_ABOVE(layer, r, c, g) BACKWARD_HIDDEN((layer) - 1, r, c, g)
#define BACKWARD_INPUT(layer, r, c, g)                                                           \
    if (row0 + (r) < n) d_inputs[(row0 + (r)) * uint(MLP_INPUTS) + (c)] = g;

void main() {
    uint block0 = workgroup_index() * uint(MLP_BLOCK);
    if (block0 >= n) return;  // the whole workgroup
    uint t = gl_LocalInvocationIndex;
    uint tr = t % uint(BLOCK_TR);
    uint tc = t / uint(BLOCK_TR);
    [[dont_unroll]] for (uint pass = 0u; pass < uint(MLP_BLOCK / MLP_ROWS); ++pass) {
        row0 = block0 + pass * uint(MLP_ROWS);
        if (row0 >= n) break;  // uniform
        // Output deltas: dL/d outputs times the output activation's derivative.
        for (uint e = t; e < uint(MLP_ROWS * MLP_OUTPUTS); e += uint(MLP_THREADS)) {
            uint r = e / uint(MLP_OUTPUTS);
            uint c = e % uint(MLP_OUTPUTS);
            uint at = (row0 + r) * uint(MLP_OUTPUTS) + c;
            float d = 0.0;
            if (row0 + r < n) {
                d = d_outputs[at] * mlp_output_activation_derivative(outputs[at]);
                output_deltas[at] = d;
            }
            act[r * ACT_STRIDE + c] = d;
        }
        // Layer l's matrix is [out_l][in_l]; going back through it, the product has in_l columns
        // and sums over out_l.
        BLOCK_LAYER_T(MLP_HIDDEN_LAYERS, MLP_OUTPUTS, MLP_WIDTH, MLP_WIDTH, MLP_OUTPUTS, W_BACKWARD, BACKWARD_HIDDEN_ABOVE)
        [[dont_unroll]] for (int layer = MLP_HIDDEN_LAYERS - 1; layer > 0; --layer) {
            BLOCK_LAYER_T(layer, MLP_WIDTH, MLP_WIDTH, MLP_WIDTH, MLP_WIDTH, W_BACKWARD, BACKWARD_HIDDEN_ABOVE)
        }
        BLOCK_LAYER_T(0, MLP_WIDTH, MLP_INPUTS, MLP_INPUTS, MLP_WIDTH, W_BACKWARD, BACKWARD_INPUT)
    }
}
