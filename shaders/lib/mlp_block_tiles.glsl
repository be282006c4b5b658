// The portable-gpu MLP's layer step (lib/mlp_block.glsl): the pass's activations `act` [MLP_ROWS
// x ACT_COLS] and one layer's weights `wsh` in shared memory, fp32, and each invocation's
// micro-tile of the product in registers. Define ACT_COLS (the widest matrix the activations hold)
// and, for the weights, W_ROWS and W_COLS (the largest matrix staged) before including.
//
// Invocation t computes rows tr + BLOCK_TR * i (i < BLOCK_RPT) and columns tc + BLOCK_TC * j of the
// [MLP_ROWS x cols] product, tr = t % BLOCK_TR, tc = t / BLOCK_TR: per step k of the sum it reads
// BLOCK_RPT activations and ceil(cols / BLOCK_TC) weights for their BLOCK_RPT x ceil(cols / BLOCK_TC)
// products. Threads of a row group read consecutive rows of `act` and threads of a column group
// the same weight (a broadcast); the row strides are odd so that the rows of `act` fall in
// different shared-memory banks.

#ifndef NGVK_MLP_BLOCK_TILES_GLSL
#define NGVK_MLP_BLOCK_TILES_GLSL

#define BLOCK_TC (MLP_THREADS / BLOCK_TR)
#define BLOCK_RPT (MLP_ROWS / BLOCK_TR)
#define BLOCK_CPT(cols) (((cols) + BLOCK_TC - 1) / BLOCK_TC)
#define ACT_STRIDE uint(ACT_COLS + 1)
#define W_STRIDE uint(W_COLS + 1)

shared float act[MLP_ROWS * (ACT_COLS + 1)];
shared float wsh[W_ROWS * (W_COLS + 1)];

// The staged weight that multiplies input k into output column c: W[c][k] forward, W[k][c]
// backward (the transposed product that carries gradients back).
#define W_FORWARD(c, k) wsh[(c) * W_STRIDE + (k)]
#define W_BACKWARD(c, k) wsh[(k) * W_STRIDE + (c)]

// One layer over the pass: Y[r][c] = sum_{k < kdim} act[r][k] W_AT(c, k) for c < cols, then
// EPILOGUE(layer, r, c, Y[r][c]) for each of the invocation's elements, after a barrier (so it
// may overwrite `act` in place). The layer's matrix is [mrows][mcols] (lib/mlp.glsl layout).
// Barriers: the first makes the staged weights (and whatever the caller wrote into `act`) visible
// to every invocation; the second orders every read of `act` and `wsh` before the epilogue's
// writes and the next layer's staging.
#define BLOCK_LAYER_T(layer, mrows, mcols, cols, kdim, W_AT, EPILOGUE)                            \
    {                                                                                            \
        MLP_STAGE_WEIGHTS(wsh, float, MLP_LAYER_OFFSET(layer), mrows, mcols, mrows, mcols, W_STRIDE) \
        barrier();                                                                               \
        float acc_[BLOCK_RPT][BLOCK_CPT(cols)];                                                  \
        [[unroll]] for (int i_ = 0; i_ < BLOCK_RPT; ++i_)                                        \
            [[unroll]] for (int j_ = 0; j_ < BLOCK_CPT(cols); ++j_) acc_[i_][j_] = 0.0;          \
        [[dont_unroll]] for (uint k_ = 0u; k_ < uint(kdim); ++k_) {                              \
            float a_[BLOCK_RPT];                                                                 \
            float b_[BLOCK_CPT(cols)];                                                           \
            [[unroll]] for (int i_ = 0; i_ < BLOCK_RPT; ++i_)                                    \
                a_[i_] = act[(tr + uint(BLOCK_TR * i_)) * ACT_STRIDE + k_];                      \
            [[unroll]] for (int j_ = 0; j_ < BLOCK_CPT(cols); ++j_)                              \
                b_[j_] = W_AT(min(tc + uint(BLOCK_TC * j_), uint(cols) - 1u), k_);               \
            [[unroll]] for (int i_ = 0; i_ < BLOCK_RPT; ++i_)                                    \
                [[unroll]] for (int j_ = 0; j_ < BLOCK_CPT(cols); ++j_)                          \
                    acc_[i_][j_] = fma(a_[i_], b_[j_], acc_[i_][j_]);                            \
        }                                                                                        \
        barrier();                                                                               \
        [[unroll]] for (int i_ = 0; i_ < BLOCK_RPT; ++i_) {                                      \
            [[unroll]] for (int j_ = 0; j_ < BLOCK_CPT(cols); ++j_) {                            \
                uint r_ = tr + uint(BLOCK_TR * i_);                                              \
                uint c_ = tc + uint(BLOCK_TC * j_);                                              \
                if (c_ < uint(cols)) EPILOGUE(layer, r_, c_, acc_[i_][j_])                       \
            }                                                                                    \
        }                                                                                        \
    }

// Forward through layer `layer` ([rows][cols] weights: `rows` outputs from `cols` inputs).
#define BLOCK_LAYER(layer, rows, cols, W_AT, EPILOGUE) BLOCK_LAYER_T(layer, rows, cols, rows, cols, W_AT, EPILOGUE)

#endif
