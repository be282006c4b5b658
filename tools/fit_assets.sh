#!/usr/bin/env bash
# Re-fits the shipped models and writes each model's metrics next to it (see assets/README.md):
# the image models from scikit-image's bundled astronaut photo (public domain, read from the
# installed package), the SDF models from the built-in mug (an analytic shape, apps/sdf/shapes.py).
# `tools/fit_assets.sh image` or `tools/fit_assets.sh sdf` re-fits one app's.
set -euo pipefail
cd "$(dirname "$0")/.."
apps="${1:-image sdf}"
for encoding in hashgrid densegrid lowres; do
    if [[ " $apps " == *" image "* ]]; then
        .venv/bin/ngvk fit image skimage:astronaut --encoding "$encoding" \
            --out "assets/image_$encoding.npz" --json "assets/image_$encoding.json"
    fi
done
for encoding in hashgrid densegrid lowres; do
    if [[ " $apps " == *" sdf "* ]]; then
        .venv/bin/ngvk fit sdf shape:mug --encoding "$encoding" \
            --out "assets/sdf_$encoding.npz" --json "assets/sdf_$encoding.json"
    fi
done
