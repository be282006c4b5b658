// The NeRF app's ray marcher and compositing, shared by its unfused render stages
// (nerf/nerf_stages.comp), its fused render kernel (nerf/nerf_fused.comp) and its training kernels
// (nerf/nerf_train.comp). Specification: apps/nerf/tracing.py, which passes the constants in as
// defines (tracing.defines()): NERF_STEP, NERF_SAMPLES_PER_STEP, NERF_MAX_ITERATIONS,
// NERF_MAX_SAMPLES, NERF_MIN_TRANSMITTANCE, NERF_DEPTH_SCALE, NERF_OCCUPANCY_RESOLUTION.
// Requires lib/occupancy.glsl's `occupancy` buffer, lib/sh_encoding.glsl and lib/color.glsl.

#ifndef NGVK_NERF_MARCH_GLSL
#define NGVK_NERF_MARCH_GLSL

#include "lib/occupancy.glsl"
#include "lib/sh_encoding.glsl"
#include "nerf/nerf_ray.glsl"

#define NERF_R uint(NERF_OCCUPANCY_RESOLUTION)
#define NERF_DENSITY_OUTPUTS 16
#define NERF_COLOR_INPUTS (NERF_DENSITY_OUTPUTS + SH_OUTPUTS)

// The first sample at or after t (returned in sample_t, true) and the t to go on from; false when
// the ray leaves the cube first. An empty cell is skipped by whole steps past its exit, so samples
// stay on the lattice t0 + k NERF_STEP.
bool nerf_next_sample(vec3 o, vec3 d, inout float t, float t_exit, out float sample_t) {
    while (t < t_exit) {
        uvec3 cell = occupancy_cell(o + t * d, NERF_R);
        if (occupancy_test(cell, NERF_R)) {
            sample_t = t;
            t = t + NERF_STEP;
            return true;
        }
        vec3 bounds = (vec3(cell) + vec3(greaterThan(d, vec3(0.0)))) / float(NERF_R);
        vec3 crossings = vec3(1e30);
        [[unroll]] for (int axis = 0; axis < 3; ++axis) {
            if (d[axis] != 0.0) crossings[axis] = (bounds[axis] - o[axis]) / d[axis];
        }
        float t_cell = min(min(crossings.x, crossings.y), crossings.z);
        t = t + NERF_STEP * max(1.0, ceil((t_cell - t) / NERF_STEP));
    }
    sample_t = t;
    return false;
}

// A ray with nothing composited yet.
NerfRay nerf_ray_empty() {
    NerfRay ray;
    ray.colour = vec3(0.0);
    ray.transmittance = 1.0;
    ray.t = 0.0;
    ray.t_exit = 0.0;
    ray.depth = 0.0;
    ray.samples = 0u;
    ray.pixel = 0u;
    ray.status = NERF_MARCHING;
    ray.steps = 0u;
    ray.pad = 0u;
    return ray;
}

// A marching ray on to its next sample, so that its next march step has at least one: done when
// it has none, or when it has taken its NERF_MAX_ITERATIONS steps. The ray's t is then that sample
// (the march takes it first: the same ts as marching on from where it was).
void nerf_ray_continue(inout NerfRay ray, vec3 o, vec3 d) {
    if (ray.status != NERF_MARCHING) return;
    float next;
    bool more = ray.steps < uint(NERF_MAX_ITERATIONS) && nerf_next_sample(o, d, ray.t, ray.t_exit, next);
    ray.status = more ? NERF_MARCHING : NERF_DONE;
    if (more) ray.t = next;
}

// A render ray of `pixel` along (o, d): into the cube and on to its first sample (the first
// occupied cell on its way); done at once when it has none.
NerfRay nerf_ray_begin(uint pixel, vec3 o, vec3 d) {
    NerfRay ray = nerf_ray_empty();
    vec2 entry = cube_entry(o, d);
    ray.t = entry.x;
    ray.t_exit = entry.y;
    ray.pixel = pixel;
    nerf_ray_continue(ray, o, d);
    return ray;
}

// The ray's next NERF_SAMPLES_PER_STEP samples (valid[k] false past the cube); a ray without any is
// done (never one that nerf_ray_begin() or nerf_ray_continue() left marching). Render rays composite
// them, then go on with nerf_ray_continue(): every step of a marching ray has samples, so the
// fused, wavefront and unfused paths evaluate the same samples (Frame.queries: 8 a step).
void nerf_march_step(inout NerfRay ray, vec3 o, vec3 d, out float ts[NERF_SAMPLES_PER_STEP],
                     out bool valid[NERF_SAMPLES_PER_STEP]) {
    [[unroll]] for (int k = 0; k < NERF_SAMPLES_PER_STEP; ++k) {
        valid[k] = ray.status == NERF_MARCHING && nerf_next_sample(o, d, ray.t, ray.t_exit, ts[k]);
    }
    ray.steps += 1u;
    if (!valid[0]) ray.status = NERF_DONE;
}

// Where the networks evaluate sample t (the cube's centre for a slot without a sample).
vec3 nerf_sample_position(vec3 o, vec3 d, float t, bool valid) { return valid ? o + t * d : vec3(0.5); }

// One sample composited front to back (apps/nerf/tracing.py composite()); the ray is done once
// opaque enough.
void nerf_composite(inout NerfRay ray, float raw, vec3 rgb, float t) {
    float alpha = 1.0 - exp(-exp(raw) * NERF_STEP);
    float weight = ray.transmittance * alpha;
    ray.colour += weight * rgb;
    ray.depth += weight * t;
    ray.transmittance *= 1.0 - alpha;
    ray.samples += 1u;
    if (ray.transmittance < NERF_MIN_TRANSMITTANCE) ray.status = NERF_DONE;
}

// The colour network's input: the density network's outputs, then SH degree 4 of the direction.
void nerf_color_input(float density[NERF_DENSITY_OUTPUTS], vec3 d, out float x[NERF_COLOR_INPUTS]) {
    float sh[SH_OUTPUTS];
    sh_encode(d, sh);
    [[unroll]] for (int k = 0; k < NERF_DENSITY_OUTPUTS; ++k) x[k] = density[k];
    [[unroll]] for (int k = 0; k < SH_OUTPUTS; ++k) x[NERF_DENSITY_OUTPUTS + k] = sh[k];
}

// The frame's colour of a finished ray (apps/nerf/tracing.py resolve()).
vec4 nerf_resolve(NerfRay ray, uint mode, vec3 background) {
    if (mode == NERF_MODE_DEPTH) {
        float opacity = 1.0 - ray.transmittance;
        float value = opacity > 0.0 ? ray.depth / max(opacity, 1e-30) : 0.0;
        return vec4(vec3(clamp(value * NERF_DEPTH_SCALE, 0.0, 1.0)), 1.0);
    }
    if (mode == NERF_MODE_SAMPLES) {
        return vec4(vec3(clamp(float(ray.samples) * 8.0 / float(NERF_MAX_SAMPLES), 0.0, 1.0)), 1.0);
    }
    return vec4(linear_to_srgb(ray.colour + ray.transmittance * background), 1.0);
}

#endif
