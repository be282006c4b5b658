#version 460
#extension GL_GOOGLE_include_directive : require
// Sums rows of partial results: out[out_offset + e] = sum_k partials[k * n + e].
//
// binding | name      | access | contents
// 0       | partials  | read   | float [rows, n]
// 1       | sums      | write  | float, written at [out_offset, out_offset + n)
// push constants: n (entries per row), rows, out_offset

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"

layout(std430, binding = 0) readonly buffer Partials { float partials[]; };
layout(std430, binding = 1) writeonly buffer Sums { float sums[]; };
layout(push_constant) uniform Push { uint n; uint rows; uint out_offset; };

void main() {
    uint e = global_index();
    if (e >= n) return;
    float total = 0.0;
    for (uint k = 0u; k < rows; ++k) total += partials[k * n + e];
    sums[out_offset + e] = total;
}
