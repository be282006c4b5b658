#version 460
#extension GL_GOOGLE_include_directive : require
// Image app, unfused stage 4 (post-processing): network output to the frame's pixels.
//
// binding | name       | access | contents
// 0       | rgb        | read   | float [n, 3]: the network's linear RGB for the tile
// 1       | coverage   | read   | float [n]
// 2       | frame      | write  | the frame (lib/frame.glsl), written at pixel_offset + i
// push constants: camera (lib/camera.glsl; unused here but shared by the app's kernels), n,
//                 pixel_offset, image_aspect

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/camera_push.glsl"
#include "lib/frame.glsl"

layout(std430, binding = 0) readonly buffer Rgb { float rgb[]; };
layout(std430, binding = 1) readonly buffer Coverage { float coverage[]; };
FRAME_BUFFER(2);
layout(push_constant) uniform Push { CAMERA_PUSH_CONSTANTS uint n; uint pixel_offset; float image_aspect; };

#include "lib/camera.glsl"
#include "lib/image_app.glsl"

void main() {
    uint i = global_index();
    if (i >= n) return;
    vec3 linear_rgb = vec3(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
    frame_write(pixel_offset + i, image_postprocess(linear_rgb, coverage[i]));
}
