// Multi-resolution grid encoding (hashgrid, densegrid, lowres), as tcnn's GridEncoding computes it.
// Specification: engine/nn/reference.py grid_encode(); the level table comes from
// engine/nn/config.py GridConfig.level_table(), so host and shader share one definition of the grid.
//
// Before including, define:
//   GRID_DIMS      2 or 3
//   GRID_LEVELS    number of levels L
//   GRID_FEATURES  features per level F
//   GRID_LEVEL_TABLE the level table (lib/grid_types.glsl)
//   GRID_TEXEL_COMPONENTS  floats per texel of grid_params: 4, 2 or 1, dividing GRID_FEATURES
// and declare the parameters with GRID_PARAMS_BINDING(binding) from lib/grid_types.glsl.
// For the backward pass grid_backward(), also define GRID_BACKWARD (or GRID_BACKWARD_ONLY, for a
// kernel without grid_params) and declare, with
// FLOAT_ATOMIC_BUFFER from lib/atomics.glsl,
//   grid_gradients[]          [n_entries, F], accumulated into

#ifndef NGVK_GRID_ENCODING_GLSL
#define NGVK_GRID_ENCODING_GLSL

#extension GL_EXT_control_flow_attributes : require

#include "lib/grid_types.glsl"

// Loops over levels, corners, dimensions and features are unrolled: the level table folds into
// constants, and private arrays are only ever indexed by constants (on lavapipe a variable index
// scatters or gathers every access lane by lane).

// tcnn's coherent prime hash; uint multiplication wraps exactly like the reference's uint32.
uint grid_hash(uint cell[GRID_DIMS]) {
    const uint primes[3] = uint[3](1u, 2654435761u, 805459861u);
    uint h = 0u;
    [[unroll]] for (int d = 0; d < GRID_DIMS; ++d) {
        h ^= cell[d] * primes[d];
    }
    return h;
}

uint grid_entry(GridLevel level, uint cell[GRID_DIMS]) {
    uint index = 0u;
    if (level.hashed != 0u) {
        index = grid_hash(cell);
    } else {
        uint stride = 1u;
        [[unroll]] for (int d = 0; d < GRID_DIMS; ++d) {
            index += cell[d] * stride;
            stride *= level.resolution;
        }
    }
    return level.offset + index % level.size;  // a constant size: a mask or a multiply
}

// Where a position falls on one level: the lower grid point and the fractional offset from it.
void grid_locate(GridLevel level, float pos[GRID_DIMS], out uint cell[GRID_DIMS], out float frac[GRID_DIMS]) {
    [[unroll]] for (int d = 0; d < GRID_DIMS; ++d) {
        // `precise` keeps x * scale + 0.5 two roundings, as in the reference (no fused multiply-add).
        precise float p = pos[d] * level.scale + 0.5;
        float lower = floor(p);
        frac[d] = p - lower;
        cell[d] = uint(int(lower));
    }
}

// d-linear weight of corner `corner` (bit d set: the upper neighbour along d).
float grid_corner_weight(uint corner, float frac[GRID_DIMS], inout uint cell[GRID_DIMS]) {
    float weight = 1.0;
    [[unroll]] for (int d = 0; d < GRID_DIMS; ++d) {
        if ((corner & (1u << d)) != 0u) {
            weight *= frac[d];
            cell[d] += 1u;
        } else {
            weight *= 1.0 - frac[d];
        }
    }
    return weight;
}

#ifndef GRID_BACKWARD_ONLY
// The encoded features of one position: GRID_OUTPUTS floats, level-major.
void grid_encode(float pos[GRID_DIMS], out float encoded[GRID_OUTPUTS]) {
    [[unroll]] for (int l = 0; l < GRID_LEVELS; ++l) {
        GridLevel level = grid_levels[l];
        uint cell[GRID_DIMS];
        float frac[GRID_DIMS];
        grid_locate(level, pos, cell, frac);
        float features[GRID_FEATURES];
        [[unroll]] for (int f = 0; f < GRID_FEATURES; ++f) {
            features[f] = 0.0;
        }
        [[unroll]] for (uint corner = 0u; corner < GRID_CORNERS; ++corner) {
            uint corner_cell[GRID_DIMS] = cell;
            float weight = grid_corner_weight(corner, frac, corner_cell);
            uint texel = grid_entry(level, corner_cell) * GRID_TEXELS_PER_ENTRY;
            [[unroll]] for (int t = 0; t < GRID_TEXELS_PER_ENTRY; ++t) {
                vec4 values = texelFetch(grid_params, int(texel) + t);
                [[unroll]] for (int c = 0; c < GRID_TEXEL_COMPONENTS; ++c) {
                    features[t * GRID_TEXEL_COMPONENTS + c] += weight * values[c];
                }
            }
        }
        [[unroll]] for (int f = 0; f < GRID_FEATURES; ++f) {
            encoded[l * GRID_FEATURES + f] = features[f];
        }
    }
}

