#version 460
#extension GL_GOOGLE_include_directive : require
// The signed distance of a built-in object (sdf/sdf_shapes.glsl) at positions: one invocation per
// position. Specification: apps/sdf/shapes.py SHAPES.
//
// binding | name      | access | contents
// 0       | positions | read   | float [n, 3], in the unit cube
// 1       | distances | write  | float [n]
// push constants: n (positions)
// defines: SDF_SHAPE (apps/sdf/shapes.py SHAPE_CODES)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "sdf/sdf_shapes.glsl"

layout(std430, binding = 0) readonly buffer Positions { float positions[]; };
layout(std430, binding = 1) writeonly buffer Distances { float distances[]; };
layout(push_constant) uniform Push { uint n; };

void main() {
    uint i = global_index();
    if (i >= n) return;
    distances[i] = sdf_shape(vec3(positions[3 * i], positions[3 * i + 1], positions[3 * i + 2]));
}
