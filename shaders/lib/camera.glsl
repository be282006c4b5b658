// The ray a pixel shoots. Specification: engine/render/camera.py Camera.rays().
//
// camera_ray_of() takes a camera block: position (w: 1 orthographic, 0 perspective), right and up
// scaled to half the frame, the forward direction, and the frame size (Camera.push_constants()),
// and a lens block of LENS_VEC4S vec4s (Camera.lens_block(); all zeros: a pinhole).
// Forward is unit length except for a perspective camera whose principal point is off the frame's
// centre, where it holds that shift too: only forward + offset is normalised, so it need not be.
// Two ways in:
//   camera_ray(pixel, ...)          the frame's camera, from the push constants: declare them with
//                                   CAMERA_PUSH_CONSTANTS (lib/frame_push.glsl) before including this.
//                                   Its lens: define CAMERA_LENS as the name of a `vec4 NAME[]`
//                                   buffer holding the frame camera's Camera.lens_block() (the push
//                                   constants have no room for it: Vulkan guarantees 128 bytes, and
//                                   a renderer's block is near that); without it, a pinhole
//   camera_ray_indexed(camera, factor, ...) camera `camera` of an array in a buffer, for rays of many images
//                                   at once (training rays): define CAMERA_ARRAY as the name of a
//                                   `vec4 NAME[]` buffer holding engine/render/camera.py
//                                   camera_array()'s blocks, CAMERA_ARRAY_VEC4S vec4s each: the
//                                   camera block, (width, height, 0, 0), the lens block

#ifndef NGVK_CAMERA_GLSL
#define NGVK_CAMERA_GLSL

#define LENS_VEC4S 3
#define LENS_OPENCV 1.0   // lens mode (lens block [1].z): engine/render/camera.py LENS_MODELS index + 1
#define LENS_FISHEYE 2.0
#define LENS_ITERATIONS 100
#define LENS_STOP 1e-10
#define LENS_RELATIVE_STEP 1e-6

// (dx, dy): the distorted point of normalised coordinates p (x right, y down) minus p: instant-ngp's
// opencv_lens_distortion_delta (k3 too: the r^6 term) and opencv_fisheye_lens_distortion_delta.
vec2 camera_lens_distortion(vec4 k, vec4 p, vec2 q) {
    if (p.z == LENS_FISHEYE) {
        float r = sqrt(q.x * q.x + q.y * q.y);
        if (!(r > 2.220446049250313e-16)) return vec2(0.0);  // instant-ngp: double's epsilon
        float theta = atan(r);
        float theta2 = theta * theta;
        float theta4 = theta2 * theta2;
        float theta_d = theta * (1.0 + k.x * theta2 + k.y * theta4 + k.z * theta4 * theta2 + k.w * theta4 * theta4);
        return q * (theta_d / r) - q;
    }
    float u2 = q.x * q.x, uv = q.x * q.y, v2 = q.y * q.y;
    float r2 = u2 + v2;
    float radial = k.x * r2 + k.y * r2 * r2 + k.z * r2 * r2 * r2;
    return vec2(q.x * radial + 2.0 * p.x * uv + p.y * (r2 + 2.0 * u2),
                q.y * radial + 2.0 * p.y * uv + p.x * (r2 + 2.0 * v2));
}

