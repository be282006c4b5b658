// The NeRF app's render push constants (apps/nerf/render.py NerfRenderer.push_constants), the same
// in all its render kernels: include inside the kernel's push-constant block (104 bytes).
CAMERA_PUSH_CONSTANTS
TILE_PUSH_CONSTANTS
uint render_mode;   // apps/nerf/tracing.py MODES
float background_r; // the background behind the scene, linear RGB
float background_g;
float background_b;
