"""`ngvk view`: an interactive window for any app, drawing frames with the same renderer calls as
`ngvk render` and presenting them through a Vulkan swapchain (engine/gpu/present.py).

The viewer knows nothing about what an app renders: it asks the app for its model, renderer,
default camera and render modes, moves the camera with the mouse and keys, and decides the
resolution. Dynamic resolution keeps interaction near a target frame rate (the frame is rendered
smaller and scaled up); once the camera has been still for a moment, one frame is rendered at full
resolution and left on screen, so an idle viewer does not keep the device busy.
"""

from __future__ import annotations

import math
import os
import sys
import time

from ngvk.engine.errors import NgvkError
from ngvk.engine.render.frame import check_kernels

KEYS = """\
  mouse: left drag orbits, right or middle drag pans, wheel zooms
  W A S D / Q E   move forward, left, back, right / down, up (3D apps)
  1 2 3 ...       render modes
  F               the next kernel variant (fused, wavefront, prepost, unfused: those the app has)
  R               reset the camera
  P               screenshot (full resolution PNG in the current folder)
  H               this help
  Esc, Q          quit (Q moves down in 3D apps: quit with Esc there)"""

SETTLE_SECONDS = 0.25  # camera still this long: render once at full resolution
PROGRESSIVE_FRAMES = 64  # a progressive app keeps adding frames while the view is still, up to this many
ORBIT_RADIANS_PER_PIXEL = 0.005
ZOOM_PER_WHEEL_STEP = 1.15
MOVE_FRACTION_PER_SECOND = 0.5  # WASD speed, as a fraction of the distance to look_at


