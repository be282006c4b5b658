#!/usr/bin/env bash
# Fetch instant-ngp's sample data, and only the samples named, into a folder of your choice:
#
#   tools/fetch_ngp_samples.sh DIR fox albert armadillo bunny
#
# fox: data/nerf/fox (a phone capture through COLMAP: transforms.json and its JPEGs, about 20 MB);
# albert: data/image/albert.exr (an HDR photo, 3 MB); armadillo, bunny: data/sdf/*.obj (meshes).
# A blobless, sparse, shallow clone: git downloads the tree of the latest commit and then the blobs
# of the paths asked for, nothing else (no history, no other samples, no submodules). Licences:
# albert.exr is a public-domain photograph (data/image/LICENSE.txt); the rest comes under
# instant-ngp's NVIDIA Source Code License-NC (non-commercial) and the Stanford scans' terms. ngvk
# ships none of these files, and its tests do not use them.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 DIR SAMPLE... (samples: fox albert armadillo bunny)" >&2
    exit 2
fi
out=$1
shift
paths=()
for sample in "$@"; do
    case "$sample" in
        fox) paths+=(data/nerf/fox) ;;
        albert) paths+=(data/image/albert.exr data/image/LICENSE.txt) ;;
        armadillo) paths+=(data/sdf/armadillo.obj) ;;
        bunny) paths+=(data/sdf/bunny.obj) ;;
        *) echo "$0: unknown sample '$sample' (samples: fox albert armadillo bunny)" >&2; exit 2 ;;
    esac
done
if [ -e "$out" ]; then
    echo "$0: $out exists; give a new folder" >&2
    exit 1
fi
git clone --quiet --depth 1 --filter=blob:none --no-checkout https://github.com/NVlabs/instant-ngp "$out"
git -C "$out" sparse-checkout set --no-cone "${paths[@]}"
git -C "$out" checkout --quiet
echo "fetched into $out:"
for path in "${paths[@]}"; do echo "  $out/$path"; done