// The derivative of the encoding with respect to the position: jacobian[k][d] = d encoded[k] /
// d pos[d]. Within a cell the encoding is d-linear, so this is exact; across a cell face it jumps,
// and either side's value is a valid one-sided derivative (analytic normals of a neural SDF use it).
// Specification: engine/nn/reference.py grid_encode_jacobian().
void grid_encode_jacobian(float pos[GRID_DIMS], out float jacobian[GRID_OUTPUTS][GRID_DIMS]) {
    [[unroll]] for (int l = 0; l < GRID_LEVELS; ++l) {
        GridLevel level = grid_levels[l];
        uint cell[GRID_DIMS];
        float frac[GRID_DIMS];
        grid_locate(level, pos, cell, frac);
        float d_features[GRID_FEATURES][GRID_DIMS];
        [[unroll]] for (int f = 0; f < GRID_FEATURES; ++f)
            [[unroll]] for (int d = 0; d < GRID_DIMS; ++d) d_features[f][d] = 0.0;
        [[unroll]] for (uint corner = 0u; corner < GRID_CORNERS; ++corner) {
            uint corner_cell[GRID_DIMS] = cell;
            grid_corner_weight(corner, frac, corner_cell);  // moves corner_cell to the corner
            // d weight / d pos[d]: the other dimensions' factors, times +-1 for this one's, times
            // the level's scale (pos * scale + 0.5 gives frac).
            float d_weight[GRID_DIMS];
            [[unroll]] for (int d = 0; d < GRID_DIMS; ++d) {
                float w = (corner & (1u << d)) != 0u ? level.scale : -level.scale;
                [[unroll]] for (int e = 0; e < GRID_DIMS; ++e) {
                    if (e != d) w *= (corner & (1u << e)) != 0u ? frac[e] : 1.0 - frac[e];
                }
                d_weight[d] = w;
            }
            uint texel = grid_entry(level, corner_cell) * GRID_TEXELS_PER_ENTRY;
            [[unroll]] for (int t = 0; t < GRID_TEXELS_PER_ENTRY; ++t) {
                vec4 values = texelFetch(grid_params, int(texel) + t);
                [[unroll]] for (int c = 0; c < GRID_TEXEL_COMPONENTS; ++c)
                    [[unroll]] for (int d = 0; d < GRID_DIMS; ++d)
                        d_features[t * GRID_TEXEL_COMPONENTS + c][d] += d_weight[d] * values[c];
            }
        }
        [[unroll]] for (int f = 0; f < GRID_FEATURES; ++f)
            [[unroll]] for (int d = 0; d < GRID_DIMS; ++d) jacobian[l * GRID_FEATURES + f][d] = d_features[f][d];
    }
}

#endif

#if defined(GRID_BACKWARD) || defined(GRID_BACKWARD_ONLY)
// Scatter dL/d encoded back to the grid points each level interpolated, with the same weights.
// Specification: engine/nn/reference.py grid_backward().
void grid_backward(float pos[GRID_DIMS], float d_encoded[GRID_OUTPUTS]) {
    [[unroll]] for (int l = 0; l < GRID_LEVELS; ++l) {
        GridLevel level = grid_levels[l];
        uint cell[GRID_DIMS];
        float frac[GRID_DIMS];
        grid_locate(level, pos, cell, frac);
        [[unroll]] for (uint corner = 0u; corner < GRID_CORNERS; ++corner) {
            uint corner_cell[GRID_DIMS] = cell;
            float weight = grid_corner_weight(corner, frac, corner_cell);
            uint entry = grid_entry(level, corner_cell) * GRID_FEATURES;
            [[unroll]] for (int f = 0; f < GRID_FEATURES; ++f) {
                ATOMIC_ADD_FLOAT(grid_gradients, entry + f, weight * d_encoded[l * GRID_FEATURES + f]);
            }
        }
    }
}
#endif

#endif
