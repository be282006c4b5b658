#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// Volume app, wavefront: one iteration of the free-flight tracer over the live slots (engine/render/
// wavefront.py), for one pass of up to apps/volume/render.py MAX_SPP_PER_PASS samples. The work
// item is a path: path w is sample w % spp of tile pixel w / spp (the unfused stages' numbering),
// n x spp of them per pass, begun by the pass's preprocess (volume/volume_stages.comp stage 0, all
// at once: a path begun in a slot as another finishes would hold its vector's other lanes up for
// the walk to its first occupied cell). Each invocation takes WAVEFRONT_ITEMS = MLP_ITEMS slots of
// the list; each slot holds a path waiting for its event's query: it makes the query (the encoding
// and the MLP on all the invocation's slots at once, volume/volume_values.glsl), collides or flies
// on to the next event (volume/volume_trace.glsl: the functions of the fused kernel and the unfused
// stages, on the same values); a slot whose path is done takes the tile's next path from the work
// queue. Slots with a query pending go into the next list. Batches stay full: a path that needs
// more events than the others of its pixel no longer holds up finished ones, as in the fused
// kernel, so the queries are the unfused path's.
// A path's state lives in `paths` at its path id, where the unfused stages keep it, and a slot
// holds it only while it works on it (between the queries the invocation keeps the slots' query
// positions alone: 8 paths' states held across the network cost 7 % more time on lavapipe). A
// finished path is left there as it ends, and the pass's resolve (stage 4, the unfused path's
// postprocess) sums each pixel's samples in sample order from them.
// With WAVEFRONT_SPLIT 1 (the prepost kernels) the network is left out: the kernel takes each
// slot's albedo and density from `values` (by place in this iteration's list) and writes its next
// query position into `positions` (by place in the next list), and the engine's encoding and MLP
// run in between.
//
// binding | name         | access     | contents
// 0       | grid_params  | read       | texels: float [n_entries, GRID_FEATURES] (VOLUME_SOURCE 0, not split)
// 1       | mlp_weights  | read       | the layers' matrices (lib/mlp_weights.glsl) (likewise)
// 2       | volume_grid  | read       | float [X, Y, Z, 4]: albedo RGB, density (VOLUME_SOURCE 1)
// 3       | occupancy    | read       | uint [R^3 / 32]: the occupancy grid's bits
// 4       | paths        | read-write | VolumePath [n x spp]: each path's state by path id, begun by
//         |              |            | the preprocess, left finished for the resolve
// 5       | queries      | read-write | uint [1]: network queries of the frame (atomic)
// 6       | positions    | write      | float [slots, 3]: the next queries' positions (split)
// 7       | values       | read       | vec4 [slots]: this iteration's albedo RGB and density (split)
// 8-13    | slot_list_in, counter_in, slot_list_out, counter_out, slot_work, work_queue (lib/wavefront.glsl)
// push constants: the app's (volume/volume_push.glsl; the work total is n x spp: no room for more)
// defines: VOLUME_SOURCE (0 network, 1 grid), WAVEFRONT_SPLIT (VOLUME_SOURCE 0 only), the tracer's
// constants (apps/volume/tracing.py defines()), MLP_ITEMS, the encoding's and the network's
// (VOLUME_SOURCE 0, not split), MLP_ROWS_BLOCK and lib/mlp_rows.glsl's (the block MLP: GPUs)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/frame_push.glsl"
#include "lib/color.glsl"
#include "lib/random.glsl"
#include "volume/volume_path.glsl"

#if VOLUME_SOURCE == 0 && !WAVEFRONT_SPLIT
#include "lib/grid_types.glsl"
#include "lib/mlp_weights.glsl"
GRID_PARAMS_BINDING(0);
MLP_WEIGHTS_BUFFER(1);
#endif
#if VOLUME_SOURCE == 1
layout(std430, binding = 2) readonly buffer VolumeGrid { float volume_grid[]; };
#endif
layout(std430, binding = 3) readonly buffer Occupancy { uint occupancy[]; };
layout(std430, binding = 4) buffer Paths { VolumePath paths[]; };
layout(std430, binding = 5) buffer Queries { uint queries[]; };
#if WAVEFRONT_SPLIT
layout(std430, binding = 6) writeonly buffer Positions { float positions[]; };
layout(std430, binding = 7) readonly buffer Values { vec4 values[]; };
#endif
layout(push_constant) uniform Push {
#include "volume/volume_push.glsl"
};
#define WAVEFRONT_BINDING 8
#define WAVEFRONT_ITEMS MLP_ITEMS
#define WAVEFRONT_WORK_TOTAL (n * spp)
#include "lib/wavefront.glsl"

#if !WAVEFRONT_SPLIT
#include "volume/volume_values.glsl"
#endif
#include "lib/camera.glsl"
#include "volume/volume_trace.glsl"

