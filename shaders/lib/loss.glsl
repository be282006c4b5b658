// The training losses of one element and their derivatives. Specification: engine/nn/reference.py
// loss(). Define LOSS before including (0: l2, 1: relative_l2 with the denominator held constant,
// 2: mape, 3: huber; engine/nn/training.py LOSS_CODES).

#ifndef NGVK_LOSS_GLSL
#define NGVK_LOSS_GLSL

const float RELATIVE_L2_EPSILON = 0.01;
const float MAPE_EPSILON = 0.01;
const float HUBER_DELTA = 0.1;

// The loss of one element and its derivative with respect to the output y (before the mean).
void loss_element(float y, float t, out float value, out float gradient) {
    float d = y - t;
#if LOSS == 1
    float scale = 1.0 / (y * y + RELATIVE_L2_EPSILON);
    value = d * d * scale;
    gradient = 2.0 * d * scale;
#elif LOSS == 2
    float scale = 1.0 / (abs(t) + MAPE_EPSILON);
    value = abs(d) * scale;
    gradient = sign(d) * scale;
#elif LOSS == 3
    value = abs(d) <= HUBER_DELTA ? d * d / (2.0 * HUBER_DELTA) : abs(d) - 0.5 * HUBER_DELTA;
    gradient = clamp(d / HUBER_DELTA, -1.0, 1.0);
#else
    value = d * d;
    gradient = 2.0 * d;
#endif
}

#endif
