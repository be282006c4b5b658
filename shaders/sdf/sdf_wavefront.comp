#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// SDF app, wavefront: one iteration of the sphere tracer over the live slots (engine/render/
// wavefront.py). Each invocation takes WAVEFRONT_ITEMS = MLP_ITEMS slots of the list; each slot
// holds one pixel's ray in one phase of its work (sdf/sdf_trace.glsl: march, the normal's four
// probes, the shadow ray) and makes that phase's distance query (the encoding and the MLP on all the
// invocation's slots at once, sdf/sdf_distances.glsl), takes the distance in and moves on through
// the phases that need no query; a slot whose pixel is finished shades it into the frame and takes
// the tile's next pixel from the work queue. Slots with a query pending go into the next list.
// The same functions as the fused kernel and the unfused stages, on the same values: the same image.
// With WAVEFRONT_SPLIT 1 (the prepost kernels) the network is left out: the kernel takes each slot's
// distance from `distances` (by place in this iteration's list) and writes its next query position
// into `positions` (by place in the next list), and the engine's encoding and MLP run in between.
//
// binding | name          | access     | contents
// 0       | grid_params   | read       | texels: float [n_entries, GRID_FEATURES] (SDF_SOURCE 0, not split)
// 1       | mlp_weights   | read       | the layers' matrices (lib/mlp_weights.glsl) (likewise)
// 2       | frame         | write      | the frame (lib/frame.glsl)
// 3       | queries       | read-write | uint [1]: network queries of the frame (atomic)
// 4       | slot_state    | read-write | SdfSlot [slots] (sdf/sdf_ray.glsl)
// 5       | positions     | write      | float [slots, 3]: the next queries' positions (split)
// 6       | distances     | read       | float [slots]: this iteration's distances (split)
// 7-12    | slot_list_in, counter_in, slot_list_out, counter_out, slot_work, work_queue (lib/wavefront.glsl)
// push constants: the app's (sdf/sdf_push.glsl; probe and pixels_per_slot unused)
// defines: SDF_SOURCE (0 network, 1 shape), SDF_SHAPE, WAVEFRONT_SPLIT, the tracer's constants
// (apps/sdf/tracing.py defines()), MLP_ITEMS, the encoding's and the network's (SDF_SOURCE 0),
// MLP_ROWS_BLOCK and lib/mlp_rows.glsl's (the block MLP: GPUs)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/frame_push.glsl"
#include "lib/frame.glsl"
#include "sdf/sdf_ray.glsl"

#if SDF_SOURCE == 0 && !WAVEFRONT_SPLIT
#include "lib/grid_types.glsl"
#include "lib/mlp_weights.glsl"
GRID_PARAMS_BINDING(0);
MLP_WEIGHTS_BUFFER(1);
#endif
FRAME_BUFFER(2);
layout(std430, binding = 3) buffer Queries { uint queries[]; };
layout(std430, binding = 4) buffer SlotState { SdfSlot slot_state[]; };
#if WAVEFRONT_SPLIT
layout(std430, binding = 5) writeonly buffer Positions { float positions[]; };
layout(std430, binding = 6) readonly buffer Distances { float distances[]; };
#endif
layout(push_constant) uniform Push {
#include "sdf/sdf_push.glsl"
};
#define WAVEFRONT_BINDING 7
#define WAVEFRONT_ITEMS MLP_ITEMS
#define WAVEFRONT_WORK_TOTAL n
#include "lib/wavefront.glsl"

#if !WAVEFRONT_SPLIT
#include "sdf/sdf_distances.glsl"
#endif
#include "lib/camera.glsl"
#include "sdf/sdf_trace.glsl"

// Pixels a slot may finish in one step without a query (sky pixels need none): bounds an
// invocation's loop; a slot that reaches it stays listed, empty, and takes more next time.
#define SDF_TAKES_PER_STEP 8u

