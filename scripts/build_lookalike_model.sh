#!/usr/bin/env bash
# Build the look-alike benchmark's warm start (anatomy_r1_verl/tiny/assets/tiny-qwen25vl-lookalike) on CPU: one
# SFT stage on true labels of seed-2 look-alike frames (disjoint from the seed-1 frames RL trains and validates on
# and from the seed-4 frames it is tested on), from the shipped annotated model, which already writes the scan
# <think> with the image after the prompt text and answers with the option's text. The look-alike frames are new
# to it: it relearns which region is which class, and confuses the look-alike pairs most. 2,000 steps with a
# snapshot every 250; the shipped one (SHIP, step 1,500) was chosen on 500 seed-1 val questions by a rule written
# down before: accuracy on the easiest S(q) quintile at least 0.75, then the largest gap to the hardest quintile
# (docs/benchmarks.md, "The look-alike benchmark"). About 22 min on 2 cores.
# Usage: bash scripts/build_lookalike_model.sh [OUT_DIR] [BASE_MODEL_DIR] [STEPS] [SHIP]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-outputs/lookalike-model}
BASE=${2:-anatomy_r1_verl/tiny/assets/tiny-qwen25vl-annotated}
STEPS=${3:-2000}
SHIP=${4:-1500}
AR1=.venv/bin/anatomy-r1
mkdir -p "$OUT"
$AR1 prepare synthetic --out "$OUT/data" --lookalike --seed 2 --train 16000 --val 200 --test 0
$AR1 warmstart --data "$OUT/data" --out "$OUT/sft" --init "$BASE" --think scan --answer text --steps "$STEPS" \
  --lr 0.001 --eval-every 250 --eval-rows 200 --threads 2 --snapshots
DEST=anatomy_r1_verl/tiny/assets/tiny-qwen25vl-lookalike
rm -rf "$DEST" && mkdir -p "$DEST"
SRC="$OUT/sft/snapshots/step_$SHIP"
[ "$SHIP" = "$STEPS" ] && SRC="$OUT/sft"
cp "$SRC"/{config.json,generation_config.json,model.safetensors,processor_config.json,tokenizer.json,tokenizer_config.json,chat_template.jinja,anatomy_r1_model.json} "$DEST"/
cp "$OUT"/sft/{warmstart.json,warmstart.log} "$DEST"/
echo "$SHIP" > "$DEST/shipped_step.txt"
echo "look-alike model written to $DEST"
