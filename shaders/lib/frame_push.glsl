// The push-constant members every kernel of a frame takes from the frame renderer, declared in the
// kernel's push-constant block: `CAMERA_PUSH_CONSTANTS` (engine/render/camera.py
// Camera.push_constants()) and `TILE_PUSH_CONSTANTS` (engine/render/frame.py FrameRenderer.record()).
// Separate from lib/camera.glsl and lib/frame.glsl because the block must be declared after these
// macros and before the functions that read it.

#ifndef NGVK_FRAME_PUSH_GLSL
#define NGVK_FRAME_PUSH_GLSL

#define CAMERA_PUSH_CONSTANTS                                                          \
    vec4 camera_position; /* xyz: position; w: 1 orthographic, 0 perspective */        \
    vec4 camera_right;    /* right, scaled to half the frame width */                  \
    vec4 camera_up;       /* up, scaled to half the frame height */                    \
    vec4 camera_forward;  /* unit viewing direction */                                 \
    uint frame_width;                                                                  \
    uint frame_height;

#define TILE_PUSH_CONSTANTS                                                            \
    uint n;            /* pixels in this tile */                                       \
    uint pixel_offset; /* the tile's first pixel in the frame */                       \
    uint frame_offset; /* the frame pixel at element 0 of the bound frame buffer */       \
    uint frame_float;  /* 1: RGBA float32 frame, 0: RGBA8 (lib/frame.glsl) */

#endif
