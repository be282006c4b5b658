#version 460
#extension GL_GOOGLE_include_directive : require
// The arguments of an indirect dispatch over `count[0]` items, written into count[1..3]
// (VkDispatchIndirectCommand: x, y, z workgroups) for a kernel of `group_size` invocations per
// workgroup; past max_groups_x the grid folds into 2D, as engine/gpu/kernel.py Kernel.groups() does
// and lib/common.glsl global_index() unfolds.
// Specification: engine/gpu/kernel.py Kernel.groups().
//
// binding | name  | access     | contents
// 0       | count | read-write | uint [4]: [0] items (read), [1..3] workgroups x, y, z (written)
// push constants: group_size, max_groups_x

layout(local_size_x_id = 0) in;  // dispatched as one workgroup of one invocation

layout(std430, binding = 0) buffer Count { uint count[]; };
layout(push_constant) uniform Push { uint group_size; uint max_groups_x; };

void main() {
    uint groups = (count[0] + group_size - 1u) / group_size;
    uint y = (groups + max_groups_x - 1u) / max_groups_x;
    count[1] = groups <= max_groups_x ? groups : max_groups_x;
    count[2] = max(y, 1u);
    count[3] = 1u;
}
