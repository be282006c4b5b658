#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// NeRF app, unfused render: the marcher's stages around the engine's encoding and MLP kernels
// (apps/nerf/render.py NerfRenderer.record_unfused says in which order), one per NERF_STAGE:
//   0 begin      n pixels:     a ray per pixel, on to its first sample; identity; alive[i] where
//                              it has one (the first list)
//   1 march      a ray list:   each listed ray's next NERF_SAMPLES_PER_STEP samples: their ts and
//                              positions in slots i x NERF_SAMPLES_PER_STEP + k of the list; the
//                              sample counter set to that many slots
//   2 color      the slots:    the colour network's input of each slot (density outputs, SH); also
//                              the wavefront's prepost kernels' (apps/nerf/render.py)
//   3 composite  a ray list:   each listed ray composites its slots' samples in order and goes on
//                              to its next sample; alive[i] where it has one (the next list); the
//                              queries counted
//   4 resolve    n pixels:     the frame
// Functions: nerf/nerf_march.glsl, shared with nerf/nerf_fused.comp. Specification:
// apps/nerf/tracing.py.
//
// binding | name           | access     | stages  | contents
// 0       | rays           | read-write | all     | NerfRay [n] (nerf/nerf_ray.glsl)
// 1       | occupancy      | read       | all     | uint [cascades R^3 / 32]: the occupancy grid's bits
// 2       | identity       | write      | 0       | uint [n]: i (the list of every ray)
// 3       | path_list      | read       | 1 2 3   | uint: the rays to work on, first item_counter[0]
// 4       | item_counter   | read       | 1 2 3   | uint [8]: [0] the list's length (stage 2: the slots')
// 5       | sample_counter | write      | 1       | uint [8]: [0] the slots: the list's length x samples
// 6       | sample_t       | read-write | 1 3     | float [n x samples]: each slot's t (-1: no sample)
// 7       | positions      | write      | 1       | float [n x samples, 3]: where the slots' samples are
// 8       | density_out    | read       | 2 3     | float [n x samples, 16]: the density network's outputs
// 9       | color_in       | write      | 2       | float [n x samples, 32]: the colour network's inputs
// 10      | color_out      | read       | 3       | float [n x samples, 3]: the colour network's outputs
// 11      | alive          | write      | 0 3     | uint [n]: nonzero where (listed) ray i goes on
// 12      | queries        | read-write | 3       | uint [1]: samples evaluated in the frame (atomic)
// 13      | frame          | write      | 4       | the frame (lib/frame.glsl)
// 14      | lens           | read       | 0 1 2 3 | vec4 [3]: the camera's Camera.lens_block() (lib/camera.glsl)
// push constants: the app's (nerf/nerf_push.glsl)
// defines: NERF_STAGE, the marcher's constants (apps/nerf/tracing.py defines())

layout(local_size_x_id = 0) in;

#define ITEM_COUNTER (NERF_STAGE >= 1 && NERF_STAGE <= 3)
#include "lib/common.glsl"
#include "lib/frame_push.glsl"
#include "lib/frame.glsl"
#include "lib/color.glsl"
#include "nerf/nerf_ray.glsl"

#define SLOTS NERF_SAMPLES_PER_STEP

