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
// and declare the parameters with GRID_PARAMS_BINDING(binding) from lib/grid_types.glsl. The
// functions are grid_encode(), grid_encode_jacobian() and grid_backward().
//
// Several grids in one kernel: for each, define GRID_INSTANCE as its name, include this file, and
// undefine GRID_INSTANCE. Instance NAME reads NAME_DIMS, NAME_LEVELS, NAME_FEATURES, NAME_LEVEL_TABLE,
// NAME_TEXEL_COMPONENTS (engine/nn/layers.py GridEncoding.defines(NAME)), the texel buffer
// NAME_params (GRID_PARAMS_BINDING_NAMED(binding, NAME_params)) and NAME_gradients, and its
// functions are NAME_encode(), NAME_encode_jacobian() and NAME_backward(). Sizes such as
// GRID_OUTPUTS are the default instance's; a named instance's are NAME_LEVELS * NAME_FEATURES.
// For the backward pass grid_backward(), also define GRID_BACKWARD (or GRID_BACKWARD_ONLY, for a
// kernel without grid_params) and declare, with
// FLOAT_ATOMIC_BUFFER from lib/atomics.glsl,
//   grid_gradients[]          [n_entries, F], accumulated into

#ifndef NGVK_GRID_ENCODING_GLSL
#define NGVK_GRID_ENCODING_GLSL
#extension GL_EXT_control_flow_attributes : require
#include "lib/common.glsl"
#include "lib/grid_types.glsl"
#endif

// ---- one instance: included once per grid of the kernel ------------------------------------------

#ifdef GRID_INSTANCE
#define GRID_DIMS NGVK_CAT(GRID_INSTANCE, _DIMS)
#define GRID_LEVELS NGVK_CAT(GRID_INSTANCE, _LEVELS)
#define GRID_FEATURES NGVK_CAT(GRID_INSTANCE, _FEATURES)
#define GRID_LEVEL_TABLE NGVK_CAT(GRID_INSTANCE, _LEVEL_TABLE)
#define GRID_TEXEL_COMPONENTS NGVK_CAT(GRID_INSTANCE, _TEXEL_COMPONENTS)
#define GRID_PARAMS NGVK_CAT(GRID_INSTANCE, _params)
#define GRID_GRADIENTS NGVK_CAT(GRID_INSTANCE, _gradients)
#define GRID_FN(name) NGVK_CAT(GRID_INSTANCE, NGVK_CAT(_, name))
#elif !defined(NGVK_GRID_DEFAULT_INSTANCE)
#define NGVK_GRID_DEFAULT_INSTANCE
#define GRID_PARAMS grid_params
#define GRID_GRADIENTS grid_gradients
#define GRID_FN(name) NGVK_CAT(grid_, name)
#endif

#ifdef GRID_FN
const GridLevel GRID_FN(levels)[GRID_LEVELS] = GridLevel[GRID_LEVELS](GRID_LEVEL_TABLE);

// Loops over levels, corners, dimensions and features are unrolled: the level table folds into
// constants, and private arrays are only ever indexed by constants (on lavapipe a variable index
// scatters or gathers every access lane by lane).

// tcnn's coherent prime hash; uint multiplication wraps exactly like the reference's uint32.
uint GRID_FN(hash)(uint cell[GRID_DIMS]) {
    const uint primes[3] = uint[3](1u, 2654435761u, 805459861u);
    uint h = 0u;
    [[unroll]] for (int d = 0; d < GRID_DIMS; ++d) {
        h ^= cell[d] * primes[d];
    }
    return h;
}