// Paths a slot may finish in one step without a query (those that miss the volume need none):
// bounds an invocation's loop; a slot that reaches it stays listed, empty, and takes more next time.
#define VOLUME_TAKES_PER_STEP 8u

void main() {
    uint first = global_index() * uint(WAVEFRONT_ITEMS);
    uint count = counter_in[0];
#if !MLP_ROWS_BLOCK  // (with the block MLP every invocation of a workgroup takes part in its queries)
    if (first >= count) return;
#endif
    uint slot[WAVEFRONT_ITEMS], work[WAVEFRONT_ITEMS];
    vec3 p[WAVEFRONT_ITEMS];  // each slot's query position (its path's state is in paths[])
    bool waiting = false;  // a slot of this invocation has a query pending
    [[unroll]] for (int s = 0; s < WAVEFRONT_ITEMS; ++s) {
        bool listed = first + uint(s) < count;
        slot[s] = listed ? slot_list_in[first + uint(s)] : 0u;
        work[s] = listed ? slot_work[slot[s]] : WAVEFRONT_NO_WORK;
        p[s] = vec3(0.5);
#if !WAVEFRONT_SPLIT
        if (work[s] != WAVEFRONT_NO_WORK) {
            VolumePath path = paths[work[s]];
            vec3 o, d;
            camera_ray(path.pixel, o, d);
            p[s] = volume_position(path, o, d);
            waiting = true;
        }
#endif
    }

    // Steps: each makes the pending queries (a slot with a path waits for one at its event), lets
    // the paths collide and fly on to their next events, and gives slots whose paths are done new
    // ones. One step per dispatch while the wavefront is full; more as it empties (the tail of
    // long paths), where a dispatch per step would cost more than the lanes that wait.
    uint steps = wavefront_steps(count);
    uint made = 0u;
    bool keep[WAVEFRONT_ITEMS];
    for (uint step = 0u; step < steps; ++step) {
        bool pending = false;  // a slot goes on: with a query, or empty to take more
        vec4 v[WAVEFRONT_ITEMS];
#if WAVEFRONT_SPLIT
        [[unroll]] for (int s = 0; s < WAVEFRONT_ITEMS; ++s) {
            v[s] = work[s] != WAVEFRONT_NO_WORK ? values[first + uint(s)] : vec4(0.0);
        }
#else
#if MLP_ROWS_BLOCK
        volume_values(p, v);
#else
        if (waiting) volume_values(p, v);  // not in the first iteration, whose slots are all empty
#endif
#endif
        waiting = false;
        [[unroll]] for (int s = 0; s < WAVEFRONT_ITEMS; ++s) {
            keep[s] = false;
            if (first + uint(s) < count) {
                VolumePath path;
                vec3 o, d;
                if (work[s] != WAVEFRONT_NO_WORK) {
                    path = paths[work[s]];
                    camera_ray(path.pixel, o, d);
                    volume_collide(path, v[s]);
                    made += 1u;
                }
                for (uint takes = 0u;; ++takes) {
                    if (work[s] != WAVEFRONT_NO_WORK) {
                        volume_fly(path, o, d);
                        paths[work[s]] = path;
                        if (path.status == VOLUME_QUERY) break;
                        work[s] = WAVEFRONT_NO_WORK;  // done: its final state is left for the resolve
                    }
                    if (takes == VOLUME_TAKES_PER_STEP) {
                        keep[s] = true;  // empty, to take more in the next step
                        break;
                    }
                    work[s] = wavefront_take();
                    if (work[s] == WAVEFRONT_NO_WORK) break;
                    path = paths[work[s]];  // begun by the pass's preprocess
                    camera_ray(path.pixel, o, d);
                }
                if (work[s] != WAVEFRONT_NO_WORK) p[s] = volume_position(path, o, d);
                keep[s] = keep[s] || work[s] != WAVEFRONT_NO_WORK;
                waiting = waiting || work[s] != WAVEFRONT_NO_WORK;
                pending = pending || keep[s];
            }
        }
#if !MLP_ROWS_BLOCK
        if (!pending) break;
#endif
    }
    uint kept = 0u;
    [[unroll]] for (int s = 0; s < WAVEFRONT_ITEMS; ++s) {
        if (first + uint(s) < count) slot_work[slot[s]] = work[s];
        kept += keep[s] ? 1u : 0u;
    }

    uint place = wavefront_append(kept);
    [[unroll]] for (int s = 0; s < WAVEFRONT_ITEMS; ++s) {
        if (keep[s]) {
            slot_list_out[place] = slot[s];
#if WAVEFRONT_SPLIT
            vec3 q = work[s] != WAVEFRONT_NO_WORK ? p[s] : vec3(0.5);
            positions[3u * place] = q.x;
            positions[3u * place + 1u] = q.y;
            positions[3u * place + 2u] = q.z;
#endif
            place += 1u;
        }
    }
    if (made > 0u) atomicAdd(queries[0], made);
}
