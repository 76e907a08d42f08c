#!/usr/bin/env bash
# Runs SaeBench.Net as a Slurm job array: every array task evaluates its shard of the plan into ONE shared results
# directory (each shard writes only its own checkpoints' result files and manifest.shard-I-of-N.json), and a
# dependent job builds the tables, figures and report.html once all shards are done.
#
#   dotnet build -c Release src/SaeBench.Cli              # once, before submitting: the tasks must not all build
#   sbatch examples/cluster/slurm-array.sh                 # submits the array and the report job
#
# Edit CONFIG/OUT (a directory every node can write, e.g. on a shared file system) and the array size. Any array
# range works: --shard auto reads SLURM_ARRAY_TASK_ID, _MIN, _STEP and _COUNT, so 0-7, 1-8 and 0-14:2 all give
# shards 1..8 of 8.
#SBATCH --job-name=saebench
#SBATCH --array=0-7
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
#SBATCH --time=04:00:00
#SBATCH --output=saebench-%A_%a.log
set -euo pipefail

REPO=${REPO:-$SLURM_SUBMIT_DIR}
CONFIG=${CONFIG:-$REPO/run.yaml}          # a run configuration with a `checkpoints:` section
OUT=${OUT:-$REPO/results-$SLURM_ARRAY_JOB_ID}
SAEBENCH="dotnet $REPO/src/SaeBench.Cli/bin/Release/net10.0/saebench.dll"

# The array's first task also submits the report job: it waits for every task of this array (afterany: a failed shard
# still gets the others reported; `saebench report` and summary.md list what failed) and runs `report` once.
if [ "${SLURM_ARRAY_TASK_ID}" = "${SLURM_ARRAY_TASK_MIN:-0}" ]; then
  sbatch --dependency=afterany:"$SLURM_ARRAY_JOB_ID" --job-name=saebench-report --cpus-per-task=2 --mem=8G \
    --output="saebench-report-%j.log" --wrap "$SAEBENCH report '$OUT'"
fi
$SAEBENCH run --config "$CONFIG" --out "$OUT" --shard auto --no-report
