#version 460
#extension GL_GOOGLE_include_directive : require
// The arguments of the indirect dispatches over `count[0]` items (engine/render/rays.py counters):
// count[1..3] for kernels of one item per invocation, count[5..7] for kernels of `items` items per
// invocation (the MLP's MLP_ITEMS), both with `group_size` invocations per workgroup
// (VkDispatchIndirectCommand: x, y, z workgroups); past max_groups_x the grid folds into 2D, as
// engine/gpu/kernel.py Kernel.groups() does and lib/common.glsl global_index() unfolds.
// Specification: engine/gpu/kernel.py Kernel.groups().
//
// binding | name  | access     | contents
// 0       | count | read-write | uint [8]: [0] items (read), [1..3] and [5..7] workgroups (written),
//         |       |            | [4] = items (written, for readers of the counter)
// push constants: group_size, items, max_groups_x

layout(local_size_x_id = 0) in;  // dispatched as one workgroup of one invocation

layout(std430, binding = 0) buffer Count { uint count[]; };
layout(push_constant) uniform Push { uint group_size; uint items; uint max_groups_x; };

void write_groups(uint invocations, uint at) {
    uint groups = (invocations + group_size - 1u) / group_size;
    uint y = (groups + max_groups_x - 1u) / max_groups_x;
    count[at] = groups <= max_groups_x ? groups : max_groups_x;
    count[at + 1u] = max(y, 1u);
    count[at + 2u] = 1u;
}

void main() {
    write_groups(count[0], 1u);
    count[4] = items;
    write_groups((count[0] + items - 1u) / items, 5u);
}
