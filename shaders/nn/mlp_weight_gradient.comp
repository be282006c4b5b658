#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// Weight gradient of one MLP layer, dW[r][c] = sum over samples of delta[r] * layer_input[c], as a
// matrix product over the batch: invocation (tile, chunk) sums the outer products of its tile of
// WG_TILE_ROWS x WG_TILE_COLS weights over the samples of its chunk, in registers, and writes the
// tile to the chunk's row of `partials`; reduce_partials.comp then sums the rows (tile and chunk
// sizes: engine/nn/training.py). Every sample's
// delta and input values are fetched once per tile as texels (one gather per four floats on CPU
// drivers, against a loop over the lanes for storage-buffer loads), and no atomics are needed.
// Specification: engine/nn/reference.py mlp_backward() (its `grads`).
//
// binding | name          | access | contents
// 0       | deltas        | read   | texels: float [.., n, WG_ROWS] from delta_offset: dL/d pre-activation
// 1       | layer_inputs  | read   | texels: float [.., n, WG_COLS] from input_offset: what the layer multiplied
// 2       | partials      | write  | float [chunks, WG_ROWS * WG_COLS]
// push constants: n (samples), chunk_samples, delta_offset, input_offset (in floats)
// defines: WG_ROWS, WG_COLS, WG_TILE_ROWS, WG_TILE_COLS (dividing them), WG_DELTA_COMPONENTS and
//          WG_INPUT_COMPONENTS (floats per texel of each, 4 or 1; with 4, the tile's extent along
//          that axis, the row length and the offset are multiples of 4)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"

layout(binding = 0) uniform samplerBuffer deltas;
layout(binding = 1) uniform samplerBuffer layer_inputs;
layout(std430, binding = 2) writeonly buffer Partials { float partials[]; };
layout(push_constant) uniform Push { uint n; uint chunk_samples; uint delta_offset; uint input_offset; };

#define WG_TILES ((WG_ROWS / WG_TILE_ROWS) * (WG_COLS / WG_TILE_COLS))

// values[k] = float (first + k) of `texels`, k < count; `first` a multiple of COMPONENTS when 4.
#define WG_FETCH(texels, COMPONENTS, first, count, values)                                   \
    if (COMPONENTS == 4) {                                                                   \
        [[unroll]] for (int t = 0; t < (count) / 4; ++t) {                                   \
            vec4 v = texelFetch(texels, int((first) / 4u) + t);                              \
            [[unroll]] for (int q = 0; q < 4; ++q) values[t * 4 + q] = v[q];                 \
        }                                                                                    \
    } else {                                                                                 \
        [[unroll]] for (int k = 0; k < (count); ++k) values[k] = texelFetch(texels, int(first) + k).x; \
    }

void main() {
    uint invocation = global_index();
    uint tile = invocation % uint(WG_TILES);
    uint chunk = invocation / uint(WG_TILES);
    uint first = chunk * chunk_samples;
    if (first >= n) return;
    uint end = min(first + chunk_samples, n);
    uint row0 = (tile / uint(WG_COLS / WG_TILE_COLS)) * WG_TILE_ROWS;
    uint col0 = (tile % uint(WG_COLS / WG_TILE_COLS)) * WG_TILE_COLS;

    float acc[WG_TILE_ROWS][WG_TILE_COLS];
    [[unroll]] for (int i = 0; i < WG_TILE_ROWS; ++i)
        [[unroll]] for (int j = 0; j < WG_TILE_COLS; ++j) acc[i][j] = 0.0;
    [[dont_unroll]] for (uint item = first; item < end; ++item) {
        float d[WG_TILE_ROWS];
        float a[WG_TILE_COLS];
        WG_FETCH(deltas, WG_DELTA_COMPONENTS, delta_offset + item * WG_ROWS + row0, WG_TILE_ROWS, d)
        WG_FETCH(layer_inputs, WG_INPUT_COMPONENTS, input_offset + item * WG_COLS + col0, WG_TILE_COLS, a)
        [[unroll]] for (int i = 0; i < WG_TILE_ROWS; ++i)
            [[unroll]] for (int j = 0; j < WG_TILE_COLS; ++j) acc[i][j] = fma(d[i], a[j], acc[i][j]);
    }
    uint out_base = chunk * uint(WG_ROWS * WG_COLS) + row0 * uint(WG_COLS) + col0;
    [[unroll]] for (int i = 0; i < WG_TILE_ROWS; ++i)
        [[unroll]] for (int j = 0; j < WG_TILE_COLS; ++j) partials[out_base + uint(i * WG_COLS + j)] = acc[i][j];
}
