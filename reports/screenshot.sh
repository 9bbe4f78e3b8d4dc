#!/usr/bin/env bash
# Takes a picture of a report's first screen with headless Chromium, as a
# person at a 1280x800 browser window sees it.
#
#   reports/screenshot.sh REPORT.html OUT.png [WIDTHxHEIGHT]
#
# Exit status: 0 written; 2 usage; 3 no Chromium here (apt-get install -y
# chromium); 1 Chromium failed or wrote nothing.
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: reports/screenshot.sh REPORT.html OUT.png [WIDTHxHEIGHT]" >&2
  exit 2
fi
report=$1 out=$2 size=${3:-1280x800}
[ -f "$report" ] || { echo "screenshot: $report: no such file; make it with edgebed report" >&2; exit 2; }
[[ "$size" =~ ^[0-9]+x[0-9]+$ ]] || { echo "screenshot: size '$size': give WIDTHxHEIGHT, e.g. 1280x800" >&2; exit 2; }
browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null; then browser=$b; break; fi
done
[ -n "$browser" ] || { echo "screenshot: no Chromium here; install it with apt-get install -y chromium" >&2; exit 3; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$out"
# --no-sandbox: Chromium refuses to run as root with its sandbox. The page is
# our own file and fetches nothing.
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
  --user-data-dir="$profile" --window-size="${size/x/,}" --screenshot="$out" \
  "file://$(realpath "$report")" >"$profile/log" 2>&1 || true
if [ ! -s "$out" ]; then
  echo "screenshot: $browser wrote no picture; what it said:" >&2
  tail -5 "$profile/log" >&2
  exit 1
fi
echo "screenshot: $out"
