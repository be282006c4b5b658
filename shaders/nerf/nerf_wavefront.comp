#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// NeRF app, wavefront: one iteration of the marcher over the live slots (engine/render/wavefront.py).
// Each invocation takes WAVEFRONT_ITEMS = 1 slot of the list; a slot holds one pixel's ray (a
// NerfRay in slot_state, always marching with a next sample) and goes one step a dispatch: the
// ray's next NERF_SAMPLES_PER_STEP samples (nerf_march_step), the encoding and both networks on
// them (nerf/nerf_network.glsl: the ray's 8 samples are the MLP's batch of MLP_ITEMS, as in the
// fused kernel), composited in order, and on to the ray's next sample (nerf_ray_continue). A
// finished ray writes its pixel and the slot takes the tile's next pixel from the work queue (into
// the cube and on to its first sample; a ray with none is written at once). Slots that hold a ray
// go into the next list. The same functions as the fused kernel and the unfused stages
// (nerf/nerf_march.glsl) on the same values: the same image, and the same queries (8 a step).
//
// With WAVEFRONT_SPLIT 1 (the prepost kernels) the networks are left out: the kernel composites the
// samples that the previous iteration's march took and the engine's kernels evaluated (their
// outputs read by this list's place i: samples i x 8 + k), goes on, finishes and takes pixels as
// above, then marches the next 8 samples of each kept slot, writes their positions by place in the
// next list, and grows `sample_counter` to 8 x that list's length: the encoding, the density MLP,
// the colour network's input (nerf/nerf_stages.comp stage 2) and the colour MLP are dispatched
// through it before the next iteration (apps/nerf/render.py NerfRenderer._record_network).
//
// binding | name            | access     | contents
// 0       | grid_params     | read       | texels: float [n_entries, GRID_FEATURES] (not split)
// 1       | density_weights | read       | the density network's matrices (lib/mlp_weights.glsl) (likewise)
// 2       | color_weights   | read       | the colour network's matrices (likewise)
// 3       | occupancy       | read       | uint [cascades R^3 / 32]: the occupancy grid's bits
// 4       | frame           | write      | the frame (lib/frame.glsl)
// 5       | queries         | read-write | uint [1]: samples evaluated in the frame (atomic)
// 6       | slot_state      | read-write | NerfRay [slots] (nerf/nerf_ray.glsl): each slot's ray, in
//         |                 |            | the unfused path's layout: split, nerf_stages stage 2 reads
//         |                 |            | it as its `rays` for each listed slot's direction
// 7       | sample_t        | read-write | float [slots x 8]: the ts of each slot's last march, -1 for
//         |                 |            | none (split); by slot, not by place, since this list's
//         |                 |            | places are being rewritten as the next list's meanwhile
// 8       | positions       | write      | float [slots x 8, 3]: the samples of the next list's place p
//         |                 |            | at 8p + k (split): the engine's encoding reads the first
//         |                 |            | sample_counter[0] of them
// 9       | density_out     | read       | float [slots x 8, 16]: the density network's outputs, and
// 10      | color_out       | read       | float [slots x 8, 3]: the colour network's, by place in this
//         |                 |            | list: the last iteration's next list (split)
// 11      | sample_counter  | read-write | uint [8]: the next list's samples, a ray counter (engine/
//         |                 |            | render/rays.py) the networks are dispatched through: zeroed
//         |                 |            | before the dispatch, grown here as slots are appended (split)
// 12-17   | slot_list_in, counter_in, slot_list_out, counter_out, slot_work, work_queue (lib/wavefront.glsl)
// 18      | lens            | read       | vec4 [3]: the camera's Camera.lens_block() (lib/camera.glsl)
// push constants: the app's (nerf/nerf_push.glsl)
// defines: the marcher's constants (apps/nerf/tracing.py defines()), MLP_ITEMS, WAVEFRONT_SPLIT,
// and unless split the encoding's (GRID_*) and the two networks' (density_*, color_*)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/frame_push.glsl"
#include "lib/frame.glsl"
#include "lib/color.glsl"
#include "nerf/nerf_ray.glsl"

