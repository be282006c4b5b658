// The ray a pixel shoots. Specification: engine/render/camera.py Camera.rays().
//
// camera_ray_of() takes a camera block: position (w: 1 orthographic, 0 perspective), right and up
// scaled to half the frame, the forward direction, and the frame size (Camera.push_constants()).
// Forward is unit length except for a perspective camera whose principal point is off the frame's
// centre, where it holds that shift too: only forward + offset is normalised, so it need not be.
// Two ways in:
//   camera_ray(pixel, ...)          the frame's camera, from the push constants: declare them with
//                                   CAMERA_PUSH_CONSTANTS (lib/frame_push.glsl) before including this
//   camera_ray_indexed(camera, ...) camera `camera` of an array in a buffer, for rays of many images
//                                   at once (training rays): define CAMERA_ARRAY as the name of a
//                                   `vec4 NAME[]` buffer holding engine/render/camera.py
//                                   camera_array()'s blocks, CAMERA_ARRAY_VEC4S vec4s each

#ifndef NGVK_CAMERA_GLSL
#define NGVK_CAMERA_GLSL

// Pixel index y * width + x, row 0 at the top, through the pixel's centre. `precise`: without it the
// compiler may fuse either product of x * right + y * up into a multiply-add, and which one differs
// from kernel to kernel (lavapipe: the NeRF stages' directions one ulp off the fused kernel's, the
// volume app's fused kernel drawing a few sky pixels apart from its resolve stage), so that
// kernels meant to give the same image bit for bit do not; rounded as written, as Camera.rays().
void camera_ray_of(vec4 position, vec4 right, vec4 up, vec4 forward, uint width, uint height, uint pixel,
                   out vec3 origin, out vec3 direction) {
    precise float x = (float(pixel % width) + 0.5) / float(width) * 2.0 - 1.0;
    precise float y = 1.0 - (float(pixel / width) + 0.5) / float(height) * 2.0;
    precise vec3 offset = x * right.xyz + y * up.xyz;
    if (position.w != 0.0) {
        origin = position.xyz + offset;
        direction = forward.xyz;
    } else {
        origin = position.xyz;
        direction = normalize(forward.xyz + offset);
    }
}

#ifdef CAMERA_PUSH_CONSTANTS
void camera_ray(uint pixel, out vec3 origin, out vec3 direction) {
    camera_ray_of(camera_position, camera_right, camera_up, camera_forward, frame_width, frame_height, pixel,
                  origin, direction);
}
#endif

#ifdef CAMERA_ARRAY
#define CAMERA_ARRAY_VEC4S 5
void camera_ray_indexed(uint camera, uint pixel, out vec3 origin, out vec3 direction) {
    uint base = camera * CAMERA_ARRAY_VEC4S;
    vec4 size = CAMERA_ARRAY[base + 4u];  // width, height (exact in float up to 2^24)
    camera_ray_of(CAMERA_ARRAY[base], CAMERA_ARRAY[base + 1u], CAMERA_ARRAY[base + 2u], CAMERA_ARRAY[base + 3u],
                  uint(size.x), uint(size.y), pixel, origin, direction);
}
#endif

#endif
