"""The engine's Vulkan roles: reflection, the shader compiler and its cache, buffers, sequences and
timestamps, dispatch checks, and the validation-layer plumbing."""

import numpy as np
import pytest

from ngvk.engine.gpu import compiler
from ngvk.engine.nn.config import grid_preset
from ngvk.engine.nn.layers import grid_level_table_glsl
from ngvk.engine.errors import ShaderCompileError, ValidationError
from ngvk.engine.gpu.spirv import reflect

GOOD_SHADER = """#version 460
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "helper.glsl"
layout(std430, binding = 0) readonly buffer Source { float source[]; };
layout(std430, binding = 2) writeonly buffer Target { float target[]; };
layout(push_constant) uniform Push { uint n; float gain; vec2 offset; };
layout(constant_id = 3) const uint REPEAT = 1;
void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= n) return;
    target[i] = helper(source[i]) * gain * float(REPEAT) + offset.x + offset.y;
}
"""


@pytest.fixture
def shader_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NGVK_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "helper.glsl").write_text("float helper(float x) { return 2.0 * x; }\n")
    (tmp_path / "good.comp").write_text(GOOD_SHADER)
    return tmp_path


def test_reflection_reads_the_interface(shader_dir):
    r = reflect(compiler.compile_shader(shader_dir / "good.comp"))
    assert [(b.name, b.binding, b.readonly) for b in r.bindings] == [("source", 0, True), ("target", 2, False)]
    assert [(m.name, m.offset, m.scalar, m.count) for m in r.push_constants] == [
        ("n", 0, "I", 1),
        ("gain", 4, "f", 1),
        ("offset", 8, "f", 2),
    ]
    assert r.push_constant_size == 16
    assert r.spec_constants["REPEAT"] == 3
    assert r.local_size_ids[0] == 0


TEXEL_SHADER = """#version 460
layout(local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer weights;
layout(binding = 1, rgba32f) uniform writeonly imageBuffer results;
layout(push_constant) uniform Push { uint n; };
void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= n) return;
    imageStore(results, int(i), texelFetch(weights, int(i)) * 2.0);
}
"""


def test_texel_buffers_are_reflected_and_bound(shader_dir, device):
    path = shader_dir / "texels.comp"
    path.write_text(TEXEL_SHADER)
    r = reflect(compiler.compile_shader(path))
    assert [(b.name, b.binding, b.kind, b.readonly) for b in r.bindings] == [
        ("weights", 0, "texels", True),
        ("results", 1, "storage_texels", False),
    ]
    values = np.arange(4 * 100, dtype=np.float32)
    with device.buffer_from(values, "weights") as weights, device.buffer(values.nbytes, "results") as results:
        kernel = device.kernel(path)
        with device.sequence() as sequence:
            sequence.dispatch(kernel, 100, {"weights": weights.texels(4), "results": results.texels(4)}, {"n": 100})
            sequence.run()
        np.testing.assert_array_equal(results.download(np.float32), 2 * values)
        with pytest.raises(ValueError, match="texel buffer"):
            with device.sequence() as sequence:
                sequence.dispatch(kernel, 100, {"weights": weights, "results": results.texels(4)}, {"n": 100})


def test_compile_error_names_file_and_line(shader_dir):
    broken = shader_dir / "broken.comp"
    lines = GOOD_SHADER.splitlines()
    lines[10] = "    undefined_function(i);"
    broken.write_text("\n".join(lines) + "\n")
    with pytest.raises(ShaderCompileError) as error:
        compiler.compile_shader(broken)
    message = str(error.value)
    assert "broken.comp:11:" in message
    assert "undefined_function" in message  # the numbered source is shown
    assert ">   11 |" in message


def test_compile_error_in_an_include_names_the_include(shader_dir):
    (shader_dir / "helper.glsl").write_text("float helper(float x) {\n    return 2.0 * y;\n}\n")
    with pytest.raises(ShaderCompileError, match=r"helper\.glsl:2:"):
        compiler.compile_shader(shader_dir / "good.comp")


