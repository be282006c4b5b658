// The wavefront iteration's bookkeeping (engine/render/wavefront.py): which slots an invocation
// advances, the work queue, and the list of slots that go on, with the next dispatch's arguments.
//
// This file declares its buffers at bindings b = WAVEFRONT_BINDING to b + 5:
//   b      slot_list_in   read        uint [slots]: the slots to advance, the first counter_in[0]
//   b + 1  counter_in     read        uint [12]: [0] the list's length (engine/render/wavefront.py)
//   b + 2  slot_list_out  write       uint [slots]: the slots that go on, the first counter_out[0]
//   b + 3  counter_out    read-write  uint [12]: zeroed before the dispatch; its count and dispatch
//                                     arguments are set here (atomics), for the next iteration
//   b + 4  slot_work      read-write  uint [slots]: each slot's work item, WAVEFRONT_NO_WORK if none
//   b + 5  work_queue     read-write  uint [1]: the next work item to hand out (0 at the start)
// Define WAVEFRONT_BINDING, WAVEFRONT_ITEMS (list entries per invocation: entries
// WAVEFRONT_ITEMS * i + s) and WAVEFRONT_WORK_TOTAL (the work items of the dispatch, an expression
// of the push constants), and include after the push-constant block. The engine defines
// WAVEFRONT_SPLIT, WAVEFRONT_FULL, WAVEFRONT_MAX_STEPS and WAVEFRONT_LOCAL_SIZE (Wavefront.kernel).

#ifndef NGVK_WAVEFRONT_GLSL
#define NGVK_WAVEFRONT_GLSL

#define WAVEFRONT_NO_WORK 0xffffffffu
#define WAVEFRONT_GROUP 64u  // the workgroup size of kernels dispatched through a counter (rays.py GROUP_SIZE)
#ifndef WAVEFRONT_SPLIT
#define WAVEFRONT_SPLIT 0
#endif

layout(std430, binding = WAVEFRONT_BINDING) readonly buffer SlotListIn { uint slot_list_in[]; };
layout(std430, binding = WAVEFRONT_BINDING + 1) readonly buffer CounterIn { uint counter_in[]; };
layout(std430, binding = WAVEFRONT_BINDING + 2) writeonly buffer SlotListOut { uint slot_list_out[]; };
layout(std430, binding = WAVEFRONT_BINDING + 3) buffer CounterOut { uint counter_out[]; };
layout(std430, binding = WAVEFRONT_BINDING + 4) buffer SlotWork { uint slot_work[]; };
layout(std430, binding = WAVEFRONT_BINDING + 5) buffer WorkQueue { uint work_queue[]; };

// Steps each slot goes in this dispatch, for a list of `count` slots: 1 while the list holds at
// least WAVEFRONT_FULL (the engine's choice per device), more as it empties, up to
// WAVEFRONT_MAX_STEPS; always 1 with the network run apart (WAVEFRONT_SPLIT).
uint wavefront_steps(uint count) {
    if (WAVEFRONT_SPLIT != 0) return 1u;
    return clamp(uint(WAVEFRONT_FULL) / max(count, 1u), 1u, uint(WAVEFRONT_MAX_STEPS));
}

// The next work item, or WAVEFRONT_NO_WORK once the queue is empty.
uint wavefront_take() {
    uint item = atomicAdd(work_queue[0], 1u);
    return item < uint(WAVEFRONT_WORK_TOTAL) ? item : WAVEFRONT_NO_WORK;
}

// Room for `kept` slots in the next list: returns the place of the first. The count's dispatch
// arguments grow with it (atomicMax: appends finish in any order): for workgroups of WAVEFRONT_GROUP
// invocations of one item (words 1..3: the encoding's) and of WAVEFRONT_ITEMS items (5..7: the
// MLP's), and for this kernel's own (8..10: WAVEFRONT_LOCAL_SIZE invocations of WAVEFRONT_ITEMS).
uint wavefront_append(uint kept) {
    if (kept == 0u) return 0u;
    uint first = atomicAdd(counter_out[0], kept);
    uint total = first + kept;
    atomicMax(counter_out[1], (total + WAVEFRONT_GROUP - 1u) / WAVEFRONT_GROUP);
    atomicMax(counter_out[5], (total + WAVEFRONT_GROUP * uint(WAVEFRONT_ITEMS) - 1u) / (WAVEFRONT_GROUP * uint(WAVEFRONT_ITEMS)));
    uint own = uint(WAVEFRONT_LOCAL_SIZE) * uint(WAVEFRONT_ITEMS);
    atomicMax(counter_out[8], (total + own - 1u) / own);
    if (first == 0u) {  // one invocation writes the words that do not grow
        counter_out[2] = 1u;
        counter_out[3] = 1u;
        counter_out[4] = uint(WAVEFRONT_ITEMS);
        counter_out[6] = 1u;
        counter_out[7] = 1u;
        counter_out[9] = 1u;
        counter_out[10] = 1u;
    }
    return first;
}

#endif
