"""The SDF app's renderers: fused and unfused sphere tracing give the same frame, the queries they
count are the ones they made, the error mode compares with the reference, and a mesh fitted briefly
renders with the silhouette of the mesh's own (ray-cast) render."""

import numpy as np
import pytest
import trimesh
from scipy import ndimage

from ngvk.apps.sdf import fitting, render, tracing
from ngvk.apps.sdf.app import SdfApp, reference_renderer
from ngvk.apps.sdf.checks import CHECKS
from ngvk.apps.sdf.data import load_sdf_data
from ngvk.apps.sdf.render import MeshRenderer, SdfRenderer, orbit_camera
from ngvk.engine.errors import NgvkError
from ngvk.engine.nn.config import GridConfig, MLPConfig
from ngvk.engine.poison import POISON_RGBA8, POISON_WORD

from conftest import looking_away

SMALL_GRID = GridConfig("hashgrid", 3, 8, 2, 16, 1.5, 14)  # quick to fit and to render
SMALL_CONFIGS = (SMALL_GRID, MLPConfig(SMALL_GRID.n_output, 1, 64, 2, "none"))


def quick_fit(device, data, steps=150):
    return fitting.fit(device, data, steps=steps, batch_size=1 << 13, evaluations=1, pool_size=1 << 16,
                       configs=SMALL_CONFIGS).model


@pytest.fixture(scope="module")
def ring(device):
    data = load_sdf_data("shape:ring")
    return data, quick_fit(device, data, steps=80)  # rough, but a surface: rays march, hit and miss


VARIANTS = ("fused", "wavefront", "prepost", "unfused")


def render_variants(renderer, camera, width, height) -> dict:
    """Every kernel variant's float frame (poisoned first, so a pixel left unwritten is NaN)."""
    return {k: renderer.render(camera, width, height, k, True, poison=POISON_WORD) for k in VARIANTS}


def assert_variants_agree(frames: dict) -> None:
    # Float frames: equal within 1e-5 (on lavapipe they are equal to the bit, as every variant runs
    # the same functions on the same values); the wavefront and prepost kernels make exactly the
    # unfused path's queries, the fused slots more.
    unfused = frames["unfused"]
    for kernels, frame in frames.items():
        assert np.isfinite(frame.pixels).all(), f"{kernels}: pixels left unwritten"
        assert np.max(np.abs(frame.pixels - unfused.pixels)) <= 1e-5, kernels
    assert frames["wavefront"].queries == frames["prepost"].queries == unfused.queries <= frames["fused"].queries


@pytest.mark.parametrize("mode", tracing.RENDER_MODES)
def test_every_kernel_variant_renders_the_same(device, ring, mode):
    # 53 x 29 pixels in tiles of 1000 (two tiles, the second partial), the wavefront in pools of 97
    # slots (each takes several pixels); 8-bit frames poisoned differently.
    _, model = ring
    renderer = SdfRenderer(device, model, tile_pixels=1000, wavefront_slots=97)
    try:
        renderer.set_mode(mode)
        camera = renderer.default_camera(53, 29)
        frames = render_variants(renderer, camera, 53, 29)
        assert_variants_agree(frames)
        unfused8 = renderer.render(camera, 53, 29, "unfused", poison=POISON_RGBA8[1]).pixels
        for kernels in ("fused", "wavefront", "prepost"):
            np.testing.assert_array_equal(renderer.render(camera, 53, 29, kernels, poison=POISON_RGBA8[0]).pixels,
                                          unfused8)
        assert set(frames["unfused"].timings) == set(render.STAGES) and set(frames["fused"].timings) == {"fused"}
        assert set(frames["wavefront"].timings) == {"preprocess", "wavefront"}
        assert set(frames["prepost"].timings) == {"preprocess", "prepost", "encoding", "mlp"}
        # The object is in view: some pixels see it.
        if mode == "normals":
            assert np.count_nonzero(frames["fused"].pixels[..., :3].sum(axis=-1) > 0) > 50
    finally:
        renderer.close()


