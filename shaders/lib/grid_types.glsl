// Types and sizes of the grid encoding, separate from lib/grid_encoding.glsl because buffers of
// GridLevel must be declared after the struct and before the functions that read them.

#ifndef NGVK_GRID_TYPES_GLSL
#define NGVK_GRID_TYPES_GLSL

#define GRID_OUTPUTS (GRID_LEVELS * GRID_FEATURES)
#define GRID_CORNERS (1 << GRID_DIMS)

struct GridLevel {
    uint offset;      // first entry of this level in grid_params (in entries of F floats)
    uint size;        // entries in this level (dense: res^D rounded up to 8; hashed: at most T)
    uint resolution;  // grid points per axis: ceil(scale) + 1
    float scale;      // 2^(level * log2 b) * N_min - 1
    uint hashed;      // 1 when res^D exceeds size: the level hashes its points into the table
};

#endif
