// The volume app's path state (VolumePath) and its codes, apart from the tracer's functions
// (volume/volume_trace.glsl) because a kernel declares its buffer of paths before its push
// constants, which those functions read. Specification: apps/volume/tracing.py (PATH_DTYPE).

#ifndef NGVK_VOLUME_PATH_GLSL
#define NGVK_VOLUME_PATH_GLSL

// VolumePath.status
#define VOLUME_FLYING 0u  // draws its next free flight
#define VOLUME_QUERY 1u   // an event: waits for the albedo and density at its position
#define VOLUME_DONE 2u    // collided, escaped or out of flights
// render_mode (apps/volume/tracing.py MODES)
#define VOLUME_MODE_COLOR 0u
#define VOLUME_MODE_DENSITY 1u
#define VOLUME_MODE_EVENTS 2u

// 48 bytes in std430 (apps/volume/tracing.py PATH_DTYPE).
struct VolumePath {
    vec3 colour;    // the albedo where it collided (0 until then)
    float t;        // distance along the camera ray
    float t_exit;   // where the ray leaves the unit cube
    float opacity;  // 0, or 1 once collided
    uint flights;   // free flights drawn (the random sequence's event)
    uint events;    // albedo and density queries made
    uint status;    // VOLUME_FLYING, VOLUME_QUERY, VOLUME_DONE
    uint pixel;     // in the frame
    uint step;      // the sample's step in the random sequence: frame * spp + sample
    uint pad;
};

#endif
