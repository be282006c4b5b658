#version 460
#extension GL_GOOGLE_include_directive : require
// Image app, training batch: random positions on the image and the image's colour there
// (lib/image_source.glsl), in linear RGB.
// Specification: apps/image/reference.py image_batch().
//
// binding | name            | access | contents
// 0       | source_image    | read   | float [source_height, source_width, 3]: linear RGB
// 1       | training_state  | read   | uint [2]: step, seed (written by the host before each step)
// 2       | positions       | write  | float [n, 2]
// 3       | targets         | write  | float [n, 3]
// push constants: n (batch size), source_width, source_height

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/random.glsl"

layout(std430, binding = 0) readonly buffer SourceImage { float source_image[]; };
layout(std430, binding = 1) readonly buffer TrainingState { uint training_state[]; };
layout(std430, binding = 2) writeonly buffer Positions { float positions[]; };
layout(std430, binding = 3) writeonly buffer Targets { float targets[]; };
layout(push_constant) uniform Push { uint n; uint source_width; uint source_height; };

#include "image/image_source.glsl"

void main() {
    uint i = global_index();
    if (i >= n) return;
    uint step = training_state[0];
    uint seed = training_state[1];
    vec2 uv = vec2(random_uniform(seed, step, i, 0u), random_uniform(seed, step, i, 1u));
    vec3 c = image_source_color(uv);
    positions[2 * i] = uv.x;
    positions[2 * i + 1] = uv.y;
    targets[3 * i] = c.r;
    targets[3 * i + 1] = c.g;
    targets[3 * i + 2] = c.b;
}
