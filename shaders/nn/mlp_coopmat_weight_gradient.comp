#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// Weight gradient of one MLP layer on cooperative matrices (the coopmat path): dW = D^T X over
// the batch, D the layer's deltas [n, WG_ROWS] and X what it multiplied [n, WG_COLS]. Workgroup
// `chunk` sums the samples of its chunk (chunk_samples of them) MLP_BLOCK at a time: the block's
// D and X are staged as fp16, each scaled by a power of two that brings its largest magnitude
// into [0.5, 1) (exact; keeps small gradients out of fp16's subnormal range), and each subgroup
// adds the block's product to its tiles of dW, accumulated in fp32 and scaled back. A is D^T (D
// read column-major), B is X (row-major). The chunk's dW goes to its row of `partials`, which
// reduce_partials.comp sums, as with mlp_weight_gradient.comp. The tiles are dealt to CM_SUBGROUPS
// subgroups, CM_TILES_PER_SUBGROUP accumulators each; a driver that runs the workgroup as fewer,
// larger subgroups gets the chunk summed in several rounds, each subgroup taking another's tiles.
// Specification: engine/nn/reference.py mlp_backward() (its `grads`; within fp16's precision).
//
// binding | name          | access | contents
// 0       | deltas        | read   | float [.., n, WG_ROWS] from delta_offset: dL/d pre-activation
// 1       | layer_inputs  | read   | float [.., n, WG_COLS] from input_offset: what the layer multiplied
// 2       | partials      | write  | float [chunks, WG_ROWS * WG_COLS]
// push constants: n (samples), chunk_samples (a multiple of MLP_BLOCK), delta_offset, input_offset (in floats)
// defines: WG_ROWS, WG_COLS, MLP_BLOCK, lib/mlp_coopmat.glsl's

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/mlp_block.glsl"
#include "lib/mlp_coopmat.glsl"

layout(std430, binding = 0) readonly buffer Deltas { float deltas[]; };
layout(std430, binding = 1) readonly buffer LayerInputs { float layer_inputs[]; };
layout(std430, binding = 2) writeonly buffer Partials { float partials[]; };
layout(push_constant) uniform Push { uint n; uint chunk_samples; uint delta_offset; uint input_offset; };

#define ROWS_PAD MLP_ROUND_UP(WG_ROWS, CM_PAD)
#define COLS_PAD MLP_ROUND_UP(WG_COLS, CM_PAD)
#define D_STRIDE uint(ROWS_PAD + 8)
#define X_STRIDE uint(COLS_PAD + 8)
#define COL_TILES (COLS_PAD / CM_N)
#define TILES ((ROWS_PAD / CM_M) * COL_TILES)
#define CM_TILES_PER_SUBGROUP ((TILES + CM_SUBGROUPS - 1) / CM_SUBGROUPS)

shared float16_t dsh[MLP_BLOCK * (ROWS_PAD + 8)];  // the block's D, [sample][row]
shared float16_t xsh[MLP_BLOCK * (COLS_PAD + 8)];  // the block's X, [sample][column]
shared uint block_max[2];  // float bits of max |D| and max |X| over the block

