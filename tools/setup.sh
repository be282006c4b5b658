#!/usr/bin/env bash
# Idempotent set-up for a Debian 12 machine: the system packages ngvk needs (through apt, only those
# missing), a virtual environment in .venv, and ngvk installed in it (editable, with the test extra).
# Re-running it does nothing when everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(libvulkan1 mesa-vulkan-drivers vulkan-validationlayers xvfb)

missing=()
if command -v dpkg-query >/dev/null; then
    for package in "${SYSTEM_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$package")
    done
else
    echo "setup: no dpkg here; make sure these are installed: ${SYSTEM_PACKAGES[*]}" >&2
fi
# Debian's own python3 ships venv/ensurepip in a separate package.
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: missing system packages: ${missing[*]}" >&2
        echo "setup: install them as root: apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    python3 -m venv .venv
fi

# Reinstall only when the package metadata changed (the install is editable: code changes need nothing).
mkdir -p .stamps
stamp=.stamps/pip-install
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing ngvk into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[test]'
    echo "$want" > "$stamp"
fi
