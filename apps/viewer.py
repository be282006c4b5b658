"""`ngvk view`: an interactive window for any app, drawing frames with the same renderer calls as
`ngvk render` and presenting them through a Vulkan swapchain (engine/gpu/present.py).

The viewer knows nothing about what an app renders: it asks the app for its model, renderer,
default camera and render modes, moves the camera with the mouse and keys, and decides the
resolution. Dynamic resolution keeps interaction near a target frame rate (the frame is rendered
smaller and scaled up); once the camera has been still for a moment, one frame is rendered at full
resolution and left on screen, so an idle viewer does not keep the device busy.

Live training (`ngvk view APP --train DATA`): the app's own fit (the generic fit loop, as `ngvk
fit`) runs in the window's thread and calls back after every step; the viewer draws a frame from
that step's parameters whenever a frame is due (one every 1 / target-fps seconds, its resolution
aimed at half of that, so that training keeps the other half), handles keys and pauses there. The
heads-up display (engine/render/hud.py: a compute pass that scales the frame to the window and
draws text over it) shows frame time, resolution, kernel variant, mode, encoding, the training's
step, loss and headline metric, and the last frame time of the fused and unfused kernels: every
COMPARE_EVERY-th frame is drawn with the other of the two (the same image, bit for bit), so that
both stay current.

Camera paths (engine/render/camera_path.py): K adds the current view as a keyframe a second after
the last, J saves the path (instant-ngp's format, atomically) to --path-out, L plays it back in real
time at its frame rate (and stops). `--path FILE` starts from a saved path; a scripted run (`--frames
N`) with one plays it frame by frame, the path's frame i on drawn frame i, so that a screenshot
after N frames is the render of frame N - 1 (`ngvk render --path`'s).
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
  P / Shift+P     screenshot (full resolution PNG in the current folder) / of the window, display and all
  I               heads-up display on / off
  K / J / L       camera path: add the view as a keyframe / save the path (--path-out) / play it
  Space           pause / resume training (--train)
  Ctrl+S          save the model (--train: to --out, atomically; also when training ends or the window closes)
  H               this help
  Esc, Q          quit (Q moves down in 3D apps: quit with Esc there)"""

SETTLE_SECONDS = 0.25  # camera still this long: render once at full resolution
PROGRESSIVE_FRAMES = 64  # a progressive app keeps adding frames while the view is still, up to this many
ORBIT_RADIANS_PER_PIXEL = 0.005
ZOOM_PER_WHEEL_STEP = 1.15
MOVE_FRACTION_PER_SECOND = 0.5  # WASD speed, as a fraction of the distance to look_at
COMPARE_EVERY = 8  # every 8th frame is drawn with the other of fused and unfused, to show both times
DRAW_SHARE = 0.5  # of a frame's period, what drawing aims at while training (training has the rest)


