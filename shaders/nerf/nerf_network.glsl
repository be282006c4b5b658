// The NeRF app's networks on one ray's NERF_SAMPLES_PER_STEP samples in its fused and wavefront
// kernels (nerf/nerf_fused.comp, nerf/nerf_wavefront.comp): MLP_ITEMS samples at a time, the grid
// encoding of each position, the density network, the colour network's input (nerf_color_input:
// density outputs, SH of the direction) and the colour network, so that every weight loaded serves
// MLP_ITEMS samples (lib/mlp.glsl). The unfused stages run the same functions in the engine's
// encoding and MLP kernels and nerf/nerf_stages.comp stage 2, on the same values.
// Include after the kernel's bindings grid_params, density_weights and color_weights, the encoding's
// and the two networks' defines (GRID_*, density_*, color_*: MLP.defines(instance)), MLP_ITEMS (a
// divisor of NERF_SAMPLES_PER_STEP) and nerf/nerf_march.glsl.

#ifndef NGVK_NERF_NETWORK_GLSL
#define NGVK_NERF_NETWORK_GLSL

#include "lib/grid_encoding.glsl"
#define MLP_INSTANCE density
#include "lib/mlp.glsl"
#undef MLP_INSTANCE
#define MLP_INSTANCE color
#include "lib/mlp.glsl"
#undef MLP_INSTANCE

#define NERF_GROUPS (NERF_SAMPLES_PER_STEP / MLP_ITEMS)

// The raw density (the density network's first output) and the linear RGB colour of the samples
// ts[k] of the ray (o, d); a sample that is not valid[k] is evaluated at the cube's centre
// (nerf_sample_position), as the unfused path evaluates it, and its outputs are not used.
void nerf_network(vec3 o, vec3 d, float ts[NERF_SAMPLES_PER_STEP], bool valid[NERF_SAMPLES_PER_STEP],
                  out float raw[NERF_SAMPLES_PER_STEP], out vec3 rgb[NERF_SAMPLES_PER_STEP]) {
    [[unroll]] for (int g = 0; g < NERF_GROUPS; ++g) {
        float encoded[MLP_ITEMS][density_INPUTS];
        [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
            int k = g * MLP_ITEMS + s;
            vec3 p = nerf_sample_position(o, d, ts[k], valid[k]);
            float position[3] = float[3](p.x, p.y, p.z);
            grid_encode(position, encoded[s]);
        }
        float density[MLP_ITEMS][NERF_DENSITY_OUTPUTS];
        density_forward(encoded, density);
        float x[MLP_ITEMS][NERF_COLOR_INPUTS];
        [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) nerf_color_input(density[s], d, x[s]);
        float y[MLP_ITEMS][3];
        color_forward(x, y);
        [[unroll]] for (int s = 0; s < MLP_ITEMS; ++s) {
            raw[g * MLP_ITEMS + s] = density[s][0];
            rgb[g * MLP_ITEMS + s] = vec3(y[s][0], y[s][1], y[s][2]);
        }
    }
}

#endif
