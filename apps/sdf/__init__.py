"""The SDF app (NSDF, neural signed distance fields): a network maps a point of the unit cube to
its signed distance to a surface, and a sphere tracer renders it (issue 12, under construction).
Here so far: its data (data.py: built-in shapes and meshes, training samples) and the analytic
shapes (shapes.py). It is not registered in ngvk.apps.APPS until its renderer and fitting exist."""
