// The block MLP for app kernels in which each invocation of a workgroup holds one sample (the
// wavefront kernels on GPUs): the workgroup's MLP_THREADS samples go through every layer together,
// the layer's weights and the samples' activations in shared memory, each invocation computing a
// micro-tile of rows x columns (lib/mlp_block_tiles.glsl, tcnn's fully fused design), instead of
// every invocation fetching every weight for its one sample (lib/mlp.glsl with MLP_ITEMS 1).
// fp32 with the same sums in the same order as lib/mlp.glsl and the portable-gpu kernels: the same
// outputs to the bit.
//
// Include after lib/mlp.glsl (the kernel's only MLP; MLP_ITEMS 1) and its weights' buffer. Define
//   MLP_THREADS  the workgroup size (engine/render/wavefront.py LOCAL_SIZE on GPUs: 64)
//   MLP_ROWS     samples per pass (dividing MLP_THREADS): as many as shared memory holds
//   BLOCK_TR     row groups of the micro-tiles (dividing MLP_THREADS and MLP_ROWS)
// mlp_rows_forward() has barriers: every invocation of the workgroup must call it, the same
// number of times (an invocation without a sample passes zeros and ignores the outputs).

#ifndef NGVK_MLP_ROWS_GLSL
#define NGVK_MLP_ROWS_GLSL

#include "lib/mlp_block.glsl"
#define ACT_COLS max(MLP_INPUTS, MLP_WIDTH)
#define W_ROWS max(MLP_WIDTH, MLP_OUTPUTS)
#define W_COLS max(MLP_INPUTS, MLP_WIDTH)
#include "lib/mlp_block_tiles.glsl"

shared float mlp_rows_out[MLP_THREADS * MLP_OUTPUTS];

#define MLP_ROWS_HIDDEN(layer, r, c, v) act[(r) * ACT_STRIDE + (c)] = max(v, 0.0);
#define MLP_ROWS_OUTPUT(layer, r, c, v) mlp_rows_out[(row0 + (r)) * uint(MLP_OUTPUTS) + (c)] = mlp_output_activation(v);

// y = the MLP of this invocation's sample x, computed by the whole workgroup.
void mlp_rows_forward(float x[MLP_INPUTS], out float y[MLP_OUTPUTS]) {
    uint t = gl_LocalInvocationIndex;
    uint tr = t % uint(BLOCK_TR);
    uint tc = t / uint(BLOCK_TR);
    [[dont_unroll]] for (uint pass = 0u; pass < uint(MLP_THREADS / MLP_ROWS); ++pass) {
        uint row0 = pass * uint(MLP_ROWS);
        // This pass's samples into the activations; the previous pass's last barrier ordered every
        // read of them before these writes.
        if (t / uint(MLP_ROWS) == pass) {
            for (int k = 0; k < MLP_INPUTS; ++k) act[(t - row0) * ACT_STRIDE + uint(k)] = x[k];
        }
        BLOCK_LAYER(0, MLP_WIDTH, MLP_INPUTS, W_FORWARD, MLP_ROWS_HIDDEN)
        [[dont_unroll]] for (int layer = 1; layer < MLP_HIDDEN_LAYERS; ++layer) {
            BLOCK_LAYER(layer, MLP_WIDTH, MLP_WIDTH, W_FORWARD, MLP_ROWS_HIDDEN)
        }
        BLOCK_LAYER(MLP_HIDDEN_LAYERS, MLP_OUTPUTS, MLP_WIDTH, W_FORWARD, MLP_ROWS_OUTPUT)
    }
    barrier();
    for (int c = 0; c < MLP_OUTPUTS; ++c) y[c] = mlp_rows_out[t * uint(MLP_OUTPUTS) + uint(c)];
    barrier();  // every invocation has read its outputs before the next call writes them
}

#endif
