#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// NeRF app, training: the stages of a training step around the engine's encoding, MLP and Adam
// kernels (apps/nerf/training.py says in which order), one per NERF_TRAIN_STAGE:
//   0 rays       max_rays:  ray i < train_rays[0] takes a random pixel of a random training image
//                           and a random background (the same for the s^2 rays of a pixel, s =
//                           train_rays[1]: ray i is ray i % s^2 of the pixel's regular s x s grid,
//                           as the evaluation's), marches through the occupancy grid from a
//                           random fraction of a step past the aabb's entry, reserves its samples'
//                           marched slots with an atomic counter (a ray that would overflow the
//                           march budget is dropped) and writes their positions (warped into
//                           [0, 1]^3) and ts
//   4 compact    max_rays:  from the density network's outputs at the marched samples, each ray
//                           keeps its samples up to its stop (nerf_composite's rule) and copies
//                           them into the trained slots, reserved with a second atomic counter
//                           (a ray that would overflow the budget is dropped, and its pixel with
//                           it: stage 2 skips a pixel with a dropped ray): instant-ngp's
//                           compaction, so that the networks train only on samples that count
//   1 color      budget:    the colour network's input of each slot (density outputs, SH)
//   2 composite  max_rays:  (the first train_rays[0] / s^2) each pixel's rays composite their samples
//                           (nerf/nerf_march.glsl's rule), the pixel is their mean, its loss
//                           against the target over the same background, and the backward pass:
//                           dL/d colour and dL/d raw density per sample of each ray, given
//                           dL/d pixel / s^2 (apps/nerf/tracing.py composite_backward())
//   3 density    budget:    dL/d density outputs: the colour network's input gradient of the first
//                           16 inputs, plus dL/d raw density on the first
// Unused trained slots hold position 0.5 and ray NERF_NO_RAY (filled before stage 0) and zero
// gradients; unused marched slots hold position 0.5.
//
// binding | name          | access     | stages | contents
// 0       | occupancy     | read       | 0      | uint [cascades R^3 / 32]: the occupancy grid's bits
// 1       | cameras       | read       | 0      | vec4 [images x 8]: camera_array() blocks, lenses too (lib/camera.glsl)
// 2       | images        | read       | 0      | uint [images x H x W]: RGBA8, sRGB colour, straight alpha
// 3       | train_rays    | read       | 0 2    | uint [2]: the rays of this step, s (rays per pixel side)
// 4       | sample_count  | read-write | 0 4    | uint [2]: samples the rays asked for, marched and trained (atomic)
// 5       | rays          | read-write | 0-2, 4 | NerfTrainRay [max_rays]
// 6       | sample_ray    | read-write | 4 1    | uint [budget]: each trained slot's ray (NERF_NO_RAY: none)
// 7       | positions     | write      | 4      | float [budget, 3]: the trained samples' positions
// 8       | density_out   | read       | 1 2    | float [budget, 16]: the density network's outputs
// 9       | color_in      | write      | 1      | float [budget, 32]: the colour network's inputs
// 10      | color_out     | read       | 2      | float [budget, 3]: the colour network's outputs
// 11      | d_color_out   | write      | 2      | float [budget, 3]: dL/d colour
// 12      | d_raw         | read-write | 2 3    | float [budget]: dL/d raw density
// 13      | losses        | write      | 2      | float [max_rays]: each pixel's share of the loss
// 14      | d_color_in    | read       | 3      | float [budget, 32]: dL/d colour network inputs
// 15      | d_density_out | write      | 3      | float [budget, 16]: dL/d density outputs
// 16      | training_state| read       | 0      | uint [2]: step, seed (engine/nn/training.py Trainer)
// 17      | sample_t      | read-write | 2 4    | float [budget]: each trained slot's t along its ray (its step dt)
// 18      | march_positions | read-write | 0 4  | float [march_budget, 3]: the marched samples' positions
// 19      | march_t       | read-write | 0 4    | float [march_budget]: the marched samples' ts
// 20      | march_density | read       | 4      | float [march_budget, 16]: the density network's outputs there
// push constants: below
// defines: NERF_TRAIN_STAGE, LOSS (lib/loss.glsl), the marcher's constants (apps/nerf/tracing.py)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"
#include "lib/color.glsl"
#include "lib/random.glsl"
#include "lib/loss.glsl"

