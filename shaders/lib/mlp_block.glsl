// The MLP for GPUs, in tcnn's fully fused design: a workgroup takes a block of MLP_BLOCK batch rows
// (samples) and runs them through every layer, the layer's weights and the block's activations
// staged in shared memory, so that each weight fetched from memory serves the whole block.
// Two kernels families build on this file (engine/nn/layers.py MLP, `path`):
//   portable-gpu  nn/mlp_block_forward.comp, nn/mlp_block_backward.comp: fp32, each invocation
//                 computes a micro-tile of rows x columns of the block's layer output;
//   coopmat       nn/mlp_coopmat_*.comp (lib/mlp_coopmat.glsl): fp16 weights and activations,
//                 fp32 accumulation, each subgroup multiplies tiles with VK_KHR_cooperative_matrix.
// lib/mlp.glsl's per-invocation MLP (MLP_ITEMS samples per invocation, weights from texel
// buffers) stays the path of CPU drivers and of the fused app kernels.
//
// Include after lib/mlp.glsl (the kernel's only MLP: MLP_INPUTS, MLP_WIDTH, MLP_OUTPUTS,
// MLP_HIDDEN_LAYERS, MLP_OUTPUT_ACTIVATION) and the weights' MLP_WEIGHTS_BUFFER. Define
//   MLP_BLOCK   rows per workgroup: engine/render/rays.py GROUP_SIZE, so that a dispatch through a
//               ray counter (its words 1..3: one workgroup per GROUP_SIZE items) fits.

#ifndef NGVK_MLP_BLOCK_GLSL
#define NGVK_MLP_BLOCK_GLSL

// The workgroup's index in a grid that Kernel.groups() may fold into 2D (lib/common.glsl).
uint workgroup_index() {
    return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
}

#define MLP_ROUND_UP(x, m) ((((x) + (m) - 1) / (m)) * (m))

// dst[r * stride + c] = T(W[r][c]) of the layer whose row-major [rows][cols] matrix starts at weight
// `first`, for r < rows_pad and c < cols_pad, zero beyond rows x cols (the padding of tiles). Every
// invocation of the workgroup takes its share; a barrier() must follow before the weights are read.
#define MLP_STAGE_WEIGHTS(dst, T, first, rows, cols, rows_pad, cols_pad, stride)                  \
    for (uint e_ = gl_LocalInvocationIndex; e_ < uint((rows_pad) * (cols_pad)); e_ += gl_WorkGroupSize.x) { \
        uint r_ = e_ / uint(cols_pad);                                                             \
        uint c_ = e_ % uint(cols_pad);                                                             \
        float w_ = (r_ < uint(rows) && c_ < uint(cols)) ? MLP_WEIGHT(uint(first) + r_ * uint(cols) + c_) : 0.0; \
        dst[r_ * uint(stride) + c_] = T(w_);                                                       \
    }

#endif
