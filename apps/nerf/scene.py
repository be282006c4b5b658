"""The NeRF app's procedural datasets (`ngvk dataset nerf NAME`): a scene of analytic shapes rendered
from many viewpoints by a NumPy sphere tracer, written in the NeRF synthetic format that data.py
reads.

A scene is a few parts, each a signed distance (apps/sdf/shapes.py's primitives) with a procedural
albedo, in the data's units around the origin but with ngvk's axes (y up); the data's world of the
written JSON is z up (Blender's), and the two are related by data.DATA_TO_NGVK. The parts fit in
the box of half-width 1.5 (the tabletop in a radius of about 1.2; the spheres' floor reaches 1.45),
so after the loader's scale (0.33) and offset (0.5) they sit inside the unit cube, where apps/sdf/tracing.py's marcher (unit-cube entry, steps, tetrahedron
normals) traces them unchanged. Shading is diffuse under one fixed light with shadows, baked into
the colours (nothing depends on the view); rays that miss leave alpha 0. Each pixel averages
SUPERSAMPLING x SUPERSAMPLING rays, colour premultiplied by coverage in linear light, so alpha is
fractional at edges and thin parts come out as faint lines rather than broken dashes.

Cameras sit on a sphere of CAMERA_DISTANCE around the origin looking at it, z up, with the lego
scene's camera_angle_x: the train views on a Fibonacci spiral over the elevations ELEVATIONS (the
upper hemisphere and a little below), evenly spread, its start turned by the seed; the val and test
views at random points of the same band (max(2, views // 10) each), drawn from the seed. The same
seed writes the same files.

Writing is all or nothing: a temporary folder beside `out`, renamed to it at the end.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ngvk.apps.imageio import save_png
from ngvk.apps.nerf.data import DEFAULT_OFFSET, DEFAULT_SCALE, data_to_scene
from ngvk.apps.sdf import shapes, tracing
from ngvk.engine.errors import NgvkError
from ngvk.engine.nn.reference import linear_to_srgb
from ngvk.engine.render.camera import Camera

CAMERA_ANGLE_X = 0.6911112070083618  # the NeRF synthetic lego scene's horizontal field of view
CAMERA_DISTANCE = 4.0
ELEVATIONS = (math.radians(-15.0), math.radians(80.0))  # of the cameras, above the data's x-y plane
SUPERSAMPLING = 2  # rays per pixel along each axis
LIGHT = np.array([0.45, 0.8, 0.4]) / np.linalg.norm([0.45, 0.8, 0.4])  # toward the light, y up
AMBIENT = 0.3
SHADOW_OFFSET = 2e-3  # the shadow ray starts this far off the surface (unit-cube units), as in the SDF app
GRAZING = 1e-3  # unit-cube units (a quarter of a ray's spacing at 128 pixels): see _trace()
NEAR = 0.05  # data units: Scene.distance() is exact this close to a part's bounding sphere
RAYS_PER_BATCH = 1 << 17  # rays marched together: views batched to spread Python's per-step cost
MAX_RESOLUTION = 2048


@dataclass(frozen=True)
class Part:
    """One object of a scene; both functions take points q [N, 3] in data units, y up."""

    distance: object  # q -> signed distance [N]
    albedo: object  # q (points on its surface) -> linear RGB [N, 3] in [0, 1]
    centre: tuple[float, float, float]  # a sphere that holds the part
    radius: float

    def bound(self, q: np.ndarray) -> np.ndarray:
        """The distance to the bounding sphere: never more than the distance to the part."""
        d = q - self.centre
        return np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2]) - self.radius


@dataclass(frozen=True)
class Scene:
    description: str
    parts: tuple[Part, ...]

    def distance(self, q: np.ndarray) -> np.ndarray:
        """A lower bound of the distance to the scene, exact within NEAR of a part's bounding
        sphere: farther, that sphere's distance stands in (a smaller step for the marcher, but most
        queries then skip most parts, which more than halves the render's time)."""
        best = np.full(len(q), np.inf)
        for part in self.parts:
            d = part.bound(q)
            near = np.flatnonzero(d < NEAR)
            d[near] = part.distance(q[near])
            np.minimum(best, d, out=best)
        return best

    def albedo(self, q: np.ndarray) -> np.ndarray:
        """Each point's colour: that of the part it lies on (the nearest)."""
        nearest = np.argmin(np.stack([part.distance(q) for part in self.parts]), axis=0)
        out = np.zeros((len(q), 3))
        for index, part in enumerate(self.parts):
            on = nearest == index
            if np.any(on):
                out[on] = part.albedo(q[on])
        return out