class Viewer:
    def __init__(self, app, model, width: int, height: int, camera=None, target_fps: float = 10.0,
                 mode: str | None = None, print_keys: bool = True, kernels: str = "fused"):
        self.app = app
        self.model = model
        self.size = (width, height)
        self.initial_camera = camera
        self.target_ms = 1000.0 / target_fps if target_fps > 0 else 0.0
        self.initial_mode = mode
        self.print_keys = print_keys
        self.kernels = kernels
        self.scale = 1.0  # render resolution / window resolution
        self.buttons: set[int] = set()
        self.cursor = None
        self.last_change = time.perf_counter()
        self.dirty = True
        self.full_resolution_shown = False
        self.quit = False
        self.screenshot_requests = 0
        self.last_frame_ms = 0.0
        self.accumulated = 0  # frames in the image of a progressive app

    # ---- set-up -------------------------------------------------------------------------------

    def open_window(self):
        import glfw

        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise NgvkError("no display to open a window on (DISPLAY is not set): use `ngvk render` to render headless")
        errors = []
        glfw.set_error_callback(lambda code, message: errors.append(message.decode() if isinstance(message, bytes) else message))
        if not glfw.init():
            raise NgvkError(
                f"cannot open a window ({errors[-1] if errors else 'GLFW failed to start'}): "
                "use `ngvk render` to render headless"
            )
        if not glfw.vulkan_supported():
            glfw.terminate()
            raise NgvkError("GLFW finds no Vulkan loader for windows: install libvulkan1, or use `ngvk render`")
        glfw.window_hint(glfw.CLIENT_API, glfw.NO_API)
        glfw.window_hint(glfw.RESIZABLE, glfw.TRUE)
        window = glfw.create_window(self.size[0], self.size[1], f"ngvk view {self.app.name}", None, None)
        if not window:
            glfw.terminate()
            raise NgvkError(f"cannot create a window ({errors[-1] if errors else 'unknown reason'}): use `ngvk render`")
        glfw.set_mouse_button_callback(window, self.on_mouse_button)
        glfw.set_cursor_pos_callback(window, self.on_cursor)
        glfw.set_scroll_callback(window, self.on_scroll)
        glfw.set_key_callback(window, self.on_key)
        return window

    # ---- input --------------------------------------------------------------------------------

    def changed(self) -> None:
        self.dirty = True
        self.full_resolution_shown = False
        self.last_change = time.perf_counter()

    def on_mouse_button(self, window, button, action, mods) -> None:
        import glfw

        if action == glfw.PRESS:
            self.buttons.add(button)
        elif action == glfw.RELEASE:
            self.buttons.discard(button)

    def on_cursor(self, window, x, y) -> None:
        import glfw

        previous, self.cursor = self.cursor, (x, y)
        if previous is None or not self.buttons:
            return
        dx, dy = x - previous[0], y - previous[1]
        width, height = self.window_size
        if glfw.MOUSE_BUTTON_LEFT in self.buttons:
            self.camera = self.camera.orbit(-dx * ORBIT_RADIANS_PER_PIXEL, dy * ORBIT_RADIANS_PER_PIXEL)
        else:
            self.camera = self.camera.pan(-dx / width, dy / height, width, height)
        self.changed()

    def on_scroll(self, window, dx, dy) -> None:
        self.camera = self.camera.zoom(ZOOM_PER_WHEEL_STEP**dy)
        self.changed()

    def on_key(self, window, key, scancode, action, mods) -> None:
        import glfw

        if action != glfw.PRESS:
            return
        moves_in_3d = self.app.moves_in_3d
        if key == glfw.KEY_ESCAPE or (key == glfw.KEY_Q and not moves_in_3d):
            self.quit = True
        elif key == glfw.KEY_R:
            self.camera = self.renderer.default_camera(*self.window_size)
            self.changed()
        elif key == glfw.KEY_F:
            variants = self.renderer.kernels
            self.kernels = variants[(variants.index(self.kernels) + 1) % len(variants)]
            self.changed()
        elif key == glfw.KEY_P:
            self.screenshot_requests += 1
        elif key == glfw.KEY_H:
            print(KEYS, flush=True)
        elif glfw.KEY_1 <= key <= glfw.KEY_9:
            index = key - glfw.KEY_1
            modes = self.renderer.modes
            if index < len(modes):
                try:
                    self.renderer.set_mode(modes[index])
                    self.changed()
                except NgvkError as error:
                    print(f"ngvk view: {error}", file=sys.stderr, flush=True)

    def move_with_keys(self, window, seconds: float) -> None:
        """WASD/QE flying for apps with a 3D scene."""
        import glfw

        if not self.app.moves_in_3d:
            return
        held = {k: glfw.get_key(window, k) == glfw.PRESS for k in (glfw.KEY_W, glfw.KEY_A, glfw.KEY_S, glfw.KEY_D, glfw.KEY_Q, glfw.KEY_E)}
        forward = held[glfw.KEY_W] - held[glfw.KEY_S]
        right = held[glfw.KEY_D] - held[glfw.KEY_A]
        up = held[glfw.KEY_E] - held[glfw.KEY_Q]
        if forward or right or up:
            distance = math.dist(self.camera.position, self.camera.look_at)
            step = MOVE_FRACTION_PER_SECOND * distance * seconds
            self.camera = self.camera.move(forward * step, right * step, up * step)
            self.changed()

    # ---- frames -------------------------------------------------------------------------------

    def render_resolution(self, settle: bool) -> tuple[int, int]:
        width, height = self.window_size
        scale = 1.0 if settle else self.scale
        return max(1, round(width * scale)), max(1, round(height * scale))

    def adapt_scale(self, frame_ms: float) -> None:
        """Aim the next interactive frame at the target frame time: pixels scale with time."""
        if self.target_ms <= 0 or frame_ms <= 0:
            return
        wanted = self.scale * math.sqrt(self.target_ms / frame_ms)
        self.scale = min(1.0, max(0.1, 0.5 * self.scale + 0.5 * wanted))

    def title(self, render_size) -> str:
        width, height = self.window_size
        return (
            f"ngvk view {self.app.name} | {self.renderer.mode} | {self.kernels} | "
            f"{render_size[0]}x{render_size[1]} of {width}x{height} | {self.last_frame_ms:.1f} ms | H: help"
        )

    def draw(self, window, settle: bool) -> None:
        import glfw

        from ngvk.engine.gpu.present import SwapchainOutOfDate

        width, height = self.render_resolution(settle)
        options = {}
        if self.app.progressive:  # add to the last frame while the view is still, else start again
            accumulate = settle and self.full_resolution_shown and not self.dirty
            self.accumulated = self.accumulated + 1 if accumulate else 1
            options["accumulate"] = accumulate
        frame = self.renderer.render(self.camera, width, height, self.kernels, download=False, **options)
        self.last_frame_ms = frame.frame_ms
        if not settle:
            self.adapt_scale(frame.frame_ms)
        try:
            self.presenter.present(self.renderer.frame_buffer(width, height, False), width, height)
        except SwapchainOutOfDate:
            self.window_size = self.presenter.resize()
            self.dirty = True
            return
        self.dirty = False
        self.full_resolution_shown = (width, height) == self.window_size
        glfw.set_window_title(window, self.title((width, height)))

    def screenshot(self, path: str) -> None:
        """The current view at the window's full resolution, through `ngvk render`'s path."""
        from ngvk.apps.imageio import save_png

        width, height = self.window_size
        frame = self.renderer.render(self.camera, width, height, self.kernels)
        save_png(path, frame.rgb)
        print(f"screenshot {width}x{height} -> {path}", flush=True)

    # ---- the loop -----------------------------------------------------------------------------

    def run(self, frames: int | None = None, screenshot: str | None = None, resize=None) -> int:
        """Until the window closes, or for `frames` frames (then write `screenshot`, if given).
        `resize` (width, height) resizes the window halfway through a scripted run."""
        import glfw

        from ngvk.engine.gpu.device import Device
        from ngvk.engine.gpu.present import SWAPCHAIN_EXTENSION, Presenter, required_instance_extensions

        window = self.open_window()
        try:
            with Device(instance_extensions=required_instance_extensions(), device_extensions=[SWAPCHAIN_EXTENSION]) as device:
                self.presenter = Presenter(device, window)
                reference = self.app.load_reference(self.model)
                self.renderer = self.app.renderer(device, self.model, reference)
                try:
                    self.window_size = self.presenter.size
                    self.camera = self.initial_camera or self.renderer.default_camera(*self.size)
                    if self.initial_mode:
                        self.renderer.set_mode(self.initial_mode)
                    check_kernels(self.renderer, self.kernels)
                    if self.print_keys:
                        print(f"ngvk view {self.app.name} on {device.info.name}; keys:\n{KEYS}", flush=True)
                    self.loop(window, frames, resize)
                    if screenshot:
                        self.screenshot(screenshot)
                finally:
                    self.renderer.close()
                    self.presenter.close()
        finally:
            glfw.destroy_window(window)
            glfw.terminate()
        return 0

    def loop(self, window, frames: int | None, resize) -> None:
        import glfw

        drawn = 0
        previous = time.perf_counter()
        while not self.quit and not glfw.window_should_close(window):
            if frames is not None and drawn >= frames:
                break
            if frames is not None and resize and drawn == frames // 2:
                glfw.set_window_size(window, *resize)
            glfw.poll_events()
            now = time.perf_counter()
            self.move_with_keys(window, now - previous)
            previous = now
            size = tuple(glfw.get_framebuffer_size(window))
            if size != self.window_size:
                if 0 in size:  # minimised: nothing to present to until it comes back
                    glfw.wait_events_timeout(0.1)
                    continue
                self.window_size = self.presenter.resize()
                self.changed()
            while self.screenshot_requests:
                self.screenshot_requests -= 1
                self.screenshot(f"ngvk-{self.app.name}-{time.strftime('%Y%m%d-%H%M%S')}.png")
            settle = now - self.last_change >= SETTLE_SECONDS
            converging = self.app.progressive and settle and self.accumulated < PROGRESSIVE_FRAMES
            if frames is not None or self.dirty or (settle and not self.full_resolution_shown) or converging:
                self.draw(window, settle)
                drawn += 1
            else:
                glfw.wait_events_timeout(0.05)


def view(app_name: str, model_path=None, width: int | None = None, height: int | None = None, camera_path=None,
         frames: int | None = None, screenshot: str | None = None, target_fps: float = 10.0,
         mode: str | None = None, resize=None, kernels: str = "fused") -> int:
    """`ngvk view`: open the viewer for `app_name`."""
    from ngvk.engine.render.camera import load_camera

    from ngvk.apps import get_app

    app = get_app(app_name)
    model = app.load_model(model_path)
    camera = load_camera(camera_path) if camera_path else None
    default_width, default_height = app.default_resolution(model)
    width = width or default_width
    height = height or default_height
    if width < 1 or height < 1:
        raise NgvkError(f"window size {width}x{height}: width and height must be at least 1")
    if frames is not None and frames < 1:
        raise NgvkError("--frames must be at least 1")
    viewer = Viewer(app, model, width, height, camera, target_fps, mode, print_keys=frames is None, kernels=kernels)
    return viewer.run(frames, screenshot, resize)
