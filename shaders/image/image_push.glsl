// The image app's push constants (apps/image/app.py ImageRenderer.push_constants()), the same in
// all its render kernels: `layout(push_constant) uniform Push { IMAGE_PUSH_CONSTANTS };`.
// Requires lib/frame_push.glsl.

#ifndef NGVK_IMAGE_PUSH_GLSL
#define NGVK_IMAGE_PUSH_GLSL

#define IMAGE_PUSH_CONSTANTS                                                                       \
    CAMERA_PUSH_CONSTANTS                                                                          \
    TILE_PUSH_CONSTANTS                                                                            \
    float image_aspect;   /* width / height of the image */                                        \
    uint render_mode;     /* 0 network, 1 source, 2 error (apps/image/app.py RENDER_MODES) */       \
    uint source_width;    /* the source image for modes 1 and 2 (1 x 1 when there is none) */       \
    uint source_height;                                                                            \
    float exposure_scale; /* 2^exposure: linear colours are multiplied by it before tone mapping */ \
    uint tonemap;         /* the tone curve (apps/image/app.py TONEMAPS; image_postprocess.glsl) */

#endif
