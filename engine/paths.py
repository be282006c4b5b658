"""Where ngvk's own files lie. shaders/ and assets/ sit beside engine/ and apps/, both in a checkout
(the repository root) and in an installed package (site-packages/ngvk/, where pyproject.toml maps
them as package data), so one relative path finds them in either."""

from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
SHADER_DIR = PACKAGE_ROOT / "shaders"
ASSETS_DIR = PACKAGE_ROOT / "assets"