class Viewer:
    def __init__(self, app, model, width: int, height: int, camera=None, target_fps: float = 10.0,
                 mode: str | None = None, print_keys: bool = True, kernels: str = "fused", train: dict | None = None,
                 hud: bool = True, path=None, path_out: str | None = None):
        from ngvk.engine.render.camera_path import CameraPath

        self.app = app
        self.path = path if path is not None else CameraPath()  # keyframes recorded (K) or loaded (--path)
        self.path_out = path_out or f"{app.name}-path.json"
        self.playing = None  # playback's start time (L), or None
        self.scripted_path = path is not None  # a scripted run plays a loaded path frame by frame
        self.model = model
        self.train = train  # cli.py cmd_view(): data, source, encoding, steps, batch_size, seed, out, max_seconds
        self.hud_on = hud
        self.hud = None
        self.renderer = None
        self.paused = False
        self.save_requests = 0
        self.training = {}  # step, loss, metrics, state ("training", "paused", "done", "stopped")
        self.rendered_step = None  # the step whose parameters the renderer holds
        self.variant_ms = {}  # last frame time per kernel variant
        self.frames_drawn = 0
        self.last_draw = 0.0
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
        self.window_screenshot_requests = 0
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
            if mods & glfw.MOD_SHIFT:
                self.window_screenshot_requests += 1
            else:
                self.screenshot_requests += 1
        elif key == glfw.KEY_S and mods & glfw.MOD_CONTROL:
            self.save_requests += 1
        elif key == glfw.KEY_SPACE and self.train:
            self.paused = not self.paused
        elif key == glfw.KEY_I:
            self.hud_on = not self.hud_on
            self.changed()
        elif key == glfw.KEY_K:
            self.path.add(self.camera)
            print(f"keyframe {len(self.path.keyframes)} at {self.path.keyframes[-1].time:g} s", flush=True)
        elif key == glfw.KEY_J:
            self.save_path()
        elif key == glfw.KEY_L:
            if self.playing is None and self.path.keyframes:
                self.playing = time.perf_counter()
            else:
                self.playing = None
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

    def save_path(self) -> None:
        from ngvk.engine.render.camera_path import save_path

        if not self.path.keyframes:
            print("ngvk view: no keyframes to save: K adds the view as one", file=sys.stderr, flush=True)
            return
        try:
            save_path(self.path, self.path_out)
        except NgvkError as error:
            print(f"ngvk view: {error}", file=sys.stderr, flush=True)
            return
        print(f"camera path of {len(self.path.keyframes)} keyframes ({self.path.duration:g} s) written to "
              f"{self.path_out}", flush=True)

    def follow_path(self, now: float) -> None:
        """During playback (L), the camera of the path at the time since it started; at its end,
        playback stops on the last keyframe."""
        if self.playing is None:
            return
        elapsed = now - self.playing
        self.camera = self.path.at(self.path.keyframes[0].time + elapsed)
        if elapsed >= self.path.duration:
            self.playing = None
        self.changed()

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

    def hud_lines(self, render_size) -> list[str]:
        """The heads-up display's text (module docstring)."""
        width, height = self.window_size
        fps = 1000.0 / self.last_frame_ms if self.last_frame_ms > 0 else 0.0
        # The current variant starred; each variant's last frame time ("-": none drawn yet).
        times = " ".join(f"{'*' if k == self.kernels else ''}{k} "
                         f"{f'{self.variant_ms[k]:.0f}' if k in self.variant_ms else '-'}"
                         for k in ("fused", "unfused") if k in self.renderer.kernels)
        encoding = self.model.encoding.encoding if self.model is not None else self.train["encoding"]
        lines = [f"{fps:.1f} fps {self.last_frame_ms:.0f} ms {render_size[0]}x{render_size[1]}/{width}x{height}",
                 f"{times} ms" + ("" if self.kernels in ("fused", "unfused") else f" *{self.kernels}"),
                 f"{self.renderer.mode} {encoding}"]
        if self.train:
            t = self.training
            line = f"{t.get('state', 'starting')} {t.get('step', 0)}/{self.train['steps']}"
            if "loss" in t:
                line += f" loss {t['loss']:.3g}"
            lines.append(line)
            metrics = t.get("metrics") or {}
            headline = next((name for name in self.app.metrics if name in metrics), None)
            if headline:
                lines.append(f"{self.app.metrics[headline].format(metrics[headline])} @{t['metrics_step']}")
            lines.append("Spc pause ^S save I hide H help")
        else:
            lines.append("I hide H help")
        return lines

    def draw(self, window, settle: bool) -> None:
        import glfw

        from ngvk.engine.gpu.present import SwapchainOutOfDate
        from ngvk.engine.render.hud import glyph_scale

        width, height = self.render_resolution(settle)
        options = {}
        if self.app.progressive:  # add to the last frame while the view is still, else start again
            accumulate = settle and self.full_resolution_shown and not self.dirty
            self.accumulated = self.accumulated + 1 if accumulate else 1
            options["accumulate"] = accumulate
        # Every COMPARE_EVERY-th frame, the other of fused and unfused (module docstring).
        kernels = self.kernels
        if self.hud_on and self.frames_drawn % COMPARE_EVERY == COMPARE_EVERY - 1:
            other = "unfused" if kernels != "unfused" else "fused"
            kernels = other if other in self.renderer.kernels else kernels
        frame = self.renderer.render(self.camera, width, height, kernels, download=False, **options)
        self.frames_drawn += 1
        self.variant_ms[kernels] = frame.frame_ms
        if kernels == self.kernels:
            self.last_frame_ms = frame.frame_ms
        if not settle and kernels == self.kernels:
            self.adapt_scale(frame.frame_ms)
        try:
            buffer = self.renderer.frame_buffer(width, height, False)
            if self.hud_on:
                window_width, window_height = self.window_size
                buffer = self.hud.compose(buffer, width, height, window_width, window_height,
                                          self.hud_lines((width, height)), glyph_scale(window_height))
                self.presenter.present(buffer, window_width, window_height)
            else:
                self.presenter.present(buffer, width, height)
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

    def window_screenshot(self, path: str) -> None:
        """The window as shown: the current view at full resolution with the heads-up display."""
        import numpy as np

        from ngvk.apps.imageio import save_png
        from ngvk.engine.render.hud import glyph_scale

        width, height = self.window_size
        self.renderer.render(self.camera, width, height, self.kernels, download=False)
        buffer = self.hud.compose(self.renderer.frame_buffer(width, height, False), width, height, width, height,
                                  self.hud_lines((width, height)), glyph_scale(height))
        save_png(path, buffer.download(np.uint8, (height, width, 4))[..., :3])
        print(f"screenshot {width}x{height} with the display -> {path}", flush=True)

    # ---- the model ----------------------------------------------------------------------------

    def show_model(self, model) -> None:
        """Draw `model` from now on: a renderer of it (the camera, mode and variant kept)."""
        from ngvk.engine.render.frame import check_kernels

        model = self.app.renderable(self.device, model, live=self.train is not None)
        if not self.train or self.renderer is None:  # live training: every snapshot has the same data
            self.reference = self.app.load_reference(model)
        renderer = self.app.renderer(self.device, model, self.reference)
        mode = self.renderer.mode if self.renderer is not None else self.initial_mode
        if self.renderer is not None:
            self.renderer.close()
        self.renderer, self.model = renderer, model
        if self.camera is None:
            self.camera = self.initial_camera or self.renderer.default_camera(*self.size)
        if mode:
            self.renderer.set_mode(mode)
        check_kernels(self.renderer, self.kernels)

    def save(self, model) -> None:
        model = self.app.renderable(self.device, model)  # what `render` needs, at full quality
        model.save(self.train["out"])  # atomically (engine/model.py)
        print(f"model of step {model.training.get('steps', self.training.get('step'))} written to "
              f"{self.train['out']}", flush=True)

    # ---- the loop -----------------------------------------------------------------------------

    def run(self, frames: int | None = None, screenshot: str | None = None, resize=None,
            display_screenshot: str | None = None) -> int:
        """Until the window closes, or for `frames` frames (then write `screenshot` and
        `display_screenshot`, the window with its display, if given). `resize` (width, height)
        resizes the window halfway through a scripted run."""
        import glfw

        from ngvk.engine.gpu.device import Device
        from ngvk.engine.gpu.present import SWAPCHAIN_EXTENSION, Presenter, required_instance_extensions
        from ngvk.engine.render.hud import Hud

        window = self.open_window()
        self.camera = None
        try:
            with Device(instance_extensions=required_instance_extensions(), device_extensions=[SWAPCHAIN_EXTENSION]) as device:
                self.device = device
                self.presenter = Presenter(device, window)
                self.hud = Hud(device)
                try:
                    self.window_size = self.presenter.size
                    if self.print_keys:
                        print(f"ngvk view {self.app.name} on {device.info.name}; keys:\n{KEYS}", flush=True)
                    if self.train:
                        drawn = self.train_live(window)
                        if self.training["state"] == "done" and (frames is None or drawn < frames):
                            self.loop(window, None if frames is None else frames - drawn, resize)
                    else:
                        self.show_model(self.model)
                        self.loop(window, frames, resize)
                    if screenshot:
                        self.screenshot(screenshot)
                    if display_screenshot:
                        self.window_screenshot(display_screenshot)
                finally:
                    if self.renderer is not None:
                        self.renderer.close()
                    self.hud.close()
                    self.presenter.close()
        finally:
            glfw.destroy_window(window)
            glfw.terminate()
        return 0

    def service(self, window) -> float:
        """Events, flying, path playback, resizes and screenshot requests between frames; returns the
        time."""
        import glfw

        glfw.poll_events()
        now = time.perf_counter()
        self.follow_path(now)
        self.move_with_keys(window, now - self.previous)
        self.previous = now
        size = tuple(glfw.get_framebuffer_size(window))
        if size != self.window_size and 0 not in size:
            self.window_size = self.presenter.resize()
            self.changed()
        if self.renderer is not None:
            while self.screenshot_requests:
                self.screenshot_requests -= 1
                self.screenshot(f"ngvk-{self.app.name}-{time.strftime('%Y%m%d-%H%M%S')}.png")
            while self.window_screenshot_requests:
                self.window_screenshot_requests -= 1
                self.window_screenshot(f"ngvk-{self.app.name}-{time.strftime('%Y%m%d-%H%M%S')}-display.png")
        return now

    def train_live(self, window) -> int:
        """The app's fit with a frame drawn between steps when one is due (module docstring: with
        --target-fps 0, after every step). Saves the model to --out at the end, and on a quit or
        Ctrl-C, which end training. Prints each evaluation of the app's metrics and, at the end,
        the frames drawn while training. Returns how many."""
        import glfw

        from ngvk.engine.fit import COMPLETED, TIME_BUDGET

        train = self.train
        period_ms = self.target_ms  # a frame's period (0: a frame after every step); drawing aims at a share
        self.target_ms = period_ms * DRAW_SHARE
        self.previous = start = time.perf_counter()
        drawn, frame_ms = 0, []
        steps_span = [0.0, 0.0]  # the times of the first and the latest step: the frame rate while training

        def live(step, loss, metrics, model):
            nonlocal drawn
            steps_span[1] = time.perf_counter()
            steps_span[0] = steps_span[0] or steps_span[1]
            self.training.update(step=step, loss=loss, state="paused" if self.paused else "training")
            if metrics:
                self.training.update(metrics=metrics, metrics_step=step)
                print(f"step {step}, {time.perf_counter() - start:.1f} s: {self.app.format_metrics(metrics)}",
                      flush=True)
            while True:
                now = self.service(window)
                if self.quit or glfw.window_should_close(window):
                    raise KeyboardInterrupt
                if self.save_requests:
                    self.save_requests = 0
                    self.save(model())
                self.training["state"] = "paused" if self.paused else "training"
                due = (now - self.last_draw) * 1000.0 >= period_ms
                if due or self.dirty or self.rendered_step is None:
                    if self.rendered_step != step:
                        self.show_model(model())
                        self.rendered_step = step
                    self.last_draw = now
                    self.draw(window, settle=False)
                    drawn += 1
                    frame_ms.append(self.last_frame_ms)
                if not self.paused:
                    return
                glfw.wait_events_timeout(0.02)

        result = self.app.fit(self.device, train["data"], train["encoding"], steps=train["steps"],
                              batch_size=train["batch_size"], seed=train["seed"], source=train["source"],
                              max_seconds=train["max_seconds"], live=live,
                              initial=train.get("initial"))
        if frame_ms:
            # From the first step to the last: the data's set-up and the last evaluation draw nothing.
            seconds = steps_span[1] - steps_span[0] if steps_span[1] > steps_span[0] else time.perf_counter() - start
            print(f"drew {drawn} frames in {seconds:.1f} s from the first step to the last ({drawn / seconds:.2f} "
                  f"frames/s), median frame {sorted(frame_ms)[len(frame_ms) // 2]:.1f} ms", flush=True)

        done = result.stopped in (COMPLETED, TIME_BUDGET)
        self.training.update(state="done" if done else "stopped", step=result.steps, metrics=result.metrics,
                             metrics_step=result.steps)
        self.save(result.model)
        self.show_model(result.model)
        self.target_ms = period_ms
        self.changed()
        if done:
            print(f"trained {result.steps} steps in {result.seconds:.1f} s: {self.app.format_metrics(result.metrics)}",
                  flush=True)
        return drawn

    def loop(self, window, frames: int | None, resize) -> None:
        import glfw

        drawn = 0
        self.previous = time.perf_counter()
        while not self.quit and not glfw.window_should_close(window):
            if frames is not None and drawn >= frames:
                break
            if frames is not None and resize and drawn == frames // 2:
                glfw.set_window_size(window, *resize)
            size = tuple(glfw.get_framebuffer_size(window))
            if 0 in size:  # minimised: nothing to present to until it comes back
                glfw.wait_events_timeout(0.1)
                continue
            now = self.service(window)
            if frames is not None and self.scripted_path:
                self.camera = self.path.at(self.path.frame_times()[min(drawn, self.path.frame_count() - 1)])
                self.changed()
            while self.save_requests:
                self.save_requests = 0
                if self.train:
                    self.save(self.model)
            settle = now - self.last_change >= SETTLE_SECONDS
            converging = self.app.progressive and settle and self.accumulated < PROGRESSIVE_FRAMES
            if frames is not None or self.dirty or (settle and not self.full_resolution_shown) or converging:
                self.draw(window, settle)
                drawn += 1
            else:
                glfw.wait_events_timeout(0.05)


