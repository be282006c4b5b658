"""The image app (GIA, gigapixel image approximation): see app.py."""

from ngvk.apps.image.app import *  # noqa: F401,F403
from ngvk.apps.image.app import APP, Renderer  # noqa: F401
