#!/usr/bin/env bash
# README.md's gallery: each app's shipped model rendered small, and the fused-vs-unfused benchmark
# plot (hashgrid models, 128 x 96), written to docs/images/. About 2 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
NGVK=${NGVK:-.venv/bin/ngvk}
for app in image sdf volume nerf; do
    "$NGVK" render "$app" --width 160 --height 120 --out "docs/images/gallery-$app.png"
done
"$NGVK" bench --encodings hashgrid --resolution 128x96 --plot docs/images/gallery-bench.png
