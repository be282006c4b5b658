#version 460
#extension GL_GOOGLE_include_directive : require
// Spherical-harmonics encoding of directions: one invocation per direction.
//
// binding | name        | access | contents
// 0       | directions  | read   | float [n, 3], unit vectors
// 1       | encoded     | write  | float [n, 16]
// push constants: n (directions)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/sh_encoding.glsl"

layout(std430, binding = 0) readonly buffer Directions { float directions[]; };
layout(std430, binding = 1) writeonly buffer Encoded { float encoded[]; };
layout(push_constant) uniform Push { uint n; };

void main() {
    uint i = global_index();
    if (i >= n) return;
    vec3 d = vec3(directions[3 * i], directions[3 * i + 1], directions[3 * i + 2]);
    float sh[SH_OUTPUTS];
    sh_encode(d, sh);
    for (int k = 0; k < SH_OUTPUTS; ++k) encoded[i * SH_OUTPUTS + k] = sh[k];
}
