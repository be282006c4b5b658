#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// NeRF app, fused render: the whole march of a pixel's ray in one dispatch. Each invocation is one
// ray; per iteration it takes the ray's next NERF_SAMPLES_PER_STEP samples, evaluates the grid
// encoding, the density network and the colour network on them (MLP_ITEMS at a time: every weight
// loaded serves that many samples, lib/mlp.glsl) and composites them in order: the same functions
// as the unfused stages (nerf/nerf_march.glsl) on the same values, so the two paths give the same
// image.
//
// binding | name            | access     | contents
// 0       | grid_params     | read       | texels: float [n_entries, GRID_FEATURES]
// 1       | density_weights | read       | the density network's matrices (lib/mlp_weights.glsl)
// 2       | color_weights   | read       | the colour network's matrices
// 3       | occupancy       | read       | uint [R^3 / 32]: the occupancy grid's bits
// 4       | frame           | write      | the frame (lib/frame.glsl)
// 5       | queries         | read-write | uint [1]: samples evaluated in the frame (atomic)
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
layout(push_constant) uniform Push {
#include "nerf/nerf_push.glsl"
};

#include "lib/grid_encoding.glsl"
#define MLP_INSTANCE density
#include "lib/mlp.glsl"
#undef MLP_INSTANCE
#define MLP_INSTANCE color
#include "lib/mlp.glsl"
#undef MLP_INSTANCE
#include "lib/camera.glsl"
#include "nerf/nerf_march.glsl"

#define NERF_GROUPS (NERF_SAMPLES_PER_STEP / MLP_ITEMS)

void main() {
    uint i = global_index();
    if (i >= n) return;
    uint pixel = pixel_offset + i;
    vec3 o, d;
    camera_ray(pixel, o, d);
    NerfRay ray = nerf_ray_begin(pixel, o, d);
    uint made = 0u;
    for (uint iteration = 0u; iteration < uint(NERF_MAX_ITERATIONS) && ray.status == NERF_MARCHING; ++iteration) {
        float ts[NERF_SAMPLES_PER_STEP];
        bool valid[NERF_SAMPLES_PER_STEP];
        nerf_march_step(ray, o, d, ts, valid);
        if (ray.status == NERF_DONE) break;
        float raw[NERF_SAMPLES_PER_STEP];
        vec3 rgb[NERF_SAMPLES_PER_STEP];
        [[unroll]] for (int g = 0; g < NERF_GROUPS; ++g) {
            float encoded[MLP_ITEMS][density_INPUTS];
            [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
                int k = g * MLP_ITEMS + s;
                vec3 p = nerf_sample_position(o, d, ts[k], valid[k]);
                float position[3] = float[3](p.x, p.y, p.z);
                grid_encode(position, encoded[s]);
            }
            float density[MLP_ITEMS][NERF_DENSITY_OUTPUTS];
            density_forward(encoded, density);
            float x[MLP_ITEMS][NERF_COLOR_INPUTS];
            [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) nerf_color_input(density[s], d, x[s]);
            float y[MLP_ITEMS][3];
            color_forward(x, y);
            [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
                raw[g * MLP_ITEMS + s] = density[s][0];
                rgb[g * MLP_ITEMS + s] = vec3(y[s][0], y[s][1], y[s][2]);
            }
        }
        made += uint(NERF_SAMPLES_PER_STEP);
        [[unroll]] for (int k = 0; k < NERF_SAMPLES_PER_STEP; ++k) {
            if (valid[k] && ray.status == NERF_MARCHING) nerf_composite(ray, raw[k], rgb[k], ts[k]);
        }
    }
    atomicAdd(queries[0], made);
    frame_write(pixel, nerf_resolve(ray, render_mode, vec3(background_r, background_g, background_b)));
}
