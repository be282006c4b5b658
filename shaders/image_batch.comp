#version 460
#extension GL_GOOGLE_include_directive : require
// Image app, training batch: random positions on the image and the image's colour there
// (bilinear between pixel centres, edges clamped), in linear RGB.
// Specification: apps/image.py training_batch_reference().
//
// binding | name            | access | contents
// 0       | image           | read   | float [height, width, 3]: the training image, linear RGB
// 1       | training_state  | read   | uint [2]: step, seed (written by the host before each step)
// 2       | positions       | write  | float [n, 2]
// 3       | targets         | write  | float [n, 3]
// push constants: n (batch size), width, height

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/random.glsl"

layout(std430, binding = 0) readonly buffer Image { float image[]; };
layout(std430, binding = 1) readonly buffer TrainingState { uint training_state[]; };
layout(std430, binding = 2) writeonly buffer Positions { float positions[]; };
layout(std430, binding = 3) writeonly buffer Targets { float targets[]; };
layout(push_constant) uniform Push { uint n; uint width; uint height; };

vec3 texel(int x, int y) {
    uint base = 3u * (uint(y) * width + uint(x));
    return vec3(image[base], image[base + 1u], image[base + 2u]);
}

void main() {
    uint i = global_index();
    if (i >= n) return;
    uint step = training_state[0];
    uint seed = training_state[1];
    vec2 uv = vec2(random_uniform(seed, step, i, 0u), random_uniform(seed, step, i, 1u));
    // Pixel centres sit at (k + 0.5) / size.
    vec2 p = uv * vec2(width, height) - 0.5;
    vec2 lower = floor(p);
    vec2 f = p - lower;
    ivec2 size = ivec2(width, height);
    ivec2 a = clamp(ivec2(lower), ivec2(0), size - 1);
    ivec2 b = clamp(ivec2(lower) + 1, ivec2(0), size - 1);
    vec3 c = mix(mix(texel(a.x, a.y), texel(b.x, a.y), f.x), mix(texel(a.x, b.y), texel(b.x, b.y), f.x), f.y);
    positions[2 * i] = uv.x;
    positions[2 * i + 1] = uv.y;
    targets[3 * i] = c.r;
    targets[3 * i + 1] = c.g;
    targets[3 * i + 2] = c.b;
}
