#version 460
#extension GL_GOOGLE_include_directive : require
// Image app, unfused stage 1 (pre-processing): pixel to image position.
//
// binding | name       | access | contents
// 0       | positions  | write  | float [n, 2]: uv of each pixel of the tile
// 1       | coverage   | write  | float [n]: 1 where the pixel sees the image, 0 elsewhere
// push constants: the app's (image/image_push.glsl)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/frame_push.glsl"
#include "image/image_push.glsl"

layout(std430, binding = 0) writeonly buffer Positions { vec2 positions[]; };
layout(std430, binding = 1) writeonly buffer Coverage { float coverage[]; };
layout(push_constant) uniform Push { IMAGE_PUSH_CONSTANTS };

#include "lib/camera.glsl"
#include "image/image_preprocess.glsl"

void main() {
    uint i = global_index();
    if (i >= n) return;
    vec2 uv;
    float c;
    image_preprocess(pixel_offset + i, uv, c);
    positions[i] = uv;
    coverage[i] = c;
}
