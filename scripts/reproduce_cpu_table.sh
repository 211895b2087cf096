#!/usr/bin/env bash
# The CPU table and figures in docs/reproduce/: train (GRPO + ASCL, and the SFT baseline) from the demo's start
# model (tiny-qwen25vl-lookalike-check: the image after the prompt text, a <think> that checks the options, up to
# 160 tokens, lr 1e-4, all named by recipes/demo_cpu.yaml) on the look-alike benchmark, evaluate each on the same
# 256 test questions, report. The three commands of the README's "Reproduce a table": train, eval, report.
# Usage: scripts/reproduce_cpu_table.sh [WORK_DIR] [DOCS_DIR]   (5 min 21 s measured on 2 cores, 2026-12-05)
set -euo pipefail
WORK=${1:-outputs/reproduce_cpu}
DOCS=${2:-docs/reproduce}
AR1=${AR1:-anatomy-r1}
export ANATOMY_R1_OUTPUT_DIR=$WORK ANATOMY_R1_DATA=$WORK/data
D=$ANATOMY_R1_DATA/synthetic
STEPS=${STEPS:-30}
START=anatomy_r1_verl/tiny/assets/tiny-qwen25vl-lookalike-check
TOKENS=160

# data: the demo's questions (seed 1, look-alike frames, spread options, zero-hop questions, the image last), S(q)
# for the curriculum and the report, the SFT files
[ -f "$D/test.parquet" ] || $AR1 prepare synthetic --out "$D" --lookalike --seed 1 --train 1024 --val 256 --test 256 \
  --no-progress
for s in train test; do
  [ -f "$D/${s}_scored.parquet" ] || $AR1 prepare score "$D/$s.parquet" --out "$D/${s}_scored.parquet" --embedding none --no-progress
done
# the SFT row's targets in the start model's own style (its option checks, the option's text): answer-only SFT
# takes away the look-up this model answers with (docs/benchmarks.md, "The SFT baseline")
for s in train val; do
  [ -f "$D/sft_check_$s.parquet" ] || $AR1 prepare sft "$D/$s.parquet" --out "$D/sft_check_$s.parquet" --target check --answer text
done

# train: GRPO + ASCL (the demo recipe with the curriculum on), and the SFT baseline (verl's SFT trainer) from the
# same start model
$AR1 train demo_cpu "data.train_files=$D/train_scored.parquet" "data.val_files=$D/val.parquet" \
  anatomy_r1.curriculum.enable=true trainer.experiment_name=grpo_ascl_cpu "trainer.total_training_steps=$STEPS" \
  "trainer.save_freq=$STEPS" trainer.test_freq=-1 trainer.val_before_train=False
$AR1 train ssgvqa_sft profile=cpu model=tiny benchmark=synthetic trainer.experiment_name=sft_check_cpu \
  "model.path=$START" "data.train_files=$D/sft_check_train.parquet" "data.val_files=$D/sft_check_val.parquet" \
  "trainer.total_training_steps=$STEPS"

# evaluate: the same 256 test questions, the same prompts, at the demo's response length
$AR1 eval "$START" "$D/test_scored.parquet" --method start --seed 0 --max-new-tokens $TOKENS --no-progress
$AR1 eval "$WORK/runs/grpo_ascl_cpu/checkpoints/global_step_$STEPS" "$D/test_scored.parquet" --no-progress
$AR1 eval "$WORK/runs/sft_check_cpu/checkpoints/global_step_$STEPS" "$D/test_scored.parquet" --max-new-tokens $TOKENS --no-progress

# report: the table and both figures
$AR1 report "$WORK/evals" --runs "$WORK/runs/grpo_ascl_cpu" --out "$DOCS" --smooth 0.6