#define NERF_NO_RAY 0xffffffffu

// 64 bytes in std430 (apps/nerf/training.py TRAIN_RAY_DTYPE).
struct NerfTrainRay {
    vec3 direction;
    uint first;        // its first trained slot
    vec3 target;       // the pixel over the background, linear RGB
    uint count;        // its trained slots (0: dropped)
    vec3 background;   // linear RGB
    uint used;         // samples composited before the stop (stage 2)
    uint march_first;  // its first marched slot
    uint march_count;  // its marched slots
    uint dropped;      // 1: a budget overflowed (stages 0, 4): its pixel is not trained
    uint pad;
};

layout(std430, binding = 0) readonly buffer Occupancy { uint occupancy[]; };
layout(std430, binding = 1) readonly buffer Cameras { vec4 cameras[]; };
layout(std430, binding = 2) readonly buffer Images { uint images[]; };
layout(std430, binding = 3) readonly buffer TrainRays { uint train_rays[]; };
layout(std430, binding = 4) buffer SampleCount { uint sample_count[]; };
layout(std430, binding = 5) buffer Rays { NerfTrainRay rays[]; };
layout(std430, binding = 6) buffer SampleRay { uint sample_ray[]; };
layout(std430, binding = 7) writeonly buffer Positions { float positions[]; };
layout(std430, binding = 8) readonly buffer DensityOut { float density_out[]; };
layout(std430, binding = 9) writeonly buffer ColorIn { float color_in[]; };
layout(std430, binding = 10) readonly buffer ColorOut { float color_out[]; };
layout(std430, binding = 11) writeonly buffer DColorOut { float d_color_out[]; };
layout(std430, binding = 12) buffer DRaw { float d_raw[]; };
layout(std430, binding = 13) writeonly buffer Losses { float losses[]; };
layout(std430, binding = 14) readonly buffer DColorIn { float d_color_in[]; };
layout(std430, binding = 15) writeonly buffer DDensityOut { float d_density_out[]; };
layout(std430, binding = 16) readonly buffer TrainingState { uint training_state[]; };
layout(std430, binding = 17) buffer SampleT { float sample_t[]; };
layout(std430, binding = 18) buffer MarchPositions { float march_positions[]; };
layout(std430, binding = 19) buffer MarchT { float march_t[]; };
layout(std430, binding = 20) readonly buffer MarchDensity { float march_density[]; };
layout(push_constant) uniform Push {
    uint n;             // invocations: max_rays (stages 0, 2, 4) or budget (1, 3)
    uint budget;        // trained sample slots per step
    uint march_budget;  // marched sample slots per step
    uint image_count;
    uint image_width;
    uint image_height;
};

#define CAMERA_ARRAY cameras
#include "lib/camera.glsl"
#include "nerf/nerf_march.glsl"

// The step's random numbers of ray i: two draws of the sequence (k < 4 each).
float ray_random(uint i, uint draw, uint k) {
    return random_uniform(training_state[1], training_state[0] * 2u + draw, i, k);
}

// Ray `ray`'s trained samples composited as the render composites them, with its stop; `used`: the
// samples composited before it.
NerfRay nerf_train_forward(NerfTrainRay ray, out uint used) {
    NerfRay state = nerf_ray_empty();
    used = 0u;
    for (uint k = 0u; k < ray.count && state.status == NERF_MARCHING; ++k) {
        uint slot = ray.first + k;
        vec3 rgb = vec3(color_out[3u * slot], color_out[3u * slot + 1u], color_out[3u * slot + 2u]);
        nerf_composite(state, density_out[slot * NERF_DENSITY_OUTPUTS], rgb, sample_t[slot]);
        used = k + 1u;
    }
    return state;
}

