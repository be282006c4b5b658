// Fully fused MLP forward pass in tcnn's form: no biases, ReLU after every hidden layer, then the
// output activation. One invocation evaluates one sample; activations stay in private memory and
// only the inputs and outputs touch buffers. Specification: engine/reference.py mlp_forward().
//
// Before including, define:
//   MLP_INPUTS, MLP_WIDTH, MLP_OUTPUTS, MLP_HIDDEN_LAYERS
//   MLP_OUTPUT_ACTIVATION   0 none, 1 relu, 2 sigmoid, 3 exp (engine/layers.py ACTIVATION_CODES)
// and declare
//   float mlp_weights[]   the weight matrices one after another, input layer first, each row-major
//                         [rows = outputs][columns = inputs] (engine/config.py MLPConfig.layer_shapes)

#ifndef NGVK_MLP_GLSL
#define NGVK_MLP_GLSL

#extension GL_EXT_control_flow_attributes : require

#define MLP_HIDDEN_WEIGHTS (MLP_WIDTH * MLP_WIDTH)
#define MLP_OUTPUT_OFFSET (MLP_WIDTH * MLP_INPUTS + (MLP_HIDDEN_LAYERS - 1) * MLP_HIDDEN_WEIGHTS)

float mlp_output_activation(float v) {
#if MLP_OUTPUT_ACTIVATION == 1
    return max(v, 0.0);
#elif MLP_OUTPUT_ACTIVATION == 2
    return 1.0 / (1.0 + exp(-v));
#elif MLP_OUTPUT_ACTIVATION == 3
    return exp(v);
#else
    return v;
#endif
}

void mlp_forward(float x[MLP_INPUTS], out float y[MLP_OUTPUTS]) {
    float h[MLP_WIDTH];
    float next[MLP_WIDTH];
    // Input layer.
    [[dont_unroll]] for (int r = 0; r < MLP_WIDTH; ++r) {
        float acc = 0.0;
        uint row = uint(r * MLP_INPUTS);
        for (int c = 0; c < MLP_INPUTS; ++c) {
            acc += mlp_weights[row + c] * x[c];
        }
        h[r] = max(acc, 0.0);
    }
    // Hidden layers.
    for (int layer = 1; layer < MLP_HIDDEN_LAYERS; ++layer) {
        uint base = uint(MLP_WIDTH * MLP_INPUTS + (layer - 1) * MLP_HIDDEN_WEIGHTS);
        [[dont_unroll]] for (int r = 0; r < MLP_WIDTH; ++r) {
            float acc = 0.0;
            uint row = base + uint(r * MLP_WIDTH);
            for (int c = 0; c < MLP_WIDTH; ++c) {
                acc += mlp_weights[row + c] * h[c];
            }
            next[r] = max(acc, 0.0);
        }
        h = next;
    }
    // Output layer.
    [[dont_unroll]] for (int r = 0; r < MLP_OUTPUTS; ++r) {
        float acc = 0.0;
        uint row = uint(MLP_OUTPUT_OFFSET + r * MLP_WIDTH);
        for (int c = 0; c < MLP_WIDTH; ++c) {
            acc += mlp_weights[row + c] * h[c];
        }
        y[r] = mlp_output_activation(acc);
    }
}

#endif
