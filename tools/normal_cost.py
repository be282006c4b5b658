#!/usr/bin/env python3
"""What the SDF app's normals would cost from the network's input gradient instead of its four
tetrahedron probes (apps/sdf/tracing.py says why the renderers use the probes).

Probes: 4 x (encoding + MLP forward) at N points. Gradient (instant-ngp's choice): the encoding,
the MLP forward keeping its activations, the MLP backward to its inputs (without weight gradients),
and the encoding's Jacobian with respect to the position (written out here; a renderer would
contract it on the fly). Both with the engine's standalone kernels on the shipped model, timed with
GPU timestamps, median of 3 after one warm-up, on the device ngvk picks (NGVK_MLP picks the MLP path).

    .venv/bin/python tools/normal_cost.py [N] [hashgrid|densegrid|lowres]
"""
import sys
import numpy as np
from ngvk.engine.gpu.device import Device
from ngvk.apps import get_app
from ngvk.engine.nn.training import MLPTraining
from ngvk.engine.nn.layers import MLP, GridEncoding

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 16
enc_name = sys.argv[2] if len(sys.argv) > 2 else "hashgrid"
app = get_app("sdf")
model = app.load_model(app.default_model_path(enc_name))
rng = np.random.default_rng(0)
with Device() as device:
    encoding = GridEncoding(device, model.encoding, model.params["encoding"])
    mlp = MLP(device, model.networks["network"], model.params["network"])
    c = model.encoding
    pos = device.buffer_from(rng.random((N, 3)).astype(np.float32), "positions")
    encoded = device.buffer(N * c.n_output * 4, "encoded")
    out = device.buffer(N * 4, "out")
    jac = device.buffer(N * c.n_output * 3 * 4, "jacobian")
    training = MLPTraining(mlp, N)
    training.d_outputs.upload(np.ones(N, np.float32))
    jk = device.kernel("nn/grid_encode_jacobian.comp", encoding.defines())
    results = {}
    for what in ("probes", "gradient") * 4:
        with device.sequence() as seq:
            if what == "probes":
                with seq.timed(what):
                    for _ in range(4):
                        encoding.record_encode(seq, pos, encoded, N)
                        mlp.record_forward(seq, encoded, out, N)
            else:
                with seq.timed("g_encode"):
                    encoding.record_encode(seq, pos, encoded, N)
                with seq.timed("g_forward"):
                    training.record_forward(seq, encoded, N)
                with seq.timed("g_backward"):
                    # backward kernel only (input gradients), no weight gradients
                    b = training
                    if b.path == "portable":
                        buffers = {"activations": b.activations.texels(4), "outputs": b.outputs.texels(mlp.output_components),
                                   "d_outputs": b.d_outputs.texels(mlp.output_components), "output_deltas": b.output_deltas,
                                   "deltas": b.deltas.texels(4), "d_inputs": b.d_inputs.texels(4), **mlp.bindings()}
                        seq.dispatch(b.backward_kernel, b._invocations(N), buffers, {"n": N})
                    else:
                        from ngvk.engine.nn.layers import BLOCK_ROWS, workgroup_grid
                        buffers = {"activations": b.activations, "outputs": b.outputs, "d_outputs": b.d_outputs,
                                   "output_deltas": b.output_deltas, "deltas": b.deltas, "d_inputs": b.d_inputs,
                                   **mlp.bindings()}
                        seq.dispatch(b.backward_kernel, buffers=buffers, push={"n": N},
                                     groups=workgroup_grid(device, -(-N // BLOCK_ROWS)))
                with seq.timed("g_jacobian"):
                    seq.dispatch(jk, N, {"positions": pos, **encoding.bindings(), "jacobian": jac}, {"n": N})
            seq.run()
            for k, v in seq.timings().items():
                results.setdefault(k, []).append(v)
    print(device.info.name, mlp.path.name, enc_name, N, {k: round(float(np.median(v[1:])), 2) for k, v in results.items()})