# ---- the tabletop ---------------------------------------------------------------------------------------

TABLE_TOP = -0.5  # the height the other parts stand on
POLE = np.array([0.55, 0.0, -0.45])  # the thin pole's foot, beside the ball
RING_CENTRE = np.array([-0.6, TABLE_TOP + 0.37, -0.35])  # the standing ring's centre (it rests on the table)
BOX_CENTRE = np.array([0.5, TABLE_TOP + 0.12, 0.45])


def _turn_y(q: np.ndarray, angle: float) -> np.ndarray:
    """q in a frame turned `angle` radians about y (a part's own frame)."""
    c, s = math.cos(angle), math.sin(angle)
    out = q.copy()
    out[:, 0], out[:, 2] = c * q[:, 0] - s * q[:, 2], s * q[:, 0] + c * q[:, 2]
    return out


def _rainbow(t: np.ndarray) -> np.ndarray:
    """A cyclic palette over t (period 1), saturated colours."""
    return 0.5 + 0.45 * np.cos(2 * np.pi * (t[:, None] + np.array([0.0, 1 / 3, 2 / 3])))


def _table(q):
    return shapes.cylinder(q - [0.0, TABLE_TOP - 0.06, 0.0], 1.0, 0.06)


def _table_albedo(q):
    # Checkers on the top, wood on the rim and underside.
    cells = np.floor(q[:, [0, 2]] / 0.25).sum(axis=1) % 2
    top = np.where(cells[:, None] == 0, [0.85, 0.8, 0.6], [0.05, 0.35, 0.4])
    return np.where((q[:, 1] > TABLE_TOP - 2e-3)[:, None], top, [0.4, 0.2, 0.08])


def _ball(q):
    # A ball at the origin on a short stem: the origin is inside it, so the image centre is opaque
    # in every view (the tests rely on that).
    return shapes.union(shapes.sphere(q, 0.3), shapes.cylinder(q - [0.0, TABLE_TOP + 0.12, 0.0], 0.07, 0.12))


def _ball_albedo(q):
    # Wavy bands of four colours: latitude bands bent by the longitude.
    bands = q[:, 1] * 9.0 + 0.8 * np.sin(3.0 * np.arctan2(q[:, 2], q[:, 0]))
    palette = np.array([[0.8, 0.1, 0.1], [0.95, 0.75, 0.1], [0.1, 0.25, 0.8], [0.9, 0.9, 0.9]])
    return palette[np.floor(bands).astype(np.int64) % 4]


def _ring(q):
    # Standing on edge (its axis horizontal), turned 30 degrees about y.
    local = _turn_y(q - RING_CENTRE, math.radians(30.0))
    return shapes.torus(shapes.swap_axes(local, 1, 2), 0.3, 0.07)


def _ring_albedo(q):
    local = _turn_y(q - RING_CENTRE, math.radians(30.0))
    return _rainbow(np.arctan2(local[:, 1], local[:, 0]) / (2 * np.pi))


def _pole(q):
    # A thin pole (radius 0.02) and a thin ring (tube radius 0.015) floating around it: the thin parts.
    pole = shapes.cylinder(q - POLE - [0.0, 0.025, 0.0], 0.02, 0.525)
    hoop = shapes.torus(q - POLE - [0.0, 0.3, 0.0], 0.18, 0.015)
    return shapes.union(pole, hoop)


def _pole_albedo(q):
    local = q - POLE
    on_hoop = np.hypot(local[:, 0], local[:, 2]) > 0.1
    spiral = np.floor(local[:, 1] * 12.0 + np.arctan2(local[:, 2], local[:, 0]) / np.pi) % 2  # barber stripes
    stripes = np.where(spiral[:, None] == 0, [0.9, 0.1, 0.1], [0.95, 0.95, 0.95])
    return np.where(on_hoop[:, None], [0.95, 0.65, 0.1], stripes)


def _box(q):
    return shapes.box(_turn_y(q - BOX_CENTRE, math.radians(20.0)), (0.15, 0.12, 0.15), 0.02)


def _box_albedo(q):
    local = _turn_y(q - BOX_CENTRE, math.radians(20.0))
    grid = (np.floor(local * 12.0).sum(axis=1) % 2)[:, None]  # a 3D checker: squares on every face
    return np.where(grid == 0, [0.2, 0.7, 0.25], [0.55, 0.2, 0.6])