def test_every_kernel_variant_at_awkward_sizes(device, ring):
    # One pixel, a row of seven, and a frame that looks away from the cube (no ray enters it).
    _, model = ring
    renderer = SdfRenderer(device, model, tile_pixels=1000, wavefront_slots=5)
    try:
        for width, height in ((1, 1), (7, 1), (13, 5)):
            assert_variants_agree(render_variants(renderer, renderer.default_camera(width, height), width, height))
        frames = render_variants(renderer, looking_away(orbit_camera(35.0, 25.0)), 9, 4)
        assert_variants_agree(frames)
        assert frames["unfused"].queries == 0
    finally:
        renderer.close()


def endless_model() -> "Model":
    """A network whose distance is 1e-4 everywhere (constant features, positive weights, no biases):
    every ray steps 0.95e-4 at a time and ends only at the step limit, the camera ray and the shadow
    ray from the ground alike: the longest work a pixel can be."""
    from ngvk.engine.model import Model

    grid, network = SMALL_CONFIGS
    d = 1e-4
    weights = np.concatenate([np.full(64 * grid.n_output, 1 / grid.n_output), np.full(64 * 64, 1 / 64),
                              np.full(64, d / 64)]).astype(np.float32)
    params = {"encoding": np.ones((grid.n_entries, grid.n_features), np.float32), "network": weights}
    return Model(app="sdf", encodings={"encoding": grid}, networks={"network": network}, params=params,
                 app_data={"ground": 0.3})


@pytest.mark.parametrize("mode", ["steps", "shaded"])
def test_no_pixel_is_lost_past_the_loop_limit(device, mode):
    # Every ray runs to the step limit (128 camera steps, then 128 shadow steps from the ground):
    # lavapipe ends an invocation silently after about 65,000 loop iterations, which a slot that
    # marched several such pixels in one invocation would pass (the fused kernel's refilling design
    # at 4 pixels a slot loses pixels here). Every variant writes every pixel (a poisoned frame), as
    # the NumPy tracer draws it.
    model = endless_model()
    renderer = SdfRenderer(device, model, tile_pixels=1000, wavefront_slots=64)
    try:
        renderer.set_mode(mode)
        camera = renderer.default_camera(24, 16)
        frames = render_variants(renderer, camera, 24, 16)
        assert_variants_agree(frames)
        expected, queries = tracing.trace(camera, 24, 16, lambda p: np.full(len(p), 1e-4), mode, 0.3)
        assert frames["unfused"].queries == queries > 24 * 16 * tracing.MAX_STEPS / 2
        for kernels, frame in frames.items():
            off = np.max(np.abs(frame.pixels - expected.reshape(frame.pixels.shape)), axis=-1) > 0.02
            assert not off.any(), f"{kernels}: {off.sum()} pixels differ from the NumPy tracer"
    finally:
        renderer.close()


def test_fused_slots_that_take_several_pixels_render_the_same(device, ring, monkeypatch):
    # GPUs let each slot of the fused kernel take several pixels from the tile's queue (refilling as
    # rays finish); the same frame as the unfused path, every pixel written (a poisoned frame).
    _, model = ring
    monkeypatch.setattr(render, "FUSED_PIXELS_PER_SLOT", {"CPU": 3, "GPU": 3})
    renderer = SdfRenderer(device, model, tile_pixels=1000)
    try:
        camera = renderer.default_camera(53, 29)
        fused = renderer.render(camera, 53, 29, "fused", True, poison=POISON_WORD).pixels
        unfused = renderer.render(camera, 53, 29, "unfused", True, poison=POISON_WORD).pixels
        assert np.isfinite(fused).all() and np.max(np.abs(fused - unfused)) <= 1e-5
    finally:
        renderer.close()