def test_cache_is_keyed_by_includes_and_defines(shader_dir):
    path = shader_dir / "good.comp"
    first = compiler.compile_shader(path)
    cached = list((shader_dir / "cache" / "spirv").glob("*.spv"))
    assert len(cached) == 1
    assert compiler.compile_shader(path) == first  # a hit: no new file
    assert len(list((shader_dir / "cache" / "spirv").glob("*.spv"))) == 1
    compiler.compile_shader(path, {"UNUSED": 1})
    (shader_dir / "helper.glsl").write_text("float helper(float x) { return 3.0 * x; }\n")
    changed = compiler.compile_shader(path)
    assert changed != first
    assert len(list((shader_dir / "cache" / "spirv").glob("*.spv"))) == 3


def test_kernel_dispatch_by_name(device, shader_dir, rng):
    kernel = device.kernel(str(shader_dir / "good.comp"), constants={"REPEAT": 3}, local_size=32)
    x = rng.random(1000, dtype=np.float32)
    with device.buffer_from(x, "source") as source, device.buffer(4000, "target") as target:
        with device.sequence() as sequence:
            push = {"n": 1000, "gain": 0.5, "offset": (1.0, 2.0)}
            sequence.dispatch(kernel, 1000, {"source": source, "target": target}, push)
            sequence.run()
        np.testing.assert_allclose(target.download(), 2.0 * x * 0.5 * 3 + 3.0, rtol=1e-6)
        with device.sequence() as sequence:
            with pytest.raises(ValueError, match="missing"):
                sequence.dispatch(kernel, 10, {"source": source}, push)
            with pytest.raises(ValueError, match="unknown"):
                sequence.dispatch(kernel, 10, {"source": source, "target": target, "extra": target}, push)
            with pytest.raises(ValueError, match="push constants"):
                sequence.dispatch(kernel, 10, {"source": source, "target": target}, {"n": 10})
    with pytest.raises(ValueError, match="no specialization constant"):
        device.kernel(str(shader_dir / "good.comp"), constants={"NOPE": 1})


def test_buffer_round_trip_offsets_and_fill(device):
    data = np.arange(100, dtype=np.float32)
    with device.buffer(1000, "scratch") as buffer:
        assert buffer.nbytes == 1000
        buffer.upload(data, offset=400)
        np.testing.assert_array_equal(buffer.download(np.float32, (100,), offset=400), data)
        buffer.fill(0)
        assert not buffer.download(np.uint32).any()
        with pytest.raises(ValueError):
            buffer.upload(np.zeros(300, np.float32))
    odd = device.buffer(6, "odd")
    assert odd.nbytes == 8  # rounded up to whole words
    odd.close()
    odd.close()  # releasing twice is harmless


def test_staging_path_round_trip(device):
    # The staging path used on discrete GPUs, exercised here by forcing a non-mapped buffer.
    from ngvk.engine.gpu.memory import Buffer

    data = np.random.default_rng(0).random(3000).astype(np.float32)
    buffer = Buffer(device, data.nbytes, "device local", host_visible=False)
    try:
        buffer.upload(data)
        np.testing.assert_array_equal(buffer.download(np.float32, data.shape), data)
        np.testing.assert_array_equal(buffer.download(np.float32, (10,), offset=40), data[10:20])
    finally:
        buffer.close()


def test_sequence_fill_copy_timings_and_resubmission(device):
    kernel = device.kernel("nn/sh_encode.comp")
    n = 5000
    d = np.tile(np.array([[0.0, 0.0, 1.0]], np.float32), (n, 1))
    with device.buffer_from(d, "directions") as directions, device.buffer(n * 64, "encoded") as encoded, device.buffer(
        n * 64, "copy"
    ) as copy:
        with device.sequence() as sequence:
            with sequence.timed("clear"):
                sequence.fill(copy, 0)
            with sequence.timed("sh"):
                sequence.dispatch(kernel, n, {"directions": directions, "encoded": encoded}, {"n": n})
            with sequence.timed("copy"):
                sequence.copy(encoded, copy)
            for _ in range(3):  # a recorded sequence can be submitted again
                sequence.run()
                times = sequence.timings()
                assert set(times) == {"clear", "sh", "copy"}
                assert all(t > 0 for t in times.values())  # each range holds real work
        result = copy.download(np.float32, (n, 16))
        np.testing.assert_allclose(result[0, 2], 0.48860251190291987, rtol=1e-6)
        np.testing.assert_array_equal(result, encoded.download(np.float32, (n, 16)))


def test_repeated_labels_are_summed(device):
    with device.buffer(64, "x") as x, device.sequence() as sequence:
        for _ in range(4):
            with sequence.timed("fill"):
                sequence.fill(x, 1)
        sequence.run()
        assert list(sequence.timings()) == ["fill"]


