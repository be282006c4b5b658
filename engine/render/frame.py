"""Frame rendering: an app's kernel variants, tiled, with GPU times per stage.

An app's renderer subclasses `FrameRenderer` and records, for one tile of pixels, the kernels of
one of its variants (KERNELS; a renderer lists those it has in `kernels`):
- `unfused`: its stages, one dispatch each, intermediate results in buffers, each timed under its
  stage name;
- `fused`: one dispatch per tile that does everything per pixel (timed as "fused");
- `wavefront` (iterative apps): one dispatch per iteration over the live work of the tile, the
  network inside it (engine/render/wavefront.py; timed as "wavefront");
- `prepost` (iterative apps): the wavefront's iteration with the network left out, so that each
  iteration is one fused pre/post-processing kernel ("prepost") and the encoding and MLP kernels:
  the paper's fusion, which the benchmark's kernel-level figure measures.
The frame is cut into tiles so that the intermediate buffers of the unfused path stay within the
device's largest storage binding at any resolution; every variant uses the same tiles. A frame
larger than that binding is rendered in bands, each into a frame buffer of its own, read back into
one image. Recording goes in rounds: a wavefront records a round of iterations, has it run, and
reads back whether work is left before it records the next. The frame itself is RGBA8 (one uint
per pixel), or RGBA float32 when asked for (tests compare the variants bit for bit that way).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ngvk.engine.errors import NgvkError

STAGES = ("preprocess", "encoding", "mlp", "postprocess")
KERNELS = ("fused", "wavefront", "prepost", "unfused")  # the kernel variants (module docstring)
FUSED, WAVEFRONT, PREPOST = "fused", "wavefront", "prepost"  # their stage labels
FRAME = "frame"  # timestamps around the whole frame, whatever its stages
DEFAULT_TILE_PIXELS = 1 << 18
MAX_FRAME_SIDE = 16384


@dataclass
class Frame:
    """A rendered frame: pixels [height, width, 4] (uint8 RGBA, or float32 RGBA; None when not read
    back), the GPU time of each stage (or of "fused"), summed over tiles, and of the whole frame,
    the kernel variant that rendered it, and how many network queries it took (the benchmark's
    samples)."""

    pixels: np.ndarray | None
    timings: dict[str, float] = field(default_factory=dict)
    frame_ms: float = 0.0
    kernels: str = "fused"
    queries: int = 0

    @property
    def rgb(self) -> np.ndarray:
        return self.pixels[..., :3]


def error_frame(got: np.ndarray, expected: np.ndarray, float_frame: bool, gain: float = 4.0) -> np.ndarray:
    """|got - expected| x gain of two float RGBA frames, opaque: the comparing render modes' image,
    as float RGBA or RGBA8."""
    error = np.ones_like(got)
    error[..., :3] = np.clip(np.abs(got[..., :3] - expected[..., :3]) * gain, 0.0, 1.0)
    return error if float_frame else np.floor(error * 255.0 + 0.5).astype(np.uint8)


def close_all(*owned) -> None:
    """Close each of `owned` that is not None (buffers, layers, renderers; lists and dicts of them)."""
    for item in owned:
        if isinstance(item, dict):
            close_all(*item.values())
        elif isinstance(item, (list, tuple)):
            close_all(*item)
        elif item is not None:
            item.close()


def check_kernels(renderer, kernels: str) -> None:
    """A one-line error for a kernel variant the renderer does not have."""
    if kernels not in renderer.kernels:
        raise NgvkError(f"kernels {kernels!r}: this app's renderer has {', '.join(renderer.kernels)}")


def check_frame_size(width: int, height: int) -> None:
    """A one-line error for sizes that are zero or absurd. Frames larger than the device can bind
    are rendered in bands (FrameRenderer.render), so the device sets no limit here."""
    if width < 1 or height < 1:
        raise NgvkError(f"resolution {width}x{height}: width and height must be at least 1")
    if width > MAX_FRAME_SIDE or height > MAX_FRAME_SIDE:
        raise NgvkError(f"resolution {width}x{height}: each side can be at most {MAX_FRAME_SIDE}")


class FrameRenderer:
    """Tiling, the frame buffer, recording and timing; subclasses supply the per-tile work."""

    stages = STAGES
    modes: tuple[str, ...] = ("network",)  # render modes, the first the default (see set_mode)
    kernels: tuple[str, ...] = ("fused", "unfused")  # the variants of KERNELS this renderer has
    # Whether the kernels take a camera's lens (lib/camera.glsl CAMERA_LENS); others refuse a camera
    # that has one rather than draw it as a pinhole.
    lenses = False
    # A wavefront needs no tiles (its slots take the pixels of the whole band from one queue, and
    # a GPU wants them all in flight at once), unless the renderer keeps per-tile buffers for it.
    wavefront_by_tile = False

    def __init__(self, device, tile_pixels: int = DEFAULT_TILE_PIXELS):
        self.device = device
        self.mode = self.modes[0]
        self.tile_pixels = tile_pixels
        self._frames: dict[tuple, object] = {}  # (pixels, float) -> frame buffer
        self._sequence = None

    # ---- what an app supplies -----------------------------------------------------------------

    def set_mode(self, mode: str) -> None:
        """Switch render mode (an app with several modes checks what each needs)."""
        if mode not in self.modes:
            raise NgvkError(f"unknown render mode {mode!r}; choose one of {', '.join(self.modes)}")
        self.mode = mode

    def default_camera(self, width: int, height: int):
        """The view `ngvk render` and `ngvk view` start from for a frame of this size."""
        raise NotImplementedError

    def push_constants(self, camera, width: int, height: int) -> dict:
        """Push constants shared by the app's kernels for this camera and frame (without n and
        pixel_offset, which the tiling adds)."""
        raise NotImplementedError

    def record_unfused(self, sequence, frame, push: dict, float_frame: bool) -> None:
        """Record one tile's stages, each in `with sequence.timed(stage):`."""
        raise NotImplementedError

    def record_fused(self, sequence, frame, push: dict, float_frame: bool) -> None:
        """Record one tile's fused dispatch."""
        raise NotImplementedError

    def record_wavefront(self, sequence, frame, push: dict, float_frame: bool, split: bool):
        """A generator that records one tile's wavefront (or, with `split`, its prepost kernels) in
        rounds, each timed as FRAME, yielding after each: the caller runs what was recorded before
        resuming it (engine/render/wavefront.py record_rounds)."""
        raise NotImplementedError

    def network_queries(self, width: int, height: int) -> int:
        """Network queries the last frame made. One per pixel here; a renderer that marches rays
        counts them on the device and reads the count back."""
        return width * height

    # ---- rendering ----------------------------------------------------------------------------

    def band_pixels(self, float_frame: bool) -> int:
        """The most pixels one frame buffer holds: the device's largest storage binding (and
        allocation), so a larger frame is rendered in bands of this many pixels, one after another,
        each read back into the whole frame on the host."""
        info = self.device.info
        limit = min(info.max_storage_buffer_range, info.max_memory_allocation or info.max_storage_buffer_range)
        return max(1, limit // (16 if float_frame else 4))

    def _frame_buffer(self, pixels: int, float_frame: bool):
        # One buffer of each kind (8-bit, float) at a time: a renderer that composes a frame from
        # float renders (the SDF app's error mode) keeps the 8-bit one a window presents from.
        key = (pixels, float_frame)
        if key not in self._frames:
            for old in [k for k in self._frames if k[1] == float_frame]:
                self._frames.pop(old).close()
            self._frames[key] = self.device.buffer(pixels * (16 if float_frame else 4), "frame")
        return self._frames[key]

    def frame_buffer(self, width: int, height: int, float_frame: bool):
        """The buffer the last render of a frame of this size wrote (for presenting it)."""
        if width * height > self.band_pixels(float_frame):
            raise NgvkError(f"a {width}x{height} frame is rendered in bands: it has no single frame buffer")
        return self._frame_buffer(width * height, float_frame)

    def tiles(self, width: int, height: int, first: int = 0, count: int | None = None):
        """(pixel_offset, pixels) of each tile of the pixels [first, first + count) (default: the
        whole frame), in pixel order."""
        end = width * height if count is None else first + count
        return [(start, min(self.tile_pixels, end - start)) for start in range(first, end, self.tile_pixels)]

    def record(self, sequence, camera, width: int, height: int, kernels: str, float_frame: bool = False,
               poison: int | None = None, first: int = 0, count: int | None = None):
        """A generator that records pixels [first, first + count) of the frame (default: all of it)
        with the `kernels` variant into `sequence`, in rounds: after each it yields the frame buffer
        they are written to, whose element 0 is pixel `first` (kernels write pixel p at p -
        frame_offset, lib/frame.glsl), and the caller runs the sequence and resets it before
        resuming. Each round's commands are timed as FRAME (a wavefront's rounds by
        engine/render/wavefront.py record_rounds). With `poison`, every 32-bit word of the frame
        buffer is first set to it (untimed)."""
        check_frame_size(width, height)
        check_kernels(self, kernels)
        lens = getattr(camera, "lens", None)
        if lens is not None and not lens.pinhole and not self.lenses:
            raise NgvkError("this app renders pinhole cameras only: drop the camera's lens (only the nerf app "
                            "models lenses)")
        count = width * height - first if count is None else count
        frame = self._frame_buffer(count, float_frame)
        if poison is not None:
            sequence.fill(frame, poison)
        base = {**self.push_constants(camera, width, height), "frame_offset": first, "frame_float": int(float_frame)}
        tiles = [{**base, "n": n, "pixel_offset": offset} for offset, n in self.tiles(width, height, first, count)]
        if kernels in (WAVEFRONT, PREPOST):
            spans = tiles if self.wavefront_by_tile else [{**base, "n": count, "pixel_offset": first}]
            for push in spans:
                for _ in self.record_wavefront(sequence, frame, push, float_frame, kernels == PREPOST):
                    yield frame
            return
        with sequence.timed(FRAME):
            for push in tiles:
                if kernels == FUSED:
                    with sequence.timed(FUSED):
                        self.record_fused(sequence, frame, push, float_frame)
                else:
                    self.record_unfused(sequence, frame, push, float_frame)
        yield frame

    def show_pixels(self, pixels: np.ndarray, width: int, height: int, float_frame: bool) -> None:
        """Put a frame composed on the host (pixels [height, width, 4] of the frame's format) into the
        frame buffer, where a window presents it from, as if the device had rendered it."""
        if width * height <= self.band_pixels(float_frame):
            self._frame_buffer(width * height, float_frame).upload(pixels)

    def prepare(self, camera, kernels: str = FUSED, float_frame: bool = False) -> None:
        """Render a 1 x 1 frame so that every kernel of this variant exists and is compiled: CPU
        drivers compile a pipeline during its first dispatch, which would otherwise show up in
        the first frame's GPU times."""
        self.render(camera, 1, 1, kernels, float_frame)

    def render(
        self, camera, width: int, height: int, kernels: str = FUSED, float_frame: bool = False, download: bool = True,
        poison: int | None = None,
    ) -> Frame:
        """Render one frame with the `kernels` variant and read it back (`download=False` leaves it
        in `self.frame_buffer(...)` only, for presenting it without a round trip through the host).
        A frame larger than one frame buffer (band_pixels()) is rendered band after band; its times
        are summed, as are those of the rounds of a wavefront.

        The frame buffer is reused from one render to the next, so a pixel that a path fails to
        write would keep the previous frame's value. Comparisons of two renders therefore pass
        `poison`, a 32-bit word written over the whole frame first: engine/poison.py POISON_WORD (NaN)
        for float frames, and the two words of POISON_RGBA8 for two 8-bit renders to be compared."""
        check_frame_size(width, height)
        check_kernels(self, kernels)
        total, band = width * height, self.band_pixels(float_frame)
        if total > band and not download:
            raise NgvkError(f"a {width}x{height} frame is larger than one frame buffer: it can only be read back")
        if self._sequence is None:
            self._sequence = self.device.sequence(timestamps_per_pool=1024)
        dtype = np.float32 if float_frame else np.uint8
        pixels = np.empty((total, 4), dtype) if download else None
        timings: dict[str, float] = {}
        frame_ms = 0.0
        for first in range(0, total, band):
            count = min(band, total - first)
            self._sequence.reset()
            frame = None
            for frame in self.record(self._sequence, camera, width, height, kernels, float_frame, poison, first, count):
                self._sequence.run()
                for label, ms in self._sequence.timings().items():
                    timings[label] = timings.get(label, 0.0) + ms
                frame_ms += timings.pop(FRAME, 0.0)
                self._sequence.reset()
            if download:
                pixels[first : first + count] = frame.download(dtype, (count, 4))
        if download:
            pixels = pixels.reshape(height, width, 4)
        return Frame(pixels, timings, frame_ms, kernels, self.network_queries(width, height))

    def close(self) -> None:
        if self._sequence is not None:
            self._sequence.close()
            self._sequence = None
        for buffer in self._frames.values():
            buffer.close()
        self._frames.clear()
