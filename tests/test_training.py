"""Training kernels on the device against their NumPy references: MLP forward-for-training and
backward (deltas, input gradients, weight gradients), the grid's backward pass, the losses, Adam,
and the Trainer's step counter.

Tolerances: 1e-4 of the reference's largest magnitude, as for the forward kernels (the grid's
atomics sum in no fixed order, so its results are not bit-reproducible). Sizes are 1, 7 and 1029
samples: none is a multiple of the samples per invocation, the workgroup or the weight-gradient
chunk, so a count rounded the wrong way leaves outputs unwritten. Every output buffer is filled
with NaN first (POISON_WORD), so an unwritten output fails the comparison instead of passing with
what an earlier test left there."""

from contextlib import contextmanager

import numpy as np
import pytest

from ngvk.engine.nn import reference
from ngvk.engine.nn.config import GridConfig, MLPConfig
from ngvk.engine.nn.layers import MLP, GridEncoding
from ngvk.engine.poison import POISON_WORD
from ngvk.engine.nn.training import Adam, AdamConfig, GridTraining, MLPTraining, grid_mlp_trainer, record_loss

TOLERANCE = 1e-4
SIZES = [1, 7, 1029]

# instant-ngp's optimiser settings, written out here rather than read from AdamConfig: the tests
# must fail if the defaults drift.
INSTANT_NGP_ADAM = dict(learning_rate=1e-2, beta1=0.9, beta2=0.99, epsilon=1e-15, l2_reg=1e-6)


def close(result, expected, tolerance=TOLERANCE):
    expected = np.asarray(expected, dtype=np.float64)
    result = np.asarray(result, dtype=np.float64)
    assert not np.isnan(result).any(), "outputs left unwritten (NaN)"
    error = np.max(np.abs(result - expected))
    assert error <= tolerance * np.max(np.abs(expected)), f"max error {error:.3g}"


def poison(*buffers):
    for buffer in buffers:
        buffer.fill(POISON_WORD)


@pytest.fixture(params=["float atomics", "compare-and-swap"])
def atomics(request, device, monkeypatch):
    """Run a test with the device's float atomics, and again with the compare-and-swap loop."""
    if request.param == "compare-and-swap":
        monkeypatch.setattr(device.info, "float_atomic_add", False)
    return request.param


MLP_CONFIGS = {
    "gia-like": MLPConfig(32, 3, 64, 2, "sigmoid"),
    "odd-sizes": MLPConfig(7, 5, 16, 1, "exp"),
    "three-hidden": MLPConfig(16, 4, 32, 3, "relu"),
    "eight-hidden": MLPConfig(16, 3, 16, 8, "sigmoid"),  # the deepest network lib/mlp.glsl takes
}


def run_mlp_training(device, config, params, x, d_outputs):
    """Forward and backward on the device: (outputs, activations, d_inputs, gradients)."""
    n = len(x)
    mlp = MLP(device, config, params)
    training = MLPTraining(mlp, 1029)
    inputs = device.buffer_from(x, "inputs")
    try:
        poison(training.outputs, training.activations, training.deltas, training.output_deltas,
               training.d_inputs, training.gradients)
        training.d_outputs.upload(d_outputs)
        with device.sequence() as sequence:
            training.record_forward(sequence, inputs, n)
            training.record_backward(sequence, inputs, n)
            sequence.run()
        return (
            training.outputs.download(np.float32, (n, config.n_output)),
            training.activations.download(np.float32, (config.n_hidden_layers, n, config.width)),
            training.d_inputs.download(np.float32, (n, config.n_input)),
            training.gradients.download(np.float32, (config.n_params,)),
        )
    finally:
        inputs.close()
        training.close()
        mlp.close()


def check_mlp_training(device, config, rng, n):
    params = config.init_params(rng) * (0.5 if config.output_activation == "exp" else 1.0)
    x = rng.normal(size=(n, config.n_input)).astype(np.float32)
    d_outputs = rng.normal(size=(n, config.n_output)).astype(np.float32)
    outputs, stored, d_inputs, d_params = run_mlp_training(device, config, params, x, d_outputs)
    activations, expected_outputs = reference.mlp_train_forward(config, params, x)
    close(outputs, expected_outputs)
    for layer, expected in enumerate(activations):
        close(stored[layer], expected)
    expected_d_inputs, expected_d_params = reference.mlp_backward(config, params, x, d_outputs)
    close(d_inputs, expected_d_inputs)
    close(d_params, expected_d_params)


