// The volume app's push constants (apps/volume/render.py VolumeRenderer.push_constants), the same in
// all its kernels: include inside the kernel's push-constant block.
CAMERA_PUSH_CONSTANTS
TILE_PUSH_CONSTANTS
uint render_mode;    // apps/volume/tracing.py MODES
float majorant;      // bounds the density everywhere
uint seed;           // of the random sequence
uint spp;            // samples per pixel in this pass
uint sample_base;    // the random sequence's step of this pass's first sample
uint samples_before; // samples already in the accumulation (0: this pass starts it)
