#version 460
#extension GL_GOOGLE_include_directive : require
// Stream compaction of live items (rays, samples): the indices of the items still alive, gathered
// into a shorter list with an atomic counter, so the next iteration's dispatch covers only them.
// The order of the output is not the input's (atomics); the items write their results by index.
// Specification: engine/render/rays.py compact_reference().
//
// binding | name        | access     | contents
// 0       | alive       | read       | uint [count]: nonzero where item i of this list is alive
// 1       | indices_in  | read       | uint [count]: what item i stands for (a ray index)
// 2       | count_in    | read       | uint [4]: [0] the list's length (the rest: its dispatch arguments)
// 3       | indices_out | write      | uint [count]: indices_in of the live items, first count_out[0]
// 4       | count_out   | read-write | uint [4]: [0] incremented atomically (cleared before this kernel)
// push constants: none; the dispatch covers count_in[0] items (indirect, or at least that many)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"

layout(std430, binding = 0) readonly buffer Alive { uint alive[]; };
layout(std430, binding = 1) readonly buffer IndicesIn { uint indices_in[]; };
layout(std430, binding = 2) readonly buffer CountIn { uint count_in[]; };
layout(std430, binding = 3) writeonly buffer IndicesOut { uint indices_out[]; };
layout(std430, binding = 4) buffer CountOut { uint count_out[]; };

void main() {
    uint i = global_index();
    if (i >= count_in[0] || alive[i] == 0u) return;
    indices_out[atomicAdd(count_out[0], 1u)] = indices_in[i];
}
