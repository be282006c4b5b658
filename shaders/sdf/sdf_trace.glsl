// The SDF app's sphere tracer, shared by its unfused stages (sdf/sdf_stages.comp) and its fused kernel
// (sdf/sdf_fused.comp). Specification: apps/sdf/tracing.py (constants, ray states, shading), which
// also passes the constants in as defines (tracing.defines()): SDF_MAX_STEPS, SDF_HIT_DISTANCE,
// SDF_STEP_SCALE, SDF_NORMAL_EPSILON, SDF_SHADOW_OFFSET, SDF_AMBIENT, SDF_LIGHT_X/Y/Z,
// SDF_GROUND_EXTENT.
//
// One ray's state is an SdfRay: the ray being marched (the camera's, then the shadow ray toward
// the light) and what the camera ray found. A ray: enter the unit cube (sdf_ray_begin), then at each
// step query the distance d at its position and sdf_advance(): d <= SDF_HIT_DISTANCE is a hit,
// else t += SDF_STEP_SCALE * d; past the cube or after SDF_MAX_STEPS steps it has missed.
// Normals: central differences on a tetrahedron (four queries around the hit, sdf_probe_*), the
// same for a network and an analytic shape. Requires lib/camera.glsl and lib/color.glsl, and the
// push constants render_mode and ground_height (sdf/sdf_push.glsl).

#ifndef NGVK_SDF_TRACE_GLSL
#define NGVK_SDF_TRACE_GLSL

#include "sdf/sdf_ray.glsl"

#define SDF_LIGHT normalize(vec3(SDF_LIGHT_X, SDF_LIGHT_Y, SDF_LIGHT_Z))

// Start marching from `origin` along unit `direction`: t at the entry into the unit cube, or missed.
void sdf_ray_begin(inout SdfRay ray, vec3 origin, vec3 direction) {
    ray.origin = origin;
    ray.direction = direction;
    vec3 inverse = 1.0 / direction;  // +-inf along an axis the ray is parallel to
    vec3 t0 = (vec3(0.0) - origin) * inverse;
    vec3 t1 = (vec3(1.0) - origin) * inverse;
    vec3 near = min(t0, t1), far = max(t0, t1);
    float enter = max(max(max(near.x, near.y), near.z), 0.0);
    float leave = min(min(far.x, far.y), far.z);
    ray.t = enter;
    ray.t_exit = leave;
    ray.steps = 0u;
    ray.status = enter < leave ? SDF_MARCHING : SDF_MISSED;
}

// The camera ray of `pixel`, about to march.
SdfRay sdf_camera_ray(uint pixel) {
    vec3 origin, direction;
    camera_ray(pixel, origin, direction);
    SdfRay ray;
    ray.normal = vec3(0.0);
    ray.kind = SDF_SKY;
    ray.camera_steps = 0u;
    ray.depth = 0.0;
    sdf_ray_begin(ray, origin, direction);
    return ray;
}

// Where the ray's distance is queried next (kept inside the cube against rounding).
vec3 sdf_position(SdfRay ray) { return clamp(ray.origin + ray.t * ray.direction, 0.0, 1.0); }

// One step, given the distance d at sdf_position(ray). Only for rays still marching.
void sdf_advance(inout SdfRay ray, float d) {
    ray.steps += 1u;
    if (d <= SDF_HIT_DISTANCE) {
        ray.status = SDF_HIT;
    } else {
        ray.t += SDF_STEP_SCALE * d;
        if (ray.t > ray.t_exit || ray.steps >= uint(SDF_MAX_STEPS)) ray.status = SDF_MISSED;
    }
}

// The tetrahedron's corners: the normal is sum_k corner_k * d(hit + eps * corner_k) (normalised).
vec3 sdf_probe_corner(uint k) {
    return k == 0u ? vec3(1.0, -1.0, -1.0) : k == 1u ? vec3(-1.0, -1.0, 1.0) : k == 2u ? vec3(-1.0, 1.0, -1.0)
                                                                                : vec3(1.0, 1.0, 1.0);
}

vec3 sdf_probe_position(SdfRay ray, uint k) {
    return clamp(ray.origin + ray.t * ray.direction + SDF_NORMAL_EPSILON * sdf_probe_corner(k), 0.0, 1.0);
}

void sdf_probe_add(inout SdfRay ray, uint k, float d) { ray.normal += sdf_probe_corner(k) * d; }

// The camera ray is done (and its normal summed where it hit): record what it saw, and turn the
// ray into the shadow ray from there toward the light (missed at once where there is no shadow
// to look for: the sky).
void sdf_shadow_begin(inout SdfRay ray) {
    ray.camera_steps = ray.steps;
    vec3 origin = ray.origin, direction = ray.direction;
    vec3 from;
    if (ray.status == SDF_HIT) {
        ray.kind = SDF_SURFACE;
        ray.depth = ray.t;
        float len = length(ray.normal);
        ray.normal = len > 0.0 ? ray.normal / len : vec3(0.0, 1.0, 0.0);
        from = origin + ray.t * direction + SDF_SHADOW_OFFSET * ray.normal;
    } else {
        float t = direction.y < 0.0 ? (ground_height - origin.y) / direction.y : -1.0;
        vec3 p = origin + t * direction;
        bool ground = t > 0.0 && abs(p.x - 0.5) <= SDF_GROUND_EXTENT && abs(p.z - 0.5) <= SDF_GROUND_EXTENT;
        ray.kind = ground ? SDF_GROUND : SDF_SKY;
        ray.depth = ground ? t : 0.0;
        ray.normal = vec3(0.0, 1.0, 0.0);
        from = p;
    }
    sdf_ray_begin(ray, from, SDF_LIGHT);
    if (ray.kind == SDF_SKY) ray.status = SDF_MISSED;
}

