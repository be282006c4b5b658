#version 460
#extension GL_GOOGLE_include_directive : require
// Image app, fused: pre-processing, grid encoding, MLP and post-processing in one dispatch, from
// the same functions as the unfused stages. MLP_ITEMS pixels per invocation (lib/mlp.glsl).
//
// binding | name         | access | contents
// 0       | grid_params  | read   | texels: float [n_entries, GRID_FEATURES] (lib/grid_types.glsl)
// 1       | mlp_weights  | read   | the layers' matrices (lib/mlp_weights.glsl)
// 2       | frame        | write  | the frame (lib/frame.glsl), written at pixel_offset + i
// 3       | source_image | read   | float [source_height, source_width, 3], linear RGB (modes 1, 2)
// push constants: the app's (image/image_push.glsl)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/frame_push.glsl"
#include "image/image_push.glsl"
#include "lib/frame.glsl"
#include "lib/grid_types.glsl"
#include "lib/mlp_weights.glsl"

GRID_PARAMS_BINDING(0);
MLP_WEIGHTS_BUFFER(1);
FRAME_BUFFER(2);
layout(std430, binding = 3) readonly buffer SourceImage { float source_image[]; };
layout(push_constant) uniform Push { IMAGE_PUSH_CONSTANTS };

#include "lib/grid_encoding.glsl"
#include "lib/mlp.glsl"
#include "lib/camera.glsl"
#include "image/image_source.glsl"
#include "image/image_preprocess.glsl"
#include "image/image_postprocess.glsl"

void main() {
    uint first = global_index() * MLP_ITEMS;
    if (first >= n) return;
    float encoded[MLP_ITEMS][MLP_INPUTS];
    float coverage[MLP_ITEMS];
    vec2 uv[MLP_ITEMS];
    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
        image_preprocess(pixel_offset + min(first + s, n - 1), uv[s], coverage[s]);
        float pos[2] = float[2](uv[s].x, uv[s].y);
        grid_encode(pos, encoded[s]);
    }
    float rgb[MLP_ITEMS][MLP_OUTPUTS];
    mlp_forward(encoded, rgb);
    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
        if (first + s >= n) break;
        vec3 linear_rgb = vec3(rgb[s][0], rgb[s][1], rgb[s][2]);
        frame_write(pixel_offset + first + s, image_postprocess(linear_rgb, coverage[s], uv[s]));
    }
}
