#!/usr/bin/env bash
# The CPU table and figures in docs/reproduce/: train (GRPO + ASCL, and the SFT baseline) from the demo's start
# model (tiny-qwen25vl-annotated: the image after the prompt text, a scan <think> of up to 128 tokens, lr 3e-4,
# all named by recipes/demo_cpu.yaml) on the synthetic benchmark, evaluate each on the same 256 test questions,
# report. The three commands of the README's "Reproduce a table": train, eval, report.
# Usage: scripts/reproduce_cpu_table.sh [WORK_DIR] [DOCS_DIR]   (about 6 min on 2 cores)
set -euo pipefail
WORK=${1:-outputs/reproduce_cpu}
DOCS=${2:-docs/reproduce}
AR1=${AR1:-anatomy-r1}
export ANATOMY_R1_OUTPUT_DIR=$WORK ANATOMY_R1_DATA=$WORK/data
D=$ANATOMY_R1_DATA/synthetic
STEPS=${STEPS:-30}
START=anatomy_r1_verl/tiny/assets/tiny-qwen25vl-annotated

# data: the demo's questions (seed 1, the image last), S(q) for the curriculum and the report, the SFT files
[ -f "$D/test.parquet" ] || $AR1 prepare synthetic --out "$D" --seed 1 --train 1024 --val 256 --test 256 \
  --image-position last --no-progress
for s in train test; do
  [ -f "$D/${s}_scored.parquet" ] || $AR1 prepare score "$D/$s.parquet" --out "$D/${s}_scored.parquet" --embedding none --no-progress
done
# the SFT row's targets in the start model's own style (its scan <think>, the option's text): answer-only SFT
# takes away the look-up this model answers with (docs/benchmarks.md, "The SFT baseline")
for s in train val; do
  [ -f "$D/sft_scan_$s.parquet" ] || $AR1 prepare sft "$D/$s.parquet" --out "$D/sft_scan_$s.parquet" --target scan --answer text
done

# train: GRPO + ASCL (the demo recipe with the curriculum on), and the SFT baseline (verl's SFT trainer) from the
# same start model
$AR1 train demo_cpu "data.train_files=$D/train_scored.parquet" "data.val_files=$D/val.parquet" \
  anatomy_r1.curriculum.enable=true trainer.experiment_name=grpo_ascl_cpu "trainer.total_training_steps=$STEPS" \
  "trainer.save_freq=$STEPS" trainer.test_freq=-1 trainer.val_before_train=False
$AR1 train ssgvqa_sft profile=cpu model=tiny benchmark=synthetic trainer.experiment_name=sft_scan_cpu \
  "model.path=$START" "data.train_files=$D/sft_scan_train.parquet" "data.val_files=$D/sft_scan_val.parquet" \
  "trainer.total_training_steps=$STEPS"

# evaluate: the same 256 test questions, the same prompts, at the demo's response length
$AR1 eval "$START" "$D/test_scored.parquet" --method start --seed 0 --max-new-tokens 128 --no-progress
$AR1 eval "$WORK/runs/grpo_ascl_cpu/checkpoints/global_step_$STEPS" "$D/test_scored.parquet" --no-progress
$AR1 eval "$WORK/runs/sft_scan_cpu/checkpoints/global_step_$STEPS" "$D/test_scored.parquet" --max-new-tokens 128 --no-progress

# report: the table and both figures
$AR1 report "$WORK/evals" --runs "$WORK/runs/grpo_ascl_cpu" --out "$DOCS" --smooth 0.6
