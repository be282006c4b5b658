// The NeRF app's render ray state (NerfRay) and its codes, apart from the marcher's functions
// (nerf/nerf_march.glsl) because a kernel declares its buffer of rays before its push constants.
// Specification: apps/nerf/render.py RAY_DTYPE.

#ifndef NGVK_NERF_RAY_GLSL
#define NGVK_NERF_RAY_GLSL

// NerfRay.status
#define NERF_MARCHING 0u
#define NERF_DONE 1u
// render_mode (apps/nerf/tracing.py MODES)
#define NERF_MODE_COLOR 0u
#define NERF_MODE_DEPTH 1u
#define NERF_MODE_SAMPLES 2u

// 48 bytes in std430.
struct NerfRay {
    vec3 colour;         // sum of w_i c_i so far, linear RGB
    float transmittance; // T after the samples so far
    float t;             // where the march goes on
    float t_exit;        // where the ray leaves the scene's box
    float depth;         // sum of w_i t_i so far
    uint samples;        // samples composited
    uint pixel;          // in the frame
    uint status;         // NERF_MARCHING, NERF_DONE
    uint steps;          // march steps taken (nerf_march_step): at most NERF_MAX_ITERATIONS
    uint pad;
};

#endif
