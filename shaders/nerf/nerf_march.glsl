// The NeRF app's ray marcher and compositing, shared by its unfused render stages
// (nerf/nerf_stages.comp), its fused render kernel (nerf/nerf_fused.comp) and its training kernels
// (nerf/nerf_train.comp). Specification: apps/nerf/tracing.py, which passes the constants in as
// defines (tracing.defines()): NERF_STEP, NERF_SAMPLES_PER_STEP, NERF_MAX_ITERATIONS,
// NERF_MAX_SAMPLES, NERF_MIN_TRANSMITTANCE, NERF_DEPTH_SCALE, NERF_OCCUPANCY_RESOLUTION, and the
// scene's box (tracing.Aabb.defines()): NERF_AABB_SCALE, NERF_CASCADES, NERF_CONE (0: fixed steps,
// 1: cone steps), NERF_LOG1P_CONE, NERF_MAX_CONE_STEP, NERF_STEPPING_{A,B,AT,BT}.
// Requires the `occupancy` buffer (uint[]: cascade k's cell (x, y, z) at bit k R^3 + (x R + y) R + z),
// lib/sh_encoding.glsl and lib/color.glsl.

#ifndef NGVK_NERF_MARCH_GLSL
#define NGVK_NERF_MARCH_GLSL

#include "lib/sh_encoding.glsl"
#include "nerf/nerf_ray.glsl"

#define NERF_R uint(NERF_OCCUPANCY_RESOLUTION)
#define NERF_DENSITY_OUTPUTS 16
#define NERF_COLOR_INPUTS (NERF_DENSITY_OUTPUTS + SH_OUTPUTS)

#define NERF_AABB_LOW (0.5 - 0.5 * NERF_AABB_SCALE)

// (t_enter, t_exit) of the ray o + t d through the scene's box (tracing.Aabb.entry()): t_enter >= 0;
// missed: t_enter >= t_exit. The unit cube's cube_entry() when NERF_AABB_SCALE is 1.
vec2 nerf_aabb_entry(vec3 o, vec3 d) {
    vec3 inverse = 1.0 / d;
    vec3 t0 = (vec3(NERF_AABB_LOW) - o) * inverse, t1 = (vec3(NERF_AABB_LOW + NERF_AABB_SCALE) - o) * inverse;
    vec3 near = min(t0, t1), far = max(t0, t1);
    return vec2(max(max(max(near.x, near.y), near.z), 0.0), min(min(far.x, far.y), far.z));
}

// Stepping space (tracing.to_stepping(), from_stepping()); `precise` so that each operation rounds
// as the NumPy specification's float32 arithmetic does.
float nerf_to_stepping(float t) {
#if NERF_CONE
    if (t <= NERF_STEPPING_AT) { precise float n = (t - NERF_STEPPING_AT) / NERF_STEP + NERF_STEPPING_A; return n; }
    if (t <= NERF_STEPPING_BT) return log(t) / NERF_LOG1P_CONE;
    precise float n = (t - NERF_STEPPING_BT) / NERF_MAX_CONE_STEP + NERF_STEPPING_B;
    return n;
#else
    return t / NERF_STEP;
#endif
}

float nerf_from_stepping(float n) {
#if NERF_CONE
    if (n <= NERF_STEPPING_A) { precise float t = (n - NERF_STEPPING_A) * NERF_STEP + NERF_STEPPING_AT; return t; }
    if (n <= NERF_STEPPING_B) return exp(n * NERF_LOG1P_CONE);
    precise float t = (n - NERF_STEPPING_B) * NERF_MAX_CONE_STEP + NERF_STEPPING_BT;
    return t;
#else
    return n * NERF_STEP;
#endif
}

// t moved on by `steps` steps (tracing.advance()).
float nerf_advance(float t, float steps) {
#if NERF_CONE
    return nerf_from_stepping(nerf_to_stepping(t) + steps);
#else
    precise float next = t + NERF_STEP * steps;
    return next;
#endif
}