def view(app_name: str, model_path=None, width: int | None = None, height: int | None = None, camera_path=None,
         frames: int | None = None, screenshot: str | None = None, target_fps: float = 10.0,
         mode: str | None = None, resize=None, kernels: str = "fused", train: dict | None = None,
         hud: bool = True, display_screenshot: str | None = None, path=None, path_out: str | None = None) -> int:
    """`ngvk view`: open the viewer for `app_name` (with `train`, training a model live: cli.py
    cmd_view(); with `path`, a CameraPath to play)."""
    from ngvk.engine.render.camera import load_camera

    from ngvk.apps import get_app

    app = get_app(app_name)
    model = None if train else app.load_model(model_path)
    camera = load_camera(camera_path) if camera_path else None
    default_width, default_height = app.default_resolution(model) if model else app.data_resolution(train["data"])
    width = width or default_width
    height = height or default_height
    if width < 1 or height < 1:
        raise NgvkError(f"window size {width}x{height}: width and height must be at least 1")
    if frames is not None and frames < 1:
        raise NgvkError("--frames must be at least 1")
    viewer = Viewer(app, model, width, height, camera, target_fps, mode, print_keys=frames is None, kernels=kernels,
                    train=train, hud=hud, path=path, path_out=path_out)
    return viewer.run(frames, screenshot, resize, display_screenshot)
