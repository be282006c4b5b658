// The SDF app's push constants (apps/sdf/render.py SdfRenderer.push_constants), the same in all its
// kernels: include inside the kernel's push-constant block.
CAMERA_PUSH_CONSTANTS
TILE_PUSH_CONSTANTS
uint render_mode;    // apps/sdf/tracing.py RENDER_MODES
float ground_height; // the ground plane y = ground_height (the object's lowest point)
uint probe;          // unfused positions and advance stages: 0 the march, 1 + k the normal's probe k
uint pixels_per_slot; // fused kernel: the pixels each slot may take (apps/sdf/render.py)