def test_large_dispatches_fold_into_a_2d_grid(device, rng):
    # With one invocation per workgroup, 70,000 items exceed the 65,535 groups allowed along x.
    kernel = device.kernel("nn/sh_encode.comp", local_size=1)
    n = 70_000
    assert kernel.groups(n)[1] > 1 or device.info.max_workgroup_count[0] >= n
    d = rng.normal(size=(n, 3)).astype(np.float32)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    from ngvk.engine.nn import reference
    from ngvk.engine.nn.layers import run_kernel

    out = run_kernel(device, kernel, n, {"directions": d}, {"encoded": (n, 16)})["encoded"]
    np.testing.assert_allclose(out, reference.sh_encode(d), atol=1e-5)


def test_validation_errors_are_raised(device):
    # Misuse Vulkan on purpose (a zero-sized buffer) and check the layer's message surfaces.
    from ngvk.engine.gpu._vulkan import vk

    info = vk.VkBufferCreateInfo(size=0, usage=vk.VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, sharingMode=0)
    handle = vk.vkCreateBuffer(device.handle, info, None)
    vk.vkDestroyBuffer(device.handle, handle, None)
    with pytest.raises(ValidationError, match="VUID-VkBufferCreateInfo-size"):
        device.check_validation()


def test_every_shader_compiles():
    from ngvk.apps.nerf import tracing as nerf_tracing
    from ngvk.apps.sdf import tracing as sdf_tracing
    from ngvk.apps.volume import tracing as volume_tracing

    # One set of defines that satisfies every kernel (each ignores those it does not use).
    def grid_defines(n_dims):
        config = grid_preset("hashgrid", n_dims)
        return {
            "GRID_DIMS": n_dims, "GRID_LEVELS": config.n_levels, "GRID_FEATURES": config.n_features,
            "GRID_LEVEL_TABLE": grid_level_table_glsl(config), "GRID_TEXEL_COMPONENTS": 2,
        }

    defines = {
        **grid_defines(3),
        "MLP_INPUTS": 32, "MLP_WIDTH": 64, "MLP_OUTPUTS": 3, "MLP_HIDDEN_LAYERS": 2,
        "MLP_OUTPUT_ACTIVATION": 2, "MLP_ITEMS": 2, "MLP_INPUT_COMPONENTS": 4, "MLP_OUTPUT_COMPONENTS": 1,
        "WG_ROWS": 64, "WG_COLS": 32, "WG_TILE_ROWS": 4, "WG_TILE_COLS": 8,
        "WG_DELTA_COMPONENTS": 4, "WG_INPUT_COMPONENTS": 4,
        "MLP_BLOCK": 64, "MLP_ROWS": 32, "MLP_THREADS": 64, "BLOCK_TR": 8, "MLP_TRAINING": 1,  # the block MLPs
        "CM_M": 16, "CM_N": 16, "CM_K": 16, "CM_SUBGROUPS": 4, "CM_PAD": 16,  # compiled, whatever the device
        "NGVK_FLOAT_ATOMICS": 1, "LOSS": 1, "LOSS_CHANNELS": 3, "POOL_DIMS": 3, "POOL_CHANNELS": 1, "SDF_SHAPE": 0,
        "SDF_SOURCE": 0, "SDF_STAGE": 2, **sdf_tracing.defines(),
        "VOLUME_SOURCE": 0, "VOLUME_STAGE": 3,
        **volume_tracing.defines(),
        "WAVEFRONT_FULL": 4096, "WAVEFRONT_MAX_STEPS": 32, "WAVEFRONT_LOCAL_SIZE": 8,  # the wavefront kernels
        "HUD_GLYPH_WIDTH": 6, "HUD_GLYPH_HEIGHT": 11,  # the viewer's display
    }
    # NeRF's kernels hold two named MLP instances (density, colour) instead of the MLP_* network.
    nerf = {key: value for key, value in defines.items() if not key.startswith("MLP_") or key == "MLP_ITEMS"}
    for name, (inputs, outputs, hidden, activation) in {"density": (32, 16, 1, 0), "color": (32, 3, 2, 2)}.items():
        nerf.update({f"{name}_INPUTS": inputs, f"{name}_WIDTH": 64, f"{name}_OUTPUTS": outputs,
                     f"{name}_HIDDEN_LAYERS": hidden, f"{name}_OUTPUT_ACTIVATION": activation,
                     f"{name}_INPUT_COMPONENTS": 4, f"{name}_OUTPUT_COMPONENTS": 4 if outputs % 4 == 0 else 1})
    nerf.update({**nerf_tracing.defines(), "NERF_STAGE": 3, "NERF_TRAIN_STAGE": 2})
    shaders = sorted(compiler.SHADER_DIR.glob("*/*.comp"))
    assert len(shaders) >= 14
    for path in shaders:
        if path.parent.name == "nerf":
            spirv = compiler.compile_shader(path, nerf)
        else:
            own = {"image": grid_defines(2), "volume": {"MLP_OUTPUTS": 4}}.get(path.parent.name, {})  # 2D; rgb + density
            spirv = compiler.compile_shader(path, {**defines, **own})
        assert reflect(spirv).local_size_ids[0] == 0, f"{path.name} must take its workgroup size by id"
        if path.stem.endswith("_wavefront"):
            # The prepost form (the network left out), and the GPUs' block MLP (one query per invocation).
            compiler.compile_shader(path, {**(nerf if path.parent.name == "nerf" else {**defines, **own}),
                                           "WAVEFRONT_SPLIT": 1})
            if path.parent.name != "nerf":
                compiler.compile_shader(path, {**defines, **own, "MLP_ROWS_BLOCK": 1, "MLP_ITEMS": 1})


