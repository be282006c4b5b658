#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// Volume app, fused: the whole free-flight render of a pixel in one dispatch (per pass of up to
// apps/volume/render.py MAX_SPP_PER_PASS samples). Each invocation is one pixel; its MLP_ITEMS slots
// trace that many of its samples at once (every weight the MLP loads serves all of them,
// lib/mlp.glsl), the same functions as the unfused stages (volume/volume_trace.glsl) on the same
// values, summed in sample order, so the two paths give the same image. The queries:
// volume/volume_values.glsl (shared with the wavefront kernel); with VOLUME_SOURCE 1 the albedo and
// density come from the grid (trilinear, volume/volume_grid.glsl) instead of the network: the
// ground-truth render.
//
// binding | name         | access     | contents
// 0       | grid_params  | read       | texels: float [n_entries, GRID_FEATURES] (VOLUME_SOURCE 0)
// 1       | mlp_weights  | read       | the layers' matrices (lib/mlp_weights.glsl) (VOLUME_SOURCE 0)
// 2       | volume_grid  | read       | float [X, Y, Z, 4]: albedo RGB, density (VOLUME_SOURCE 1)
// 3       | occupancy    | read       | uint [R^3 / 32]: the occupancy grid's bits
// 4       | accumulation | read-write | vec4 per pixel (from frame_offset): the sum of its samples' values
// 5       | frame        | write      | the frame (lib/frame.glsl)
// 6       | queries      | read-write | uint [1]: network queries of the frame (atomic)
// push constants: the app's (volume/volume_push.glsl)
// defines: VOLUME_SOURCE (0 network, 1 grid), the tracer's constants (apps/volume/tracing.py
// defines()), MLP_ITEMS, the encoding's and the network's (VOLUME_SOURCE 0)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/frame_push.glsl"
#include "lib/frame.glsl"
#include "lib/random.glsl"

#if VOLUME_SOURCE == 0
#include "lib/grid_types.glsl"
#include "lib/mlp_weights.glsl"
GRID_PARAMS_BINDING(0);
MLP_WEIGHTS_BUFFER(1);
#else
layout(std430, binding = 2) readonly buffer VolumeGrid { float volume_grid[]; };
#endif
layout(std430, binding = 3) readonly buffer Occupancy { uint occupancy[]; };
layout(std430, binding = 4) buffer Accumulation { vec4 accumulation[]; };
FRAME_BUFFER(5);
layout(std430, binding = 6) buffer Queries { uint queries[]; };
layout(push_constant) uniform Push {
#include "volume/volume_push.glsl"
};

#include "volume/volume_values.glsl"
#include "lib/camera.glsl"
#include "volume/volume_trace.glsl"

void main() {
    uint i = global_index();
    if (i >= n) return;
    uint pixel = pixel_offset + i;
    vec3 o, d;
    camera_ray(pixel, o, d);
    vec2 span = volume_ray_begin(o, d);
    vec3 sum = samples_before > 0u ? accumulation[pixel - frame_offset].xyz : vec3(0.0);
    uint made = 0u;
    for (uint first = 0u; first < spp; first += uint(MLP_ITEMS)) {
        VolumePath paths[MLP_ITEMS];
        [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
            paths[s] = volume_path_begin(pixel, sample_base + min(first + uint(s), spp - 1u), span);
            if (first + uint(s) >= spp) paths[s].status = VOLUME_DONE;
        }
        for (;;) {
            bool querying = false;
            [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
                volume_fly(paths[s], o, d);
                querying = querying || paths[s].status == VOLUME_QUERY;
            }
            if (!querying) break;
            vec3 p[MLP_ITEMS];
            [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
                p[s] = paths[s].status == VOLUME_QUERY ? volume_position(paths[s], o, d) : vec3(0.5);
            }
            vec4 values[MLP_ITEMS];
            volume_values(p, values);
            made += uint(MLP_ITEMS);
            [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
                if (paths[s].status == VOLUME_QUERY) volume_collide(paths[s], values[s]);
            }
        }
        [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
            if (first + uint(s) < spp) sum += volume_sample_value(paths[s], d);
        }
    }
    atomicAdd(queries[0], made);
    accumulation[pixel - frame_offset] = vec4(sum, 0.0);
    frame_write(pixel, volume_resolve(sum / float(samples_before + spp)));
}
