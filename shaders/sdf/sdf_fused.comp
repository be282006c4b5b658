#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// SDF app, fused: the whole sphere tracer in one dispatch. Each invocation marches MLP_ITEMS pixels'
// rays together (every weight the MLP loads serves all of them, lib/mlp.glsl) until all are done:
// the camera rays, the four probes of the normals where they hit, the shadow rays (shaded mode),
// the shading. The same functions as the unfused stages (sdf/sdf_trace.glsl), on the same values,
// so the two paths give the same image. With SDF_SOURCE 1 the distance is the analytic shape's
// (sdf/sdf_shapes.glsl, SDF_SHAPE) instead of the network's: the reference render of a built-in shape.
//
// binding | name         | access     | contents
// 0       | grid_params  | read       | texels: float [n_entries, GRID_FEATURES] (SDF_SOURCE 0)
// 1       | mlp_weights  | read       | the layers' matrices (lib/mlp_weights.glsl) (SDF_SOURCE 0)
// 2       | frame        | write      | the frame (lib/frame.glsl)
// 3       | queries      | read-write | uint [1]: network queries of the frame (atomic)
// push constants: the app's (sdf/sdf_push.glsl; probe unused)
// defines: SDF_SOURCE (0 network, 1 shape), SDF_SHAPE, the tracer's constants (apps/sdf/tracing.py
// defines()), MLP_ITEMS, the encoding's and the network's (SDF_SOURCE 0), FRAME_FLOAT

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
layout(push_constant) uniform Push {
#include "sdf/sdf_push.glsl"
};

#if SDF_SOURCE == 0
#include "lib/grid_encoding.glsl"
#include "lib/mlp.glsl"
#else
#include "sdf/sdf_shapes.glsl"
#endif
#include "lib/camera.glsl"
#include "sdf/sdf_trace.glsl"

// The signed distances at MLP_ITEMS positions.
void sdf_distances(vec3 p[MLP_ITEMS], out float d[MLP_ITEMS]) {
#if SDF_SOURCE == 0
    float encoded[MLP_ITEMS][MLP_INPUTS];
    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
        float pos[3] = float[3](p[s].x, p[s].y, p[s].z);
        grid_encode(pos, encoded[s]);
    }
    float y[MLP_ITEMS][MLP_OUTPUTS];
    mlp_forward(encoded, y);
    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) d[s] = y[s][0];
#else
    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) d[s] = sdf_shape(p[s]);
#endif
}

// March every ray of the batch that is still marching, until none is; returns the queries made.
uint sdf_march(inout SdfRay rays[MLP_ITEMS]) {
    uint made = 0u;
    for (int step = 0; step < SDF_MAX_STEPS; ++step) {
        bool marching = false;
        [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) marching = marching || rays[s].status == SDF_MARCHING;
        if (!marching) break;
        vec3 p[MLP_ITEMS];
        [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) p[s] = sdf_position(rays[s]);
        float d[MLP_ITEMS];
        sdf_distances(p, d);
        made += uint(MLP_ITEMS);
        [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
            if (rays[s].status == SDF_MARCHING) sdf_advance(rays[s], d[s]);
        }
    }
    return made;
}

void main() {
    uint first = global_index() * MLP_ITEMS;
    if (first >= n) return;
    SdfRay rays[MLP_ITEMS];
    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) rays[s] = sdf_camera_ray(pixel_offset + min(first + s, n - 1));
    uint made = sdf_march(rays);

    bool hit = false;
    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) hit = hit || rays[s].status == SDF_HIT;
    if (hit) {
        for (uint k = 0u; k < 4u; ++k) {
            vec3 p[MLP_ITEMS];
            [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) p[s] = sdf_probe_position(rays[s], k);
            float d[MLP_ITEMS];
            sdf_distances(p, d);
            made += uint(MLP_ITEMS);
            [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
                if (rays[s].status == SDF_HIT) sdf_probe_add(rays[s], k, d[s]);
            }
        }
    }
    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) sdf_shadow_begin(rays[s]);
    if (render_mode == SDF_MODE_SHADED) made += sdf_march(rays);
    atomicAdd(queries[0], made);

    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
        if (first + s >= n) break;
        vec3 eye, view;
        camera_ray(pixel_offset + first + s, eye, view);
        frame_write(pixel_offset + first + s, sdf_shade(rays[s], eye, view));
    }
}