@pytest.mark.parametrize("name", list(MLP_CONFIGS))
@pytest.mark.parametrize("items", ["device default", "1"])
def test_mlp_training_passes_match_reference(device, name, rng, items, monkeypatch):
    if items != "device default":
        monkeypatch.setenv("NGVK_MLP_ITEMS", items)  # the GPU variant: one sample per invocation
    check_mlp_training(device, MLP_CONFIGS[name], rng, 1029)


@pytest.mark.parametrize("n", [1, 7])
def test_mlp_training_passes_at_tiny_batches(device, rng, n):
    check_mlp_training(device, MLP_CONFIGS["gia-like"], rng, n)


@pytest.mark.parametrize(
    "config",
    [GridConfig("hashgrid", 2, 4, 2, 8, 1.5, 10), GridConfig("densegrid", 3, 3, 2, 4, 1.5)],
    ids=["2D hashed", "3D dense"],
)
@pytest.mark.parametrize("n", SIZES)
def test_grid_backward_matches_reference(device, config, rng, atomics, n):
    positions = rng.random((n, config.n_dims), dtype=np.float32)
    d_encoded = rng.normal(size=(n, config.n_output)).astype(np.float32)
    encoding = GridEncoding(device, config, config.init_params(rng))
    training = GridTraining(encoding)
    buffers = [device.buffer_from(positions, "positions"), device.buffer_from(d_encoded, "d_encoded")]
    try:
        poison(training.gradients)  # the backward pass clears it itself before summing into it
        with device.sequence() as sequence:
            training.record_backward(sequence, buffers[0], buffers[1], n)
            sequence.run()
        expected = reference.grid_backward(config, positions, d_encoded)
        close(training.gradients.download(np.float32, expected.shape), expected)
    finally:
        for buffer in buffers:
            buffer.close()
        training.close()
        encoding.close()


@pytest.mark.parametrize("name", reference.LOSSES)
@pytest.mark.parametrize("n", SIZES)
def test_loss_matches_reference(device, name, rng, n):
    channels = 3
    y = rng.normal(size=(n, channels)).astype(np.float32)
    t = rng.random((n, channels), dtype=np.float32)
    buffers = {
        "outputs": device.buffer_from(y, "outputs"),
        "targets": device.buffer_from(t, "targets"),
        "d_outputs": device.buffer(n * channels * 4, "d_outputs"),
        "losses": device.buffer(n * 4, "losses"),
    }
    try:
        poison(buffers["d_outputs"], buffers["losses"])
        with device.sequence() as sequence:
            record_loss(sequence, device, name, *buffers.values(), n, channels)
            sequence.run()
        per_sample, grad = reference.loss(name, y, t)
        close(buffers["losses"].download(np.float32, (n,)), per_sample)
        close(buffers["d_outputs"].download(np.float32, (n, channels)), grad)
    finally:
        for buffer in buffers.values():
            buffer.close()


def test_adam_defaults_are_instant_ngps():
    assert AdamConfig() == AdamConfig(**INSTANT_NGP_ADAM)


