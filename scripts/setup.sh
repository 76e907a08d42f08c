#!/usr/bin/env bash
# One-time machine set-up for SaeBench.Net; safe to run again (does nothing when all is present).
# Installs native libraries the harness uses when they are missing: OpenBLAS (fast GEMM; the managed
# fallback works without it), Debian's Chromium (the report's browser test), Node.js + npm (figure
# rendering and the interactive report; the npm packages themselves are installed by the harness on
# first use with `npm ci`) and the DejaVu fonts (resvg draws the PNGs' text with them).
set -euo pipefail

need=()
# grep without -q reads all of ldconfig's output: with pipefail, -q's early exit can SIGPIPE ldconfig and read as "missing".
ldconfig -p 2>/dev/null | grep 'libopenblas\.so\.0' >/dev/null || need+=(libopenblas0-pthread)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v chromium >/dev/null 2>&1 || need+=(chromium)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    for attempt in 1 2 3; do
      if apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then break; fi
      [ "$attempt" = 3 ] && { echo "setup: apt-get install ${need[*]} failed" >&2; exit 1; }
      echo "setup: apt-get failed (attempt $attempt), retrying" >&2; sleep 5
    done
  else
    echo "setup: missing ${need[*]} (not root or no apt-get): continuing without them" >&2
  fi
fi

command -v dotnet >/dev/null 2>&1 || { echo "setup: the .NET 10 SDK is required (dotnet not found)" >&2; exit 1; }
# Debian's own nodejs (18) is too old for the pinned renderer (vega-lite 6 needs Node 20+); say so now, not at render time.
node_major=$(node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/' || true)
if [ -n "${node_major}" ] && [ "${node_major}" -lt 20 ]; then
  echo "setup: Node.js $(node --version) is older than 20: figures will be written as Vega-Lite specs only (install Node.js 20+ for SVG/PNG)" >&2
fi
