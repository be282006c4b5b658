// The volume app's albedo and density queries in its fused and wavefront kernels: MLP_ITEMS at a
// time, through the grid encoding and the MLP (VOLUME_SOURCE 0: every weight the MLP loads serves
// all of them, lib/mlp.glsl), or trilinear from the ground truth's grid (VOLUME_SOURCE 1,
// volume/volume_grid.glsl). With MLP_ROWS_BLOCK (a wavefront kernel on a GPU: one query per
// invocation) the workgroup runs the MLP on its queries together (lib/mlp_rows.glsl): every
// invocation must then call volume_values(). Include after the kernel's bindings (grid_params and
// mlp_weights with VOLUME_SOURCE 0, volume_grid with 1) and push constants.

#ifndef NGVK_VOLUME_VALUES_GLSL
#define NGVK_VOLUME_VALUES_GLSL

#ifndef MLP_ROWS_BLOCK
#define MLP_ROWS_BLOCK 0
#endif

#if VOLUME_SOURCE == 0
#include "lib/grid_encoding.glsl"
#include "lib/mlp.glsl"
#if MLP_ROWS_BLOCK
#include "lib/mlp_rows.glsl"
#endif
#else
#include "volume/volume_grid.glsl"
#endif

// Albedo RGB and density at MLP_ITEMS positions.
void volume_values(vec3 p[MLP_ITEMS], out vec4 albedo_density[MLP_ITEMS]) {
#if VOLUME_SOURCE == 0 && MLP_ROWS_BLOCK
    float position[3] = float[3](p[0].x, p[0].y, p[0].z);
    float x[MLP_INPUTS], y[MLP_OUTPUTS];
    grid_encode(position, x);
    mlp_rows_forward(x, y);
    albedo_density[0] = vec4(y[0], y[1], y[2], y[3]);
#elif VOLUME_SOURCE == 0
    float encoded[MLP_ITEMS][MLP_INPUTS];
    [[dont_unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {  // (unrolled, the wavefront kernel ran 5 % slower)
        float pos[3] = float[3](p[s].x, p[s].y, p[s].z);
        grid_encode(pos, encoded[s]);
    }
    float y[MLP_ITEMS][MLP_OUTPUTS];
    mlp_forward(encoded, y);
    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) albedo_density[s] = vec4(y[s][0], y[s][1], y[s][2], y[s][3]);
#else
    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) albedo_density[s] = volume_grid_sample(p[s]);
#endif
}

#endif