#if !WAVEFRONT_SPLIT
#include "lib/grid_types.glsl"
#include "lib/mlp_weights.glsl"
GRID_PARAMS_BINDING(0);
MLP_WEIGHTS_BUFFER_NAMED(1, density_weights);
MLP_WEIGHTS_BUFFER_NAMED(2, color_weights);
#endif
layout(std430, binding = 3) readonly buffer Occupancy { uint occupancy[]; };
FRAME_BUFFER(4);
layout(std430, binding = 5) buffer Queries { uint queries[]; };
layout(std430, binding = 6) buffer SlotState { NerfRay slot_state[]; };
layout(std430, binding = 18) readonly buffer Lens { vec4 lens[]; };
#if WAVEFRONT_SPLIT
layout(std430, binding = 7) buffer SampleT { float sample_t[]; };
layout(std430, binding = 8) writeonly buffer Positions { float positions[]; };
layout(std430, binding = 9) readonly buffer DensityOut { float density_out[]; };
layout(std430, binding = 10) readonly buffer ColorOut { float color_out[]; };
layout(std430, binding = 11) buffer SampleCounter { uint sample_counter[]; };
#endif
layout(push_constant) uniform Push {
#include "nerf/nerf_push.glsl"
};
#define WAVEFRONT_BINDING 12
#define WAVEFRONT_ITEMS 1
#define WAVEFRONT_WORK_TOTAL n
#include "lib/wavefront.glsl"

#define CAMERA_LENS lens
#include "lib/camera.glsl"
#include "nerf/nerf_march.glsl"
#if !WAVEFRONT_SPLIT
#include "nerf/nerf_network.glsl"
#endif

#define SAMPLES NERF_SAMPLES_PER_STEP
// Pixels a slot may take in one dispatch (each a walk through the occupancy grid, at most about
// 3 x 128 cells; those whose rays have no sample are written at once): bounds an invocation's loops
// well under lavapipe's limit (it ends an invocation after about 65,000 loop iterations). A slot
// that reaches it stays listed, empty, and takes more in the next dispatch; split, its 8 samples
// still go through the networks, at the cube's centre (uncounted in the queries). At 128x96 with
// 2048 slots (hashgrid), 8 takes evaluated 53,352 samples for 45,752 queries, 32 takes 46,680.
#define NERF_TAKES_PER_DISPATCH 32u

vec3 background() { return vec3(background_r, background_g, background_b); }

// The slot's next pixel whose ray has a sample to march (`ray` set to it, `o` and `d` its camera
// ray), writing the pixels taken on the way whose rays have none; WAVEFRONT_NO_WORK when the queue is
// empty, or once the dispatch's `takes` reach NERF_TAKES_PER_DISPATCH (`more` then set: the slot
// stays listed).
uint nerf_take(inout NerfRay ray, inout vec3 o, inout vec3 d, inout uint takes, inout bool more) {
    for (; takes < NERF_TAKES_PER_DISPATCH; ++takes) {
        uint item = wavefront_take();
        if (item == WAVEFRONT_NO_WORK) return item;
        uint pixel = pixel_offset + item;
        camera_ray(pixel, o, d);
        ray = nerf_ray_begin(pixel, o, d);
        if (ray.status == NERF_MARCHING) {
            ++takes;
            return item;
        }
        frame_write(pixel, nerf_resolve(ray, render_mode, background()));
    }
    more = true;
    return WAVEFRONT_NO_WORK;
}

// After the ray's step: a finished ray's pixel is written and the slot takes the next.
uint nerf_settle(uint item, inout NerfRay ray, inout vec3 o, inout vec3 d, inout uint takes, inout bool more) {
    if (ray.status == NERF_MARCHING) return item;
    frame_write(ray.pixel, nerf_resolve(ray, render_mode, background()));
    return nerf_take(ray, o, d, takes, more);
}

#if WAVEFRONT_SPLIT
// The next list holds `total` slots (at least): its samples, 8 per slot, in the sample counter with
// the arguments of dispatches over them (as render/dispatch_args.comp writes them: words 1..3 for
// WAVEFRONT_GROUP samples per workgroup, 5..7 for MLP_ITEMS per invocation; atomicMax, since
// appends finish in any order).
void nerf_samples_grow(uint total) {
    uint samples = total * uint(SAMPLES);
    atomicMax(sample_counter[0], samples);
    atomicMax(sample_counter[1], (samples + WAVEFRONT_GROUP - 1u) / WAVEFRONT_GROUP);
    uint batches = (samples + uint(MLP_ITEMS) - 1u) / uint(MLP_ITEMS);
    atomicMax(sample_counter[5], (batches + WAVEFRONT_GROUP - 1u) / WAVEFRONT_GROUP);
    if (total == 1u) {  // the invocation that appended first writes the words that do not grow
        sample_counter[2] = 1u;
        sample_counter[3] = 1u;
        sample_counter[4] = uint(MLP_ITEMS);
        sample_counter[6] = 1u;
        sample_counter[7] = 1u;
    }
}
#endif