void main() {
    uint chunk = workgroup_index();
    uint first = chunk * chunk_samples;
    if (first >= n) return;  // the whole workgroup
    uint end = min(first + chunk_samples, n);
    uint t = gl_LocalInvocationIndex;
    uint out_base = chunk * uint(WG_ROWS * WG_COLS);
    uint working = CM_ACTIVE_SUBGROUPS;
    uint rounds = (uint(CM_SUBGROUPS) + working - 1u) / working;  // 1 unless the subgroups are larger
    [[dont_unroll]] for (uint round = 0u; round < rounds; ++round) {
        // The subgroup whose tiles this one takes in this round (uniform within the subgroup).
        uint sg = CM_SUBGROUP + round * working;
        bool taking = CM_SUBGROUP < working && sg < uint(CM_SUBGROUPS);
        CM_ACC acc[CM_TILES_PER_SUBGROUP];
        [[unroll]] for (int j = 0; j < CM_TILES_PER_SUBGROUP; ++j) acc[j] = CM_ACC(0.0);

        [[dont_unroll]] for (uint block0 = first; block0 < end; block0 += uint(MLP_BLOCK)) {
            // The block's largest magnitudes. (The barrier at the end of the previous block
            // ordered every read of the shared arrays before these writes.)
            if (t < 2u) block_max[t] = 0u;
            barrier();
            float largest_d = 0.0, largest_x = 0.0;
            for (uint e = t; e < uint(MLP_BLOCK * WG_ROWS); e += gl_WorkGroupSize.x) {
                uint s = block0 + e / uint(WG_ROWS);
                if (s < end) largest_d = max(largest_d, abs(deltas[delta_offset + s * uint(WG_ROWS) + e % uint(WG_ROWS)]));
            }
            for (uint e = t; e < uint(MLP_BLOCK * WG_COLS); e += gl_WorkGroupSize.x) {
                uint s = block0 + e / uint(WG_COLS);
                if (s < end) largest_x = max(largest_x, abs(layer_inputs[input_offset + s * uint(WG_COLS) + e % uint(WG_COLS)]));
            }
            atomicMax(block_max[0], floatBitsToUint(largest_d));
            atomicMax(block_max[1], floatBitsToUint(largest_x));
            barrier();
            float scale_d = cm_scale_for(uintBitsToFloat(block_max[0]));
            float scale_x = cm_scale_for(uintBitsToFloat(block_max[1]));
            // Staged as fp16, scaled, zero in the padding and past the chunk.
            for (uint e = t; e < uint(MLP_BLOCK * ROWS_PAD); e += gl_WorkGroupSize.x) {
                uint r = e / uint(ROWS_PAD);
                uint c = e % uint(ROWS_PAD);
                uint s = block0 + r;
                float v = s < end && c < uint(WG_ROWS) ? deltas[delta_offset + s * uint(WG_ROWS) + c] : 0.0;
                dsh[r * D_STRIDE + c] = float16_t(v * scale_d);
            }
            for (uint e = t; e < uint(MLP_BLOCK * COLS_PAD); e += gl_WorkGroupSize.x) {
                uint r = e / uint(COLS_PAD);
                uint c = e % uint(COLS_PAD);
                uint s = block0 + r;
                float v = s < end && c < uint(WG_COLS) ? layer_inputs[input_offset + s * uint(WG_COLS) + c] : 0.0;
                xsh[r * X_STRIDE + c] = float16_t(v * scale_x);
            }
            barrier();
            float unscale = 1.0 / (scale_d * scale_x);
            [[unroll]] for (int j = 0; j < CM_TILES_PER_SUBGROUP; ++j) {
                uint tile = sg + uint(j * CM_SUBGROUPS);
                if (taking && tile < uint(TILES)) {  // uniform within the subgroup
                    uint mt = tile / uint(COL_TILES);
                    uint nt = tile % uint(COL_TILES);
                    CM_ACC part = CM_ACC(0.0);
                    [[dont_unroll]] for (uint kt = 0u; kt < uint(MLP_BLOCK / CM_K); ++kt) {
                        CM_A a;
                        CM_B b;
                        coopMatLoad(a, dsh, kt * uint(CM_K) * D_STRIDE + mt * uint(CM_M), D_STRIDE, CM_COLUMN_MAJOR);
                        coopMatLoad(b, xsh, kt * uint(CM_K) * X_STRIDE + nt * uint(CM_N), X_STRIDE, CM_ROW_MAJOR);
                        part = coopMatMulAdd(a, b, part);
                    }
                    acc[j] = acc[j] + part * unscale;
                }
            }
            barrier();
        }
        // The tiles, their valid rows and columns, to the chunk's row of partials.
        [[unroll]] for (int j = 0; j < CM_TILES_PER_SUBGROUP; ++j) {
            uint tile = sg + uint(j * CM_SUBGROUPS);
            if (taking && tile < uint(TILES)) {
                uint mt = tile / uint(COL_TILES);
                uint nt = tile % uint(COL_TILES);
                CM_TO_SCRATCH(acc[j])
                CM_FOR_SCRATCH(e) {
                    uint r = mt * uint(CM_M) + e / uint(CM_N);
                    uint c = nt * uint(CM_N) + e % uint(CM_N);
                    if (r < uint(WG_ROWS) && c < uint(WG_COLS)) partials[out_base + r * uint(WG_COLS) + c] = cm_scratch[cm_tile_base() + e];
                }
                cm_sync();
            }
        }
    }
}
