"""The MLP's GPU paths (engine/nn/layers.py mlp_path()): which one is chosen and why, the
portable-gpu block kernels (fp32, checked on every driver, on tiny inputs here), and the
cooperative-matrix kernels (fp16), which run only where the device lists a usable shape: on the
default driver (Mesa 22.3 lavapipe) those tests are skipped as "not supported on this device"; run
them on the CPU with Mesa 26's lavapipe:

    ../shared/tools/lavapipe-26 .venv/bin/python -m pytest tests/test_coopmat.py -ra

Validation stays on; a validation layer older than VK_KHR_cooperative_matrix (Debian 12's) cannot
parse its structures and shaders, and only those messages are set aside (engine/gpu/device.py
COOPERATIVE_MATRIX_LAYER_GAPS).
"""

from types import SimpleNamespace

import numpy as np
import pytest

from ngvk.engine import check
from ngvk.engine.errors import NgvkError
from ngvk.engine.nn import reference
from ngvk.engine.nn.config import MLPConfig
from ngvk.engine.nn.layers import MLP, cooperative_matrix_shape, mlp_path
from ngvk.engine.poison import POISON_WORD

SMALL = MLPConfig(7, 5, 16, 1, "exp")  # check.BLOCK_CASES[0]: its pipelines are the check's
APP = MLPConfig(32, 3, 64, 2, "sigmoid")  # check.BLOCK_CASES[1]


# ---- choosing the path (host logic, no Vulkan) ----------------------------------------------------


def fake_device(kind="discrete GPU", shapes=(), shared=48 * 1024, subgroup=32):
    """A device as mlp_path() sees it: its type, cooperative-matrix list and shared memory."""
    info = SimpleNamespace(type=kind, cooperative_matrix=bool(shapes), cooperative_matrix_shapes=list(shapes),
                           extensions=["VK_KHR_cooperative_matrix"] if shapes else [], float16=True,
                           max_shared_memory=shared, subgroup_size=subgroup)
    return SimpleNamespace(info=info)


NVIDIA_SHAPES = [
    (16, 8, 16, "float16", "float16", "float16", "float16", "subgroup"),
    (16, 8, 16, "float16", "float16", "float32", "float32", "subgroup"),
    (16, 16, 16, "float16", "float16", "float32", "float32", "subgroup"),
    (16, 8, 32, "uint8", "uint8", "uint32", "uint32", "subgroup"),
]
LAVAPIPE_26_SHAPES = [
    (8, 8, 8, "float16", "float16", "float16", "float16", "subgroup"),
    (8, 8, 8, "float16", "float16", "float32", "float32", "subgroup"),
]


def test_the_path_follows_the_device(monkeypatch):
    monkeypatch.delenv("NGVK_MLP", raising=False)
    cpu = mlp_path(fake_device("CPU", shared=32 * 1024, subgroup=8))
    assert cpu.name == "portable" and "not supported on this device" in cpu.reason
    gpu = mlp_path(fake_device())
    assert gpu.name == "portable-gpu" and "not supported on this device" in gpu.reason
    nvidia = mlp_path(fake_device(shapes=NVIDIA_SHAPES), APP)
    assert nvidia.name == "coopmat" and nvidia.shape == (16, 16, 16) and nvidia.precision == "fp16"
    assert nvidia.describe() == "coopmat 16x16x16 fp16->fp32" and "lists 16x16x16" in nvidia.reason
    # lavapipe 26 lists 8x8x8, but on a CPU the texel-buffer MLP is faster: kept, with the reason.
    lavapipe = mlp_path(fake_device("CPU", LAVAPIPE_26_SHAPES, 32 * 1024, 8), APP)
    assert lavapipe.name == "portable" and "8x8x8" in lavapipe.reason and "NGVK_MLP=coopmat" in lavapipe.reason
    monkeypatch.setenv("NGVK_MLP", "coopmat")
    forced = mlp_path(fake_device("CPU", LAVAPIPE_26_SHAPES, 32 * 1024, 8), APP)
    assert forced.name == "coopmat" and forced.shape == (8, 8, 8) and "NGVK_MLP=coopmat" in forced.reason