# ---- the spheres: fine texture --------------------------------------------------------------------------
# A scene of finer texture than the tabletop (squares of a few pixels at 96 pixels, thin stripes): the
# quality-per-minute benchmark (docs/nerf.md "NeRF: quality per minute").

FLOOR_TOP = -0.45
FLOOR_RADIUS = 1.45  # nearly the unit cube's half-width (1.5 in data units)
SPHERES = ((np.array([0.0, FLOOR_TOP + 0.4, 0.0]), 0.4),  # (centre, radius)
           (np.array([0.62, FLOOR_TOP + 0.24, 0.38]), 0.24),
           (np.array([-0.55, FLOOR_TOP + 0.28, 0.45]), 0.28),
           (np.array([0.1, FLOOR_TOP + 0.18, -0.7]), 0.18))


def _floor(q):
    return shapes.cylinder(q - [0.0, FLOOR_TOP - 0.04, 0.0], FLOOR_RADIUS, 0.04)


def _floor_albedo(q):
    # Checkers of 0.06 (about 2 pixels at 96) in two tones, every fifth line darker: a grid of two scales.
    cells = np.floor(q[:, [0, 2]] / 0.06).astype(np.int64)
    checker = cells.sum(axis=1) % 2
    major = np.any(cells % 5 == 0, axis=1)
    top = np.where(checker[:, None] == 0, [0.9, 0.88, 0.8], [0.15, 0.2, 0.45])
    top = np.where(major[:, None], top * 0.6, top)
    return np.where((q[:, 1] > FLOOR_TOP - 2e-3)[:, None], top, [0.3, 0.3, 0.3])


def _pattern(index: int, u: np.ndarray) -> np.ndarray:
    """Sphere `index`'s albedo at unit directions u [N, 3] from its centre."""
    longitude, latitude = np.arctan2(u[:, 2], u[:, 0]), np.arcsin(np.clip(u[:, 1], -1.0, 1.0))
    if index == 0:  # a globe checker of 48 x 24 cells
        cells = np.floor(longitude / (np.pi / 24)) + np.floor(latitude / (np.pi / 24))
        return np.where((cells % 2 == 0)[:, None], [0.95, 0.3, 0.1], [0.1, 0.1, 0.15])
    if index == 1:  # thin rainbow stripes, twisted
        return _rainbow(latitude * 5.0 + longitude / (2 * np.pi))
    if index == 2:  # polka dots on a colour ramp
        dots = np.cos(20 * longitude) * np.cos(20 * latitude) > 0.6
        return np.where(dots[:, None], [0.95, 0.95, 0.9], _rainbow(0.15 * u[:, 1] + 0.6))
    zig = np.floor(latitude * 12 + 0.6 * np.abs(((longitude * 8) % 2) - 1)) % 2  # a fine zigzag in two greens
    return np.where(zig[:, None] == 0, [0.2, 0.7, 0.3], [0.85, 0.95, 0.4])


def _sphere_part(index: int) -> Part:
    centre, radius = SPHERES[index]
    return Part(lambda q: shapes.sphere(q - centre, radius),
                lambda q: _pattern(index, (q - centre) / np.linalg.norm(q - centre, axis=1, keepdims=True)),
                tuple(centre), radius + 1e-3)


SCENES = {
    "tabletop": Scene(
        "a checkered round table with a striped ball, a rainbow ring standing on edge, a chequered box "
        "and a thin striped pole with a thin hoop",
        (Part(_table, _table_albedo, (0.0, TABLE_TOP - 0.06, 0.0), 1.01),
         Part(_ball, _ball_albedo, (0.0, -0.1, 0.0), 0.42),
         Part(_ring, _ring_albedo, tuple(RING_CENTRE), 0.38),
         Part(_pole, _pole_albedo, tuple(POLE + [0.0, 0.025, 0.0]), 0.54),
         Part(_box, _box_albedo, tuple(BOX_CENTRE), 0.25)),
    ),
    "spheres": Scene(
        "four spheres of fine textures (a globe checker, thin twisted stripes, polka dots, a zigzag) on a "
        "finely checkered floor",
        (Part(_floor, _floor_albedo, (0.0, FLOOR_TOP - 0.04, 0.0), FLOOR_RADIUS + 0.01),
         *(_sphere_part(index) for index in range(len(SPHERES)))),
    ),
}


