// The volume app's push constants (apps/volume/render.py VolumeRenderer.push_constants), the same in
// all its kernels: include inside the kernel's push-constant block. Sizes are push constants, not
// defines, so that a kernel compiles once whatever the grids (128 bytes in all: Vulkan's minimum).
CAMERA_PUSH_CONSTANTS
TILE_PUSH_CONSTANTS
uint render_mode;    // apps/volume/tracing.py MODES
float majorant;      // bounds the density everywhere
uint seed;           // of the random sequence
uint spp;            // samples per pixel in this pass
uint sample_base;    // the random sequence's step of this pass's first sample
uint samples_before; // samples already in the accumulation (0: this pass starts it)
uint occupancy_resolution; // R of the R^3 occupancy grid
uint grid_x;         // the ground truth's grid, voxels along x, y and z (1 for a network)
uint grid_y;
uint grid_z;