def test_only_listed_fp16_to_fp32_subgroup_shapes_are_taken():
    # fp16 results only, a workgroup scope, int8, or an M that does not divide a 64-sample block.
    unusable = [
        (16, 16, 16, "float16", "float16", "float16", "float16", "subgroup"),
        (16, 16, 16, "float16", "float16", "float32", "float32", "workgroup"),
        (16, 16, 32, "int8", "int8", "int32", "int32", "subgroup"),
        (24, 8, 8, "float16", "float16", "float32", "float32", "subgroup"),
    ]
    shape, why = cooperative_matrix_shape(fake_device(shapes=unusable))
    assert shape is None and "not supported on this device" in why
    assert mlp_path(fake_device(shapes=unusable), APP, "auto").name == "portable-gpu"
    shape, _ = cooperative_matrix_shape(fake_device(shapes=unusable + NVIDIA_SHAPES[:2]))
    assert shape == (16, 8, 16)


def test_forcing_a_path(monkeypatch):
    monkeypatch.setenv("NGVK_MLP", "coopmat")
    with pytest.raises(NgvkError, match="not supported on this device") as error:
        mlp_path(fake_device())
    assert "\n" not in str(error.value)
    monkeypatch.setenv("NGVK_MLP", "portable")
    assert mlp_path(fake_device(shapes=NVIDIA_SHAPES), APP).name == "portable"
    monkeypatch.setenv("NGVK_MLP", "portable-gpu")
    assert mlp_path(fake_device("CPU"), APP).name == "portable-gpu"
    monkeypatch.setenv("NGVK_MLP", "fast")
    with pytest.raises(NgvkError, match="NGVK_MLP=fast: choose one of portable, portable-gpu, coopmat"):
        mlp_path(fake_device())


def test_networks_that_do_not_fit_shared_memory_fall_back():
    # 32-64-64-3 takes 31 KiB as coopmat 16x16x16 (fp16 activations twice, weights, scratch) and
    # 24 KiB as portable-gpu with passes of 32 samples (fp32).
    assert mlp_path(fake_device(shapes=NVIDIA_SHAPES), APP, "coopmat").name == "coopmat"
    path = mlp_path(fake_device(shapes=NVIDIA_SHAPES, shared=28 * 1024), APP, "coopmat")
    assert path.name == "portable-gpu" and "KiB of shared memory" in path.reason
    path = mlp_path(fake_device(shared=4 * 1024), APP, "portable-gpu")
    assert path.name == "portable" and "does not fit" in path.reason


# ---- the portable-gpu kernels, on every driver -----------------------------------------------------


@pytest.mark.parametrize("name,config", check.BLOCK_CASES, ids=[n for n, _ in check.BLOCK_CASES])
def test_block_forward_matches_reference(device, name, config, rng):
    result = check.check_mlp(device, name, config, rng, "portable-gpu")
    assert result.kernel == "mlp_block_forward" and result.passed, result


@pytest.mark.parametrize("n", [1, 7, 130])
def test_block_training_matches_reference_at_awkward_sizes(device, rng, n):
    # 130 samples: three blocks of 64, the last one with 2 rows, and passes of 32 rows on lavapipe.
    results = check.check_mlp_training(device, "odd sizes", SMALL, rng, n=n, path="portable-gpu")
    assert {r.kernel for r in results} == {"mlp_block_forward", "mlp_block_backward", "mlp_weight_gradient"}
    failed = [f"{r.kernel} {r.case}: {r.max_error:.3g} > {r.tolerance:.3g}" for r in results if not r.passed]
    assert not failed, failed


