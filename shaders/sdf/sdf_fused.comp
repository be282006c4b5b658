#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// SDF app, fused: the whole sphere tracer in one dispatch. Each invocation works on MLP_ITEMS rays at
// once (every weight the MLP loads serves all of them, lib/mlp.glsl), each ray through its camera
// march, the four probes of its normal where it hit, its shadow ray (shaded mode) and its shading,
// taking the tile's pixels from a queue (below). The same functions as the unfused stages (sdf/sdf_trace.glsl), on the same values,
// so the two paths give the same image. With SDF_SOURCE 1 the distance is the analytic shape's
// (sdf/sdf_shapes.glsl, SDF_SHAPE) instead of the network's: the reference render of a built-in shape.
//
// binding | name         | access     | contents
// 0       | grid_params  | read       | texels: float [n_entries, GRID_FEATURES] (SDF_SOURCE 0)
// 1       | mlp_weights  | read       | the layers' matrices (lib/mlp_weights.glsl) (SDF_SOURCE 0)
// 2       | frame        | write      | the frame (lib/frame.glsl)
// 3       | queries      | read-write | uint [1]: network queries of the frame (atomic)
// 4       | pixel_queue  | read-write | uint [1]: the tile's next pixel to take (zeroed before the dispatch)
// push constants: the app's (sdf/sdf_push.glsl; probe unused; pixels_per_slot a push constant, not a
// define, so that a device's choice compiles no other kernel)
// defines: SDF_SOURCE (0 network, 1 shape), SDF_SHAPE, the tracer's constants (apps/sdf/tracing.py
// defines()), MLP_ITEMS, the encoding's and the network's (SDF_SOURCE 0)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/frame_push.glsl"
#include "lib/frame.glsl"
#include "sdf/sdf_ray.glsl"

#if SDF_SOURCE == 0
#include "lib/grid_types.glsl"
#include "lib/mlp_weights.glsl"
GRID_PARAMS_BINDING(0);
MLP_WEIGHTS_BUFFER(1);
#endif
FRAME_BUFFER(2);
layout(std430, binding = 3) buffer Queries { uint queries[]; };
layout(std430, binding = 4) buffer PixelQueue { uint pixel_queue[]; };
layout(push_constant) uniform Push {
#include "sdf/sdf_push.glsl"
};

#include "sdf/sdf_distances.glsl"
#include "lib/camera.glsl"
#include "sdf/sdf_trace.glsl"

// Each invocation works on MLP_ITEMS slots, each holding one pixel's ray in one phase of its work
// (sdf/sdf_trace.glsl). Every pass queries one distance per slot (the MLP's batch); a slot whose
// pixel is finished takes the next pixel of the tile from the queue, so the slots stay busy however
// long a ray marches (batches that waited for their slowest ray measured 2.4x slower than the
// unfused path).
#define SDF_NO_PIXEL 0xffffffffu

// Put the tile's next pixel into a slot, or leave it empty when the queue is or when the slot has
// taken its pixels_per_slot. The quota bounds an invocation's work (lavapipe ends an invocation
// silently after about 65,000 loop iterations in all), and since the host launches n /
// (MLP_ITEMS x pixels_per_slot) invocations, the slots' quotas cover every pixel of the tile.
void sdf_take(inout SdfRay ray, inout uint phase, inout uint pixel, inout uint left) {
    pixel = left > 0u ? atomicAdd(pixel_queue[0], 1u) : SDF_NO_PIXEL;
    left = left > 0u ? left - 1u : 0u;
    if (pixel < n) {
        ray = sdf_camera_ray(pixel_offset + pixel);
        phase = SDF_PHASE_MARCH;
    } else {
        pixel = SDF_NO_PIXEL;
        phase = SDF_PHASE_DONE;
    }
}

// Move a slot on until its next query (or until the queue is empty): write each finished pixel and
// take the next. Returns true while the slot has a query to make.
bool sdf_busy(inout SdfRay ray, inout uint phase, inout uint pixel, inout uint left) {
    for (;;) {
        phase = sdf_settle(ray, phase);
        if (phase != SDF_PHASE_DONE || pixel == SDF_NO_PIXEL) break;
        frame_write(pixel_offset + pixel, sdf_pixel_colour(ray, pixel_offset + pixel));
        sdf_take(ray, phase, pixel, left);
    }
    return phase != SDF_PHASE_DONE;
}

void main() {
    SdfRay rays[MLP_ITEMS];
    uint phase[MLP_ITEMS], pixel[MLP_ITEMS], left[MLP_ITEMS];
    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
        left[s] = pixels_per_slot;
        sdf_take(rays[s], phase[s], pixel[s], left[s]);
    }
    uint made = 0u;
    for (;;) {
        bool busy = false;
        [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) busy = sdf_busy(rays[s], phase[s], pixel[s], left[s]) || busy;
        if (!busy) break;
        vec3 p[MLP_ITEMS];
        [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
            p[s] = phase[s] == SDF_PHASE_DONE ? vec3(0.5) : sdf_query_position(rays[s], phase[s]);
        }
        float d[MLP_ITEMS];
        sdf_distances(p, d);
        made += uint(MLP_ITEMS);
        [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
            if (phase[s] != SDF_PHASE_DONE) phase[s] = sdf_apply(rays[s], phase[s], d[s]);
        }
    }
    atomicAdd(queries[0], made);
}
