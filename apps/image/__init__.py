"""The image app (GIA, gigapixel image approximation): app.py holds the app and its renderer,
reference.py the NumPy references of its kernels (shaders/image/)."""

from ngvk.apps.image.app import ImageApp, ImageRenderer  # noqa: F401 (the package exports them)