def test_unfused_queries_are_the_rays_marched(device, ring, monkeypatch):
    # Compacting after every step, the list holds exactly the rays still marching, so the queries
    # counted are the camera rays' steps, four probes per hit and the shadow rays' steps, all read
    # back from the rays' final state. The fused path's batches also march rays that are done.
    _, model = ring
    monkeypatch.setattr(render, "COMPACTION_PERIOD", 1)
    renderer = SdfRenderer(device, model)
    try:
        camera = renderer.default_camera(40, 30)
        unfused = renderer.render(camera, 40, 30, "unfused")
        rays = renderer._buffers()["rays"].download(np.uint8, (1200 * 64,)).view(tracing.RAY_DTYPE)
        expected = int(rays["camera_steps"].sum()) + 4 * int(np.count_nonzero(rays["kind"] == tracing.SURFACE))
        expected += int(rays["steps"].sum())
        assert unfused.queries == expected
        fused = renderer.render(camera, 40, 30, "fused")
        assert fused.queries >= expected
        monkeypatch.setattr(render, "COMPACTION_PERIOD", 4)
        assert renderer.render(camera, 40, 30, "unfused").queries >= expected
    finally:
        renderer.close()


def test_error_mode_compares_normals_with_the_reference(device, ring):
    data, model = ring
    app = SdfApp()
    renderer = app.renderer(device, model, data)
    try:
        renderer.set_mode("error")
        camera = renderer.default_camera(48, 40)
        error = renderer.render(camera, 48, 40, float_frame=True).pixels
        renderer.set_mode("normals")
        normals = renderer.render(camera, 48, 40, float_frame=True).pixels
    finally:
        renderer.close()
    reference = reference_renderer(device, data, model.app_data["ground"])
    try:
        reference.set_mode("normals")
        expected = reference.render(camera, 48, 40, float_frame=True).pixels
    finally:
        reference.close()
    np.testing.assert_allclose(error[..., :3], np.clip(np.abs(normals - expected)[..., :3] * 4, 0, 1), atol=1e-6)
    without = app.renderer(device, model)
    try:
        with pytest.raises(NgvkError, match="error"):
            without.set_mode("error")
    finally:
        without.close()


def silhouette(renderer, camera, size):
    renderer.set_mode("depth")
    return renderer.render(camera, size, size, float_frame=True).pixels[..., 0] > 0


def test_a_mesh_fitted_briefly_has_the_silhouette_of_its_reference_render(device, tmp_path):
    # A torus written as OBJ (through trimesh), fitted for a few hundred steps with a small grid,
    # rendered by the sphere tracer and by ray casting the mesh: every pixel where the two
    # silhouettes differ lies within 2 pixels of the reference's outline, at 96 x 96.
    path = tmp_path / "torus.obj"
    trimesh.creation.torus(0.3, 0.1, major_sections=48, minor_sections=24).export(path)
    data = load_sdf_data(str(path))
    model = quick_fit(device, data, steps=250)
    size = 96
    ground = model.app_data["ground"]
    renderer = SdfRenderer(device, model)
    reference = MeshRenderer(device, data.mesh, ground)
    try:
        for camera in (orbit_camera(35, 25), orbit_camera(200, 60)):
            got, expected = silhouette(renderer, camera, size), silhouette(reference, camera, size)
            assert expected.sum() > 500  # the torus fills part of the frame
            outline = expected ^ ndimage.binary_erosion(expected)
            distance_to_outline = ndimage.distance_transform_edt(~outline)
            assert np.all(distance_to_outline[got ^ expected] <= 2.0), np.count_nonzero(got ^ expected)
    finally:
        renderer.close()
        reference.close()


def test_mesh_reference_shades_like_the_device(device):
    # The same object both ways: the ring's analytic distance sphere-traced on the device, and a
    # fine torus mesh of the same size ray-cast on the CPU. Their normals images agree except along
    # the outline and the mesh's facets (flat normals).
    data = load_sdf_data("shape:ring")
    mesh = trimesh.creation.torus(0.25, 0.08, major_sections=256, minor_sections=64)  # around z
    mesh.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (1, 0, 0)))  # around y, as the ring
    mesh.apply_translation((0.5, 0.5, 0.5))
    camera, size = orbit_camera(35, 25), 96
    shape = reference_renderer(device, data, 0.3)
    cast = MeshRenderer(device, mesh, 0.3)
    try:
        for mode in ("normals", "shaded"):
            shape.set_mode(mode)
            cast.set_mode(mode)
            a = shape.render(camera, size, size, float_frame=True).pixels
            b = cast.render(camera, size, size, float_frame=True).pixels
            close = np.max(np.abs(a - b), axis=-1) < 0.05
            assert close.mean() > 0.99, close.mean()  # measured: 1.0 in both modes
    finally:
        shape.close()
        cast.close()


