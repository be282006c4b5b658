"""The viewer's heads-up display: the rendered frame scaled to the window with lines of text drawn
over it on the device (render/hud.comp), in a compute pass, so that no graphics pipeline is needed.

The font is Pillow's built-in bitmap font (6 x 11 pixel cells, ASCII), rasterised once into rows of
bits; `hud_reference()` is the pass in NumPy, its specification.
"""

from __future__ import annotations

import functools

import numpy as np

FIRST_CHAR, LAST_CHAR = 32, 126
MARGIN = 4  # font pixels around the text (render/hud.comp HUD_MARGIN)


@functools.lru_cache(maxsize=1)
def font() -> tuple[np.ndarray, int, int]:
    """(glyphs uint32 [95, height]: each row's pixels as bits, bit x for pixel x; width, height) of
    ASCII 32-126 in Pillow's bitmap font."""
    from PIL import Image, ImageDraw, ImageFont

    face = ImageFont.load_default_imagefont()
    width, height = face.getbbox("M")[2:]
    glyphs = np.zeros((LAST_CHAR - FIRST_CHAR + 1, height), np.uint32)
    for code in range(FIRST_CHAR, LAST_CHAR + 1):
        image = Image.new("L", (width, height), 0)
        ImageDraw.Draw(image).text((0, 0), chr(code), fill=255, font=face)
        bits = np.asarray(image) > 127
        glyphs[code - FIRST_CHAR] = (bits * (1 << np.arange(width, dtype=np.uint32))).sum(axis=1)
    return glyphs, int(width), int(height)


def text_codes(lines: list[str]) -> np.ndarray:
    """uint32 [lines, columns] of the lines' characters, padded with blanks (non-ASCII shows blank)."""
    columns = max((len(line) for line in lines), default=0)
    codes = np.zeros((len(lines), max(columns, 1)), np.uint32)
    for row, line in enumerate(lines):
        codes[row, :len(line)] = [ord(c) if FIRST_CHAR <= ord(c) <= LAST_CHAR else 0 for c in line]
    return codes


def glyph_scale(window_height: int) -> int:
    """Window pixels per font pixel: 1, and 2 from 720 lines up, so the text stays readable."""
    return 2 if window_height >= 720 else 1


def hud_reference(frame: np.ndarray, window_width: int, window_height: int, lines: list[str] | None,
                  scale: int = 1) -> np.ndarray:
    """What render/hud.comp writes: `frame` (uint8 RGBA [h, w, 4]) scaled to the window (the
    nearest frame pixel to each window pixel's centre), and, with `lines`, the text box in the top
    left: RGB darkened to a quarter, glyph pixels white, alpha opaque. uint8 [H, W, 4]."""
    frame_height, frame_width = frame.shape[:2]
    x, y = np.arange(window_width), np.arange(window_height)
    fx = np.minimum((2 * x + 1) * frame_width // (2 * window_width), frame_width - 1)
    fy = np.minimum((2 * y + 1) * frame_height // (2 * window_height), frame_height - 1)
    out = frame[fy[:, None], fx[None, :]].copy()
    if not lines:
        return out
    glyphs, width, height = font()
    codes = text_codes(lines)
    rows, columns = codes.shape
    gx, gy = x // scale, y // scale
    inside = (gy[:, None] < rows * height + 2 * MARGIN) & (gx[None, :] < columns * width + 2 * MARGIN)
    out[inside, :3] //= 4
    out[inside, 3] = 255
    tx, ty = gx - MARGIN, gy - MARGIN
    column, line = tx // width, ty // height
    valid = (tx >= 0)[None, :] & (ty >= 0)[:, None] & (column < columns)[None, :] & (line < rows)[:, None]
    code = codes[np.clip(line, 0, rows - 1)[:, None], np.clip(column, 0, columns - 1)[None, :]].astype(np.int64)
    printable = valid & (code >= FIRST_CHAR) & (code <= LAST_CHAR)
    row = glyphs[np.clip(code - FIRST_CHAR, 0, len(glyphs) - 1), (np.maximum(ty, 0) % height)[:, None]]
    lit = printable & (((row >> (np.maximum(tx, 0) % width)[None, :].astype(np.uint32)) & 1) == 1)
    out[lit, :3] = 255
    return out


class Hud:
    """The display pass on `device`: compose() writes the window's image from a rendered frame."""

    def __init__(self, device):
        self.device = device
        glyphs, self.glyph_width, self.glyph_height = font()
        self.kernel = device.kernel("render/hud.comp", {"HUD_GLYPH_WIDTH": self.glyph_width,
                                                        "HUD_GLYPH_HEIGHT": self.glyph_height})
        self.glyphs = device.buffer_from(glyphs, "glyphs")
        self.window = None  # (buffer, pixels)
        self.text = None  # (buffer, words)
        self.sequence = device.sequence()

    def _buffer(self, held, words: int, name: str):
        if held is not None and held[1] >= words:
            return held
        if held is not None:
            held[0].close()
        return self.device.buffer(max(words, 1) * 4, name), words

    def compose(self, frame_buffer, frame_width: int, frame_height: int, window_width: int, window_height: int,
                lines: list[str] | None, scale: int = 1):
        """Run the pass; returns the buffer holding the window's RGBA8 image (valid until the next call)."""
        codes = text_codes(lines or [])
        self.window = self._buffer(self.window, window_width * window_height, "hud_window")
        self.text = self._buffer(self.text, codes.size, "hud_text")
        self.text[0].upload(codes.reshape(-1))
        n = window_width * window_height
        self.sequence.reset()
        self.sequence.dispatch(self.kernel, n, {"frame": frame_buffer, "window": self.window[0],
                                                "glyphs": self.glyphs, "text": self.text[0]},
                               {"n": n, "frame_width": frame_width, "frame_height": frame_height,
                                "window_width": window_width, "window_height": window_height,
                                "lines": len(lines) if lines else 0, "columns": codes.shape[1],
                                "glyph_scale": scale})
        self.sequence.run()
        return self.window[0]

    def close(self) -> None:
        self.sequence.close()
        for held in (self.window, self.text):
            if held is not None:
                held[0].close()
        self.glyphs.close()
