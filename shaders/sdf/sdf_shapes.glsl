// The SDF app's built-in objects as analytic signed distances, the ground truth of its reference
// render. Specification: apps/sdf/shapes.py, function for function: positions in the unit cube,
// distances in the same units, negative inside.
//
// Before including, define SDF_SHAPE: 0 mug, 1 bracket, 2 ring (apps/sdf/shapes.py SHAPE_CODES).

#ifndef NGVK_SDF_SHAPES_GLSL
#define NGVK_SDF_SHAPES_GLSL

float sdf_sphere(vec3 p, float radius) { return length(p) - radius; }

float sdf_box(vec3 p, vec3 half_extents, float rounding) {
    vec3 q = abs(p) - (half_extents - rounding);
    return length(max(q, 0.0)) + min(max(q.x, max(q.y, q.z)), 0.0) - rounding;
}

// A torus around the y axis.
float sdf_torus(vec3 p, float major, float minor) {
    return length(vec2(length(p.xz) - major, p.y)) - minor;
}

// A capped cylinder along the y axis.
float sdf_cylinder(vec3 p, float radius, float half_height) {
    vec2 d = vec2(length(p.xz) - radius, abs(p.y) - half_height);
    return min(max(d.x, d.y), 0.0) + length(max(d, 0.0));
}

float sdf_subtract(float a, float b) { return max(a, -b); }

float sdf_smooth_union(float a, float b, float k) {
    float h = clamp(0.5 + 0.5 * (b - a) / k, 0.0, 1.0);
    return b * (1.0 - h) + a * h - k * h * (1.0 - h);
}

vec3 sdf_rotate_z(vec3 p, float angle) {
    float c = cos(angle), s = sin(angle);
    return vec3(c * p.x + s * p.y, -s * p.x + c * p.y, p.z);
}

float sdf_mug(vec3 p) {
    vec3 q = p - 0.5;
    float cup = sdf_subtract(sdf_cylinder(q, 0.22, 0.25), sdf_cylinder(q - vec3(0.0, 0.04, 0.0), 0.19, 0.25));
    float handle = sdf_torus((q - vec3(0.26, 0.0, 0.0)).xzy, 0.11, 0.025);
    handle = sdf_subtract(handle, sdf_cylinder(q, 0.2, 0.3));
    return sdf_smooth_union(cup, handle, 0.02);
}

float sdf_bracket(vec3 p) {
    vec3 q = p - 0.5;
    float base = sdf_box(q - vec3(0.0, -0.3, 0.0), vec3(0.35, 0.05, 0.2), 0.01);
    float upright = sdf_box(q - vec3(-0.3, 0.0, 0.0), vec3(0.05, 0.35, 0.2), 0.01);
    float rib = sdf_box(sdf_rotate_z(q - vec3(-0.12, -0.12, 0.0), 0.78539816339744831), vec3(0.22, 0.012, 0.012), 0.0);
    float body = min(min(base, upright), rib);
    float holes = min(sdf_cylinder(q - vec3(0.15, -0.3, 0.08), 0.045, 0.2),
                      sdf_cylinder((q - vec3(-0.3, 0.15, 0.08)).yxz, 0.045, 0.2));
    return sdf_subtract(body, holes);
}

float sdf_ring(vec3 p) { return sdf_torus(p - 0.5, 0.25, 0.08); }

float sdf_shape(vec3 p) {
#if SDF_SHAPE == 0
    return sdf_mug(p);
#elif SDF_SHAPE == 1
    return sdf_bracket(p);
#else
    return sdf_ring(p);
#endif
}

#endif