def test_timestamps_outlast_one_query_pool(device):
    # An iterative renderer times each stage in every iteration: 3 x 700 ranges with pools of 64
    # timestamps. Back-to-back ranges share their boundary, so 2100 ranges take 2101 timestamps.
    kernel = device.kernel("nn/sh_encode.comp")
    n = 64
    d = np.tile(np.array([[0.0, 0.0, 1.0]], np.float32), (n, 1))
    with device.buffer_from(d, "directions") as directions, device.buffer(n * 64, "encoded") as encoded:
        with device.sequence(timestamps_per_pool=64) as sequence:
            for _ in range(700):
                for label in ("a", "b", "c"):
                    with sequence.timed(label):
                        sequence.dispatch(kernel, n, {"directions": directions, "encoded": encoded}, {"n": n})
            sequence.run()
            times = sequence.timings()
            assert sequence._queries == 2101 and len(sequence._query_pools) == 33
        assert set(times) == {"a", "b", "c"} and all(t > 0 for t in times.values())


def test_buffer_views_bind_a_sub_range(device, rng):
    # Spherical harmonics of directions 100..199 of a 300-row buffer, written into rows 50..149 of
    # another: views at byte offsets, as storage buffers and as texel buffers.
    align = max(device.info.min_storage_buffer_offset_alignment, device.info.min_texel_buffer_offset_alignment)
    d = rng.normal(size=(300, 3)).astype(np.float32)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    from ngvk.engine.nn import reference

    kernel = device.kernel("nn/sh_encode.comp")
    with device.buffer_from(d, "directions") as directions, device.buffer(300 * 64, "encoded") as encoded:
        assert (100 * 12) % align == 0 and (50 * 64) % align == 0, "offsets chosen for alignments up to 16"
        with device.sequence() as sequence:
            sequence.fill(encoded, 0)
            sequence.fill(encoded.view(50 * 64, 100 * 64), 0x7FC00000)
            sequence.dispatch(kernel, 100, {"directions": directions.view(100 * 12, 100 * 12),
                                            "encoded": encoded.view(50 * 64, 100 * 64)}, {"n": 100})
            sequence.run()
        out = encoded.download(np.float32, (300, 16))
        np.testing.assert_allclose(out[50:150], reference.sh_encode(d[100:200]), atol=1e-5)
        assert not out[:50].any() and not out[150:].any()  # nothing outside the view
        np.testing.assert_array_equal(encoded.view(50 * 64, 64).download(np.float32), out[50])
        texels = directions.texels(1, offset=100 * 12, nbytes=12)
        assert texels.offset == 1200 and texels.nbytes == 12
        with pytest.raises(ValueError, match="not inside"):
            directions.view(300 * 12 - 4, 8)
        if device.info.min_storage_buffer_offset_alignment > 4:
            with pytest.raises(ValueError, match="multiple of"):
                directions.view(4, 8)
