#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// MLP backward pass on cooperative matrices (the coopmat path): the block of MLP_BLOCK samples
// carries dL/d outputs back through the layers as mlp_coopmat_forward.comp carries the inputs
// forward. Per layer G = D W (fp16 operands, fp32 accumulators; the weights staged as stored and
// read row-major as B), then for a hidden layer its delta G * relu'(a) through the subgroup's
// scratch tile, stored (fp32) and kept as fp16 for the next product down. The deltas are scaled
// by one power of two per block that brings the largest output delta into [0.5, 1) (exact, and
// every later delta is linear in them): gradients of a mean loss are small enough to fall into
// fp16's subnormal range otherwise. Everything stored is scaled back.
// Specification: engine/nn/reference.py mlp_backward() (within fp16's precision).
//
// binding | name           | access | contents
// 0       | mlp_weights    | read   | the layers' matrices (lib/mlp_weights.glsl), fp32
// 1       | activations    | read   | float [MLP_HIDDEN_LAYERS, n, MLP_WIDTH] from the training forward pass
// 2       | outputs        | read   | float [n, MLP_OUTPUTS] from the training forward pass
// 3       | d_outputs      | read   | float [n, MLP_OUTPUTS]: dL/d outputs
// 4       | output_deltas  | write  | float [n, MLP_OUTPUTS]: dL/d output pre-activation
// 5       | deltas         | write  | float [MLP_HIDDEN_LAYERS, n, MLP_WIDTH]: dL/d hidden pre-activations
// 6       | d_inputs       | write  | float [n, MLP_INPUTS]: dL/d inputs
// push constants: n (samples)
// defines: as mlp_coopmat_forward.comp's

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
#include "lib/mlp_coopmat.glsl"

#define IN_PAD MLP_ROUND_UP(MLP_INPUTS, CM_PAD)
#define OUT_PAD MLP_ROUND_UP(MLP_OUTPUTS, CM_PAD)
#define ACT_STRIDE uint(max(OUT_PAD, MLP_WIDTH) + 8)
#define W_ROWS max(MLP_WIDTH, OUT_PAD)
#define W_STRIDE uint(max(IN_PAD, MLP_WIDTH) + 8)

shared float16_t act[2 * MLP_BLOCK * (max(OUT_PAD, MLP_WIDTH) + 8)];
shared float16_t wsh[W_ROWS * (max(IN_PAD, MLP_WIDTH) + 8)];
shared uint block_max;  // float bits of max |output delta| over the block (non-negative: ordered as uints)

uint block0;
float scale;     // the block's power of two
float unscale;   // 1 / scale

