#!/usr/bin/env bash
# One-time machine set-up for SaeBench.Net; safe to run again (does nothing when all is present).
# Installs native libraries the harness uses when they are missing: OpenBLAS (fast GEMM; the managed
# fallback works without it), the DejaVu fonts (the figures' text) and Debian's Chromium (only the
# tests' browser check of report.html). Runs and reports need no Node.js: figures are drawn in process
# (ScottPlot) and report.html inlines vega from the assembly.
set -euo pipefail

need=()
# grep without -q reads all of ldconfig's output: with pipefail, -q's early exit can SIGPIPE ldconfig and read as "missing".
ldconfig -p 2>/dev/null | grep 'libopenblas\.so\.0' >/dev/null || need+=(libopenblas0-pthread)
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