def forward_through_counter(device, mlp, x, listed):
    """mlp.record_forward() over the first `listed` rows of x, the count in a ray counter on the
    device (engine/render/rays.py), dispatched indirectly; outputs start as NaN."""
    from ngvk.engine.render.rays import counter, record_dispatch_args

    n = len(x)
    with device.buffer_from(x, "inputs") as inputs, device.buffer(n * mlp.config.n_output * 4, "outputs") as outputs, \
            counter(device, "count", listed) as count:
        with device.sequence() as sequence:
            sequence.fill(outputs, POISON_WORD)
            record_dispatch_args(sequence, device, count)
            mlp.record_forward(sequence, inputs, outputs, n, counter=count)
            sequence.run()
        return outputs.download(np.float32, (n, mlp.config.n_output))


def test_block_forward_through_a_ray_counter(device, rng):
    # The unfused renderers' route: as many samples as the counter says, no more.
    params = SMALL.init_params(rng) * 0.5
    x = rng.normal(size=(200, SMALL.n_input)).astype(np.float32)
    mlp = MLP(device, SMALL, params, path="portable-gpu")
    try:
        out = forward_through_counter(device, mlp, x, 131)
    finally:
        mlp.close()
    np.testing.assert_allclose(out[:131], reference.mlp_forward(SMALL, params, x[:131]), rtol=1e-4, atol=1e-5)
    assert np.isnan(out[131:]).all()


# ---- the cooperative-matrix kernels, where the device has them ---------------------------------------


@pytest.fixture
def coopmat(device):
    """Skips the test where the device lists no usable cooperative-matrix shape."""
    shape, why = cooperative_matrix_shape(device)
    if shape is None:
        pytest.skip(f"cooperative-matrix MLP: {why}")
    return shape


def test_check_reports_coopmat_as_not_supported_or_runs_it(device, rng):
    # On a device without cooperative matrices, `ngvk check` says so for each coopmat kernel:
    # neither passed nor failed. (Only that job is run here: the others are the check test's.)
    shape, why = cooperative_matrix_shape(device)
    jobs = check.mlp_path_checks(device, rng)
    if shape is not None:
        assert len(jobs) > len(check.BLOCK_CASES) * 2 + 1  # the coopmat cases themselves
        return
    results = jobs[-1]()
    assert [r.kernel for r in results] == list(check.COOPMAT_KERNELS)
    for r in results:
        assert "not supported on this device" in r.unsupported and not r.passed and not r.failed


def test_check_command_shows_unsupported_kernels(monkeypatch, capsys):
    from ngvk.apps import cli

    cases = [check.CheckResult("adam_step", "ok case", 0.0, 1e-4, 0.1),
             *check.path_unsupported(["mlp_coopmat_forward"], "cooperative-matrix MLP", "not supported on this device")]
    monkeypatch.setattr(check, "run_checks", lambda device, progress=None, apps=(): [progress(r) or r for r in cases])
    assert cli.main(["check"]) == 0
    out = capsys.readouterr().out
    assert "n/a  mlp_coopmat_forward" in out and "not supported on this device" in out
    assert "1 of 1 kernel checks passed; 1 not supported on this device" in out


@pytest.mark.parametrize("name,config", check.coopmat_cases(), ids=[n for n, _ in check.coopmat_cases()])
def test_coopmat_matches_reference(device, coopmat, name, config, rng):
    # `ngvk check`'s cases: the forward pass, then the training passes (check.fp16_tolerance()).
    results = [check.check_mlp(device, name, config, rng, "coopmat"),
               *check.check_mlp_training(device, name, config, rng, path="coopmat")]
    assert {r.kernel for r in results} == set(check.COOPMAT_KERNELS)
    failed = [f"{r.kernel} {r.case}: {r.max_error:.3g} > {r.tolerance:.3g}" for r in results if not r.passed]
    assert not failed, failed


@pytest.mark.parametrize("n", [1, 7, 130])
def test_coopmat_training_at_awkward_sizes(device, coopmat, rng, n):
    results = check.check_mlp_training(device, "odd sizes", SMALL, rng, n=n, path="coopmat")
    failed = [f"{r.kernel} {r.case}: {r.max_error:.3g} > {r.tolerance:.3g}" for r in results if not r.passed]
    assert not failed, failed