// dt at t (tracing.step_size()): NERF_STEP in the unit cube.
float nerf_step_size(float t) {
#if NERF_CONE
    return nerf_advance(t, 1.0) - t;
#else
    return NERF_STEP;
#endif
}

// The cascade to look up for a step dt at p (tracing.mip_from_pos(), mip_from_dt()).
uint nerf_mip(float dt, vec3 p) {
#if NERF_CASCADES == 1
    return 0u;
#else
    vec3 offset = abs(p - vec3(0.5));
    int exponent;
    frexp(max(max(offset.x, offset.y), offset.z), exponent);
    int mip = clamp(exponent + 1, 0, NERF_CASCADES - 1);
    float x = dt * float(2 * NERF_OCCUPANCY_RESOLUTION);
    if (x >= 1.0) {
        frexp(x, exponent);
        mip = min(max(mip, exponent), NERF_CASCADES - 1);
    }
    return uint(mip);
#endif
}

// Cascade mip's low corner (exactly 0 for the unit cube) and the cell holding p, clamped into it.
float nerf_cascade_low(uint mip) { return mip == 0u ? 0.0 : 0.5 - exp2(float(mip) - 1.0); }

uvec3 nerf_cell(vec3 p, uint mip) {
    vec3 q = (p - vec3(nerf_cascade_low(mip))) * exp2(-float(mip));
    return min(uvec3(clamp(q, 0.0, 1.0) * float(NERF_R)), uvec3(NERF_R - 1u));
}

bool nerf_occupied(uvec3 cell, uint mip) {
    uint bit = mip * NERF_R * NERF_R * NERF_R + (cell.x * NERF_R + cell.y) * NERF_R + cell.z;
    return ((occupancy[bit >> 5u] >> (bit & 31u)) & 1u) != 0u;
}

// The first sample at or after t (returned in sample_t, true) and the t to go on from; false when
// the ray leaves the box first. An empty cell is skipped by whole steps past its exit, so samples
// stay on the lattice of steps from where the ray began.
bool nerf_next_sample(vec3 o, vec3 d, inout float t, float t_exit, out float sample_t) {
    while (t < t_exit) {
        vec3 p = o + t * d;
        float dt = nerf_step_size(t);
        uint mip = nerf_mip(dt, p);
        uvec3 cell = nerf_cell(p, mip);
        if (nerf_occupied(cell, mip)) {
            sample_t = t;
            t = t + dt;
            return true;
        }
        vec3 bounds = vec3(nerf_cascade_low(mip)) +
                      (vec3(cell) + vec3(greaterThan(d, vec3(0.0)))) * (exp2(float(mip)) / float(NERF_R));
        vec3 crossings = vec3(1e30);
        [[unroll]] for (int axis = 0; axis < 3; ++axis) {
            if (d[axis] != 0.0) crossings[axis] = (bounds[axis] - o[axis]) / d[axis];
        }
        float t_cell = min(min(crossings.x, crossings.y), crossings.z);
#if NERF_CONE
        float now = nerf_to_stepping(t);
        t = nerf_from_stepping(now + max(1.0, ceil(nerf_to_stepping(t_cell) - now)));
#else
        t = t + NERF_STEP * max(1.0, ceil((t_cell - t) / NERF_STEP));
#endif
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
    vec2 entry = nerf_aabb_entry(o, d);
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

// Where the networks evaluate sample t: warped from the box into [0, 1]^3 (tracing.Aabb.warp()), the
// centre for a slot without a sample.
vec3 nerf_sample_position(vec3 o, vec3 d, float t, bool valid) {
    return valid ? (o + t * d - vec3(NERF_AABB_LOW)) * (1.0 / NERF_AABB_SCALE) : vec3(0.5);
}

// One sample composited front to back (apps/nerf/tracing.py composite()); the ray is done once
// opaque enough.
void nerf_composite(inout NerfRay ray, float raw, vec3 rgb, float t) {
    float alpha = 1.0 - exp(-exp(raw) * nerf_step_size(t));
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
