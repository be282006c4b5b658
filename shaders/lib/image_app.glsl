// The image app's (GIA's) pre- and post-processing, shared by its unfused stage kernels and its
// fused kernel. Specification: apps/image.py image_preprocess_reference() and
// image_postprocess_reference().
//
// The image lies on the plane z = 0, centred on the origin, one unit high and image_aspect wide;
// uv = (0, 0) is its top-left corner. Requires lib/camera.glsl and lib/color.glsl, and a push
// constant `image_aspect` (width / height of the image).

#ifndef NGVK_IMAGE_APP_GLSL
#define NGVK_IMAGE_APP_GLSL

const vec3 IMAGE_BACKGROUND = vec3(0.0);

// Pre-processing: the image point a pixel sees, as uv in [0, 1]^2, and whether it hits the image
// (coverage 1) or not (0). Pixels that miss still get a valid uv (clamped) so that every stage runs
// the same work on every pixel; post-processing paints them as background.
void image_preprocess(uint pixel, out vec2 uv, out float coverage) {
    vec3 origin, direction;
    camera_ray(pixel, origin, direction);
    float t = abs(direction.z) > 1e-12 ? -origin.z / direction.z : -1.0;
    vec3 p = origin + t * direction;
    uv = vec2(p.x / image_aspect + 0.5, 0.5 - p.y);
    bool inside = t >= 0.0 && all(greaterThanEqual(uv, vec2(0.0))) && all(lessThanEqual(uv, vec2(1.0)));
    coverage = inside ? 1.0 : 0.0;
    uv = clamp(uv, 0.0, 1.0);
}

// Post-processing: the network's linear RGB to display sRGB over the background.
vec4 image_postprocess(vec3 linear_rgb, float coverage) {
    vec3 srgb = linear_to_srgb(linear_rgb);
    return vec4(mix(IMAGE_BACKGROUND, srgb, coverage), 1.0);
}

#endif
