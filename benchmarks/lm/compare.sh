#!/usr/bin/env bash
# Forward-pass throughput of SaeBench.Net vs PyTorch CPU on a random GPT-2-small (same shapes, float32, full forward
# to logits [B, T, V]), plus the machine's sgemm GFLOP/s. Rounds alternate the two so that background load hits both;
# each round first waits (up to WAIT_S seconds) until the machine is idle (under 10% CPU over 3 s, from /proc/stat).
#
#   benchmarks/lm/compare.sh [ROUNDS] [BATCH] [CONTEXT]      (defaults: 5 rounds, batch 8, context 128)
#
# Needs: the CLI built (dotnet build src/SaeBench.Cli -c Release) and Debian's torch (apt-get install -y python3-torch).
# Prints JSON lines (one per measurement) and a summary; keep the summary's best-of and median-of-rounds numbers.
set -euo pipefail
ROUNDS=${1:-5}
BATCH=${2:-8}
CONTEXT=${3:-128}
WAIT_S=${WAIT_S:-300}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CLI="dotnet $ROOT/src/SaeBench.Cli/bin/Release/net10.0/saebench.dll"
PY=${PYTHON:-/usr/bin/python3}
OUT=$(mktemp)

cpu() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
busy() {
  local a b
  a=$(cpu); sleep 3; b=$(cpu)
  awk -v a="$a" -v b="$b" 'BEGIN {split(a, x, " "); split(b, y, " "); exit !((y[1] - x[1]) > 0.10 * (y[2] - x[2]))}'
}
wait_quiet() {
  local waited=0
  while busy && [ "$waited" -lt "$WAIT_S" ]; do waited=$((waited + 3)); done
  echo "{\"waited_s\": $waited, \"loadavg\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
}

wait_quiet
$CLI bench gemm --backend openblas --m $((BATCH * CONTEXT)) --k 768 --n 3072 --json | tee -a "$OUT"
for round in $(seq 1 "$ROUNDS"); do
  wait_quiet
  $CLI bench lm --shape gpt2-small --tokens $((BATCH * CONTEXT)) --context "$CONTEXT" --repeats 3 --json \
    | sed "s/^{/{\"who\":\"saebench\",\"round\":$round,/" | tee -a "$OUT"
  wait_quiet
  $PY "$ROOT/benchmarks/lm/torch_forward.py" --batch "$BATCH" --context "$CONTEXT" --repeats 3 | tail -1 \
    | sed "s/^{/{\"who\":\"torch\",\"round\":$round,/" | tee -a "$OUT"
  # Debian's torch runs OpenMP (for its element-wise ops) next to OpenBLAS's own pthreads; with the default OpenMP
  # wait policy the idle OpenMP threads spin through every BLAS call. PASSIVE is torch at its best on this build.
  wait_quiet
  OMP_WAIT_POLICY=PASSIVE $PY "$ROOT/benchmarks/lm/torch_forward.py" --batch "$BATCH" --context "$CONTEXT" --repeats 3 | tail -1 \
    | sed "s/^{/{\"who\":\"torch_passive\",\"round\":$round,/" | tee -a "$OUT"
done
$PY - "$OUT" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
gemm = [r for r in rows if "gflops" in r and "who" not in r]
ours = [r for r in rows if r.get("who") == "saebench"]
torch = [r for r in rows if r.get("who") == "torch"]
passive = [r for r in rows if r.get("who") == "torch_passive"]
ob, om = max(r["best_tokens_per_s"] for r in ours), statistics.median(r["median_tokens_per_s"] for r in ours)
tb, tm = max(r["best_tokens_per_s"] for r in torch), statistics.median(r["median_tokens_per_s"] for r in torch)
pb, pm = max(r["best_tokens_per_s"] for r in passive), statistics.median(r["median_tokens_per_s"] for r in passive)
peak = max(r["gflops"] for r in gemm)
flops = ours[0]["forward_gflop"] * 1e9 / (ours[0]["batch"] * ours[0]["context"])
print(json.dumps({
    "saebench_best_tokens_per_s": round(ob, 1), "saebench_median_tokens_per_s": round(om, 1),
    "torch_best_tokens_per_s": round(tb, 1), "torch_median_tokens_per_s": round(tm, 1),
    "ratio_best": round(ob / tb, 2), "ratio_median": round(om / tm, 2),
    "torch_passive_best_tokens_per_s": round(pb, 1), "torch_passive_median_tokens_per_s": round(pm, 1),
    "ratio_vs_passive_best": round(ob / pb, 2), "ratio_vs_passive_median": round(om / pm, 2),
    "sgemm_gflops": round(peak, 1),
    "saebench_best_gflops": round(ob * flops / 1e9, 1), "sgemm_fraction_best": round(ob * flops / 1e9 / peak, 2),
    "torch_best_gflops": round(tb * flops / 1e9, 1), "torch_passive_sgemm_fraction_best": round(pb * flops / 1e9 / peak, 2),
}))
EOF
rm -f "$OUT"
