// The ray a pixel shoots. Specification: engine/render/camera.py Camera.rays(); the push-constant members
// come from Camera.push_constants(). Declare them in the kernel's push-constant block with
// CAMERA_PUSH_CONSTANTS from lib/frame_push.glsl before including this file.

#ifndef NGVK_CAMERA_GLSL
#define NGVK_CAMERA_GLSL

// Pixel index y * frame_width + x, row 0 at the top, through the pixel's centre.
void camera_ray(uint pixel, out vec3 origin, out vec3 direction) {
    float x = (float(pixel % frame_width) + 0.5) / float(frame_width) * 2.0 - 1.0;
    float y = 1.0 - (float(pixel / frame_width) + 0.5) / float(frame_height) * 2.0;
    vec3 offset = x * camera_right.xyz + y * camera_up.xyz;
    if (camera_position.w != 0.0) {
        origin = camera_position.xyz + offset;
        direction = camera_forward.xyz;
    } else {
        origin = camera_position.xyz;
        direction = normalize(camera_forward.xyz + offset);
    }
}

#endif
