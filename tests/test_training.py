"""Training kernels on the device against their NumPy references: MLP forward-for-training and
backward (deltas, input gradients, weight gradients), the grid's backward pass, the losses and Adam.
Tolerances: 1e-4 of the reference's largest magnitude, as for the forward kernels (the grid's
atomics sum in no fixed order, so its results are not bit-reproducible)."""

import numpy as np
import pytest

from engine import reference
from engine.config import GridConfig, MLPConfig
from engine.layers import MLP, GridEncoding
from engine.training import Adam, AdamConfig, GridTraining, MLPTraining, record_loss

TOLERANCE = 1e-4


def close(result, expected, tolerance=TOLERANCE):
    expected = np.asarray(expected, dtype=np.float64)
    error = np.max(np.abs(np.asarray(result, dtype=np.float64) - expected))
    assert error <= tolerance * np.max(np.abs(expected)), f"max error {error:.3g}"


@pytest.fixture(params=["float atomics", "compare-and-swap"])
def atomics(request, device, monkeypatch):
    """Run a test with the device's float atomics, and again with the compare-and-swap loop."""
    if request.param == "compare-and-swap":
        monkeypatch.setattr(device.info, "float_atomic_add", False)
    return request.param


@pytest.mark.parametrize(
    "config",
    [MLPConfig(32, 3, 64, 2, "sigmoid"), MLPConfig(7, 5, 16, 1, "exp"), MLPConfig(16, 4, 32, 3, "relu")],
    ids=["gia-like", "odd-sizes", "three-hidden"],
)
@pytest.mark.parametrize("items", ["device default", "1"])
def test_mlp_training_passes_match_reference(device, config, rng, items, monkeypatch):
    if items != "device default":
        monkeypatch.setenv("NGVK_MLP_ITEMS", items)  # the GPU variant: one sample per invocation
    n = 1001  # not a multiple of the samples per invocation or of the workgroup
    params = config.init_params(rng) * (0.5 if config.output_activation == "exp" else 1.0)
    x = rng.normal(size=(n, config.n_input)).astype(np.float32)
    d_outputs = rng.normal(size=(n, config.n_output)).astype(np.float32)
    mlp = MLP(device, config, params)
    training = MLPTraining(mlp, 1024)
    inputs = device.buffer_from(x, "inputs")
    try:
        training.d_outputs.upload(d_outputs)
        with device.sequence() as sequence:
            training.record_forward(sequence, inputs, n)
            training.record_backward(sequence, inputs, n)
            sequence.run()
        activations, outputs = reference.mlp_forward_train(config, params, x)
        close(training.outputs.download(np.float32, (n, config.n_output)), outputs)
        stored = training.activations.download(np.float32, (config.n_hidden_layers, n, config.width))
        for layer, expected in enumerate(activations):
            close(stored[layer], expected)
        d_inputs, d_params = reference.mlp_backward(config, params, x, d_outputs)
        close(training.d_inputs.download(np.float32, (n, config.n_input)), d_inputs)
        close(training.gradients.download(np.float32, (config.n_params,)), d_params)
    finally:
        inputs.close()
        training.close()
        mlp.close()


@pytest.mark.parametrize(
    "config",
    [GridConfig("hashgrid", 2, 4, 2, 8, 1.5, 10), GridConfig("densegrid", 3, 3, 2, 4, 1.5)],
    ids=["2D hashed", "3D dense"],
)
def test_grid_backward_matches_reference(device, config, rng, atomics):
    n = 3000
    positions = rng.random((n, config.n_dims), dtype=np.float32)
    d_encoded = rng.normal(size=(n, config.n_output)).astype(np.float32)
    encoding = GridEncoding(device, config, config.init_params(rng))
    training = GridTraining(encoding)
    buffers = [device.buffer_from(positions, "positions"), device.buffer_from(d_encoded, "d_encoded")]
    try:
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


@pytest.mark.parametrize("name", ["l2", "relative_l2"])
def test_loss_matches_reference(device, name, rng):
    n, channels = 777, 3
    y = rng.normal(size=(n, channels)).astype(np.float32)
    t = rng.random((n, channels), dtype=np.float32)
    buffers = {
        "outputs": device.buffer_from(y, "outputs"),
        "targets": device.buffer_from(t, "targets"),
        "d_outputs": device.buffer(n * channels * 4, "d_outputs"),
        "losses": device.buffer(n * 4, "losses"),
    }
    try:
        with device.sequence() as sequence:
            record_loss(sequence, device, name, *buffers.values(), n, channels)
            sequence.run()
        per_sample, grad = reference.loss(name, y, t)
        close(buffers["losses"].download(np.float32, (n,)), per_sample)
        close(buffers["d_outputs"].download(np.float32, (n, channels)), grad)
    finally:
        for buffer in buffers.values():
            buffer.close()


def test_adam_matches_reference(device, rng):
    config = AdamConfig(learning_rate=0.01, l2_reg=1e-3)
    n = 1000
    grid_params = rng.normal(size=n).astype(np.float32)
    mlp_params = rng.normal(size=n).astype(np.float32)
    gradients = [rng.normal(size=n).astype(np.float32) for _ in range(3)]
    for g in gradients:
        g[rng.random(n) < 0.3] = 0.0  # untouched grid entries
    buffers = [device.buffer_from(grid_params, "grid"), device.buffer_from(mlp_params, "mlp")]
    grads = [device.buffer(n * 4, "grid_gradients"), device.buffer(n * 4, "mlp_gradients")]
    adam = Adam(device, config)
    adam.add(buffers[0], grads[0], n, False, "grid")
    adam.add(buffers[1], grads[1], n, True, "mlp")
    hyper = dict(learning_rate=config.learning_rate, beta1=config.beta1, beta2=config.beta2,
                 epsilon=config.epsilon, l2_reg=config.l2_reg)
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
        for buffer, state, (p, m, v, t, _) in zip(buffers, adam.state(), expected):
            close(buffer.download(np.float32, (n,)), p, 1e-5)
            close(state["first"], m)
            close(state["second"], v)
            np.testing.assert_array_equal(state["steps"], t)
    finally:
        adam.close()
        for buffer in buffers + grads:
            buffer.close()