// ---- a slot: one pixel's ray through all its phases (the fused and wavefront kernels) ----------
// The slot's phase says which query its ray waits for; the phases that need none are passed by
// sdf_settle(). Each query: sdf_query_position(), then the distance d there to sdf_apply().
#define SDF_PHASE_MARCH 0u   // the camera ray marches
#define SDF_PHASE_PROBE 1u   // 1 + k: probe k of the normal (k = 0..3)
#define SDF_PHASE_NORMAL 5u  // the normal is summed (no query)
#define SDF_PHASE_SHADOW 6u  // the shadow ray marches
#define SDF_PHASE_DONE 7u    // the pixel is finished: shade it (no query)

// After the camera ray's march and the normal's probes: the shadow ray, or the pixel is done.
uint sdf_after_surface(inout SdfRay ray) {
    sdf_shadow_begin(ray);
    return render_mode == SDF_MODE_SHADED && ray.status == SDF_MARCHING ? SDF_PHASE_SHADOW : SDF_PHASE_DONE;
}

// Move a slot on through the phases that need no query: returns its phase, which then waits for a
// query or is SDF_PHASE_DONE.
uint sdf_settle(inout SdfRay ray, uint phase) {
    for (;;) {
        if (phase == SDF_PHASE_MARCH && ray.status != SDF_MARCHING) {
            phase = ray.status == SDF_HIT ? SDF_PHASE_PROBE : sdf_after_surface(ray);
        } else if (phase == SDF_PHASE_NORMAL) {
            phase = sdf_after_surface(ray);
        } else if (phase == SDF_PHASE_SHADOW && ray.status != SDF_MARCHING) {
            phase = SDF_PHASE_DONE;
        } else {
            return phase;
        }
    }
    return phase;
}

// Where a slot waiting in `phase` queries its distance.
vec3 sdf_query_position(SdfRay ray, uint phase) {
    uint k = phase - SDF_PHASE_PROBE;
    return k < 4u ? sdf_probe_position(ray, k) : sdf_position(ray);
}

// The distance d of that query taken in: a probe's term of the normal, or a step. Returns the phase.
uint sdf_apply(inout SdfRay ray, uint phase, float d) {
    uint k = phase - SDF_PHASE_PROBE;
    if (k < 4u) {
        sdf_probe_add(ray, k, d);
        return phase + 1u;
    }
    sdf_advance(ray, d);
    return phase;
}

// Linear RGB of the sky in direction `direction`.
vec3 sdf_sky(vec3 direction) {
    return mix(vec3(0.60, 0.70, 0.85), vec3(0.25, 0.40, 0.70), clamp(direction.y, 0.0, 1.0));
}

// The pixel's colour once the shadow ray is done (or, outside the shaded mode, not marched).
// `view` is the camera ray's direction, `eye` its origin.
vec4 sdf_shade(SdfRay ray, vec3 eye, vec3 view) {
    if (render_mode == SDF_MODE_NORMALS) {
        return vec4(ray.kind == SDF_SURFACE ? ray.normal * 0.5 + 0.5 : vec3(0.0), 1.0);
    }
    if (render_mode == SDF_MODE_DEPTH) {
        // Nearer is brighter, over the depths at which the cube can be seen from the eye.
        float middle = length(eye - vec3(0.5));
        float near = max(middle - 0.8660254, 0.0), far = middle + 0.8660254;
        float grey = ray.kind == SDF_SURFACE ? 1.0 - clamp((ray.depth - near) / (far - near), 0.0, 1.0) : 0.0;
        return vec4(vec3(grey), 1.0);
    }
    if (render_mode == SDF_MODE_STEPS) {
        // Blue (few steps) to red (SDF_MAX_STEPS), through green.
        float x = float(ray.camera_steps) / float(SDF_MAX_STEPS);
        vec3 heat = clamp(vec3(2.0 * x - 0.5, 1.0 - abs(2.0 * x - 1.0), 1.0 - 2.0 * x), 0.0, 1.0);
        return vec4(ray.camera_steps > 0u ? heat : vec3(0.0), 1.0);
    }
    float lit = ray.status == SDF_HIT ? 0.0 : 1.0;  // the shadow ray hit something
    vec3 colour;
    if (ray.kind == SDF_SURFACE) {
        float diffuse = max(dot(ray.normal, SDF_LIGHT), 0.0);
        colour = vec3(0.80, 0.56, 0.36) * (SDF_AMBIENT + (1.0 - SDF_AMBIENT) * lit * diffuse);
    } else if (ray.kind == SDF_GROUND) {
        vec3 p = eye + ray.depth * view;
        vec2 cell = floor(p.xz * 10.0);
        float checker = mod(cell.x + cell.y, 2.0) == 0.0 ? 0.50 : 0.40;
        colour = vec3(checker) * (SDF_AMBIENT + (1.0 - SDF_AMBIENT) * lit * SDF_LIGHT.y);
    } else {
        colour = sdf_sky(view);
    }
    return vec4(linear_to_srgb(colour), 1.0);
}

// The colour of frame pixel `pixel` once its slot is done.
vec4 sdf_pixel_colour(SdfRay ray, uint pixel) {
    vec3 eye, view;
    camera_ray(pixel, eye, view);
    return sdf_shade(ray, eye, view);
}

#endif