void main() {
    uint i = global_index();
    if (i >= counter_in[0]) return;
    uint slot = slot_list_in[i];
    uint item = slot_work[slot];
    NerfRay ray = nerf_ray_empty();
    vec3 o = vec3(0.0), d = vec3(0.0, 0.0, 1.0);
    if (item != WAVEFRONT_NO_WORK) {
        ray = slot_state[slot];
        camera_ray(ray.pixel, o, d);
    }
    uint takes = 0u;
    bool more = false;  // the slot stays listed without a ray, to take more pixels
    uint made = 0u;

#if WAVEFRONT_SPLIT
    // The samples of the last march, evaluated since: composite, and go on (or finish and take).
    if (item != WAVEFRONT_NO_WORK) {
        [[unroll]] for (int k = 0; k < SAMPLES; ++k) {
            uint s = i * uint(SAMPLES) + uint(k);
            float t = sample_t[slot * uint(SAMPLES) + uint(k)];
            if (t >= 0.0 && ray.status == NERF_MARCHING) {
                vec3 rgb = vec3(color_out[3u * s], color_out[3u * s + 1u], color_out[3u * s + 2u]);
                nerf_composite(ray, density_out[s * uint(NERF_DENSITY_OUTPUTS)], rgb, t);
            }
        }
        nerf_ray_continue(ray, o, d);
        item = nerf_settle(item, ray, o, d, takes, more);
    } else {
        item = nerf_take(ray, o, d, takes, more);
    }
    // The next samples: marched here, evaluated by the engine's kernels before the next iteration.
    float ts[SAMPLES];
    bool valid[SAMPLES];
    [[unroll]] for (int k = 0; k < SAMPLES; ++k) {
        ts[k] = 0.0;
        valid[k] = false;
    }
    if (item != WAVEFRONT_NO_WORK) {
        nerf_march_step(ray, o, d, ts, valid);
        made = uint(SAMPLES);
    }
#else
    // One step: march, evaluate, composite, go on; a finished ray's slot takes the next pixel. One
    // step per dispatch however few slots are live (wavefront_steps() not used): a step is 8 samples
    // through two networks, far more work than a dispatch costs, and rays take from 1 to over 40
    // steps, so lanes whose rays finish would wait for the others' further steps (lavapipe, 128x96,
    // hashgrid, 2048 slots: 31 ms a frame in single steps, 37 ms with the engine's FULL of 4096).
    if (item == WAVEFRONT_NO_WORK) item = nerf_take(ray, o, d, takes, more);
    if (item != WAVEFRONT_NO_WORK) {
        float ts[SAMPLES];
        bool valid[SAMPLES];
        nerf_march_step(ray, o, d, ts, valid);
        float raw[SAMPLES];
        vec3 rgb[SAMPLES];
        nerf_network(o, d, ts, valid, raw, rgb);
        made = uint(SAMPLES);
        [[unroll]] for (int k = 0; k < SAMPLES; ++k) {
            if (valid[k] && ray.status == NERF_MARCHING) nerf_composite(ray, raw[k], rgb[k], ts[k]);
        }
        nerf_ray_continue(ray, o, d);
        item = nerf_settle(item, ray, o, d, takes, more);
    }
#endif

    slot_work[slot] = item;
    bool keep = item != WAVEFRONT_NO_WORK || more;
    uint place = wavefront_append(keep ? 1u : 0u);
    if (keep) {
        slot_list_out[place] = slot;
        // An empty slot kept to take more holds the last ray it took (one without samples): the
        // colour-input stage reads the direction of every listed slot's ray (split).
        slot_state[slot] = ray;
#if WAVEFRONT_SPLIT
        nerf_samples_grow(place + 1u);
        [[unroll]] for (int k = 0; k < SAMPLES; ++k) {
            uint s = place * uint(SAMPLES) + uint(k);
            vec3 p = nerf_sample_position(o, d, ts[k], valid[k]);
            sample_t[slot * uint(SAMPLES) + uint(k)] = valid[k] ? ts[k] : -1.0;
            positions[3u * s] = p.x;
            positions[3u * s + 1u] = p.y;
            positions[3u * s + 2u] = p.z;
        }
#endif
    }
    if (made > 0u) atomicAdd(queries[0], made);
}
