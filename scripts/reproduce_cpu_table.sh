#!/usr/bin/env bash
# The CPU table and figures in docs/reproduce/: train (GRPO + ASCL, and the SFT baseline) from the shipped tiny
# model on the synthetic benchmark, evaluate each on the same 256 test questions, report.
# Usage: scripts/reproduce_cpu_table.sh [WORK_DIR] [DOCS_DIR]   (about 15 min on 2 cores)
set -euo pipefail
WORK=${1:-outputs/reproduce_cpu}
DOCS=${2:-docs/reproduce}
AR1=${AR1:-anatomy-r1}
export ANATOMY_R1_OUTPUT_DIR=$WORK ANATOMY_R1_DATA=$WORK/data
D=$ANATOMY_R1_DATA/synthetic
STEPS=${STEPS:-30}

# data: the demo's questions (seed 1), S(q) for the curriculum, the SFT files
[ -f "$D/test.parquet" ] || $AR1 prepare synthetic --out "$D" --seed 1 --train 1024 --val 256 --test 256 --no-progress
[ -f "$D/train_scored.parquet" ] || $AR1 prepare score "$D/train.parquet" --out "$D/train_scored.parquet" --embedding none --no-progress
for s in train val test; do [ -f "$D/sft_$s.parquet" ] || $AR1 prepare sft "$D/$s.parquet" --out "$D/sft_$s.parquet"; done

# train: GRPO + ASCL (the demo recipe with the curriculum on), and the SFT baseline (verl's SFT trainer)
$AR1 train demo_cpu "data.train_files=$D/train_scored.parquet" "data.val_files=$D/val.parquet" \
  anatomy_r1.curriculum.enable=true trainer.experiment_name=grpo_ascl_cpu "trainer.total_training_steps=$STEPS" \
  "trainer.save_freq=$STEPS" trainer.test_freq=-1 trainer.val_before_train=False
$AR1 train ssgvqa_sft profile=cpu model=tiny benchmark=synthetic trainer.experiment_name=sft_cpu \
  "trainer.total_training_steps=$STEPS"

# evaluate: the same 256 test questions (the SFT model with its own, think-less prompt)
$AR1 eval anatomy_r1_verl/tiny/assets/tiny-qwen25vl-warm "$D/test.parquet" --method warm_start --seed 0 --no-progress
$AR1 eval "$WORK/runs/grpo_ascl_cpu/checkpoints/global_step_$STEPS" "$D/test.parquet" --no-progress
$AR1 eval "$WORK/runs/sft_cpu/checkpoints/global_step_$STEPS" "$D/sft_test.parquet" --no-progress

# report: the table and both figures
$AR1 report "$WORK/evals" --runs "$WORK/runs/grpo_ascl_cpu" --out "$DOCS" --smooth 0.6