@pytest.mark.parametrize("n", SIZES)
def test_adam_matches_reference_over_several_steps(device, rng, n):
    # Six steps with instant-ngp's settings: beta2 and the bias corrections only show after the
    # first step (where the update is lr * sign(g) whatever the betas). L2 is raised to 1e-2 so
    # that the MLP group's regularisation moves the result by more than the tolerance.
    hyper = {**INSTANT_NGP_ADAM, "l2_reg": 1e-2}
    grid_params = rng.normal(size=n).astype(np.float32)
    mlp_params = rng.normal(size=n).astype(np.float32)
    gradients = [rng.normal(size=n).astype(np.float32) * rng.uniform(0.1, 10) for _ in range(6)]
    for g in gradients[1:]:
        g[rng.random(n) < 0.3] = 0.0  # grid entries no sample touched this step
    buffers = [device.buffer_from(grid_params, "grid"), device.buffer_from(mlp_params, "mlp")]
    grads = [device.buffer(n * 4, "grid_gradients"), device.buffer(n * 4, "mlp_gradients")]
    adam = Adam(device, AdamConfig(**hyper))
    adam.add(buffers[0], grads[0], n, False, "grid")
    adam.add(buffers[1], grads[1], n, True, "mlp")
    expected = [
        (grid_params, np.zeros(n), np.zeros(n), np.zeros(n, int), False),
        (mlp_params, np.zeros(n), np.zeros(n), np.zeros(n, int), True),
    ]
    try:
        with device.sequence() as sequence:
            adam.record_step(sequence)
            for g in gradients:
                grads[0].upload(g)
                grads[1].upload(g)
                sequence.run()
                expected = [(*reference.adam_step(p, g, m, v, t, is_matrix=mat, **hyper), mat) for p, m, v, t, mat in expected]
        for buffer, start, state, (p, m, v, t, _) in zip(buffers, (grid_params, mlp_params), adam.state(), expected):
            # The change of the parameters, so that the tolerance is relative to the updates.
            close(buffer.download(np.float32, (n,)) - start, p - start)
            close(state["first"], m)
            close(state["second"], v)
            np.testing.assert_array_equal(state["steps"], t)
    finally:
        adam.close()
        for buffer in buffers + grads:
            buffer.close()


@pytest.mark.parametrize("n", SIZES)
def test_adam_schedule_and_average_match_reference(device, rng, n):
    # A learning rate that changes each step (as a decay schedule writes it) and the moving
    # average of the parameters after each step (tcnn's EMA, debiased), grid and MLP groups; the
    # grid's untouched entries keep their parameters but their average still moves toward them.
    config = AdamConfig(**INSTANT_NGP_ADAM, average_decay=0.9)
    hyper = {k: v for k, v in INSTANT_NGP_ADAM.items() if k != "learning_rate"}
    params = [rng.normal(size=n).astype(np.float32) for _ in range(2)]
    buffers = [device.buffer_from(p, name) for p, name in zip(params, ("grid", "mlp"))]
    grads = [device.buffer(n * 4, "grid_gradients"), device.buffer(n * 4, "mlp_gradients")]
    adam = Adam(device, config)
    adam.add(buffers[0], grads[0], n, False, "grid")
    adam.add(buffers[1], grads[1], n, True, "mlp")
    expected = [(p, np.zeros(n), np.zeros(n), np.zeros(n, int)) for p in params]
    averages = [np.zeros(n), np.zeros(n)]
    try:
        with device.sequence() as sequence:
            adam.record_step(sequence)
            for step in range(1, 6):
                g = rng.normal(size=n).astype(np.float32)
                g[rng.random(n) < 0.3] = 0.0
                rate = 0.1 * 0.7**step  # large enough that the changes stand well above float32 rounding
                for buffer in grads:
                    buffer.upload(g)
                adam.schedule_step(step, rate)
                sequence.run()
                expected = [reference.adam_step(*e[:1], g, *e[1:], is_matrix=m, learning_rate=rate, **hyper)
                            for e, m in zip(expected, (False, True))]
                averages = [reference.average_step(a, e[0], decay=0.9, step=step) for a, e in zip(averages, expected)]
        for buffer, start, state, (p, _, _, _), average in zip(buffers, params, adam.state(), expected, averages):
            close(buffer.download(np.float32, (n,)) - start, p - start)
            close(state["average"] - start, average - start)
        assert adam.average_of(buffers[0]) is not None and adam.average_of(grads[0]) is None
    finally:
        adam.close()
        for buffer in buffers + grads:
            buffer.close()


def test_learning_rate_decays_over_the_fits_progress():
    config = AdamConfig(learning_rate=1e-2, decay_start=0.5, decay_interval=0.25, decay_base=0.1)
    assert config.rate(0.0) == config.rate(0.5) == 1e-2
    assert config.rate(0.75) == pytest.approx(1e-3) and config.rate(1.0) == pytest.approx(1e-4)
    assert AdamConfig().rate(1.0) == AdamConfig().learning_rate  # no decay by default