// The undistorted point of the distorted q0: instant-ngp's iterative_lens_undistortion, Newton's
// method with a central-difference Jacobian, stopping after the first step shorter than 1e-5.
vec2 camera_lens_undistort(vec4 k, vec4 p, vec2 q0) {
    vec2 q = q0;
    for (int i = 0; i < LENS_ITERATIONS; ++i) {
        vec2 h = max(vec2(1.1920928955078125e-7), abs(LENS_RELATIVE_STEP * q));  // float's epsilon
        vec2 d = camera_lens_distortion(k, p, q);
        vec2 d_xb = camera_lens_distortion(k, p, vec2(q.x - h.x, q.y));
        vec2 d_xf = camera_lens_distortion(k, p, vec2(q.x + h.x, q.y));
        vec2 d_yb = camera_lens_distortion(k, p, vec2(q.x, q.y - h.y));
        vec2 d_yf = camera_lens_distortion(k, p, vec2(q.x, q.y + h.y));
        float j00 = 1.0 + (d_xf.x - d_xb.x) / (2.0 * h.x);
        float j01 = (d_yf.x - d_yb.x) / (2.0 * h.y);
        float j10 = (d_xf.y - d_xb.y) / (2.0 * h.x);
        float j11 = 1.0 + (d_yf.y - d_yb.y) / (2.0 * h.y);
        vec2 r = q + d - q0;
        float det = j00 * j11 - j01 * j10;
        vec2 step = vec2(j11 * r.x - j01 * r.y, j00 * r.y - j10 * r.x) / det;
        q -= step;
        if (dot(step, step) < LENS_STOP) break;
    }
    return q;
}

// Pixel index y * width + x, row 0 at the top, through the pixel's centre. `precise`: without it the
// compiler may fuse either product of x * right + y * up into a multiply-add, and which one differs
// from kernel to kernel (lavapipe: the NeRF stages' directions one ulp off the fused kernel's, the
// volume app's fused kernel drawing a few sky pixels apart from its resolve stage), so that
// kernels meant to give the same image bit for bit do not; rounded as written, as Camera.rays().
// A lens (lens_p.z != 0) moves the pixel's frame coordinates (x, y) to those of its undistorted
// point: to the lens's normalised coordinates (y down) and back with lens_frame = (px, py, half_x,
// half_y), so that the pinhole arithmetic below is the same for both.
void camera_ray_of(vec4 position, vec4 right, vec4 up, vec4 forward, uint width, uint height, uint pixel,
                   vec4 lens_k, vec4 lens_p, vec4 lens_frame, out vec3 origin, out vec3 direction) {
    precise float x = (float(pixel % width) + 0.5) / float(width) * 2.0 - 1.0;
    precise float y = 1.0 - (float(pixel / width) + 0.5) / float(height) * 2.0;
    if (lens_p.z != 0.0) {
        vec2 q = camera_lens_undistort(lens_k, lens_p, vec2((x - lens_frame.x) * lens_frame.z,
                                                            (lens_frame.y - y) * lens_frame.w));
        x = lens_frame.x + q.x / lens_frame.z;
        y = lens_frame.y - q.y / lens_frame.w;
    }
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
#ifdef CAMERA_LENS
    camera_ray_of(camera_position, camera_right, camera_up, camera_forward, frame_width, frame_height, pixel,
                  CAMERA_LENS[0], CAMERA_LENS[1], CAMERA_LENS[2], origin, direction);
#else
    camera_ray_of(camera_position, camera_right, camera_up, camera_forward, frame_width, frame_height, pixel,
                  vec4(0.0), vec4(0.0), vec4(0.0), origin, direction);
#endif
}
#endif

#ifdef CAMERA_ARRAY
#define CAMERA_ARRAY_VEC4S (5 + LENS_VEC4S)  // engine/render/camera.py CAMERA_ARRAY_VEC4S
// `factor`: the camera's frame taken factor x larger on each side (pixel indexes that frame), so that
// factor x factor rays on a regular grid in each pixel of the camera's own frame are exactly those
// of the larger frame, as Camera.rays(factor * width, factor * height) computes them.
void camera_ray_indexed(uint camera, uint factor, uint pixel, out vec3 origin, out vec3 direction) {
    uint base = camera * uint(CAMERA_ARRAY_VEC4S);
    vec4 size = CAMERA_ARRAY[base + 4u];  // width, height (exact in float up to 2^24)
    camera_ray_of(CAMERA_ARRAY[base], CAMERA_ARRAY[base + 1u], CAMERA_ARRAY[base + 2u], CAMERA_ARRAY[base + 3u],
                  uint(size.x) * factor, uint(size.y) * factor, pixel, CAMERA_ARRAY[base + 5u],
                  CAMERA_ARRAY[base + 6u], CAMERA_ARRAY[base + 7u], origin, direction);
}
#endif

#endif
