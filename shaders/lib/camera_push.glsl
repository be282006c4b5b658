// The camera's push-constant members (engine/camera.py Camera.push_constants()), declared in a
// kernel's push-constant block as `CAMERA_PUSH_CONSTANTS`. Separate from lib/camera.glsl because the
// block must be declared after this macro and before the functions that read it.

#ifndef NGVK_CAMERA_PUSH_GLSL
#define NGVK_CAMERA_PUSH_GLSL

#define CAMERA_PUSH_CONSTANTS                                                          \
    vec4 camera_position; /* xyz: position; w: 1 orthographic, 0 perspective */        \
    vec4 camera_right;    /* right, scaled to half the frame width */                  \
    vec4 camera_up;       /* up, scaled to half the frame height */                    \
    vec4 camera_forward;  /* unit viewing direction */                                 \
    uint frame_width;                                                                  \
    uint frame_height;

#endif
