// Writing a finished pixel into the frame. The frame is RGBA8 (one uint per pixel) for display and
// PNG files; with FRAME_FLOAT it is RGBA float32 (four floats per pixel), which tests use to compare
// render paths to the last bit. Declare the buffer with FRAME_BUFFER(binding).

#ifndef NGVK_FRAME_GLSL
#define NGVK_FRAME_GLSL

#include "lib/color.glsl"

// frame_write(pixel, colour) is a macro because the buffer and the push constants are declared
// after this file. The bound buffer holds the frame from pixel frame_offset on (a frame too large
// for one binding is rendered in bands, engine/render/frame.py).
#if FRAME_FLOAT
#define FRAME_BUFFER(index) layout(std430, binding = index) writeonly buffer Frame { vec4 frame[]; }
#define frame_write(pixel, c) (frame[(pixel) - frame_offset] = (c))
#else
#define FRAME_BUFFER(index) layout(std430, binding = index) writeonly buffer Frame { uint frame[]; }
#define frame_write(pixel, c) (frame[(pixel) - frame_offset] = pack_rgba8(c))
#endif

#endif