void main() {
    uint i = global_index();
    if (i >= n) return;
#if NERF_TRAIN_STAGE == 0
    NerfTrainRay ray;
    ray.first = 0u;
    ray.count = 0u;
    ray.used = 0u;
    ray.march_first = 0u;
    ray.march_count = 0u;
    ray.dropped = 0u;
    ray.pad = 0u;
    ray.direction = vec3(0.0, 0.0, 1.0);
    ray.target = vec3(0.0);
    ray.background = vec3(0.0);
    if (i >= train_rays[0]) {
        rays[i] = ray;
        return;
    }
    uint factor = train_rays[1];
    uint group = i / (factor * factor), sub = i % (factor * factor);  // the pixel among the step's, its ray
    uint image = min(uint(ray_random(group, 0u, 0u) * float(image_count)), image_count - 1u);
    uint x = min(uint(ray_random(group, 0u, 1u) * float(image_width)), image_width - 1u);
    uint y = min(uint(ray_random(group, 0u, 2u) * float(image_height)), image_height - 1u);
    uint pixel = y * image_width + x;
    vec3 o, d;
    camera_ray_indexed(image, factor, (y * factor + sub / factor) * image_width * factor + x * factor + sub % factor,
                       o, d);
    ray.direction = d;
    ray.background = vec3(ray_random(group, 1u, 0u), ray_random(group, 1u, 1u), ray_random(group, 1u, 2u));
    vec4 texel = unpackUnorm4x8(images[image * image_width * image_height + pixel]);
    ray.target = srgb_to_linear(texel.rgb) * texel.a + ray.background * (1.0 - texel.a);
    vec2 entry = nerf_aabb_entry(o, d);
    float t0 = nerf_advance(entry.x, ray_random(i, 0u, 3u));
    float t = t0, ts;
    uint count = 0u;
    while (count < uint(NERF_MAX_SAMPLES) && nerf_next_sample(o, d, t, entry.y, ts)) ++count;
    uint first = count > 0u ? atomicAdd(sample_count[0], count) : 0u;
    if (count > 0u && first + count <= march_budget) {
        ray.march_first = first;
        ray.march_count = count;
        t = t0;
        for (uint k = 0u; k < count; ++k) {
            nerf_next_sample(o, d, t, entry.y, ts);
            vec3 p = nerf_sample_position(o, d, ts, true);
            uint slot = first + k;
            march_t[slot] = ts;
            march_positions[3u * slot] = p.x;
            march_positions[3u * slot + 1u] = p.y;
            march_positions[3u * slot + 2u] = p.z;
        }
    } else if (count > 0u) {
        ray.dropped = 1u;
    }
    rays[i] = ray;
#elif NERF_TRAIN_STAGE == 4
    NerfTrainRay ray = rays[i];
    if (ray.march_count == 0u) return;
    // The samples up to the stop, by the render's compositing rule on the densities alone (the
    // stop depends on the transmittance only).
    NerfRay state = nerf_ray_empty();
    uint count = 0u;
    for (uint k = 0u; k < ray.march_count && state.status == NERF_MARCHING; ++k) {
        uint slot = ray.march_first + k;
        nerf_composite(state, march_density[slot * NERF_DENSITY_OUTPUTS], vec3(0.0), march_t[slot]);
        count = k + 1u;
    }
    uint first = atomicAdd(sample_count[1], count);
    if (first + count <= budget) {
        ray.first = first;
        ray.count = count;
        for (uint k = 0u; k < count; ++k) {
            uint from = ray.march_first + k, slot = first + k;
            sample_t[slot] = march_t[from];
            positions[3u * slot] = march_positions[3u * from];
            positions[3u * slot + 1u] = march_positions[3u * from + 1u];
            positions[3u * slot + 2u] = march_positions[3u * from + 2u];
            sample_ray[slot] = i;
        }
    } else {
        ray.dropped = 1u;
    }
    rays[i] = ray;
#elif NERF_TRAIN_STAGE == 1
    uint r = sample_ray[i];
    vec3 d = r == NERF_NO_RAY ? vec3(0.0, 0.0, 1.0) : rays[r].direction;
    float density[NERF_DENSITY_OUTPUTS];
    [[unroll]] for (int k = 0; k < NERF_DENSITY_OUTPUTS; ++k) density[k] = density_out[i * NERF_DENSITY_OUTPUTS + k];
    float x[NERF_COLOR_INPUTS];
    nerf_color_input(density, d, x);
    [[unroll]] for (int k = 0; k < NERF_COLOR_INPUTS; ++k) color_in[i * NERF_COLOR_INPUTS + k] = x[k];
#elif NERF_TRAIN_STAGE == 2
    // Invocation i: pixel i, rays first_ray + r (a pixel's rays are all kept or all skipped).
    uint pixel_rays = train_rays[1] * train_rays[1];
    uint first_ray = i * pixel_rays;
    if (first_ray >= train_rays[0]) return;
    for (uint r = 0u; r < pixel_rays; ++r) {
        if (rays[first_ray + r].dropped != 0u) return;
    }
    vec3 background = rays[first_ray].background, target = rays[first_ray].target;
    // Forward: the pixel is the mean of its rays, each composited as the render does.
    vec3 pixel = vec3(0.0);
    for (uint r = 0u; r < pixel_rays; ++r) {
        uint used;
        NerfRay state = nerf_train_forward(rays[first_ray + r], used);
        pixel += state.colour + state.transmittance * background;
        rays[first_ray + r].used = used;
    }
    pixel /= float(pixel_rays);
    // The loss is the mean over the step's pixels and channels.
    float total = float(train_rays[0] / pixel_rays) * 3.0;
    float loss = 0.0;
    vec3 d_pixel;
    [[unroll]] for (int c = 0; c < 3; ++c) {
        float value, gradient;
        loss_element(pixel[c], target[c], value, gradient);
        loss += value;
        d_pixel[c] = gradient / total;
    }
    losses[i] = loss / total;
    d_pixel /= float(pixel_rays);  // each ray's colour enters the pixel's mean
    // Backward, ray by ray (apps/nerf/tracing.py composite_backward()); its forward again, for the
    // ray's colour and transmittance (cheaper than keeping them: a pixel has up to 16 rays).
    for (uint r = 0u; r < pixel_rays; ++r) {
        NerfTrainRay ray = rays[first_ray + r];
        uint used;
        NerfRay state = nerf_train_forward(ray, used);
        float t_before = 1.0;
        vec3 partial = vec3(0.0);
        for (uint k = 0u; k < used; ++k) {
            uint slot = ray.first + k;
            float sigma = exp(density_out[slot * NERF_DENSITY_OUTPUTS]);
            float dt = nerf_step_size(sample_t[slot]);
            float alpha = 1.0 - exp(-sigma * dt);
            vec3 rgb = vec3(color_out[3u * slot], color_out[3u * slot + 1u], color_out[3u * slot + 2u]);
            float weight = t_before * alpha;
            float t_after = t_before * (1.0 - alpha);
            partial += weight * rgb;
            vec3 d_colour = weight * d_pixel;
            d_color_out[3u * slot] = d_colour.x;
            d_color_out[3u * slot + 1u] = d_colour.y;
            d_color_out[3u * slot + 2u] = d_colour.z;
            vec3 d_sigma = t_after * rgb - (state.colour - partial) - state.transmittance * background;
            d_raw[slot] = sigma * dt * dot(d_sigma, d_pixel);
            t_before = t_after;
        }
    }
#else
    [[unroll]] for (int k = 0; k < NERF_DENSITY_OUTPUTS; ++k) {
        d_density_out[i * NERF_DENSITY_OUTPUTS + k] = d_color_in[i * NERF_COLOR_INPUTS + k] + (k == 0 ? d_raw[i] : 0.0);
    }
#endif
}