# ---- views ----------------------------------------------------------------------------------------------


def split_sizes(views: int, held_out: int | None = None) -> dict[str, int]:
    """The views of each split for `views` training views: `held_out` val and test views each
    (by default max(2, views // 10))."""
    held_out = max(2, views // 10) if held_out is None else held_out
    return {"train": views, "val": held_out, "test": held_out}


def camera_positions(views: int, seed: int, held_out: int | None = None) -> dict[str, np.ndarray]:
    """Split -> camera positions [N, 3] in the data's world (z up), CAMERA_DISTANCE from the origin."""
    rng = np.random.default_rng(seed)
    low, high = (math.sin(e) for e in ELEVATIONS)
    sizes = split_sizes(views, held_out)
    # Train: a Fibonacci spiral, uniform in z (equal areas of the sphere) and the golden angle apart.
    z = high - (np.arange(views) + 0.5) / views * (high - low)
    azimuth = rng.uniform(0.0, 2 * np.pi) + np.arange(views) * np.pi * (3.0 - math.sqrt(5.0))
    positions = {"train": _on_sphere(z, azimuth)}
    for split in ("val", "test"):
        n = sizes[split]
        positions[split] = _on_sphere(rng.uniform(low, high, n), rng.uniform(0.0, 2 * np.pi, n))
    return positions


def _on_sphere(z: np.ndarray, azimuth: np.ndarray) -> np.ndarray:
    across = np.sqrt(1.0 - z * z)
    return CAMERA_DISTANCE * np.stack([across * np.cos(azimuth), across * np.sin(azimuth), z], axis=-1)


def look_at_origin(position: np.ndarray) -> np.ndarray:
    """The camera-to-world matrix (OpenGL camera: -z forward, +y up) of a camera at `position` of
    the data's z-up world looking at the origin, upright."""
    backward = position / np.linalg.norm(position)
    right = np.cross([0.0, 0.0, 1.0], backward)
    right /= np.linalg.norm(right)
    matrix = np.eye(4)
    matrix[:3, 0], matrix[:3, 1], matrix[:3, 2], matrix[:3, 3] = right, np.cross(backward, right), backward, position
    return matrix


# ---- rendering ------------------------------------------------------------------------------------------


def _unit_distance(scene: Scene):
    """The scene's distance on ngvk's unit cube (where apps/sdf/tracing.py marches)."""
    offset = np.asarray(DEFAULT_OFFSET)
    return lambda p: scene.distance((p - offset) / DEFAULT_SCALE) * DEFAULT_SCALE


def render_views(scene: Scene, matrices: list[np.ndarray], resolution: int) -> np.ndarray:
    """The views of the data's camera-to-world `matrices`, RGBA float [N, R, R, 4] (sRGB, straight
    alpha), supersampled."""
    side = resolution * SUPERSAMPLING
    focal = side / 2 / math.tan(CAMERA_ANGLE_X / 2)
    origins, directions = [], []
    for matrix in matrices:
        camera = Camera.from_pinhole(data_to_scene(matrix), focal, focal, side / 2, side / 2, side, side)
        o, d = camera.rays(side, side)
        origins.append(o)
        directions.append(d)
    origins, directions = np.concatenate(origins), np.concatenate(directions)
    colour, hit = _trace(scene, origins, directions)
    # Box-filter the samples into pixels: coverage is alpha, colour averaged premultiplied.
    shape = (len(matrices), resolution, SUPERSAMPLING, resolution, SUPERSAMPLING)
    coverage = hit.reshape(shape).mean(axis=(2, 4))
    premultiplied = (colour * hit[:, None]).reshape(*shape, 3).mean(axis=(2, 4))
    with np.errstate(divide="ignore", invalid="ignore"):
        linear = np.where(coverage[..., None] > 0, premultiplied / coverage[..., None], 0.0)
    return np.concatenate([linear_to_srgb(linear), coverage[..., None]], axis=-1)


def _trace(scene: Scene, origins: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(linear shaded colour [N, 3], hit [N] as 0 or 1) of rays of the unit cube."""
    distance = _unit_distance(scene)
    rays = tracing.new_rays(len(origins))
    tracing.ray_begin(rays, origins, directions)
    tracing.march(rays, distance)
    # A ray that grazes a surface creeps along it in ever smaller steps and can use them all up
    # (about 1 in 1000 here): one that ended that close to the surface hit it.
    spent = np.flatnonzero((rays["status"] == tracing.MISSED) & (rays["steps"] >= tracing.MAX_STEPS))
    grazing = spent[distance(tracing.position(rays[spent])) < GRAZING]
    rays["status"][grazing] = tracing.HIT
    hit = np.flatnonzero(rays["status"] == tracing.HIT)
    tracing.add_normals(rays, distance)
    found = rays[hit]
    normal = found["normal"].astype(np.float64)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    surface = found["origin"] + found["t"][:, None] * found["direction"].astype(np.float64)
    # Shadow rays toward the light from just off the surface: lit where they leave the cube.
    shadow = tracing.new_rays(len(hit))
    tracing.ray_begin(shadow, surface + SHADOW_OFFSET * normal, np.broadcast_to(LIGHT, surface.shape))
    tracing.march(shadow, distance)
    lit = (shadow["status"] != tracing.HIT) * np.maximum(normal @ LIGHT, 0.0)
    albedo = scene.albedo((surface - np.asarray(DEFAULT_OFFSET)) / DEFAULT_SCALE)
    colour = np.zeros((len(origins), 3))
    colour[hit] = albedo * (AMBIENT + (1.0 - AMBIENT) * lit)[:, None]
    covered = np.zeros(len(origins))
    covered[hit] = 1.0
    return colour, covered


# ---- writing --------------------------------------------------------------------------------------------


def write_dataset(name: str, out, views: int = 100, resolution: int = 128, seed: int = 0, progress=None,
                  held_out: int | None = None) -> str:
    """Write dataset `name` to the folder `out` (new, or empty) in the NeRF synthetic format:
    transforms_{train,val,test}.json and train/, val/, test/ of RGBA PNGs, `views` train views and
    `held_out` (by default max(2, views // 10)) val and test views, `resolution` pixels square. `progress(done, total)` is
    called after each image. Returns one line saying what was written."""
    if name not in SCENES:
        raise NgvkError(f"unknown NeRF dataset {name!r}; the datasets are {', '.join(SCENES)}")
    checked = [("views", views, 1, None), ("resolution", resolution, 8, MAX_RESOLUTION)]
    if held_out is not None:
        checked.append(("held-out", held_out, 1, None))
    for what, value, low, high in checked:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or \
                (high is not None and value > high):
            raise NgvkError(f"--{what} must be a whole number from {low}" + (f" to {high}" if high else "") +
                            f", not {value!r}")
    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise NgvkError(f"cannot write the dataset to {out}: it exists and is not an empty folder")
    if not parent.is_dir():
        raise NgvkError(f"cannot write the dataset to {out}: folder {parent} does not exist")
    try:
        temporary = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    except OSError as error:
        raise NgvkError(f"cannot write the dataset to {out}: {error.strerror or error}") from None
    try:
        _write(SCENES[name], temporary, views, resolution, seed, progress, held_out)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o777 & ~umask)  # mkdtemp makes it private; give it the usual mode
        if out.is_dir():
            out.rmdir()  # empty, checked above
        os.rename(temporary, out)
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        raise NgvkError(f"cannot write the dataset to {out}: {error.strerror or error}") from None
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    sizes = split_sizes(views, held_out)
    return (f"{sizes['train']} train, {sizes['val']} val and {sizes['test']} test views, "
            f"{resolution}x{resolution} RGBA PNGs")


def _write(scene: Scene, folder: Path, views: int, resolution: int, seed: int, progress,
           held_out: int | None) -> None:
    positions = camera_positions(views, seed, held_out)
    total = sum(len(p) for p in positions.values())
    done = 0
    per_batch = max(1, RAYS_PER_BATCH // (resolution * SUPERSAMPLING) ** 2)
    for split, split_positions in positions.items():
        (folder / split).mkdir()
        matrices = [look_at_origin(p) for p in split_positions]
        for start in range(0, len(matrices), per_batch):
            batch = matrices[start:start + per_batch]
            for index, image in enumerate(render_views(scene, batch, resolution), start):
                save_png(folder / split / f"r_{index}.png", np.round(image * 255.0).astype(np.uint8))
                done += 1
                if progress is not None:
                    progress(done, total)
        frames = [{"file_path": f"./{split}/r_{index}", "transform_matrix": matrix.tolist()}
                  for index, matrix in enumerate(matrices)]
        text = json.dumps({"camera_angle_x": CAMERA_ANGLE_X, "frames": frames}, indent=2) + "\n"
        (folder / f"transforms_{split}.json").write_text(text)
