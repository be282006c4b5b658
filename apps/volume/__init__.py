"""The volume app (NVR, neural volume rendering): a network maps a point of the unit cube to albedo
and density, and a free-flight renderer draws it. app.py declares it; data.py and volumes.py hold
its data, fitting.py its training, tracing.py the renderer's NumPy specification, render.py the
renderer and checks.py its kernels' checks."""
