#!/usr/bin/env bash
# Renders an SVG (e.g. the profiler's profile.svg) to PNG with headless Chromium, to check that
# a browser draws it. Usage: scripts/render-svg.sh profile.svg [profile.png]
# Needs the Debian package `chromium` (apt-get install chromium). Exits non-zero when Chromium
# fails or writes an empty image.
set -euo pipefail
svg=$(realpath "$1")
png=${2:-${svg%.svg}.png}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
    echo "render-svg: no chromium found (apt-get install chromium)" >&2
    exit 2
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
    --window-size=960,540 --screenshot="$(realpath -m "$png")" "file://$svg" >/dev/null 2>&1
test -s "$png" || { echo "render-svg: chromium wrote no image" >&2; exit 1; }
echo "rendered $svg -> $png"
