#!/usr/bin/env bash
# Re-fits the shipped image models from scikit-image's bundled astronaut photo (public domain, read
# from the installed package) and writes each model's metrics next to it. See assets/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
for encoding in hashgrid densegrid lowres; do
    .venv/bin/ngvk fit image skimage:astronaut --encoding "$encoding" \
        --out "assets/image_$encoding.npz" --json "assets/image_$encoding.json"
done