def test_the_shape_reference_has_only_the_fused_path(device):
    renderer = reference_renderer(device, load_sdf_data("shape:ring"))
    try:
        with pytest.raises(NgvkError, match="fused"):
            renderer.render(renderer.default_camera(8, 8), 8, 8, "unfused")
        with pytest.raises(NgvkError, match="error"):
            renderer.set_mode("error")
    finally:
        renderer.close()


# ---- the command line -------------------------------------------------------------------------


def test_render_from_the_command_line(tmp_path):
    # The shipped model and the reference render of its data (same camera); fused against unfused:
    # test_every_kernel_variant_renders_the_same, in this process.
    from PIL import Image

    from test_cli import run

    outputs = {}
    for name, args in (("fused", []), ("data", ["--data", "shape:mug"])):
        out = tmp_path / f"{name}.png"
        result = run("render", "sdf", "--out", str(out), "--width", "64", "--height", "48", "--mode", "normals", *args)
        assert result.returncode == 0, result.stderr
        outputs[name] = np.asarray(Image.open(out))
    assert outputs["fused"].shape == (48, 64, 3)
    assert np.count_nonzero(outputs["data"].sum(axis=-1)) > 300  # the mug is in view
    # The model and its data agree on most pixels (the shipped hashgrid's normals PSNR is >= 30 dB).
    assert np.mean(np.abs(outputs["fused"].astype(int) - outputs["data"]) <= 16) > 0.95


@pytest.mark.parametrize("content,words", [
    (None, ("does not exist",)),
    ("v 0 0 0\nv 1 0 0\n", ("no faces",)),
    ("v 0 0 0\nv nan 0 0\nv 0 1 0\nf 1 2 3\n", ("NaN",)),
    ("this is not a mesh \x00\x01", ("mesh",)),
])
def test_bad_meshes_are_one_line_errors_and_write_nothing(tmp_path, content, words):
    from test_cli import assert_one_line_error, run

    mesh = tmp_path / "bad.obj"
    if content is not None:
        mesh.write_text(content)
    out = tmp_path / "model.npz"
    assert_one_line_error(run("fit", "sdf", str(mesh), "--out", str(out), "--steps", "1"), *words)
    assert not out.exists()


def test_a_model_of_another_app_is_a_one_line_error(tmp_path):
    from test_cli import assert_one_line_error, run

    from ngvk.apps import get_app

    image_model = str(get_app("image").default_model_path())
    out = tmp_path / "x.png"
    assert_one_line_error(run("render", "sdf", "--model", image_model, "--out", str(out)), "image", "sdf")
    assert_one_line_error(run("eval", "sdf", "--model", image_model, "shape:mug"), "image", "sdf")
    assert_one_line_error(run("render", "image", "--data", "shape:mug", "--out", str(out)), "--data")
    assert_one_line_error(run("render", "sdf", "--data", "shape:teapot", "--out", str(out)), "teapot")
    assert not out.exists()


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_check_cases(device, rng, check):
    # The SDF app's `ngvk check` cases, one test each (so that a failure names its kernel).
    failed = [f"{r.kernel} {r.case}: {r.max_error:.3g} > {r.tolerance:.3g}" for r in check(device, rng) if not r.passed]
    assert not failed, failed


def test_an_open_mesh_gets_a_one_line_warning(tmp_path):
    # Loading it warns (once, as one line) and goes on: here the reference render of the mesh.
    from test_cli import run

    box = trimesh.creation.box()
    box.update_faces(np.arange(len(box.faces)) != 0)  # one triangle missing
    box.export(tmp_path / "open.ply")
    out = tmp_path / "open.png"
    result = run("render", "sdf", "--data", str(tmp_path / "open.ply"), "--out", str(out), "--width", "16",
                 "--height", "16")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and warnings[0].startswith("ngvk: warning: mesh") and "winding" in warnings[0]
    assert out.is_file()
