// The SDF app's distance queries in its fused and wavefront kernels: MLP_ITEMS at a time, through
// the grid encoding and the MLP (SDF_SOURCE 0: every weight the MLP loads serves all of them,
// lib/mlp.glsl), or from a built-in shape's analytic distance (SDF_SOURCE 1, SDF_SHAPE). Include
// after the kernel's bindings (grid_params and mlp_weights with SDF_SOURCE 0).

#ifndef NGVK_SDF_DISTANCES_GLSL
#define NGVK_SDF_DISTANCES_GLSL

#if SDF_SOURCE == 0
#include "lib/grid_encoding.glsl"
#include "lib/mlp.glsl"
#else
#include "sdf/sdf_shapes.glsl"
#endif

// The signed distances at MLP_ITEMS positions.
void sdf_distances(vec3 p[MLP_ITEMS], out float d[MLP_ITEMS]) {
#if SDF_SOURCE == 0
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
