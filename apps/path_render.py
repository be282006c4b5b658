"""`ngvk render APP --path PATH.json --out DIR`: every frame of a camera path as a PNG, in this process
or spread over Ray actors, resumable, and optionally encoded into a video.

Frames are DIR/frame_00000.png on, each written atomically (engine/files.py) by this process, the
driver, once. DIR/render.json records what they are frames of (app, model, path, size, kernels, app
options); a rerun with the same record renders only the frames whose file is missing or does not
read back as a PNG of the frame's size (a render killed mid-path resumes), and one with another
record is refused before any work.

Every frame is rendered by a FrameWorker: one Vulkan device, the model loaded once, the app's
renderer, the frame encoded as PNG where it was rendered. Without workers the driver runs one itself.
With `workers` (a local Ray cluster started here) or `address` (an existing one), each Ray actor runs
one: on CPU nodes lavapipe with LP_NUM_THREADS set to the actor's CPUs, on GPU nodes the GPU Ray
assigns (NGVK_DEVICE=gpu:K, Ray's node-local GPU id K as the K-th GPU in Vulkan's order, which is
CUDA's where the node's GPUs are alike; with one GPU per node they are the same). On a cluster
with GPUs there is an actor per GPU, else one per `threads` CPUs.
The driver keeps two frames in flight per actor (one rendering, one travelling back) and hands out the
rest as results come in; an actor that dies costs its frames nothing: they go back to the queue for
the others, and a frame already written is never written again. Frames are the same bytes whichever
process renders them (tests/test_path_render.py).

The video (`--video OUT.mp4`) is H.264 through PyAV (libav's own Python bindings; its wheels carry
FFmpeg with libx264, so nothing comes from the system), read from the frame files so that a resumed
render encodes the whole path.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import tempfile
import time
from collections import deque
from fractions import Fraction
from pathlib import Path

import numpy as np

from ngvk.engine.errors import NgvkError
from ngvk.engine.files import write_atomically

FRAME_NAME = "frame_{:05d}.png"
RECORD_NAME = "render.json"
IN_FLIGHT = 2  # frames per actor: one rendering, one on its way back
VIDEO_CRF = 18  # x264's constant-rate factor: visually lossless for renders
CONNECT_TIMEOUT_S = 5.0


def frame_file(out_dir: Path, index: int) -> Path:
    return Path(out_dir) / FRAME_NAME.format(index)


def encode_png(rgb: np.ndarray) -> bytes:
    """The PNG bytes of uint8 [H, W, 3 or 4] (Pillow, default settings: the same bytes for the same
    pixels in every process)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="PNG")
    return buffer.getvalue()


def frame_is_complete(file: Path, width: int, height: int) -> bool:
    """Whether `file` reads back whole as a PNG of width x height."""
    from PIL import Image

    try:
        with Image.open(file) as image:
            if image.format != "PNG" or image.size != (width, height):
                return False
            image.load()
        return True
    except (OSError, ValueError, SyntaxError):
        return False


class FrameWorker:
    """One device rendering one model's frames (module docstring): in the driver, or as a Ray actor."""

    def __init__(self, app_name: str, model_bytes: bytes, app_options: dict, width: int, height: int,
                 kernels: str, mode: str | None, threads: int | None = None):
        import argparse

        if threads:
            os.environ["LP_NUM_THREADS"] = str(threads)  # read when the device is made, below
        gpu = _ray_gpu()
        if gpu is not None:
            os.environ["NGVK_DEVICE"] = f"gpu:{gpu}"
        from ngvk.apps import get_app
        from ngvk.engine.gpu.device import Device

        self.app = get_app(app_name)
        self.app.apply_arguments(argparse.Namespace(**app_options))
        handle, name = tempfile.mkstemp(suffix=".npz")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(model_bytes)
            model = self.app.load_model(name)
        finally:
            os.unlink(name)
        self.width, self.height, self.kernels, self.prepared = width, height, kernels, False
        self.device = Device()
        self.renderer = self.app.renderer(self.device, model, self.app.load_reference(model) if mode else None)
        if mode:
            self.renderer.set_mode(mode)

    def render(self, index: int, camera: dict, extras: dict | None = None) -> tuple[int, bytes, float]:
        """(index, the frame as PNG bytes, its GPU time in ms); `extras`: the path's per-frame
        numbers for the app (App.path_extras)."""
        from ngvk.engine.render.camera import Camera

        camera = Camera(**camera)
        if extras:
            self.app.apply_path_extras(self.renderer, extras)
        if not self.prepared:
            self.renderer.prepare(camera, self.kernels)
            self.prepared = True
        frame = self.renderer.render(camera, self.width, self.height, self.kernels)
        return index, encode_png(frame.rgb), frame.frame_ms

    def device_name(self) -> str:
        return self.device.info.name

    def close(self) -> None:
        self.renderer.close()
        self.device.close()