def test_coopmat_when_the_driver_runs_fewer_subgroups_than_planned(device, coopmat, rng, monkeypatch):
    # The kernels are sized for coopmat_subgroups() subgroups; a driver free to choose larger
    # subgroups runs fewer. Simulated with half the invocations: each subgroup then takes two row
    # tiles, and the weight gradients are summed in two rounds.
    planned = MLP.block_threads.fget
    monkeypatch.setattr(MLP, "block_threads", property(lambda mlp: planned(mlp) // 2))
    results = check.check_mlp_training(device, "odd sizes", SMALL, rng, n=130, path="coopmat")
    results += check.check_mlp_training(device, "app", APP, rng, n=1029, path="coopmat")
    failed = [f"{r.kernel} {r.case}: {r.max_error:.3g} > {r.tolerance:.3g}" for r in results if not r.passed]
    assert not failed, failed


def test_coopmat_forward_through_a_ray_counter(device, coopmat, rng):
    params = SMALL.init_params(rng) * 0.5
    x = rng.normal(size=(200, SMALL.n_input)).astype(np.float32)
    mlp = MLP(device, SMALL, params, path="coopmat")
    try:
        out = forward_through_counter(device, mlp, x, 131)
    finally:
        mlp.close()
    expected = reference.mlp_forward(SMALL, params, x[:131])
    assert np.max(np.abs(out[:131] - expected)) <= check.fp16_tolerance(SMALL) * np.max(np.abs(expected))
    assert np.isnan(out[131:]).all()


def test_coopmat_gradients_of_a_mean_loss_keep_their_precision(device, coopmat, rng):
    # dL/d outputs of a mean over 2^16 samples are about 1e-5 and the deltas below: in fp16 they
    # would be subnormal, a few bits or none. The kernels scale each block by a power of two first.
    config = APP
    n = 1029
    params = config.init_params(rng)
    x = rng.normal(size=(n, config.n_input)).astype(np.float32) * 1e-3  # small inputs too (early grids)
    d_outputs = (rng.normal(size=(n, config.n_output)) * 1e-7).astype(np.float32)
    mlp = MLP(device, config, params, path="coopmat")
    try:
        outputs, activations, d_inputs, gradients = check.mlp_training_pass(mlp, x, d_outputs)
    finally:
        mlp.close()
    expected_d_inputs, expected_gradients = reference.mlp_backward_from(config, params, x, activations, outputs,
                                                                        d_outputs)
    tolerance = check.fp16_tolerance(config)
    assert np.max(np.abs(d_inputs - expected_d_inputs)) <= tolerance * np.max(np.abs(expected_d_inputs))
    assert np.max(np.abs(gradients - expected_gradients)) <= tolerance * np.max(np.abs(expected_gradients))


def test_buffer_atomics_pass_validation_with_the_memory_model(device, coopmat, rng):
    # Cooperative matrices need the Vulkan memory model, and with it on, atomics at device scope
    # (stream compaction's counter, the renderers' query counts) need its device-scope feature:
    # without it the validation layer rejects every such kernel (seen on an H200 and Mesa 26).
    from ngvk.engine.render.rays import compact_reference, counter, record_compact, record_dispatch_args

    alive = rng.integers(0, 2, 300).astype(np.uint32)
    with device.buffer_from(alive, "alive") as flags, device.buffer_from(np.arange(300, dtype=np.uint32), "indices") as indices, \
            device.buffer(300 * 4, "kept") as kept:
        count_in, count_out = counter(device, "count_in", 300), counter(device, "count_out")
        try:
            with device.sequence() as sequence:
                record_dispatch_args(sequence, device, count_in)
                record_compact(sequence, device, flags, indices, count_in, kept, count_out)
                sequence.run()
            device.check_validation()
            n = int(count_out.download(np.uint32, (1,))[0])
            np.testing.assert_array_equal(np.sort(kept.download(np.uint32, (n,))), compact_reference(alive, np.arange(300)))
        finally:
            count_in.close()
            count_out.close()