void main() {
    uint first = global_index() * uint(WAVEFRONT_ITEMS);
    uint count = counter_in[0];
#if !MLP_ROWS_BLOCK  // (with the block MLP every invocation of a workgroup takes part in its queries)
    if (first >= count) return;
#endif
    uint slot[WAVEFRONT_ITEMS], pixel[WAVEFRONT_ITEMS], phase[WAVEFRONT_ITEMS];
    SdfRay rays[WAVEFRONT_ITEMS];
    [[unroll]] for (int s = 0; s < WAVEFRONT_ITEMS; ++s) {
        bool listed = first + uint(s) < count;
        slot[s] = listed ? slot_list_in[first + uint(s)] : 0u;
        pixel[s] = listed ? slot_work[slot[s]] : WAVEFRONT_NO_WORK;
        phase[s] = SDF_PHASE_DONE;
        if (pixel[s] != WAVEFRONT_NO_WORK) {
            rays[s] = slot_state[slot[s]].ray;
            phase[s] = slot_state[slot[s]].phase;
        }
    }

    // Steps: each makes the pending queries (every slot with a pixel waits for one), takes the
    // distances in and moves the slots on to their next queries, shading finished pixels and taking
    // new ones. One step per dispatch while the wavefront is full; more as it empties (the tail of
    // long rays), where a dispatch per step would cost more than the lanes that wait.
    uint steps = wavefront_steps(count);
    uint made = 0u;
    bool keep[WAVEFRONT_ITEMS];
    for (uint step = 0u; step < steps; ++step) {
        float d[WAVEFRONT_ITEMS];
#if WAVEFRONT_SPLIT
        [[unroll]] for (int s = 0; s < WAVEFRONT_ITEMS; ++s) {
            d[s] = pixel[s] != WAVEFRONT_NO_WORK ? distances[first + uint(s)] : 0.0;
        }
#else
        vec3 p[WAVEFRONT_ITEMS];
        [[unroll]] for (int s = 0; s < WAVEFRONT_ITEMS; ++s) {
            p[s] = pixel[s] != WAVEFRONT_NO_WORK ? sdf_query_position(rays[s], phase[s]) : vec3(0.5);
        }
        sdf_distances(p, d);
#endif
        bool pending = false;
        [[unroll]] for (int s = 0; s < WAVEFRONT_ITEMS; ++s) {
            if (pixel[s] != WAVEFRONT_NO_WORK) {
                phase[s] = sdf_apply(rays[s], phase[s], d[s]);
                made += 1u;
            }
            keep[s] = false;
            if (first + uint(s) < count) {
                for (uint takes = 0u;; ++takes) {
                    if (pixel[s] != WAVEFRONT_NO_WORK) {
                        phase[s] = sdf_settle(rays[s], phase[s]);
                        if (phase[s] != SDF_PHASE_DONE) break;
                        frame_write(pixel_offset + pixel[s], sdf_pixel_colour(rays[s], pixel_offset + pixel[s]));
                        pixel[s] = WAVEFRONT_NO_WORK;
                    }
                    if (takes == SDF_TAKES_PER_STEP) {
                        keep[s] = true;  // empty, to take more in the next step
                        break;
                    }
                    pixel[s] = wavefront_take();
                    if (pixel[s] == WAVEFRONT_NO_WORK) break;
                    rays[s] = sdf_camera_ray(pixel_offset + pixel[s]);
                    phase[s] = SDF_PHASE_MARCH;
                }
                keep[s] = keep[s] || pixel[s] != WAVEFRONT_NO_WORK;
                pending = pending || keep[s];
            }
        }
#if !MLP_ROWS_BLOCK
        if (!pending) break;
#endif
    }
    uint kept = 0u;
    [[unroll]] for (int s = 0; s < WAVEFRONT_ITEMS; ++s) {
        if (first + uint(s) < count) slot_work[slot[s]] = pixel[s];
        kept += keep[s] ? 1u : 0u;
    }

    uint place = wavefront_append(kept);
    [[unroll]] for (int s = 0; s < WAVEFRONT_ITEMS; ++s) {
        if (keep[s]) {
            slot_list_out[place] = slot[s];
            if (pixel[s] != WAVEFRONT_NO_WORK) {
                slot_state[slot[s]].ray = rays[s];
                slot_state[slot[s]].phase = phase[s];
            }
#if WAVEFRONT_SPLIT
            vec3 q = pixel[s] != WAVEFRONT_NO_WORK ? sdf_query_position(rays[s], phase[s]) : vec3(0.5);
            positions[3u * place] = q.x;
            positions[3u * place + 1u] = q.y;
            positions[3u * place + 2u] = q.z;
#endif
            place += 1u;
        }
    }
    if (made > 0u) atomicAdd(queries[0], made);
}