def _ray_gpu() -> int | None:
    """The GPU Ray gave this actor, or None (not in Ray, or a CPU actor)."""
    try:
        import ray

        if not ray.is_initialized():
            return None
        ids = ray.get_gpu_ids()
    except Exception:  # noqa: BLE001 - outside Ray there is no GPU to take
        return None
    return int(ids[0]) if ids else None


def render_record(app_name: str, model_bytes: bytes, cameras: list[dict], width: int, height: int, kernels: str,
                  mode: str | None, app_options: dict, extras: list[dict] | None = None) -> dict:
    """What DIR/render.json says its frames are."""
    frames = cameras if not extras else [[c, e] for c, e in zip(cameras, extras)]
    path_hash = hashlib.sha256(json.dumps(frames, sort_keys=True).encode()).hexdigest()
    return {"app": app_name, "model_sha256": hashlib.sha256(model_bytes).hexdigest(), "path_sha256": path_hash,
            "frames": len(cameras), "width": width, "height": height, "kernels": kernels, "mode": mode,
            "app_options": app_options}


def prepare_folder(out_dir: Path, record: dict) -> list[int]:
    """Check (or start) DIR's record and return the frames still to render; leftovers of a killed
    write (hidden temporary files) are removed."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NgvkError(f"--out {out_dir} is a file: give a folder for the path's frames")
    if not out_dir.parent.is_dir():
        raise NgvkError(f"cannot write {out_dir}: folder {out_dir.parent} does not exist")
    out_dir.mkdir(exist_ok=True)
    record_file = out_dir / RECORD_NAME
    if record_file.exists():
        try:
            old = json.loads(record_file.read_text())
        except (OSError, ValueError):
            old = None
        if old != json.loads(json.dumps(record)):
            raise NgvkError(f"{out_dir} holds the frames of another render ({RECORD_NAME} differs): give another "
                            "--out or empty it")
    elif any(out_dir.glob("frame_*.png")):
        raise NgvkError(f"{out_dir} holds frames but no {RECORD_NAME}: give another --out or empty it")
    else:
        text = json.dumps(record, indent=1) + "\n"
        write_atomically(record_file, lambda temporary: Path(temporary).write_text(text))
    for leftover in out_dir.glob(".frame_*.png"):
        leftover.unlink()
    return [i for i in range(record["frames"])
            if not frame_is_complete(frame_file(out_dir, i), record["width"], record["height"])]


def _write_frame(out_dir: Path, index: int, png: bytes) -> None:
    write_atomically(frame_file(out_dir, index), lambda temporary: Path(temporary).write_bytes(png))


def render_frames(app_name: str, model_bytes: bytes, cameras: list[dict], out_dir: Path, width: int, height: int,
                  kernels: str = "fused", mode: str | None = None, app_options: dict | None = None,
                  workers: int = 0, address: str | None = None, threads: int | None = None, progress=None,
                  on_frame=None, extras: list[dict] | None = None) -> dict:
    """Render the frames of `cameras` (Camera fields each; `extras`, each frame's App.path_extras
    values, where the path has them) not yet in `out_dir`: in this process, or
    on `workers` Ray actors of a local cluster, or on an existing one at `address` (one actor per
    `threads` CPUs of it). `progress(done, total)` after each frame written; `on_frame(index,
    actors)` too (tests kill an actor there). Returns what happened: frames rendered and skipped,
    seconds, workers, devices."""
    app_options = dict(app_options or {})
    record = render_record(app_name, model_bytes, cameras, width, height, kernels, mode, app_options, extras)
    extras = extras or [{}] * len(cameras)
    pending = prepare_folder(Path(out_dir), record)
    total, skipped = len(cameras), len(cameras) - len(pending)
    start = time.perf_counter()
    result = {"frames": total, "skipped": skipped, "rendered": 0, "workers": max(1, workers), "devices": [],
              "worker_deaths": 0}
    if not pending:
        result["seconds"] = 0.0
        return result
    if progress:
        progress(skipped, total)
    if workers or address:
        _render_on_ray(app_name, model_bytes, cameras, extras, Path(out_dir), pending, width, height, kernels, mode,
                       app_options, workers, address, threads, progress, on_frame, result, skipped)
    else:
        worker = FrameWorker(app_name, model_bytes, app_options, width, height, kernels, mode)
        try:
            result["devices"] = [worker.device_name()]
            for n, index in enumerate(pending, 1):
                _, png, _ = worker.render(index, cameras[index], extras[index])
                _write_frame(Path(out_dir), index, png)
                result["rendered"] += 1
                if progress:
                    progress(skipped + n, total)
                if on_frame:
                    on_frame(index, [])
        finally:
            worker.close()
    result["seconds"] = time.perf_counter() - start
    return result


def _import_ray():
    try:
        import ray
    except ImportError:
        raise NgvkError("--workers and --ray-address need Ray: pip install 'ngvk[ray]'") from None
    return ray


def check_address(address: str) -> None:
    """A one-line error now when nothing listens at a Ray address (ray.init would wait a minute)."""
    if address == "auto":
        return
    host_port = address.split("://", 1)[-1].rstrip("/")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise NgvkError(f"--ray-address {address!r}: give HOST:PORT (a Ray head's GCS, e.g. 10.0.0.1:6379), "
                        "ray://HOST:PORT or auto")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise NgvkError(f"cannot reach the Ray cluster at {address} ({error.strerror or error}): start it with "
                        "`ray start --head` there, or drop --ray-address to render here") from None


def _render_on_ray(app_name, model_bytes, cameras, extras, out_dir, pending, width, height, kernels, mode, app_options,
                   workers, address, threads, progress, on_frame, result, skipped):
    ray = _import_ray()
    from ray.exceptions import RayActorError, RayTaskError

    started_here = not ray.is_initialized()
    if started_here:
        if address:
            check_address(address)
            try:
                ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise NgvkError(f"cannot join the Ray cluster at {address}: {str(error).splitlines()[0]}") from None
        else:
            ray.init(num_cpus=workers * (threads or 1), include_dashboard=False, log_to_driver=False,
                     logging_level="ERROR")
    try:
        threads = threads or 1
        gpus = int(ray.cluster_resources().get("GPU", 0))
        if not workers:  # an existing cluster: an actor per GPU, else per `threads` of its CPUs
            workers = gpus or max(1, int(ray.cluster_resources().get("CPU", 1)) // threads)
        result["workers"] = workers
        actor_class = ray.remote(FrameWorker)
        options = {"num_cpus": threads, "num_gpus": 1 if gpus >= workers else 0, "max_restarts": 0}
        model_ref = ray.put(model_bytes)
        actors = [actor_class.options(**options).remote(app_name, model_ref, app_options, width, height, kernels,
                                                         mode, threads) for _ in range(workers)]
        queue, in_flight, written = deque(pending), {}, set()
        load = {actor: 0 for actor in actors}
        live = set(actors)
        last_error = ""

        def hand_out():
            for actor in list(live):
                while load[actor] < IN_FLIGHT and queue:
                    index = queue.popleft()
                    in_flight[actor.render.remote(index, cameras[index], extras[index])] = (actor, index)
                    load[actor] += 1

        hand_out()
        while in_flight:
            [ref], _ = ray.wait(list(in_flight), num_returns=1)
            actor, index = in_flight.pop(ref)
            load[actor] -= 1
            try:
                _, png, _ = ray.get(ref)
            except (RayActorError, RayTaskError) as error:
                # The actor died (or failed): the frame goes back to the queue for the others.
                if actor in live:
                    live.discard(actor)
                    result["worker_deaths"] += 1
                last_error = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
                if index not in written:
                    queue.appendleft(index)
                if not live:
                    raise NgvkError(f"every Ray worker stopped before the path was rendered ({last_error}); "
                                    f"{len(written)} frames written, rerun to resume") from None
                hand_out()
                continue
            if index not in written:
                _write_frame(out_dir, index, png)
                written.add(index)
                result["rendered"] += 1
                if progress:
                    progress(skipped + len(written), len(cameras))
                if on_frame:
                    on_frame(index, actors)
            hand_out()
        result["devices"] = sorted(set(ray.get([a.device_name.remote() for a in live]))) if live else []
        for actor in live:
            ray.kill(actor)
    finally:
        if started_here:
            ray.shutdown()


def encode_video(out_dir: Path, frames: int, fps: float, video: str | Path) -> None:
    """H.264 of the frame files, atomically."""
    try:
        import av
    except ImportError:
        raise NgvkError("--video needs PyAV: pip install 'ngvk[video]'") from None
    from PIL import Image

    rate = Fraction(fps).limit_denominator(1001)

    def write(temporary):
        with av.open(temporary, mode="w", format="mp4") as container:
            stream = None
            for index in range(frames):
                with Image.open(frame_file(out_dir, index)) as image:
                    rgb = np.asarray(image.convert("RGB"))
                if stream is None:
                    stream = container.add_stream("libx264", rate=rate)
                    stream.width, stream.height = rgb.shape[1], rgb.shape[0]
                    stream.pix_fmt = "yuv420p"
                    stream.options = {"crf": str(VIDEO_CRF)}
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)

    write_atomically(video, write)
