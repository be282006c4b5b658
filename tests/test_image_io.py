"""Reading images at full precision (apps/imageio.py): 16-bit PNG and TIFF, float TIFF and OpenEXR,
written here with each format's own writer, read back exactly; and the one-line errors of files
that cannot be used. No Vulkan."""

import warnings

import numpy as np
import pytest

from ngvk.apps.image.app import displayed_8bit
from ngvk.apps.imageio import linear_rgb, load_image, load_linear_image
from ngvk.engine.errors import NgvkError
from ngvk.engine.nn.reference import srgb_to_linear

HEIGHT, WIDTH = 24, 32


def sixteen_bit_rgb():
    """[24, 32, 3] uint16 whose neighbouring values differ in the low byte only: what an 8-bit
    reader loses. Every 8-bit value times 257 (the 16-bit code of the same level), plus 0 to 2."""
    high = np.arange(HEIGHT * WIDTH * 3, dtype=np.uint32).reshape(HEIGHT, WIDTH, 3) % 256
    low = np.arange(HEIGHT * WIDTH * 3, dtype=np.uint32).reshape(HEIGHT, WIDTH, 3) % 3
    return np.minimum(high * 257 + low, 65535).astype(np.uint16)


def write_exr(path, channels: dict) -> None:
    import OpenEXR

    # Contiguous copies: OpenEXR 3.5's writer ignores a view's strides.
    channels = {name: np.ascontiguousarray(pixels) for name, pixels in channels.items()}
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}, channels).write(str(path))


def test_16_bit_png_keeps_its_low_byte(tmp_path):
    import png

    samples = sixteen_bit_rgb()
    path = tmp_path / "rgb16.png"
    png.from_array(samples.reshape(HEIGHT, -1), "RGB;16").save(str(path))
    linear = load_linear_image(path)
    assert linear.dtype == np.float32 and linear.shape == (HEIGHT, WIDTH, 3)
    np.testing.assert_array_equal(linear, srgb_to_linear(samples / 65535.0).astype(np.float32))
    # Codes 257 k, 257 k + 1 and 257 k + 2 stay three values (an 8-bit read makes them one).
    assert len(np.unique(linear)) == len(np.unique(samples))
    grey = tmp_path / "grey16.png"
    png.from_array(samples[..., 0], "L;16").save(str(grey))
    np.testing.assert_array_equal(load_linear_image(grey), np.repeat(linear[..., :1], 3, axis=2))


def test_16_bit_and_float_tiffs_are_read_exactly(tmp_path):
    import tifffile

    samples = sixteen_bit_rgb()
    expected = srgb_to_linear(samples / 65535.0).astype(np.float32)
    tifffile.imwrite(tmp_path / "interleaved.tif", samples, photometric="rgb", compression="zlib")
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(samples, 2, 0), photometric="rgb", planarconfig="separate")
    for name in ("interleaved.tif", "planar.tif"):
        np.testing.assert_array_equal(load_linear_image(tmp_path / name), expected, err_msg=name)
    hdr = np.random.default_rng(0).uniform(0, 20, (HEIGHT, WIDTH, 3)).astype(np.float32)
    tifffile.imwrite(tmp_path / "float.tif", hdr, photometric="rgb")
    np.testing.assert_array_equal(load_linear_image(tmp_path / "float.tif"), hdr)  # linear, as stored
    small = (samples // 257).astype(np.uint8)  # an 8-bit TIFF is Pillow's, as before
    tifffile.imwrite(tmp_path / "8bit.tif", small, photometric="rgb")
    np.testing.assert_array_equal(load_linear_image(tmp_path / "8bit.tif"), linear_rgb(small))


def test_exr_values_are_linear_and_kept_above_one(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.uniform(0, 50, (HEIGHT, WIDTH, 3)).astype(np.float32)
    write_exr(tmp_path / "hdr.exr", {"R": rgb[..., 0], "G": rgb[..., 1], "B": rgb[..., 2], "A": np.ones_like(rgb[..., 0])})
    np.testing.assert_array_equal(load_linear_image(tmp_path / "hdr.exr"), rgb)
    # Half-float channels, the usual EXR, widen exactly; a lone Y (luminance) is grey.
    half = rgb.astype(np.float16)
    write_exr(tmp_path / "half.exr", {"R": half[..., 0], "G": half[..., 1], "B": half[..., 2]})
    np.testing.assert_array_equal(load_linear_image(tmp_path / "half.exr"), half.astype(np.float32))
    write_exr(tmp_path / "y.exr", {"Y": rgb[..., 1]})
    np.testing.assert_array_equal(load_linear_image(tmp_path / "y.exr"), np.repeat(rgb[..., 1:2], 3, axis=2))


def test_exr_negatives_are_black_and_nan_is_refused(tmp_path):
    rgb = np.full((HEIGHT, WIDTH, 3), 0.5, np.float32)
    rgb[0, :3, 0] = -0.25
    write_exr(tmp_path / "negative.exr", {"R": rgb[..., 0], "G": rgb[..., 1], "B": rgb[..., 2]})
    with pytest.warns(UserWarning, match="3 negative values"):
        linear = load_linear_image(tmp_path / "negative.exr")
    assert linear.min() == 0.0 and linear[0, 0, 0] == 0.0 and linear[1, 0, 0] == 0.5
    rgb[1, 1] = [np.nan, np.inf, 1.0]
    write_exr(tmp_path / "nan.exr", {"R": rgb[..., 0], "G": rgb[..., 1], "B": rgb[..., 2]})
    with pytest.raises(NgvkError, match="has 2 NaN or infinite values"):
        load_linear_image(tmp_path / "nan.exr")


def test_unusable_files_are_one_line_errors(tmp_path):
    write_exr(tmp_path / "depth.exr", {"Z": np.ones((HEIGHT, WIDTH), np.float32)})
    rgb = np.ones((HEIGHT, WIDTH), np.float32)
    write_exr(tmp_path / "whole.exr", {"R": rgb, "G": rgb, "B": rgb})
    data = (tmp_path / "whole.exr").read_bytes()
    (tmp_path / "truncated.exr").write_bytes(data[: len(data) // 2])
    (tmp_path / "sky.hdr").write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 2\n" + bytes(16))
    (tmp_path / "short.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x20\x00\x00\x00\x18\x10\x02")
    cases = {
        "depth.exr": "has no RGB channels (it has: Z)",
        "truncated.exr": "cannot read OpenEXR image",
        "sky.hdr": "Radiance HDR files are not supported",
        "short.png": "cannot read PNG image",
    }
    for name, words in cases.items():
        with pytest.raises(NgvkError, match=".") as error:
            load_linear_image(tmp_path / name)
        message = str(error.value)
        assert words in message and "\n" not in message, (name, message)


def test_8_bit_images_give_what_they_always_gave():
    # Decoded in float64 and rounded to float32, as the image app always did; displayed again in 8
    # bits (what its metrics compare with) every level comes back as it was.
    levels = np.repeat(np.arange(256, dtype=np.uint8).reshape(1, 256, 1), 3, axis=2)
    linear = linear_rgb(levels)
    np.testing.assert_array_equal(linear, srgb_to_linear(levels.astype(np.float64) / 255.0).astype(np.float32))
    np.testing.assert_array_equal(displayed_8bit(linear), levels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        astronaut = load_linear_image("skimage:astronaut")
    np.testing.assert_array_equal(astronaut, linear_rgb(load_image("skimage:astronaut")))
