// The SDF app's ray state (SdfRay) and its codes, apart from the tracer's functions
// (sdf/sdf_trace.glsl) because a kernel declares its buffer of rays before its push constants, which
// those functions read. Specification: apps/sdf/tracing.py (RAY_DTYPE, the codes).

#ifndef NGVK_SDF_RAY_GLSL
#define NGVK_SDF_RAY_GLSL

// SdfRay.status
#define SDF_MARCHING 0u
#define SDF_HIT 1u
#define SDF_MISSED 2u
// SdfRay.kind: what the camera ray sees
#define SDF_SKY 0u
#define SDF_SURFACE 1u
#define SDF_GROUND 2u
// render_mode (apps/sdf/tracing.py RENDER_MODES)
#define SDF_MODE_SHADED 0u
#define SDF_MODE_NORMALS 1u
#define SDF_MODE_DEPTH 2u
#define SDF_MODE_STEPS 3u

// 64 bytes in std430 (apps/sdf/tracing.py RAY_DTYPE).
struct SdfRay {
    vec3 origin;       // of the ray being marched
    float t;           // its distance along `direction` so far
    vec3 direction;    // unit
    float t_exit;      // where it leaves the unit cube
    vec3 normal;       // the surface normal: summed over the probes, then normalised
    uint steps;        // of the ray being marched
    uint status;       // of the ray being marched: SDF_MARCHING, SDF_HIT, SDF_MISSED
    uint kind;         // what the camera ray saw (set by sdf_shadow_begin)
    uint camera_steps; // the camera ray's steps (set by sdf_shadow_begin)
    float depth;       // the camera ray's distance to what it saw (set by sdf_shadow_begin)
};

// A wavefront slot (sdf/sdf_wavefront.comp): the ray and its phase (sdf/sdf_trace.glsl); 80 bytes.
struct SdfSlot {
    SdfRay ray;
    uint phase;
    uint pad0;
    uint pad1;
    uint pad2;
};

#endif
