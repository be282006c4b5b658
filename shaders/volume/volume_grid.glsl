// A density grid over the unit cube, sampled trilinearly between voxel centres, which lie at
// (i + 0.5) / X (and likewise for y and z); positions are clamped to the outer centres.
// Specification: apps/volume/data.py sample_grid(). Requires the buffer `volume_grid` (float
// [X, Y, Z, 4], x first: albedo RGB, density) and the push constants grid_x, grid_y, grid_z.

#ifndef NGVK_VOLUME_GRID_GLSL
#define NGVK_VOLUME_GRID_GLSL

vec4 volume_grid_voxel(uvec3 v) {
    uint at = ((v.x * grid_y + v.y) * grid_z + v.z) * 4u;
    return vec4(volume_grid[at], volume_grid[at + 1u], volume_grid[at + 2u], volume_grid[at + 3u]);
}

vec4 volume_grid_sample(vec3 position) {
    vec3 shape = vec3(grid_x, grid_y, grid_z);
    vec3 p = clamp(position * shape - 0.5, vec3(0.0), shape - 1.0);
    uvec3 lower = min(uvec3(floor(p)), uvec3(shape - 1.0));
    uvec3 upper = min(lower + 1u, uvec3(shape - 1.0));
    vec3 f = p - vec3(lower);
    vec4 value = vec4(0.0);
    for (uint corner = 0u; corner < 8u; ++corner) {
        bvec3 pick = bvec3((corner & 1u) != 0u, (corner & 2u) != 0u, (corner & 4u) != 0u);
        vec3 w = mix(1.0 - f, f, pick);
        value += w.x * w.y * w.z * volume_grid_voxel(mix(lower, upper, pick));
    }
    return value;
}

#endif
