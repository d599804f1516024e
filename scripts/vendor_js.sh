#!/usr/bin/env bash
# The browser libraries the pod serves itself (never from a CDN), fetched once with npm at
# set-up, pinned by version and by the registry's integrity hash, with their licences:
#   hls.js  plays the public live stream where the browser has no native HLS (Chromium,
#           Firefox); Apache-2.0.
# Idempotent: nothing happens when web/vendor/ already holds the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."

HLS_VERSION=1.7.4
HLS_INTEGRITY='sha512-3GlxGdPvT2YHvQYOt+yOzT/DEior/qJVNIylHA77kgeoBTdQQqi70GwefNEUmHQeNGyjC8U62+bruqW/Tpm+tg=='
dest=web/vendor/hls.js
if [ -f "$dest/VERSION" ] && [ "$(cat "$dest/VERSION")" = "$HLS_VERSION" ] && [ -f "$dest/hls.min.js" ]; then
    exit 0
fi
if ! command -v npm >/dev/null; then
    echo "setup: npm is needed once to fetch hls.js (Debian package npm)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent --json "hls.js@$HLS_VERSION" > pack.json)
got=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1]))[0].integrity)' "$tmp/pack.json")
if [ "$got" != "$HLS_INTEGRITY" ]; then
    echo "setup: hls.js $HLS_VERSION from npm has integrity $got, expected $HLS_INTEGRITY" >&2
    exit 1
fi
tar -xzf "$tmp/hls.js-$HLS_VERSION.tgz" -C "$tmp"
mkdir -p "$dest"
cp "$tmp/package/dist/hls.min.js" "$dest/hls.min.js"
cp "$tmp/package/LICENSE" "$dest/LICENSE"
echo "$HLS_VERSION" > "$dest/VERSION"
echo "setup: hls.js $HLS_VERSION in $dest"