layout(std430, binding = 0) buffer Rays { NerfRay rays[]; };
layout(std430, binding = 1) readonly buffer Occupancy { uint occupancy[]; };
#if NERF_STAGE == 0
layout(std430, binding = 2) writeonly buffer Identity { uint identity[]; };
#endif
#if ITEM_COUNTER
layout(std430, binding = 3) readonly buffer PathList { uint path_list[]; };
ITEM_COUNTER_BUFFER(4);
#endif
#if NERF_STAGE == 1
layout(std430, binding = 5) writeonly buffer SampleCounter { uint sample_counter[]; };
layout(std430, binding = 7) writeonly buffer Positions { float positions[]; };
#endif
#if NERF_STAGE == 1 || NERF_STAGE == 3
layout(std430, binding = 6) buffer SampleT { float sample_t[]; };
#endif
#if NERF_STAGE == 2 || NERF_STAGE == 3
layout(std430, binding = 8) readonly buffer DensityOut { float density_out[]; };
#endif
#if NERF_STAGE == 2
layout(std430, binding = 9) writeonly buffer ColorIn { float color_in[]; };
#endif
#if NERF_STAGE == 0 || NERF_STAGE == 3
layout(std430, binding = 11) writeonly buffer Alive { uint alive[]; };
#endif
#if NERF_STAGE == 3
layout(std430, binding = 10) readonly buffer ColorOut { float color_out[]; };
layout(std430, binding = 12) buffer Queries { uint queries[]; };
#endif
#if NERF_STAGE == 4
FRAME_BUFFER(13);
#else
layout(std430, binding = 14) readonly buffer Lens { vec4 lens[]; };
#define CAMERA_LENS lens
#endif
layout(push_constant) uniform Push {
#include "nerf/nerf_push.glsl"
};

#include "lib/camera.glsl"
#include "nerf/nerf_march.glsl"

void main() {
    uint i = global_index();
#if NERF_STAGE == 0
    if (i >= n) return;
    vec3 o, d;
    camera_ray(pixel_offset + i, o, d);
    NerfRay ray = nerf_ray_begin(pixel_offset + i, o, d);
    rays[i] = ray;
    identity[i] = i;
    alive[i] = ray.status == NERF_MARCHING ? 1u : 0u;
#elif NERF_STAGE == 4
    if (i >= n) return;
    frame_write(pixel_offset + i, nerf_resolve(rays[i], render_mode, vec3(background_r, background_g, background_b)));
#elif NERF_STAGE == 2
    if (i >= ITEM_COUNT) return;  // the slots of the listed rays
    NerfRay ray = rays[path_list[i / uint(SLOTS)]];
    vec3 o, d;
    camera_ray(ray.pixel, o, d);
    float density[NERF_DENSITY_OUTPUTS];
    [[unroll]] for (int k = 0; k < NERF_DENSITY_OUTPUTS; ++k) density[k] = density_out[i * NERF_DENSITY_OUTPUTS + k];
    float x[NERF_COLOR_INPUTS];
    nerf_color_input(density, d, x);
    [[unroll]] for (int k = 0; k < NERF_COLOR_INPUTS; ++k) color_in[i * NERF_COLOR_INPUTS + k] = x[k];
#else
    if (i >= ITEM_COUNT) return;
    uint r = path_list[i];
    NerfRay ray = rays[r];
    vec3 o, d;
    camera_ray(ray.pixel, o, d);
#if NERF_STAGE == 1
    if (i == 0u) sample_counter[0] = ITEM_COUNT * uint(SLOTS);
    float ts[SLOTS];
    bool valid[SLOTS];
    nerf_march_step(ray, o, d, ts, valid);
    [[unroll]] for (int k = 0; k < SLOTS; ++k) {
        uint slot = i * uint(SLOTS) + uint(k);
        vec3 p = nerf_sample_position(o, d, ts[k], valid[k]);
        sample_t[slot] = valid[k] ? ts[k] : -1.0;
        positions[3u * slot] = p.x;
        positions[3u * slot + 1u] = p.y;
        positions[3u * slot + 2u] = p.z;
    }
    rays[r] = ray;
#else
    if (i == 0u) atomicAdd(queries[0], ITEM_COUNT * uint(SLOTS));
    [[unroll]] for (int k = 0; k < SLOTS; ++k) {
        uint slot = i * uint(SLOTS) + uint(k);
        float t = sample_t[slot];
        if (t >= 0.0 && ray.status == NERF_MARCHING) {
            vec3 rgb = vec3(color_out[3u * slot], color_out[3u * slot + 1u], color_out[3u * slot + 2u]);
            nerf_composite(ray, density_out[slot * uint(NERF_DENSITY_OUTPUTS)], rgb, t);
        }
    }
    nerf_ray_continue(ray, o, d);
    alive[i] = ray.status == NERF_MARCHING ? 1u : 0u;
    rays[r] = ray;
#endif
#endif
}
