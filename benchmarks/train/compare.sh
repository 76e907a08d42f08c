#!/usr/bin/env bash
# TopK SAE training throughput of SaeBench.Net (`saebench bench train`, sparse-code path) vs PyTorch CPU
# (torch_topk_train.py) at SAEBench's scale, in alternating rounds so that background load hits both.
#
#   benchmarks/train/compare.sh [ROUNDS] [STEPS]        (defaults: 3 rounds, 6 timed steps each)
#
# Shape: d_in 768, 16,384 latents, k 64, batch 4096 (override with D_IN, WIDTH, K, BATCH). PyTorch runs with 2 threads
# and OMP_WAIT_POLICY=PASSIVE (its best on 2 cores, see benchmarks/lm/README.md). Needs the CLI built
# (dotnet build src/SaeBench.Cli -c Release) and Debian's torch (apt-get install -y python3-torch).
# Prints JSON lines (each with the load average when it started) and a summary with min/median per program and the
# ratio of medians and of same-round pairs.
set -euo pipefail
ROUNDS=${1:-3}
STEPS=${2:-6}
D_IN=${D_IN:-768}; WIDTH=${WIDTH:-16384}; K=${K:-64}; BATCH=${BATCH:-4096}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CLI="dotnet $ROOT/src/SaeBench.Cli/bin/Release/net10.0/saebench.dll"
PY=${PYTHON:-/usr/bin/python3}
OUT=$(mktemp)
load() { cut -d' ' -f1 /proc/loadavg; }
for round in $(seq 1 "$ROUNDS"); do
  l=$(load)
  $CLI bench train --architecture topk --d-in "$D_IN" --width "$WIDTH" --k "$K" --batch-size "$BATCH" --steps "$STEPS" --json \
    | tail -1 | sed "s/^{/{\"who\":\"saebench\",\"round\":$round,\"load\":$l,/" | tee -a "$OUT"
  l=$(load)
  OMP_WAIT_POLICY=PASSIVE $PY "$ROOT/benchmarks/train/torch_topk_train.py" --d-in "$D_IN" --width "$WIDTH" --k "$K" \
    --batch-size "$BATCH" --steps "$STEPS" --threads 2 | tail -1 | sed "s/^{\"who\": \"torch\",/{\"who\":\"torch\",\"round\":$round,\"load\":$l,/" | tee -a "$OUT"
done
$PY - "$OUT" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ours = {r["round"]: r for r in rows if r["who"] == "saebench"}
torch = {r["round"]: r for r in rows if r["who"] == "torch"}
o = [r["samples_per_second"] for r in ours.values()]
t = [r["samples_per_second"] for r in torch.values()]
pairs = [ours[k]["samples_per_second"] / torch[k]["samples_per_second"] for k in ours if k in torch]
print(json.dumps({
    "saebench_min": round(min(o)), "saebench_median": round(statistics.median(o)), "saebench_max": round(max(o)),
    "torch_min": round(min(t)), "torch_median": round(statistics.median(t)), "torch_max": round(max(t)),
    "ratio_of_medians": round(statistics.median(o) / statistics.median(t), 2),
    "same_round_ratios": [round(p, 2) for p in pairs], "median_same_round_ratio": round(statistics.median(pairs), 2),
    "loads": [r["load"] for r in rows],
}))
PYEOF
