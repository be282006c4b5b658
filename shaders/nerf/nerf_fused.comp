#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// NeRF app, fused render: the whole march of a pixel's ray in one dispatch. Each invocation is one
// ray; per iteration it takes the ray's next NERF_SAMPLES_PER_STEP samples, evaluates the grid
// encoding, the density network and the colour network on them (nerf/nerf_network.glsl: MLP_ITEMS
// at a time, every weight loaded serving that many samples), composites them in order and goes on
// to the ray's next sample: the same functions as the unfused stages and the wavefront kernel
// (nerf/nerf_march.glsl) on the same values, so the paths give the same image.
//
// binding | name            | access     | contents
// 0       | grid_params     | read       | texels: float [n_entries, GRID_FEATURES]
// 1       | density_weights | read       | the density network's matrices (lib/mlp_weights.glsl)
// 2       | color_weights   | read       | the colour network's matrices
// 3       | occupancy       | read       | uint [cascades R^3 / 32]: the occupancy grid's bits
// 4       | frame           | write      | the frame (lib/frame.glsl)
// 5       | queries         | read-write | uint [1]: samples evaluated in the frame (atomic)
// 6       | lens            | read       | vec4 [3]: the camera's Camera.lens_block() (lib/camera.glsl)
// push constants: the app's (nerf/nerf_push.glsl)
// defines: the marcher's constants (apps/nerf/tracing.py defines()), MLP_ITEMS, the encoding's
// (GRID_*) and the two networks' (density_*, color_*: MLP.defines(instance))

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/frame_push.glsl"
#include "lib/frame.glsl"
#include "lib/color.glsl"
#include "lib/grid_types.glsl"
#include "lib/mlp_weights.glsl"

GRID_PARAMS_BINDING(0);
MLP_WEIGHTS_BUFFER_NAMED(1, density_weights);
MLP_WEIGHTS_BUFFER_NAMED(2, color_weights);
layout(std430, binding = 3) readonly buffer Occupancy { uint occupancy[]; };
FRAME_BUFFER(4);
layout(std430, binding = 5) buffer Queries { uint queries[]; };
layout(std430, binding = 6) readonly buffer Lens { vec4 lens[]; };
layout(push_constant) uniform Push {
#include "nerf/nerf_push.glsl"
};

#define CAMERA_LENS lens
#include "lib/camera.glsl"
#include "nerf/nerf_march.glsl"
#include "nerf/nerf_network.glsl"

void main() {
    uint i = global_index();
    if (i >= n) return;
    uint pixel = pixel_offset + i;
    vec3 o, d;
    camera_ray(pixel, o, d);
    NerfRay ray = nerf_ray_begin(pixel, o, d);
    uint made = 0u;
    // nerf_ray_continue() ends the ray after NERF_MAX_ITERATIONS steps; the bound here is the loop's.
    for (uint iteration = 0u; iteration < uint(NERF_MAX_ITERATIONS) && ray.status == NERF_MARCHING; ++iteration) {
        float ts[NERF_SAMPLES_PER_STEP];
        bool valid[NERF_SAMPLES_PER_STEP];
        nerf_march_step(ray, o, d, ts, valid);
        float raw[NERF_SAMPLES_PER_STEP];
        vec3 rgb[NERF_SAMPLES_PER_STEP];
        nerf_network(o, d, ts, valid, raw, rgb);
        made += uint(NERF_SAMPLES_PER_STEP);
        [[unroll]] for (int k = 0; k < NERF_SAMPLES_PER_STEP; ++k) {
            if (valid[k] && ray.status == NERF_MARCHING) nerf_composite(ray, raw[k], rgb[k], ts[k]);
        }
        nerf_ray_continue(ray, o, d);
    }
    atomicAdd(queries[0], made);
    frame_write(pixel, nerf_resolve(ray, render_mode, vec3(background_r, background_g, background_b)));
}
