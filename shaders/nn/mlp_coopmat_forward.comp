#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// MLP forward pass on cooperative matrices (the coopmat path; lib/mlp_block.glsl,
// lib/mlp_coopmat.glsl): a workgroup takes MLP_BLOCK samples; their activations live in shared
// memory as fp16, [MLP_BLOCK x ACT_STRIDE], in two buffers that the layers alternate between; per
// layer the weights are staged as fp16 (converted from the fp32 weights Adam updates) and each
// subgroup computes its row tiles of the layer's output, tile by tile: the sum over K-wide slices
// of A (activations, row-major) times B (W^T: the weights read down their rows, column-major),
// accumulated in fp32. Hidden outputs go through ReLU into the other buffer as fp16; the output
// layer's go through the output activation and the subgroup's scratch tile to `outputs` (fp32).
// Inputs and outputs are padded with zeros to CM_PAD; rows past the count are zeros.
// With MLP_TRAINING it also stores every hidden layer's output (fp32, before rounding to fp16).
// Specification: engine/nn/reference.py mlp_forward(), mlp_train_forward() (within fp16's
// precision: engine/check.py FP16_TOLERANCE).
//
// binding | name         | access | contents
// 0       | inputs       | read   | float [n, MLP_INPUTS]
// 1       | mlp_weights  | read   | the layers' matrices (lib/mlp_weights.glsl), fp32
// 2       | outputs      | write  | float [n, MLP_OUTPUTS], after the output activation
// 3       | item_counter | read   | with ITEM_COUNTER: uint [8], [0] the samples (lib/common.glsl)
// 4       | activations  | write  | with MLP_TRAINING: float [MLP_HIDDEN_LAYERS, n, MLP_WIDTH], after ReLU
// push constants: n (samples; with ITEM_COUNTER, item_counter[0] instead)
// defines: lib/mlp.glsl's, MLP_BLOCK, lib/mlp_coopmat.glsl's, MLP_TRAINING, ITEM_COUNTER

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
#include "lib/mlp_coopmat.glsl"

#define IN_PAD MLP_ROUND_UP(MLP_INPUTS, CM_PAD)
#define OUT_PAD MLP_ROUND_UP(MLP_OUTPUTS, CM_PAD)
#define ACT_STRIDE uint(max(IN_PAD, MLP_WIDTH) + 8)
#define W_ROWS max(MLP_WIDTH, OUT_PAD)
#define W_STRIDE uint(max(IN_PAD, MLP_WIDTH) + 8)

shared float16_t act[2 * MLP_BLOCK * (max(IN_PAD, MLP_WIDTH) + 8)];
shared float16_t wsh[W_ROWS * (max(IN_PAD, MLP_WIDTH) + 8)];

uint count;
uint block0;