uint GRID_FN(entry)(GridLevel level, uint cell[GRID_DIMS]) {
    uint index = 0u;
    if (level.hashed != 0u) {
        index = GRID_FN(hash)(cell);
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
void GRID_FN(locate)(GridLevel level, float pos[GRID_DIMS], out uint cell[GRID_DIMS], out float frac[GRID_DIMS]) {
    [[unroll]] for (int d = 0; d < GRID_DIMS; ++d) {
        // `precise` keeps x * scale + 0.5 two roundings, as in the reference (no fused multiply-add).
        precise float p = pos[d] * level.scale + 0.5;
        float lower = floor(p);
        frac[d] = p - lower;
        cell[d] = uint(int(lower));
    }
}

// d-linear weight of corner `corner` (bit d set: the upper neighbour along d).
float GRID_FN(corner_weight)(uint corner, float frac[GRID_DIMS], inout uint cell[GRID_DIMS]) {
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
void GRID_FN(encode)(float pos[GRID_DIMS], out float encoded[GRID_OUTPUTS]) {
    [[unroll]] for (int l = 0; l < GRID_LEVELS; ++l) {
        GridLevel level = GRID_FN(levels)[l];
        uint cell[GRID_DIMS];
        float frac[GRID_DIMS];
        GRID_FN(locate)(level, pos, cell, frac);
        float features[GRID_FEATURES];
        [[unroll]] for (int f = 0; f < GRID_FEATURES; ++f) {
            features[f] = 0.0;
        }
        [[unroll]] for (uint corner = 0u; corner < GRID_CORNERS; ++corner) {
            uint corner_cell[GRID_DIMS] = cell;
            float weight = GRID_FN(corner_weight)(corner, frac, corner_cell);
            uint texel = GRID_FN(entry)(level, corner_cell) * GRID_TEXELS_PER_ENTRY;
            [[unroll]] for (int t = 0; t < GRID_TEXELS_PER_ENTRY; ++t) {
                vec4 values = texelFetch(GRID_PARAMS, int(texel) + t);
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
void GRID_FN(encode_jacobian)(float pos[GRID_DIMS], out float jacobian[GRID_OUTPUTS][GRID_DIMS]) {
    [[unroll]] for (int l = 0; l < GRID_LEVELS; ++l) {
        GridLevel level = GRID_FN(levels)[l];
        uint cell[GRID_DIMS];
        float frac[GRID_DIMS];
        GRID_FN(locate)(level, pos, cell, frac);
        float d_features[GRID_FEATURES][GRID_DIMS];
        [[unroll]] for (int f = 0; f < GRID_FEATURES; ++f)
            [[unroll]] for (int d = 0; d < GRID_DIMS; ++d) d_features[f][d] = 0.0;
        [[unroll]] for (uint corner = 0u; corner < GRID_CORNERS; ++corner) {
            uint corner_cell[GRID_DIMS] = cell;
            GRID_FN(corner_weight)(corner, frac, corner_cell);  // moves corner_cell to the corner
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
            uint texel = GRID_FN(entry)(level, corner_cell) * GRID_TEXELS_PER_ENTRY;
            [[unroll]] for (int t = 0; t < GRID_TEXELS_PER_ENTRY; ++t) {
                vec4 values = texelFetch(GRID_PARAMS, int(texel) + t);
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
void GRID_FN(backward)(float pos[GRID_DIMS], float d_encoded[GRID_OUTPUTS]) {
    [[unroll]] for (int l = 0; l < GRID_LEVELS; ++l) {
        GridLevel level = GRID_FN(levels)[l];
        uint cell[GRID_DIMS];
        float frac[GRID_DIMS];
        GRID_FN(locate)(level, pos, cell, frac);
        [[unroll]] for (uint corner = 0u; corner < GRID_CORNERS; ++corner) {
            uint corner_cell[GRID_DIMS] = cell;
            float weight = GRID_FN(corner_weight)(corner, frac, corner_cell);
            uint entry = GRID_FN(entry)(level, corner_cell) * GRID_FEATURES;
            [[unroll]] for (int f = 0; f < GRID_FEATURES; ++f) {
                ATOMIC_ADD_FLOAT(GRID_GRADIENTS, entry + f, weight * d_encoded[l * GRID_FEATURES + f]);
            }
        }
    }
}
#endif

#undef GRID_FN
#endif

#ifdef GRID_INSTANCE
#undef GRID_DIMS
#undef GRID_LEVELS
#undef GRID_FEATURES
#undef GRID_LEVEL_TABLE
#undef GRID_TEXEL_COMPONENTS
#undef GRID_PARAMS
#undef GRID_GRADIENTS
#endif
