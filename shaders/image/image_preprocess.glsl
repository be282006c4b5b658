// The image app's (GIA's) pre-processing, shared by its unfused preprocess kernel and its fused
// kernel. Specification: apps/image/reference.py image_preprocess().
//
// The image lies on the plane z = 0, centred on the origin, one unit high and image_aspect wide;
// uv = (0, 0) is its top-left corner. Requires lib/camera.glsl and the app's push constant
// `image_aspect`.

#ifndef NGVK_IMAGE_PREPROCESS_GLSL
#define NGVK_IMAGE_PREPROCESS_GLSL

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

#endif
