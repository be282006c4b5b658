// The image app's source image, sampled bilinearly between pixel centres with edges clamped: the
// training targets and the viewer's "source" and "error" modes. Specification:
// apps/image/reference.py image_batch().
//
// Requires a buffer `float source_image[]` ([source_height, source_width, 3], linear RGB) and
// push constants `source_width`, `source_height`.

#ifndef NGVK_IMAGE_SOURCE_GLSL
#define NGVK_IMAGE_SOURCE_GLSL

vec3 image_source_texel(ivec2 p) {
    uint base = 3u * (uint(p.y) * source_width + uint(p.x));
    return vec3(source_image[base], source_image[base + 1u], source_image[base + 2u]);
}

// Pixel centres sit at (k + 0.5) / size.
vec3 image_source_color(vec2 uv) {
    vec2 p = uv * vec2(source_width, source_height) - 0.5;
    vec2 lower = floor(p);
    vec2 f = p - lower;
    ivec2 last = ivec2(source_width, source_height) - 1;
    ivec2 a = clamp(ivec2(lower), ivec2(0), last);
    ivec2 b = clamp(ivec2(lower) + 1, ivec2(0), last);
    vec3 top = mix(image_source_texel(a), image_source_texel(ivec2(b.x, a.y)), f.x);
    vec3 bottom = mix(image_source_texel(ivec2(a.x, b.y)), image_source_texel(b), f.x);
    return mix(top, bottom, f.y);
}

#endif
