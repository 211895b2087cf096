#!/usr/bin/env bash
# Regenerate the shipped default model (anatomy_r1_verl/assets/tiny-qwen25vl-warm) from scratch, on CPU:
# the synthetic warm-start data (seed 0), then two SFT stages of the tiny Qwen2.5-VL. About 40-50 min on
# 2 free cores. Writes into outputs/default-model/ and copies the result (with both stages' logs) into
# the package. Usage: bash scripts/build_default_model.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-outputs/default-model}
AR1=.venv/bin/anatomy-r1
mkdir -p "$OUT"
$AR1 prepare synthetic --out "$OUT/data" --seed 0 --train 40000 --val 1000 --test 1000
# stage 1: format and first grounding, from random weights
$AR1 warmstart --data "$OUT/data" --out "$OUT/stage1" --steps 2500 --lr 0.001 --eval-every 250 \
  --eval-rows 200 --target-acc 0.5
# stage 2: a second cosine cycle at half the learning rate, stopping at 45% greedy val accuracy
$AR1 warmstart --data "$OUT/data" --out "$OUT/stage2" --init "$OUT/stage1" --steps 2500 --lr 0.0005 \
  --eval-every 250 --eval-rows 200 --target-acc 0.45
DEST=anatomy_r1_verl/assets/tiny-qwen25vl-warm
rm -rf "$DEST" && mkdir -p "$DEST"
cp "$OUT"/stage2/{config.json,generation_config.json,model.safetensors,processor_config.json,tokenizer.json,tokenizer_config.json,chat_template.jinja,anatomy_r1_model.json,warmstart.json,warmstart.log} "$DEST"/
cp "$OUT/stage1/warmstart.log" "$DEST/warmstart-stage1.log"
echo "default model written to $DEST"
