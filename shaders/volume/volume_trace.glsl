// The volume app's free-flight tracer, shared by its unfused stages (volume/volume_stages.comp), its
// fused kernel (volume/volume_fused.comp) and its wavefront kernel (volume/volume_wavefront.comp).
// Specification: apps/volume/tracing.py, which also passes the constants in as defines
// (tracing.defines()): VOLUME_MAX_EVENTS, VOLUME_LIGHT, VOLUME_EXPOSURE, VOLUME_SKY_LOW_R/G/B,
// VOLUME_SKY_HIGH_R/G/B.
//
// A path (one sample of a pixel): the camera ray enters the unit cube and jumps to its first
// occupied cell; then volume_fly() draws free flights -ln(1 - u) / majorant until one ends at an
// event in an occupied cell (VOLUME_QUERY), past the cube, or after VOLUME_MAX_EVENTS flights
// (VOLUME_DONE); a flight that ends in an empty cell jumps to the next occupied one and flies on.
// At an event the albedo and density there are queried and volume_collide() accepts the collision
// with probability density / majorant (the path takes the albedo and is done) or flies on.
// Requires lib/random.glsl, lib/color.glsl, the push constants of volume/volume_push.glsl and the
// occupancy grid's words as `occupancy` (a uint buffer).

#ifndef NGVK_VOLUME_TRACE_GLSL
#define NGVK_VOLUME_TRACE_GLSL

#include "volume/volume_path.glsl"

#define VOLUME_R occupancy_resolution

#include "lib/occupancy.glsl"

bool volume_occupied(vec3 p) { return occupancy_at(p, VOLUME_R); }

// The t at which the ray o + t d enters the first occupied cell at or after t (t_exit if none): a
// walk through the cells (Amanatides and Woo).
float volume_next_occupied(vec3 o, vec3 d, float t, float t_exit) {
    while (t < t_exit) {
        vec3 p = clamp(o + t * d, 0.0, 1.0);
        uvec3 cell = occupancy_cell(p, VOLUME_R);
        if (occupancy_test(cell, VOLUME_R)) break;
        vec3 bounds = (vec3(cell) + vec3(greaterThan(d, vec3(0.0)))) / float(VOLUME_R);
        vec3 steps = vec3(1e30);
        for (int axis = 0; axis < 3; ++axis) {
            if (d[axis] != 0.0) steps[axis] = (bounds[axis] - o[axis]) / d[axis];
        }
        t = max(min(min(steps.x, steps.y), steps.z), t) + 1e-6;
    }
    return min(t, t_exit);
}

// Where the camera ray (o, d) enters the cube's first occupied cell, and where it leaves the cube
// (t, t_exit; t >= t_exit: never). The same for every sample of a pixel: computed once per pixel.
vec2 volume_ray_begin(vec3 o, vec3 d) {
    vec2 span = cube_entry(o, d);
    if (span.x < span.y) span.x = volume_next_occupied(o, d, span.x, span.y);
    return span;
}

// A new path of sample `step` of `pixel`, whose camera ray's span is `span` (volume_ray_begin()).
VolumePath volume_path_begin(uint pixel, uint step, vec2 span) {
    VolumePath path;
    path.colour = vec3(0.0);
    path.opacity = 0.0;
    path.flights = 0u;
    path.events = 0u;
    path.pixel = pixel;
    path.step = step;
    path.pad = 0u;
    path.t = span.x;
    path.t_exit = span.y;
    path.status = path.t < path.t_exit ? VOLUME_FLYING : VOLUME_DONE;
    return path;
}

// Fly until an event waits for its query, or the path is done.
void volume_fly(inout VolumePath path, vec3 o, vec3 d) {
    while (path.status == VOLUME_FLYING) {
        if (path.flights >= uint(VOLUME_MAX_EVENTS)) {
            path.status = VOLUME_DONE;
            break;
        }
        float u = random_uniform(seed, path.step * uint(VOLUME_MAX_EVENTS) + path.flights, path.pixel, 0u);
        path.t -= log(1.0 - u) / majorant;
        path.flights += 1u;
        if (path.t >= path.t_exit) {
            path.status = VOLUME_DONE;
        } else if (!volume_occupied(o + path.t * d)) {
            path.t = volume_next_occupied(o, d, path.t, path.t_exit);
            if (path.t >= path.t_exit) path.status = VOLUME_DONE;
        } else {
            path.status = VOLUME_QUERY;
        }
    }
}

// Where the waiting event queries the albedo and density.
vec3 volume_position(VolumePath path, vec3 o, vec3 d) { return clamp(o + path.t * d, 0.0, 1.0); }

// The event's albedo and density (`values`: RGB, density): collide, or fly on.
void volume_collide(inout VolumePath path, vec4 values) {
    path.events += 1u;
    float u = random_uniform(seed, path.step * uint(VOLUME_MAX_EVENTS) + path.flights - 1u, path.pixel, 1u);
    if (u < values.w / majorant) {
        path.colour = values.rgb;
        path.opacity = 1.0;
        path.status = VOLUME_DONE;
    } else {
        path.status = VOLUME_FLYING;
    }
}

vec3 volume_sky(vec3 d) {
    vec3 low = vec3(VOLUME_SKY_LOW_R, VOLUME_SKY_LOW_G, VOLUME_SKY_LOW_B);
    vec3 high = vec3(VOLUME_SKY_HIGH_R, VOLUME_SKY_HIGH_G, VOLUME_SKY_HIGH_B);
    return low + (high - low) * clamp(d.y, 0.0, 1.0);
}

// What a finished path adds to its pixel's sum in the render mode: its radiance, its opacity, or
// its events.
vec3 volume_sample_value(VolumePath path, vec3 d) {
    if (render_mode == VOLUME_MODE_DENSITY) return vec3(path.opacity);
    if (render_mode == VOLUME_MODE_EVENTS) return vec3(float(path.events));
    return path.colour * VOLUME_LIGHT + (1.0 - path.opacity) * volume_sky(d);
}

// The pixel from the mean of its samples' values: tone-mapped and sRGB, grey, or a heat colour.
vec4 volume_resolve(vec3 mean) {
    if (render_mode == VOLUME_MODE_DENSITY) return vec4(mean, 1.0);
    if (render_mode == VOLUME_MODE_EVENTS) {
        float x = mean.x / float(VOLUME_MAX_EVENTS);
        return vec4(clamp(vec3(2.0 * x - 0.5, 1.0 - abs(2.0 * x - 1.0), 1.0 - 2.0 * x), 0.0, 1.0), 1.0);
    }
    return vec4(linear_to_srgb(1.0 - exp(-VOLUME_EXPOSURE * mean)), 1.0);
}

#endif
