#!/usr/bin/env bash
# Build the look-alike warm start that checks its options (docs/benchmarks.md, "Attempt 3"): SFT from the shipped
# look-alike model on true labels of seed-2 zero-hop look-alike frames, with the think that reads the asked cell's
# look-alike group, checks each group member against the options (listed / not listed), then names the class
# (--think check). 3,000 steps with a snapshot every 500; which one to keep is chosen on the seed-1 val split by
# the rule written in the docs. About 25 min on 2 cores.
# Usage: bash scripts/build_check_model.sh [OUT_DIR] [BASE_MODEL_DIR] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-outputs/check-model}
BASE=${2:-anatomy_r1_verl/tiny/assets/tiny-qwen25vl-lookalike}
STEPS=${3:-3000}
AR1=${AR1:-.venv/bin/anatomy-r1}
mkdir -p "$OUT"
[ -f "$OUT/data/train.parquet" ] || $AR1 prepare synthetic --out "$OUT/data" --lookalike --family-weights zero_hop=1 \
  --seed 2 --train 16000 --val 200 --test 0 --no-progress
$AR1 warmstart --data "$OUT/data" --out "$OUT/sft" --init "$BASE" --think check --answer text --steps "$STEPS" \
  --lr 0.0005 --eval-every 500 --eval-rows 200 --threads 2 --snapshots
echo "snapshots in $OUT/sft/snapshots"
