#!/usr/bin/env bash
# Refreshes the JavaScript report.html inlines (src/SaeBench.Reporting/Html/vendor/) from the npm registry.
# A maintenance step for developers; runs and reports never need Node.js or npm.
# Usage: bash scripts/update-vega.sh VEGA_VERSION VEGA_LITE_VERSION VEGA_EMBED_VERSION   (e.g. 6.4.0 6.4.3 7.3.0)
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 VEGA VEGA_LITE VEGA_EMBED" >&2; exit 2; }
vendor="$(cd "$(dirname "$0")/.." && pwd)/src/SaeBench.Reporting/Html/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --ignore-scripts "vega@$1" "vega-lite@$2" "vega-embed@$3" >/dev/null
for p in vega vega-lite vega-embed; do
  cp "node_modules/$p/build/$p.min.js" "$vendor/$p.min.js"
  cp "node_modules/$p/LICENSE" "$vendor/$p.LICENSE"
done
echo "updated $vendor; update the versions in its README.md, check report.html in a browser, and commit"
