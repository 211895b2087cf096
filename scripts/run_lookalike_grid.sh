#!/usr/bin/env bash
# The grid pre-registered in docs/benchmarks.md ("The grid, pre-registered") on the look-alike benchmark
# (issue 31): `anatomy-r1 bench --lookalike --steps 32 --save-every 16`, its rows and seeds in the order in
# which a partial grid already compares the most: seeds 0-2 of every row first, then seeds 3-4 of the rows
# that need 5, then the ceiling reference. Resumable: rerun it and finished runs are skipped, an interrupted run
# resumes from its step-16 checkpoint. About 3 hours on 2 cores.
# Usage: scripts/run_lookalike_grid.sh [OUT]   (default $ANATOMY_R1_OUTPUT_DIR/grid_lookalike, or outputs/...)
set -euo pipefail
OUT=$(realpath -m "${1:-${ANATOMY_R1_OUTPUT_DIR:-outputs}/grid_lookalike}")
AR1=${AR1:-anatomy-r1}
status=0
# a failed run is named and the grid goes on (the bench exits non-zero at its end); this script does the same
bench() { $AR1 bench --lookalike --steps 32 --save-every 16 --out "$OUT" "$@" || status=1; }
bench --seeds 0 1 2 --methods grpo grpo_ascl grpo_ascl_shuffled anatomy_r1 grpo_gdqa grpo_gdqa_keep sft sft_think
bench --seeds 3 4 --methods grpo grpo_ascl grpo_ascl_shuffled anatomy_r1
# the last call's report ($OUT/report) reads every row and seed in OUT: the whole grid's
bench --seeds 0 --methods sft_ceiling
exit $status