// Back through layer `layer` ([rows][cols] matrix padded to [rows_pad][cols_pad]): G[r][c] =
// sum_k D[r][k] W[k][c], D the deltas above (src), each subgroup its row tiles; each tile of G to
// EPILOGUE(layer, rt, nt, acc, dst). Barriers as in mlp_coopmat_forward.comp.
#define CM_LAYER_BACK(layer, rows, cols, rows_pad, cols_pad, src, dst, EPILOGUE)                  \
    {                                                                                            \
        MLP_STAGE_WEIGHTS(wsh, float16_t, MLP_LAYER_OFFSET(layer), rows, cols, rows_pad, cols_pad, W_STRIDE) \
        barrier();                                                                               \
        if (CM_SUBGROUP < CM_ACTIVE_SUBGROUPS) {                                                 \
            [[dont_unroll]] for (uint rt = CM_SUBGROUP; rt < uint(MLP_BLOCK / CM_M); rt += CM_ACTIVE_SUBGROUPS) { \
                [[dont_unroll]] for (uint nt = 0u; nt < uint((cols_pad) / CM_N); ++nt) {         \
                    CM_ACC acc = CM_ACC(0.0);                                                    \
                    [[dont_unroll]] for (uint kt = 0u; kt < uint((rows_pad) / CM_K); ++kt) {     \
                        CM_A a;                                                                  \
                        CM_B b;                                                                  \
                        coopMatLoad(a, act, (src) + rt * uint(CM_M) * ACT_STRIDE + kt * uint(CM_K), ACT_STRIDE, CM_ROW_MAJOR); \
                        coopMatLoad(b, wsh, kt * uint(CM_K) * W_STRIDE + nt * uint(CM_N), W_STRIDE, CM_ROW_MAJOR); \
                        acc = coopMatMulAdd(a, b, acc);                                          \
                    }                                                                            \
                    EPILOGUE(layer, rt, nt, acc, dst)                                            \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
        barrier();                                                                               \
    }

// The gradient arriving at hidden layer layer - 1's output: its delta g * relu'(a), stored
// (scaled back) and kept, scaled, as fp16 for the next product. Rows past n get zeros.
#define BACKWARD_HIDDEN(layer, rt, nt, acc, dst)                                                 \
    CM_TO_SCRATCH(acc)                                                                           \
    CM_FOR_SCRATCH(e_) {                                                                         \
        uint r_ = rt * uint(CM_M) + e_ / uint(CM_N);                                             \
        uint c_ = nt * uint(CM_N) + e_ % uint(CM_N);                                             \
        uint at_ = (uint((layer) - 1) * n + block0 + r_) * uint(MLP_WIDTH) + c_;                 \
        bool live_ = block0 + r_ < n;                                                            \
        float d_ = live_ && activations[at_] > 0.0 ? cm_scratch[cm_tile_base() + e_] : 0.0;     \
        if (live_) deltas[at_] = d_ * unscale;                                                   \
        act[(dst) + r_ * ACT_STRIDE + c_] = float16_t(d_);                                       \
    }                                                                                            \
    cm_sync();
// The gradient arriving at the inputs.
#define BACKWARD_INPUT(layer, rt, nt, acc, dst)                                                  \
    CM_TO_SCRATCH(acc)                                                                           \
    CM_FOR_SCRATCH(e_) {                                                                         \
        uint row_ = block0 + rt * uint(CM_M) + e_ / uint(CM_N);                                  \
        uint c_ = nt * uint(CM_N) + e_ % uint(CM_N);                                             \
        if (row_ < n && c_ < uint(MLP_INPUTS)) d_inputs[row_ * uint(MLP_INPUTS) + c_] = cm_scratch[cm_tile_base() + e_] * unscale; \
    }                                                                                            \
    cm_sync();

// dL/d output pre-activation of element (r, c) of the block (0 past n and in the padding).
float output_delta(uint r, uint c) {
    if (block0 + r >= n || c >= uint(MLP_OUTPUTS)) return 0.0;
    uint at = (block0 + r) * uint(MLP_OUTPUTS) + c;
    return d_outputs[at] * mlp_output_activation_derivative(outputs[at]);
}

void main() {
    block0 = workgroup_index() * uint(MLP_BLOCK);
    if (block0 >= n) return;  // the whole workgroup
    uint t = gl_LocalInvocationIndex;
    if (t == 0u) block_max = 0u;
    barrier();
    // Output deltas, stored, and their largest magnitude over the block.
    float largest = 0.0;
    for (uint e = t; e < uint(MLP_BLOCK * MLP_OUTPUTS); e += gl_WorkGroupSize.x) {
        uint r = e / uint(MLP_OUTPUTS);
        uint c = e % uint(MLP_OUTPUTS);
        if (block0 + r < n) {
            float d = output_delta(r, c);
            output_deltas[(block0 + r) * uint(MLP_OUTPUTS) + c] = d;
            largest = max(largest, abs(d));
        }
    }
    atomicMax(block_max, floatBitsToUint(largest));
    barrier();
    scale = cm_scale_for(uintBitsToFloat(block_max));
    unscale = 1.0 / scale;
    // The scaled output deltas as fp16 into buffer 0, zero in the padding and past n.
    for (uint e = t; e < uint(MLP_BLOCK * OUT_PAD); e += gl_WorkGroupSize.x) {
        uint r = e / uint(OUT_PAD);
        uint c = e % uint(OUT_PAD);
        act[r * ACT_STRIDE + c] = float16_t(output_delta(r, c) * scale);
    }
    const uint other = uint(MLP_BLOCK) * ACT_STRIDE;
    CM_LAYER_BACK(MLP_HIDDEN_LAYERS, MLP_OUTPUTS, MLP_WIDTH, OUT_PAD, MLP_WIDTH, 0u, other, BACKWARD_HIDDEN)
    uint src = other;
    [[dont_unroll]] for (int layer = MLP_HIDDEN_LAYERS - 1; layer > 0; --layer) {
        uint dst = other - src;
        CM_LAYER_BACK(layer, MLP_WIDTH, MLP_WIDTH, MLP_WIDTH, MLP_WIDTH, src, dst, BACKWARD_HIDDEN)
        src = dst;
    }
    CM_LAYER_BACK(0, MLP_WIDTH, MLP_INPUTS, MLP_WIDTH, IN_PAD, src, 0u, BACKWARD_INPUT)
}
