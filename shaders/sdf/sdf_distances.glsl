// The SDF app's distance queries in its fused and wavefront kernels: MLP_ITEMS at a time, through
// the grid encoding and the MLP (SDF_SOURCE 0: every weight the MLP loads serves all of them,
// lib/mlp.glsl), or from a built-in shape's analytic distance (SDF_SOURCE 1, SDF_SHAPE). With
// MLP_ROWS_BLOCK (a wavefront kernel on a GPU: one query per invocation) the workgroup runs the MLP
// on its queries together (lib/mlp_rows.glsl): every invocation must then call sdf_distances().
// Include after the kernel's bindings (grid_params and mlp_weights with SDF_SOURCE 0).

#ifndef NGVK_SDF_DISTANCES_GLSL
#define NGVK_SDF_DISTANCES_GLSL

#ifndef MLP_ROWS_BLOCK
#define MLP_ROWS_BLOCK 0
#endif

#if SDF_SOURCE == 0
#include "lib/grid_encoding.glsl"
#include "lib/mlp.glsl"
#if MLP_ROWS_BLOCK
#include "lib/mlp_rows.glsl"
#endif
#else
#include "sdf/sdf_shapes.glsl"
#endif

// The signed distances at MLP_ITEMS positions.
void sdf_distances(vec3 p[MLP_ITEMS], out float d[MLP_ITEMS]) {
#if SDF_SOURCE == 0 && MLP_ROWS_BLOCK
    float position[3] = float[3](p[0].x, p[0].y, p[0].z);
    float x[MLP_INPUTS], y[MLP_OUTPUTS];
    grid_encode(position, x);
    mlp_rows_forward(x, y);
    d[0] = y[0];
#elif SDF_SOURCE == 0
    float encoded[MLP_ITEMS][MLP_INPUTS];
    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
        float pos[3] = float[3](p[s].x, p[s].y, p[s].z);
        grid_encode(pos, encoded[s]);
    }
    float y[MLP_ITEMS][MLP_OUTPUTS];
    mlp_forward(encoded, y);
    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) d[s] = y[s][0];
#else
    [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) d[s] = sdf_shape(p[s]);
#endif
}

#endif
