#version 460
#extension GL_GOOGLE_include_directive : require
// Volume app, unfused: the free-flight tracer's stages around the engine's encoding and MLP kernels
// (apps/volume/render.py VolumeRenderer.record_unfused says in which order), one per VOLUME_STAGE:
//   0 preprocess  n pixels:      tile pixel i's samples begun as paths i x spp + s (the walk to
//                                the ray's first occupied cell once for all of them); identity
//   1 fly         a path list:   each listed path flies to its next event (or is done); alive[k]
//                                where it waits for a query (the next list)
//   2 positions   a path list:   where each listed path's event queries, packed for the encoding
//   3 collide     a path list:   each listed path collides or flies on, with the MLP's values;
//                                the queries counted
//   4 resolve     n pixels:      each pixel's samples' values summed in sample order, with the
//                                accumulation, and the frame from their mean
// Functions: volume/volume_trace.glsl, shared with volume/volume_fused.comp.
// Specification: apps/volume/tracing.py.
//
// binding | name         | access     | stages  | contents
// 0       | paths        | read-write | all     | VolumePath [n x spp], tile pixel i's samples at i x spp
// 1       | occupancy    | read       | all     | uint [R^3 / 32]: the occupancy grid's bits
// 2       | identity     | write      | 0       | uint [n x spp]: i (the list of every path)
// 3       | alive        | write      | 1       | uint [n x spp]: nonzero where item k waits for a query
// 4       | path_list    | read       | 1 2 3   | uint: the paths to work on, first item_counter[0]
// 5       | item_counter | read       | 1 2 3   | uint [8]: [0] the length of path_list (rays.py)
// 6       | positions    | write      | 2       | float [., 3]: the query positions, by place in the list
// 7       | values       | read       | 3       | float [., 4]: the MLP's albedo RGB and density, likewise
// 8       | queries      | read-write | 3       | uint [1]: network queries of the frame (atomic)
// 9       | accumulation | read-write | 4       | vec4 per pixel (from frame_offset): the sum so far
// 10      | frame        | write      | 4       | the frame (lib/frame.glsl)
// push constants: the app's (volume/volume_push.glsl)
// defines: VOLUME_STAGE, the tracer's constants (apps/volume/tracing.py defines())

layout(local_size_x_id = 0) in;

#define ITEM_COUNTER (VOLUME_STAGE >= 1 && VOLUME_STAGE <= 3)
#include "lib/common.glsl"
#include "lib/frame_push.glsl"
#include "lib/frame.glsl"
#include "lib/random.glsl"
#include "volume/volume_path.glsl"

layout(std430, binding = 0) buffer Paths { VolumePath paths[]; };
layout(std430, binding = 1) readonly buffer Occupancy { uint occupancy[]; };
#if VOLUME_STAGE == 0
layout(std430, binding = 2) writeonly buffer Identity { uint identity[]; };
#endif
#if VOLUME_STAGE == 1
layout(std430, binding = 3) writeonly buffer Alive { uint alive[]; };
#endif
#if ITEM_COUNTER
layout(std430, binding = 4) readonly buffer PathList { uint path_list[]; };
ITEM_COUNTER_BUFFER(5);
#endif
#if VOLUME_STAGE == 2
layout(std430, binding = 6) writeonly buffer Positions { float positions[]; };
#endif
#if VOLUME_STAGE == 3
layout(std430, binding = 7) readonly buffer Values { vec4 values[]; };
layout(std430, binding = 8) buffer Queries { uint queries[]; };
#endif
#if VOLUME_STAGE == 4
layout(std430, binding = 9) buffer Accumulation { vec4 accumulation[]; };
FRAME_BUFFER(10);
#endif
layout(push_constant) uniform Push {
#include "volume/volume_push.glsl"
};

#include "lib/camera.glsl"
#include "volume/volume_trace.glsl"

void main() {
    uint i = global_index();
#if VOLUME_STAGE == 0
    if (i >= n) return;
    uint pixel = pixel_offset + i;
    vec3 o, d;
    camera_ray(pixel, o, d);
    vec2 span = volume_ray_begin(o, d);  // once for all the pixel's samples
    for (uint s = 0u; s < spp; ++s) {
        paths[i * spp + s] = volume_path_begin(pixel, sample_base + s, span);
        identity[i * spp + s] = i * spp + s;
    }
#elif VOLUME_STAGE == 4
    if (i >= n) return;
    uint pixel = pixel_offset + i;
    vec3 o, d;
    camera_ray(pixel, o, d);
    vec3 sum = samples_before > 0u ? accumulation[pixel - frame_offset].xyz : vec3(0.0);
    for (uint s = 0u; s < spp; ++s) sum += volume_sample_value(paths[i * spp + s], d);
    accumulation[pixel - frame_offset] = vec4(sum, 0.0);
    frame_write(pixel, volume_resolve(sum / float(samples_before + spp)));
#else
    if (i >= ITEM_COUNT) return;
    uint p = path_list[i];
    VolumePath path = paths[p];
    vec3 o, d;
    camera_ray(path.pixel, o, d);
#if VOLUME_STAGE == 1
    volume_fly(path, o, d);
    alive[i] = path.status == VOLUME_QUERY ? 1u : 0u;
    paths[p] = path;
#elif VOLUME_STAGE == 2
    vec3 q = volume_position(path, o, d);
    positions[3 * i] = q.x;
    positions[3 * i + 1] = q.y;
    positions[3 * i + 2] = q.z;
#else
    if (i == 0u) atomicAdd(queries[0], ITEM_COUNT);
    volume_collide(path, values[i]);
    paths[p] = path;
#endif
#endif
}
