// The image app's (GIA's) post-processing, shared by its unfused postprocess kernel and its fused
// kernel. Specification: apps/image/reference.py image_postprocess().
//
// Requires lib/color.glsl and lib/image_source.glsl, and the app's push constant `render_mode`.

#ifndef NGVK_IMAGE_POSTPROCESS_GLSL
#define NGVK_IMAGE_POSTPROCESS_GLSL

const vec3 IMAGE_BACKGROUND = vec3(0.0);

const uint IMAGE_MODE_NETWORK = 0u;
const uint IMAGE_MODE_SOURCE = 1u;
const uint IMAGE_MODE_ERROR = 2u;
const float IMAGE_ERROR_GAIN = 4.0;  // |network - source| in sRGB, times 4 to make it visible

// Post-processing: the network's linear RGB to display sRGB over the background; in the other
// render modes, the source image at the pixel's uv, or the amplified difference from it.
vec4 image_postprocess(vec3 linear_rgb, float coverage, vec2 uv) {
    vec3 srgb = linear_to_srgb(linear_rgb);
    if (render_mode == IMAGE_MODE_SOURCE) {
        srgb = linear_to_srgb(image_source_color(uv));
    } else if (render_mode == IMAGE_MODE_ERROR) {
        srgb = clamp(IMAGE_ERROR_GAIN * abs(srgb - linear_to_srgb(image_source_color(uv))), 0.0, 1.0);
    }
    return vec4(mix(IMAGE_BACKGROUND, srgb, coverage), 1.0);
}

#endif
