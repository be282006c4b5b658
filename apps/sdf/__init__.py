"""The SDF app (NSDF, neural signed distance fields): a network maps a point of the unit cube to its
signed distance to a surface, and a sphere tracer renders it. app.py declares it; data.py and
shapes.py hold its data, fitting.py its training, tracing.py the tracer's NumPy specification,
render.py its renderers and checks.py its kernels' checks."""
