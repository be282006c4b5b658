"""The NeRF app (neural radiance fields): a density network on a grid encoding of the position and
a colour network on its features and the view direction, rendered by ray marching through an
occupancy grid and trained through volume rendering from posed images. app.py declares it; data.py
reads datasets (NeRF synthetic and instant-ngp transforms), scene.py generates the procedural
dataset, networks.py holds the model's presets and layout, tracing.py the marcher's and volume
rendering's NumPy specification (forward and backward), training.py the occupancy grid and the
training graph, render.py the renderers and checks.py its kernels' checks."""
