"""The viewer's heads-up display pass (render/hud.comp) against its NumPy specification
(engine/render/hud.py hud_reference()): the frame scaled to the window, the text box and the glyphs."""

import numpy as np
import pytest

from ngvk.engine.render.hud import Hud, font, hud_reference, text_codes


def test_the_font_has_a_glyph_per_printable_character():
    glyphs, width, height = font()
    assert glyphs.shape == (95, height) and (width, height) == (6, 11)
    assert not glyphs[0].any()  # the blank
    assert all(glyphs[ord(c) - 32].any() for c in "AZaz09%|.")
    assert len({tuple(g) for g in glyphs}) == 95  # no two characters alike


@pytest.mark.parametrize("frame_size, window_size, scale", [((37, 23), (80, 60), 1), ((80, 60), (80, 60), 2),
                                                             ((120, 90), (53, 41), 1)])
def test_the_display_pass_draws_what_the_reference_draws(device, rng, frame_size, window_size, scale):
    frame = rng.integers(0, 256, (frame_size[1], frame_size[0], 4), dtype=np.uint8)
    lines = ["12.3 ms 81 fps", "fused | step 42", "~{}|\u00e9"]  # the last: odd and non-ASCII characters
    hud = Hud(device)
    try:
        with device.buffer_from(frame.reshape(-1).view(np.uint32), "frame") as buffer:
            for text in (lines, None):
                out = hud.compose(buffer, *frame_size, *window_size, text, scale)
                got = out.download(np.uint8, (window_size[1], window_size[0], 4))
                expected = hud_reference(frame, *window_size, text, scale)
                assert np.array_equal(got, expected), text
    finally:
        hud.close()


def test_the_reference_draws_text_where_it_says():
    # A black frame: only the glyphs are lit, in the box's margin-offset cells, at the glyph scale.
    glyphs, width, height = font()
    frame = np.zeros((10, 10, 4), np.uint8)
    out = hud_reference(frame, 100, 60, ["AB"], scale=2)
    lit = out[..., 0] == 255
    a = np.array([[(row >> x) & 1 for x in range(width)] for row in glyphs[ord("A") - 32]], bool)
    cell = lit[8:8 + 2 * height:2, 8:8 + 2 * width:2]  # margin 4 font pixels = 8 window pixels
    assert np.array_equal(cell, a)
    assert lit.sum() == 4 * (a.sum() + np.unpackbits(glyphs[ord("B") - 32].astype(np.uint8)).sum())
    box = (2 * (height + 8), 2 * (2 * width + 8))  # one line of two characters and the margins
    assert (out[:box[0], :box[1], 3] == 255).all() and not out[box[0]:, :, 3].any() and not out[:, box[1]:, 3].any()
    assert not lit[:, 8 + 2 * 2 * width:].any()
    assert text_codes(["a", "bcd"]).shape == (2, 3)
