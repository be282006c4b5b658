// Types, sizes and the level table of the grid encoding, separate from lib/grid_encoding.glsl so that
// kernels can size their arrays before including the functions.
//
// The level table (in lib/grid_encoding.glsl, one per instance) is compiled in: GRID_LEVEL_TABLE is
// the list of GridLevel(...) constructors that
// engine/nn/config.py GridConfig.level_table() computes (engine/nn/layers.py GridEncoding.defines()). With
// the level loop unrolled, every level's offset, size, resolution and scale is a constant: no table
// loads, and `% size` becomes a mask (hashed levels, sizes are powers of two) or a multiply (dense).

#ifndef NGVK_GRID_TYPES_GLSL
#define NGVK_GRID_TYPES_GLSL

#define GRID_OUTPUTS (GRID_LEVELS * GRID_FEATURES)
#define GRID_CORNERS (1 << GRID_DIMS)
#define GRID_TEXELS_PER_ENTRY (GRID_FEATURES / GRID_TEXEL_COMPONENTS)

// The parameters, [n_entries, GRID_FEATURES] floats, as a texel buffer of GRID_TEXEL_COMPONENTS
// floats per texel (engine/nn/layers.py GridEncoding.bindings()): on CPU drivers a texel fetch is one
// vector gather where a storage-buffer load at a per-invocation address is a loop over the lanes.
#define GRID_PARAMS_BINDING(index) layout(binding = index) uniform samplerBuffer grid_params
#define GRID_PARAMS_BINDING_NAMED(index, name) layout(binding = index) uniform samplerBuffer name

struct GridLevel {
    uint offset;      // first entry of this level in grid_params (in entries of F floats)
    uint size;        // entries in this level (dense: res^D rounded up to 8; hashed: at most T)
    uint resolution;  // grid points per axis: ceil(scale) + 1
    float scale;      // 2^(level * log2 b) * N_min - 1
    uint hashed;      // 1 when res^D exceeds size: the level hashes its points into the table
};

#endif
