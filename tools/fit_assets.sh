#!/usr/bin/env bash
# Re-fits the shipped models and writes each model's metrics next to it (see assets/README.md):
# the image models from scikit-image's bundled astronaut photo (public domain, read from the
# installed package), the SDF models from the built-in mug (an analytic shape, apps/sdf/shapes.py),
# the volume models from the built-in cloud (procedural noise, apps/volume/volumes.py), the NeRF
# models from the procedural tabletop scene (`ngvk dataset nerf tabletop`, written to out/datasets/
# first: generated, never committed).
# `tools/fit_assets.sh image` (or sdf, or volume, or several) re-fits only those apps' models.
set -euo pipefail
cd "$(dirname "$0")/.."
apps="${*:-image sdf volume nerf}"
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
for encoding in hashgrid densegrid lowres; do
    if [[ " $apps " == *" volume "* ]]; then
        .venv/bin/ngvk fit volume volume:cloud --encoding "$encoding" \
            --out "assets/volume_$encoding.npz" --json "assets/volume_$encoding.json"
    fi
done
if [[ " $apps " == *" nerf "* ]]; then
    dataset=out/datasets/tabletop
    if [ ! -f "$dataset/transforms_test.json" ]; then
        mkdir -p out/datasets
        rm -rf "$dataset"
        .venv/bin/ngvk dataset nerf tabletop --out "$dataset"
    fi
    for encoding in hashgrid densegrid lowres; do
        .venv/bin/ngvk fit nerf "$dataset" --encoding "$encoding" --max-minutes 55 \
            --out "assets/nerf_$encoding.npz" --json "assets/nerf_$encoding.json"
    done
fi
