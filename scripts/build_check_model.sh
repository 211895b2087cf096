#!/usr/bin/env bash
# Build the look-alike warm start that checks its options (docs/benchmarks.md, "Attempt 3"): SFT from the shipped
# look-alike model on true labels of seed-2 zero-hop look-alike frames, with the think that reads the asked cell's
# look-alike group, checks each group member against the options (listed / not listed), then names the class
# (--think check). 3,000 steps, then 1,500 more from the result with a fresh warm-up and decay (attempt 4: the
# reading of the options was still improving at step 3,000); a snapshot every 500 steps of each stage, and which
# one to keep is chosen on the seed-1 val split by the rule written in the docs. Measured on 2 free cores: 2,073 s in
# all (data, 1,343 s, 691 s); its stage-2 step-1,000 snapshot is bit-identical to the shipped model.
# Usage: bash scripts/build_check_model.sh [OUT_DIR] [BASE_MODEL_DIR] [STEPS] [MORE_STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-outputs/check-model}
BASE=${2:-anatomy_r1_verl/tiny/assets/tiny-qwen25vl-lookalike}
STEPS=${3:-3000}
MORE_STEPS=${4:-1500}
AR1=${AR1:-.venv/bin/anatomy-r1}
mkdir -p "$OUT"
[ -f "$OUT/data/train.parquet" ] || $AR1 prepare synthetic --out "$OUT/data" --lookalike --family-weights zero_hop=1 \
  --seed 2 --train 16000 --val 200 --test 0 --no-progress
$AR1 warmstart --data "$OUT/data" --out "$OUT/sft" --init "$BASE" --think check --answer text --steps "$STEPS" \
  --lr 0.0005 --eval-every 500 --eval-rows 200 --threads 2 --snapshots
[ "$MORE_STEPS" -gt 0 ] && $AR1 warmstart --data "$OUT/data" --out "$OUT/sft2" --init "$OUT/sft" --think check \
  --answer text --steps "$MORE_STEPS" --lr 0.0005 --eval-every 500 --eval-rows 200 --threads 2 --snapshots
echo "snapshots in $OUT/sft/snapshots and $OUT/sft2/snapshots"
