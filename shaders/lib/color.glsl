// Colour-space conversion and pixel packing. Specification: engine/nn/reference.py linear_to_srgb(),
// srgb_to_linear(); the packing rounds to nearest, as engine/render/frame.py unpacks it.

#ifndef NGVK_COLOR_GLSL
#define NGVK_COLOR_GLSL

vec3 linear_to_srgb(vec3 c) {
    c = clamp(c, 0.0, 1.0);
    return mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, greaterThan(c, vec3(0.0031308)));
}

vec3 srgb_to_linear(vec3 c) {
    return mix(c / 12.92, pow((c + 0.055) / 1.055, vec3(2.4)), greaterThan(c, vec3(0.04045)));
}

// RGBA in [0, 1] to one uint, R in the low byte (VK_FORMAT_R8G8B8A8_UNORM byte order).
uint pack_rgba8(vec4 c) {
    uvec4 b = uvec4(floor(clamp(c, 0.0, 1.0) * 255.0 + 0.5));
    return b.r | (b.g << 8) | (b.b << 16) | (b.a << 24);
}

#endif
