#version 460
#extension GL_GOOGLE_include_directive : require
// SDF app, unfused: the sphere tracer's stages around the engine's encoding and MLP kernels
// (apps/sdf/render.py SdfRenderer.record_unfused says in which order), one per SDF_STAGE:
//   0 preprocess  n pixels:    the camera ray of each, entered into the cube; all in the first list
//   1 positions   a ray list:  where each listed ray queries the distance (probe 0: its march,
//                              1 + k: the normal's probe k), packed for the encoding
//   2 advance     a ray list:  each listed ray's step with its distance (or the probe's term of its
//                              normal); alive[k] for the next compaction; the queries counted
//   3 surfaces    n pixels:    alive[i] where the camera ray hit the surface (the probes' list)
//   4 shadow      n pixels:    what the camera ray saw; the shadow ray from there, and alive[i]
//   5 shade       n pixels:    the pixel's colour into the frame
// Functions: sdf/sdf_trace.glsl, shared with sdf/sdf_fused.comp. Specification: apps/sdf/tracing.py.
//
// binding | name         | access     | stages  | contents
// 0       | rays         | read-write | all     | SdfRay [n], by pixel of the tile
// 1       | alive        | write      | 0 2 3 4 | uint [n]: nonzero where item i lives on (compaction)
// 2       | identity     | write      | 0       | uint [n]: i (the list of every pixel of the tile)
// 3       | ray_list     | read       | 1 2     | uint [n]: the rays to work on, first item_counter[0]
// 4       | item_counter | read       | 1 2     | uint [8]: [0] the length of ray_list (rays.py)
// 5       | positions    | write      | 1       | float [n, 3]: the query positions, by place in the list
// 6       | distances    | read       | 2       | float [n]: the MLP's distances, by place in the list
// 7       | queries      | read-write | 2       | uint [1]: network queries of the frame (atomic)
// 8       | frame        | write      | 5       | the frame (lib/frame.glsl)
// push constants: the app's (sdf/sdf_push.glsl)
// defines: SDF_STAGE, the tracer's constants (apps/sdf/tracing.py defines())

layout(local_size_x_id = 0) in;

#define ITEM_COUNTER (SDF_STAGE == 1 || SDF_STAGE == 2)
#include "lib/common.glsl"
#include "lib/frame_push.glsl"
#include "lib/frame.glsl"
#include "sdf/sdf_ray.glsl"

layout(std430, binding = 0) buffer Rays { SdfRay rays[]; };
#if SDF_STAGE == 0 || SDF_STAGE == 2 || SDF_STAGE == 3 || SDF_STAGE == 4
layout(std430, binding = 1) writeonly buffer Alive { uint alive[]; };
#endif
#if SDF_STAGE == 0
layout(std430, binding = 2) writeonly buffer Identity { uint identity[]; };
#endif
#if ITEM_COUNTER
layout(std430, binding = 3) readonly buffer RayList { uint ray_list[]; };
ITEM_COUNTER_BUFFER(4);
#endif
#if SDF_STAGE == 1
layout(std430, binding = 5) writeonly buffer Positions { float positions[]; };
#endif
#if SDF_STAGE == 2
layout(std430, binding = 6) readonly buffer Distances { float distances[]; };
layout(std430, binding = 7) buffer Queries { uint queries[]; };
#endif
#if SDF_STAGE == 5
FRAME_BUFFER(8);
#endif
layout(push_constant) uniform Push {
#include "sdf/sdf_push.glsl"
};

#include "lib/camera.glsl"
#include "sdf/sdf_trace.glsl"

void main() {
    uint i = global_index();
    if (i >= ITEM_COUNT) return;
#if SDF_STAGE == 0
    rays[i] = sdf_camera_ray(pixel_offset + i);
    alive[i] = rays[i].status == SDF_MARCHING ? 1u : 0u;
    identity[i] = i;
#elif SDF_STAGE == 1
    SdfRay ray = rays[ray_list[i]];
    vec3 p = probe == 0u ? sdf_position(ray) : sdf_probe_position(ray, probe - 1u);
    positions[3 * i] = p.x;
    positions[3 * i + 1] = p.y;
    positions[3 * i + 2] = p.z;
#elif SDF_STAGE == 2
    if (i == 0u) atomicAdd(queries[0], ITEM_COUNT);
    uint r = ray_list[i];
    SdfRay ray = rays[r];
    if (probe == 0u) {
        if (ray.status == SDF_MARCHING) sdf_advance(ray, distances[i]);
        alive[i] = ray.status == SDF_MARCHING ? 1u : 0u;
    } else {
        sdf_probe_add(ray, probe - 1u, distances[i]);
    }
    rays[r] = ray;
#elif SDF_STAGE == 3
    alive[i] = rays[i].status == SDF_HIT ? 1u : 0u;
#elif SDF_STAGE == 4
    SdfRay ray = rays[i];
    sdf_shadow_begin(ray);
    rays[i] = ray;
    alive[i] = ray.status == SDF_MARCHING ? 1u : 0u;
#else
    vec3 eye, view;
    camera_ray(pixel_offset + i, eye, view);
    frame_write(pixel_offset + i, sdf_shade(rays[i], eye, view));
#endif
}
