#version 460
#extension GL_GOOGLE_include_directive : require
// Image app, unfused stage 4 (post-processing): network output to the frame's pixels.
//
// binding | name          | access | contents
// 0       | rgb           | read   | float [n, 3]: the network's linear RGB for the tile
// 1       | coverage      | read   | float [n]
// 2       | frame         | write  | the frame (lib/frame.glsl), written at pixel_offset + i
// 3       | positions     | read   | float [n, 2]: uv of each pixel (for the source and error modes)
// 4       | source_image  | read   | float [source_height, source_width, 3], linear RGB
// push constants: the app's (image/image_push.glsl)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/frame_push.glsl"
#include "image/image_push.glsl"
#include "lib/frame.glsl"

layout(std430, binding = 0) readonly buffer Rgb { float rgb[]; };
layout(std430, binding = 1) readonly buffer Coverage { float coverage[]; };
FRAME_BUFFER(2);
layout(std430, binding = 3) readonly buffer Positions { vec2 positions[]; };
layout(std430, binding = 4) readonly buffer SourceImage { float source_image[]; };
layout(push_constant) uniform Push { IMAGE_PUSH_CONSTANTS };

#include "image/image_source.glsl"
#include "image/image_postprocess.glsl"

void main() {
    uint i = global_index();
    if (i >= n) return;
    vec3 linear_rgb = vec3(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
    frame_write(pixel_offset + i, image_postprocess(linear_rgb, coverage[i], positions[i]));
}
