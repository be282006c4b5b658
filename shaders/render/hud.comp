#version 460
#extension GL_GOOGLE_include_directive : require
// The viewer's heads-up display: the rendered frame scaled to the window (nearest pixel: dynamic
// resolution renders it smaller) with lines of text over a darkened box in its top-left corner,
// one invocation per window pixel. Specification: engine/render/hud.py hud_reference().
//
// binding | name   | access | contents
// 0       | frame  | read   | uint [frame_height x frame_width]: the rendered frame, RGBA8
// 1       | window | write  | uint [window_height x window_width]: what is presented, RGBA8
// 2       | glyphs | read   | uint [95 x HUD_GLYPH_HEIGHT]: rows of ASCII 32-126, bit x = pixel x
// 3       | text   | read   | uint [lines x columns]: character codes (0 or outside 32-126: blank)
// push constants: below
// defines: HUD_GLYPH_WIDTH, HUD_GLYPH_HEIGHT (engine/render/hud.py, the font's cell)

layout(local_size_x_id = 0) in;

#include "lib/common.glsl"

layout(std430, binding = 0) readonly buffer Frame { uint frame[]; };
layout(std430, binding = 1) writeonly buffer Window { uint window[]; };
layout(std430, binding = 2) readonly buffer Glyphs { uint glyphs[]; };
layout(std430, binding = 3) readonly buffer Text { uint text[]; };
layout(push_constant) uniform Push {
    uint n;              // window pixels
    uint frame_width;
    uint frame_height;
    uint window_width;
    uint window_height;
    uint lines;          // 0: no display
    uint columns;
    uint glyph_scale;    // window pixels per font pixel
};

#define HUD_MARGIN 4u  // font pixels around the text

void main() {
    uint i = global_index();
    if (i >= n) return;
    uint x = i % window_width, y = i / window_width;
    // Nearest frame pixel: the frame's pixel whose footprint holds this pixel's centre (integer
    // arithmetic, so that the reference computes the same one).
    uint fx = min((2u * x + 1u) * frame_width / (2u * window_width), frame_width - 1u);
    uint fy = min((2u * y + 1u) * frame_height / (2u * window_height), frame_height - 1u);
    uint pixel = frame[fy * frame_width + fx];
    uint gx = x / glyph_scale, gy = y / glyph_scale;  // in font pixels
    uint box_width = columns * uint(HUD_GLYPH_WIDTH) + 2u * HUD_MARGIN;
    uint box_height = lines * uint(HUD_GLYPH_HEIGHT) + 2u * HUD_MARGIN;
    if (lines > 0u && gx < box_width && gy < box_height) {
        // Darkened to a quarter behind the text, so that it reads over any image.
        uvec4 rgba = uvec4(pixel & 0xffu, (pixel >> 8u) & 0xffu, (pixel >> 16u) & 0xffu, pixel >> 24u);
        rgba.rgb = rgba.rgb / 4u;
        if (gx >= HUD_MARGIN && gy >= HUD_MARGIN) {
            uint column = (gx - HUD_MARGIN) / uint(HUD_GLYPH_WIDTH), line = (gy - HUD_MARGIN) / uint(HUD_GLYPH_HEIGHT);
            if (column < columns && line < lines) {
                uint code = text[line * columns + column];
                if (code >= 32u && code <= 126u) {
                    uint row = glyphs[(code - 32u) * uint(HUD_GLYPH_HEIGHT) + (gy - HUD_MARGIN) % uint(HUD_GLYPH_HEIGHT)];
                    if (((row >> ((gx - HUD_MARGIN) % uint(HUD_GLYPH_WIDTH))) & 1u) != 0u) rgba.rgb = uvec3(255u);
                }
            }
        }
        pixel = rgba.r | (rgba.g << 8u) | (rgba.b << 16u) | (255u << 24u);
    }
    window[i] = pixel;
}
