// Writing a finished pixel into the frame. The frame is RGBA8 (one uint per pixel) for display and
// PNG files, or, when the push constant frame_float (TILE_PUSH_CONSTANTS) is 1, RGBA float32 (four
// words per pixel), which tests use to compare render paths to the last bit. A push constant rather
// than a define, so that each kernel compiles once for both (a CPU driver takes seconds per
// pipeline). Declare the buffer with FRAME_BUFFER(binding).

#ifndef NGVK_FRAME_GLSL
#define NGVK_FRAME_GLSL

#include "lib/color.glsl"

#define FRAME_BUFFER(index) layout(std430, binding = index) writeonly buffer Frame { uint frame[]; }

// frame_write(pixel, colour); is a macro because the buffer and the push constants are declared
// after this file. The bound buffer holds the frame from pixel frame_offset on (a frame too large
// for one binding is rendered in bands, engine/render/frame.py).
#define frame_write(pixel, c)                                                              \
    {                                                                                      \
        uint at_ = (pixel) - frame_offset;                                                 \
        vec4 colour_ = (c);                                                                \
        if (frame_float != 0u) {                                                           \
            frame[4u * at_] = floatBitsToUint(colour_.r);                                  \
            frame[4u * at_ + 1u] = floatBitsToUint(colour_.g);                             \
            frame[4u * at_ + 2u] = floatBitsToUint(colour_.b);                             \
            frame[4u * at_ + 3u] = floatBitsToUint(colour_.a);                             \
        } else {                                                                           \
            frame[at_] = pack_rgba8(colour_);                                              \
        }                                                                                  \
    }

#endif
