// Occupancy grids of the unit cube (engine/render/occupancy.py): R^3 cells, one bit each, cell
// (x, y, z) at bit (x * R + y) * R + z of a uint buffer, LSB first. Before including, declare that
// buffer as `occupancy` (uint[]).

#ifndef NGVK_OCCUPANCY_GLSL
#define NGVK_OCCUPANCY_GLSL

// The cell holding p (clamped into the cube).
uvec3 occupancy_cell(vec3 p, uint resolution) {
    return min(uvec3(clamp(p, 0.0, 1.0) * float(resolution)), uvec3(resolution - 1u));
}

bool occupancy_test(uvec3 cell, uint resolution) {
    uint bit = (cell.x * resolution + cell.y) * resolution + cell.z;
    return ((occupancy[bit >> 5u] >> (bit & 31u)) & 1u) != 0u;
}

// Whether the cell holding p is occupied.
bool occupancy_at(vec3 p, uint resolution) { return occupancy_test(occupancy_cell(p, resolution), resolution); }

// (t_enter, t_exit) of the ray o + t d through the unit cube: t_enter >= 0; missed: t_enter >= t_exit.
// Specification: engine/render/occupancy.py cube_entry().
vec2 cube_entry(vec3 o, vec3 d) {
    vec3 inverse = 1.0 / d;
    vec3 t0 = (vec3(0.0) - o) * inverse, t1 = (vec3(1.0) - o) * inverse;
    vec3 near = min(t0, t1), far = max(t0, t1);
    return vec2(max(max(max(near.x, near.y), near.z), 0.0), min(min(far.x, far.y), far.z));
}

#endif
