#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// MLP forward pass for GPUs, fp32 (the portable-gpu path, lib/mlp_block.glsl): a workgroup of
// MLP_THREADS invocations takes MLP_BLOCK samples, MLP_ROWS at a time (as many as shared memory
// holds). Per layer the weights are staged in shared memory, then each invocation computes its
// micro-tile of the pass's [MLP_ROWS x outputs] product: rows tr + BLOCK_TR * i, columns
// tc + BLOCK_TC * j, reading the activations and weights it needs from shared memory once per
// step of the sum for all of them. Outputs overwrite the activations in place after a barrier.
// With MLP_TRAINING it also stores every hidden layer's output for the backward pass.
// Specification: engine/nn/reference.py mlp_forward(), mlp_train_forward().
//
// binding | name         | access | contents
// 0       | inputs       | read   | float [n, MLP_INPUTS]
// 1       | mlp_weights  | read   | the layers' matrices (lib/mlp_weights.glsl)
// 2       | outputs      | write  | float [n, MLP_OUTPUTS], after the output activation
// 3       | item_counter | read   | with ITEM_COUNTER: uint [8], [0] the samples (lib/common.glsl)
// 4       | activations  | write  | with MLP_TRAINING: float [MLP_HIDDEN_LAYERS, n, MLP_WIDTH], after ReLU
// push constants: n (samples; with ITEM_COUNTER, item_counter[0] instead)
// defines: lib/mlp.glsl's, MLP_BLOCK, MLP_ROWS (dividing it), MLP_THREADS (the workgroup size),
//          BLOCK_TR (dividing MLP_THREADS and MLP_ROWS), MLP_TRAINING, ITEM_COUNTER

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/mlp_weights.glsl"

layout(std430, binding = 0) readonly buffer Inputs { float inputs[]; };
MLP_WEIGHTS_BUFFER(1);
layout(std430, binding = 2) writeonly buffer Outputs { float outputs[]; };
ITEM_COUNTER_BUFFER(3);
#if MLP_TRAINING
layout(std430, binding = 4) writeonly buffer Activations { float activations[]; };
#endif
layout(push_constant) uniform Push { uint n; };

#ifndef MLP_ITEMS
#define MLP_ITEMS 1  // lib/mlp.glsl needs it; these kernels use only its activations and layer offsets
#endif
#include "lib/mlp.glsl"
#include "lib/mlp_block.glsl"
#define ACT_COLS max(MLP_INPUTS, MLP_WIDTH)
#define W_ROWS max(MLP_WIDTH, MLP_OUTPUTS)
#define W_COLS max(MLP_INPUTS, MLP_WIDTH)
#include "lib/mlp_block_tiles.glsl"

uint count;
uint row0;

// Hidden layer `layer`'s outputs: ReLU, into the activations in place (and the training copy).
#define FORWARD_HIDDEN(layer, r, c, v)                                                           \
    {                                                                                            \
        float h_ = max(v, 0.0);                                                                  \
        act[(r) * ACT_STRIDE + (c)] = h_;                                                        \
        STORE_ACTIVATION(layer, r, c, h_)                                                        \
    }
#if MLP_TRAINING
#define STORE_ACTIVATION(layer, r, c, h)                                                         \
    if (row0 + (r) < count) activations[(uint(layer) * n + row0 + (r)) * uint(MLP_WIDTH) + (c)] = h;
#else
#define STORE_ACTIVATION(layer, r, c, h)
#endif
#define FORWARD_OUTPUT(layer, r, c, v)                                                           \
    if (row0 + (r) < count) outputs[(row0 + (r)) * uint(MLP_OUTPUTS) + (c)] = mlp_output_activation(v);

void main() {
    count = ITEM_COUNT;
    uint block0 = workgroup_index() * uint(MLP_BLOCK);
    if (block0 >= count) return;  // the whole workgroup: no barrier is left waiting
    uint t = gl_LocalInvocationIndex;
    uint tr = t % uint(BLOCK_TR);
    uint tc = t / uint(BLOCK_TR);
    [[dont_unroll]] for (uint pass = 0u; pass < uint(MLP_BLOCK / MLP_ROWS); ++pass) {
        row0 = block0 + pass * uint(MLP_ROWS);
        if (row0 >= count) break;  // uniform: the same for every invocation of the workgroup
        // The pass's inputs (zero past the count). The last barrier of the previous pass ordered
        // every read of `act` before these writes.
        for (uint e = t; e < uint(MLP_ROWS * MLP_INPUTS); e += uint(MLP_THREADS)) {
            uint r = e / uint(MLP_INPUTS);
            uint c = e % uint(MLP_INPUTS);
            act[r * ACT_STRIDE + c] = row0 + r < count ? inputs[(row0 + r) * uint(MLP_INPUTS) + c] : 0.0;
        }
        BLOCK_LAYER(0, MLP_WIDTH, MLP_INPUTS, W_FORWARD, FORWARD_HIDDEN)
        [[dont_unroll]] for (int layer = 1; layer < MLP_HIDDEN_LAYERS; ++layer) {
            BLOCK_LAYER(layer, MLP_WIDTH, MLP_WIDTH, W_FORWARD, FORWARD_HIDDEN)
        }
        BLOCK_LAYER(MLP_HIDDEN_LAYERS, MLP_OUTPUTS, MLP_WIDTH, W_FORWARD, FORWARD_OUTPUT)
    }
}