// One layer: out[r][c] = sum_k act_src[r][k] W[c][k] over the layer's [rows][cols] matrix padded
// to [rows_pad][cols_pad], each subgroup its row tiles, each output tile handed to
// EPILOGUE(layer, rt, nt, acc, dst) with the offset of the other activation buffer.
// Barriers: the first makes the staged weights (and the activations written before) visible; the
// second orders every read of this layer's weights and activations before the next layer's
// staging and before the buffer read here is written again.
#define CM_LAYER(layer, rows, cols, rows_pad, cols_pad, src, dst, EPILOGUE)                       \
    {                                                                                            \
        MLP_STAGE_WEIGHTS(wsh, float16_t, MLP_LAYER_OFFSET(layer), rows, cols, rows_pad, cols_pad, W_STRIDE) \
        barrier();                                                                               \
        if (CM_SUBGROUP < CM_ACTIVE_SUBGROUPS) {                                                 \
            [[dont_unroll]] for (uint rt = CM_SUBGROUP; rt < uint(MLP_BLOCK / CM_M); rt += CM_ACTIVE_SUBGROUPS) { \
                [[dont_unroll]] for (uint nt = 0u; nt < uint((rows_pad) / CM_N); ++nt) {         \
                    CM_ACC acc = CM_ACC(0.0);                                                    \
                    [[dont_unroll]] for (uint kt = 0u; kt < uint((cols_pad) / CM_K); ++kt) {     \
                        CM_A a;                                                                  \
                        CM_B b;                                                                  \
                        coopMatLoad(a, act, (src) + rt * uint(CM_M) * ACT_STRIDE + kt * uint(CM_K), ACT_STRIDE, CM_ROW_MAJOR); \
                        coopMatLoad(b, wsh, nt * uint(CM_N) * W_STRIDE + kt * uint(CM_K), W_STRIDE, CM_COLUMN_MAJOR); \
                        acc = coopMatMulAdd(a, b, acc);                                          \
                    }                                                                            \
                    EPILOGUE(layer, rt, nt, acc, dst)                                            \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
        barrier();                                                                               \
    }

// A hidden layer's output tile: ReLU, into the next activation buffer as fp16 (and, training,
// through the scratch tile into `activations`).
#define FORWARD_HIDDEN(layer, rt, nt, acc, dst)                                                  \
    for (int i_ = 0; i_ < acc.length(); ++i_) acc[i_] = max(acc[i_], 0.0);                       \
    coopMatStore(CM_ACC16(acc), act, (dst) + rt * uint(CM_M) * ACT_STRIDE + nt * uint(CM_N), ACT_STRIDE, CM_ROW_MAJOR); \
    STORE_ACTIVATIONS(layer, rt, nt, acc)
#if MLP_TRAINING
#define STORE_ACTIVATIONS(layer, rt, nt, acc)                                                    \
    CM_TO_SCRATCH(acc)                                                                           \
    CM_FOR_SCRATCH(e_) {                                                                         \
        uint row_ = block0 + rt * uint(CM_M) + e_ / uint(CM_N);                                  \
        uint c_ = nt * uint(CM_N) + e_ % uint(CM_N);                                             \
        if (row_ < count) activations[(uint(layer) * n + row_) * uint(MLP_WIDTH) + c_] = cm_scratch[cm_tile_base() + e_]; \
    }                                                                                            \
    cm_sync();
#else
#define STORE_ACTIVATIONS(layer, rt, nt, acc)
#endif
// The output layer's tile: the output activation, then its valid rows and columns to `outputs`.
#define FORWARD_OUTPUT(layer, rt, nt, acc, dst)                                                  \
    for (int i_ = 0; i_ < acc.length(); ++i_) acc[i_] = mlp_output_activation(acc[i_]);         \
    CM_TO_SCRATCH(acc)                                                                           \
    CM_FOR_SCRATCH(e_) {                                                                         \
        uint row_ = block0 + rt * uint(CM_M) + e_ / uint(CM_N);                                  \
        uint c_ = nt * uint(CM_N) + e_ % uint(CM_N);                                             \
        if (row_ < count && c_ < uint(MLP_OUTPUTS)) outputs[row_ * uint(MLP_OUTPUTS) + c_] = cm_scratch[cm_tile_base() + e_]; \
    }                                                                                            \
    cm_sync();

void main() {
    count = ITEM_COUNT;
    block0 = workgroup_index() * uint(MLP_BLOCK);
    if (block0 >= count) return;  // the whole workgroup: no barrier is left waiting
    // The block's inputs as fp16 into buffer 0, zero in the padding and past the count.
    for (uint e = gl_LocalInvocationIndex; e < uint(MLP_BLOCK * IN_PAD); e += gl_WorkGroupSize.x) {
        uint r = e / uint(IN_PAD);
        uint c = e % uint(IN_PAD);
        float x = block0 + r < count && c < uint(MLP_INPUTS) ? inputs[(block0 + r) * uint(MLP_INPUTS) + c] : 0.0;
        act[r * ACT_STRIDE + c] = float16_t(x);
    }
    const uint other = uint(MLP_BLOCK) * ACT_STRIDE;  // offset of the second activation buffer
    CM_LAYER(0, MLP_WIDTH, MLP_INPUTS, MLP_WIDTH, IN_PAD, 0u, other, FORWARD_HIDDEN)
    uint src = other;
    [[dont_unroll]] for (int layer = 1; layer < MLP_HIDDEN_LAYERS; ++layer) {
        uint dst = other - src;
        CM_LAYER(layer, MLP_WIDTH, MLP_WIDTH, MLP_WIDTH, MLP_WIDTH, src, dst, FORWARD_HIDDEN)
        src = dst;
    }
    CM_LAYER(MLP_HIDDEN_LAYERS, MLP_OUTPUTS, MLP_WIDTH, OUT_PAD, MLP_WIDTH, src, 0u, FORWARD_OUTPUT)
}
