#version 460
#extension GL_GOOGLE_include_directive : require
// Image app, unfused stage 1 (pre-processing): pixel to image position.
//
// binding | name       | access | contents
// 0       | positions  | write  | float [n, 2]: uv of each pixel of the tile
// 1       | coverage   | write  | float [n]: 1 where the pixel sees the image, 0 elsewhere
// push constants: the app's (below)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/frame_push.glsl"

layout(std430, binding = 0) writeonly buffer Positions { vec2 positions[]; };
layout(std430, binding = 1) writeonly buffer Coverage { float coverage[]; };
// The app's push constants (apps/image/app.py ImageRenderer.push_constants), the same in all its kernels.
layout(push_constant) uniform Push {
    CAMERA_PUSH_CONSTANTS
    TILE_PUSH_CONSTANTS
    float image_aspect; // width / height of the image
    uint render_mode;   // 0 network, 1 source, 2 error (apps/image/app.py RENDER_MODES)
    uint source_width;  // the source image for modes 1 and 2 (1 x 1 when there is none)
    uint source_height;
};

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
