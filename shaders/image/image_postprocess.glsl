// The image app's (GIA's) post-processing, shared by its unfused postprocess kernel and its fused
// kernel. Specification: apps/image/reference.py image_postprocess() and image_display().
//
// Requires lib/color.glsl and image/image_source.glsl, and the app's push constants `render_mode`,
// `exposure_scale` and `tonemap` (image/image_push.glsl).

#ifndef NGVK_IMAGE_POSTPROCESS_GLSL
#define NGVK_IMAGE_POSTPROCESS_GLSL

const vec3 IMAGE_BACKGROUND = vec3(0.0);

const uint IMAGE_MODE_NETWORK = 0u;
const uint IMAGE_MODE_SOURCE = 1u;
const uint IMAGE_MODE_ERROR = 2u;
const float IMAGE_ERROR_GAIN = 4.0;  // |network - source| in sRGB, times 4 to make it visible

// The tone curves (apps/image/app.py TONEMAPS), instant-ngp's (src/render_buffer.cu): clamp leaves
// linear colours as they are for linear_to_srgb() to clamp to [0, 1]; the others roll values above
// 1 off towards white.
const uint IMAGE_TONEMAP_CLAMP = 0u;
const uint IMAGE_TONEMAP_REINHARD = 1u;
const uint IMAGE_TONEMAP_ACES = 2u;
const uint IMAGE_TONEMAP_HABLE = 3u;

// Hable's curve ((x (A x + C B) + D E) / (x (A x + B) + D F) - E / F) as one fraction, scaled so
// that white (W) maps to 1.
const float HABLE_A = 0.15, HABLE_B = 0.50, HABLE_C = 0.10, HABLE_D = 0.20, HABLE_E = 0.02, HABLE_F = 0.30;
const float HABLE_W = 11.2;
const float HABLE_K0 = HABLE_A * HABLE_F - HABLE_A * HABLE_E;
const float HABLE_K1 = HABLE_C * HABLE_B * HABLE_F - HABLE_B * HABLE_E;
const float HABLE_K3 = HABLE_A * HABLE_F;
const float HABLE_K4 = HABLE_B * HABLE_F;
const float HABLE_K5 = HABLE_D * HABLE_F * HABLE_F;
const float HABLE_WHITE_SCALE = (HABLE_K3 * HABLE_W * HABLE_W + HABLE_K4 * HABLE_W + HABLE_K5)
                              / (HABLE_K0 * HABLE_W * HABLE_W + HABLE_K1 * HABLE_W);

// (k0 x^2 + k1 x) / (k3 x^2 + k4 x + k5): the ACES and Hable curves as rational polynomials.
vec3 image_tone_rational(vec3 x, float k0, float k1, float k3, float k4, float k5) {
    return (k0 * x * x + k1 * x) / (k3 * x * x + k4 * x + k5);
}

vec3 image_tonemap(vec3 x) {
    if (tonemap == IMAGE_TONEMAP_REINHARD) {
        return x / (1.0 + dot(vec3(0.2126, 0.7152, 0.0722), x));  // on luminance: hues kept
    } else if (tonemap == IMAGE_TONEMAP_ACES) {  // Narkowicz's fit, its 0.6 pre-exposure folded in
        return image_tone_rational(x, 0.6 * 0.6 * 2.51, 0.6 * 0.03, 0.6 * 0.6 * 2.43, 0.6 * 0.59, 0.14);
    } else if (tonemap == IMAGE_TONEMAP_HABLE) {  // Uncharted 2's, white at 11.2, exposure bias 2
        return image_tone_rational(x, 4.0 * HABLE_K0 * HABLE_WHITE_SCALE, 2.0 * HABLE_K1 * HABLE_WHITE_SCALE,
                                   4.0 * HABLE_K3, 2.0 * HABLE_K4, HABLE_K5);
    }
    return x;
}

// A linear colour as displayed: exposure, tone curve, sRGB encoding clamped to [0, 1]. Negatives
// (a network's undershoot) are black before the curves, which are meant for x >= 0.
vec3 image_display(vec3 linear_rgb) {
    return linear_to_srgb(image_tonemap(max(linear_rgb, 0.0) * exposure_scale));
}

// Post-processing: the network's linear RGB to display sRGB over the background; in the other
// render modes, the source image at the pixel's uv, or the amplified difference from it.
vec4 image_postprocess(vec3 linear_rgb, float coverage, vec2 uv) {
    vec3 srgb = image_display(linear_rgb);
    if (render_mode == IMAGE_MODE_SOURCE) {
        srgb = image_display(image_source_color(uv));
    } else if (render_mode == IMAGE_MODE_ERROR) {
        srgb = clamp(IMAGE_ERROR_GAIN * abs(srgb - image_display(image_source_color(uv))), 0.0, 1.0);
    }
    return vec4(mix(IMAGE_BACKGROUND, srgb, coverage), 1.0);
}

#endif