@contextmanager
def image_trainer(device, rng, n: int, **options):
    """(trainer, its MLP): a small grid and MLP trained on an 8 x 8 random image with the image
    app's batch kernel; grid_mlp_trainer's `options` (seed, adam)."""
    grid = GridConfig("hashgrid", 2, 2, 2, 4, 2.0, 8)
    network = MLPConfig(grid.n_output, 3, 16, 1, "none")
    encoding = GridEncoding(device, grid, grid.init_params(rng))
    mlp = MLP(device, network, network.init_params(rng))
    image = device.buffer_from(rng.random((8, 8, 3)).astype(np.float32), "source_image")

    def record_batch(sequence, state, positions, targets, count):
        buffers = {"source_image": image, "training_state": state, "positions": positions, "targets": targets}
        sequence.dispatch(device.kernel("image/image_batch.comp"), count, buffers, {"n": count, "source_width": 8, "source_height": 8})

    trainer = grid_mlp_trainer(encoding, mlp, n, "l2", record_batch, **options)
    try:
        yield trainer, mlp
    finally:
        trainer.close()
        image.close()
        mlp.close()
        encoding.close()


def test_trainer_counts_steps_and_draws_a_new_batch_each_step(device, rng):
    # The step reaches the batch kernel: the positions of step k are the random sequence of step k.
    n, seed = 1029, 11
    with image_trainer(device, rng, n, seed=seed) as (trainer, _):
        for step in (1, 2, 3):
            trainer.run_step()
            assert list(trainer.state.download(np.uint32, (2,))) == [step, seed]
            expected = np.stack([reference.random_uniform(seed, step, np.arange(n), k) for k in (0, 1)], axis=1)
            np.testing.assert_array_equal(trainer.positions.download(np.float32, (n, 2)), expected)
            assert np.isfinite(trainer.last_loss())


def test_trainer_saves_the_average_and_follows_the_schedule(device, rng):
    # With an average, what the trainer gives a model (Trainer.params) is the average of the
    # parameters after each step, not the last step's; the learning rate follows the progress the
    # fit loop sets before each step (progress 0, 0.25, 0.5, 0.75 of a decay from 0.5: the rates the
    # schedule buffer holds).
    from ngvk.engine.fit import fit_loop

    config = AdamConfig(average_decay=0.8, decay_start=0.5, decay_interval=0.25, decay_base=0.1)
    with image_trainer(device, rng, 256, adam=config) as (trainer, mlp):
        average = np.zeros(mlp.config.n_params)
        for step in (1, 2, 3):
            trainer.run_step()
            average = reference.average_step(average, mlp.get_params(), decay=0.8, step=step)
        close(trainer.params(mlp) - mlp.get_params(), average - mlp.get_params())
        assert np.abs(average - mlp.get_params()).max() > 1e-4  # the average is not the last step's weights
        rates = []
        fit_loop(trainer, 4, lambda training: None, lambda model: {},
                 progress=lambda *a: rates.append(float(trainer.adam.schedule.download(np.float32, (3,))[0])))
        np.testing.assert_allclose(rates, [config.rate(p) for p in (0.0, 0.25, 0.5, 0.75)], rtol=1e-6)
        assert rates[-1] < rates[0]


@pytest.mark.parametrize("n", SIZES)
def test_pool_batch_draws_the_reference_entries(device, rng, n):
    from ngvk.engine.nn.layers import run_kernel

    pool = 777
    pool_positions = rng.random((pool, 3), dtype=np.float32)
    pool_targets = rng.normal(size=(pool, 2)).astype(np.float32)
    kernel = device.kernel("nn/pool_batch.comp", {"POOL_DIMS": 3, "POOL_CHANNELS": 2})
    for step in (1, 2):
        with device.buffer_from(np.array([step, 9], np.uint32), "training_state") as state:
            out = run_kernel(device, kernel, n, {"pool_positions": pool_positions, "pool_targets": pool_targets,
                                                 "training_state": state},
                             {"positions": (n, 3), "targets": (n, 2)}, {"pool_size": pool})
        positions, targets = reference.pool_batch(pool_positions, pool_targets, 9, step, n)
        np.testing.assert_array_equal(out["positions"], positions)
        np.testing.assert_array_equal(out["targets"], targets)
