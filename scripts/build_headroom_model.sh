#!/usr/bin/env bash
# Regenerate the RL benchmark's warm start with headroom (anatomy_r1_verl/tiny/assets/tiny-qwen25vl-annotated) from
# the shipped default model (stage 3, scripts/build_default_model.sh), on CPU: two more SFT stages on seed-2 frames
# (disjoint from the seed-1 frames RL trains, validates and tests on) with the image after the prompt text, the
# <think> reading the grid in order up to the answer's cell and the answer written as the option's text.
# Stage 4 learns that on true labels; stage 5 on the labels of a simulated annotator who writes a region of a
# confused class (Gallbladder~Cystic Plate, Gut~Omentum) as its partner with probability 0.7, so the model names the
# partner while keeping real probability on the right class: what the verifiable reward corrects
# (docs/benchmarks.md, issue 15). About 20 min on one free core.
# Usage: bash scripts/build_headroom_model.sh [OUT_DIR] [BASE_MODEL_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-outputs/headroom-model}
BASE=${2:-anatomy_r1_verl/tiny/assets/tiny-qwen25vl-warm}
AR1=.venv/bin/anatomy-r1
mkdir -p "$OUT"
$AR1 prepare synthetic --out "$OUT/data-true" --seed 2 --train 12000 --val 200 --test 0 --image-position last
$AR1 prepare synthetic --out "$OUT/data-annotated" --seed 2 --train 12000 --val 200 --test 0 --image-position last \
  --annotator-rate 0.7
$AR1 warmstart --data "$OUT/data-true" --out "$OUT/stage4" --init "$BASE" --think scan --answer text --steps 1000 \
  --lr 0.001 --eval-every 250 --eval-rows 200 --threads 1
$AR1 warmstart --data "$OUT/data-annotated" --out "$OUT/stage5" --init "$OUT/stage4" --think scan --answer text \
  --steps 750 --lr 0.001 --eval-every 250 --eval-rows 200 --threads 1
DEST=anatomy_r1_verl/tiny/assets/tiny-qwen25vl-annotated
rm -rf "$DEST" && mkdir -p "$DEST"
cp "$OUT"/stage5/{config.json,generation_config.json,model.safetensors,processor_config.json,tokenizer.json,tokenizer_config.json,chat_template.jinja,anatomy_r1_model.json,warmstart.json,warmstart.log} "$DEST"/
cp "$OUT/stage4/warmstart.log" "$DEST/warmstart-stage4.log"
echo "headroom model written to $DEST"
