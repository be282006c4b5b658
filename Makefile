# The two commands of README.md, each self-contained on a fresh Debian 12 machine (run as root so
# missing system packages can be installed):
#   make demo   the main job: device info and every kernel checked against its NumPy reference
#   make test   the test suite, with Vulkan validation layers on
VENV := .venv
NGVK := $(VENV)/bin/ngvk

.PHONY: setup demo test

setup:
	@tools/setup.sh

demo: setup
	$(NGVK) info
	$(NGVK) check

test: setup
	$(VENV)/bin/python -m pytest
