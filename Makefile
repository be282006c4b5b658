# The two commands of README.md, each self-contained on a fresh Debian 12 machine (run as root so
# missing system packages can be installed):
#   make demo   the main job: device info, every kernel checked against its NumPy reference, and
#               the shipped image model rendered headless, fused and unfused (PNGs in out/)
#   make test   the test suite, with Vulkan validation layers on
VENV := .venv
NGVK := $(VENV)/bin/ngvk

.PHONY: setup demo test assets

setup:
	@tools/setup.sh

demo: setup
	$(NGVK) info
	$(NGVK) check
	mkdir -p out
	$(NGVK) render image --out out/image_fused.png
	$(NGVK) render image --out out/image_unfused.png --unfused

test: setup
	$(VENV)/bin/python -m pytest

# Re-fit the shipped models (image: about 2.5 minutes, SDF: about 18, volume: about 25, NeRF: under
# an hour with its dataset, on a 2-core CPU with lavapipe; see assets/README.md). `tools/fit_assets.sh sdf` re-fits only the SDF models.
assets: setup
	tools/fit_assets.sh
