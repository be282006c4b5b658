"""The volume app (NVR, neural volume rendering): a network maps a point of the unit cube to colour
and density, and a free-flight renderer draws it (issue 13, under construction). Here so far: its
data (data.py: built-in procedural volumes and density grids from .npy files, training samples) and
the procedural volumes (volumes.py). It is not registered in ngvk.apps.APPS until its renderer and
fitting exist."""
