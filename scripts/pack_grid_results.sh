#!/usr/bin/env bash
# Pack what a grid's report is made from into one archive, so a reader (or a later session) can recompute the
# report without training anything: every finished evaluation (evals/, curve/: metrics and per-question
# responses), each finished run's metrics.jsonl, config.yaml and bench_done.json, the benchmark's data record and
# the data's checksums. Runs without a done record (unfinished) and checkpoints are left out.
# Usage: scripts/pack_grid_results.sh OUT ARCHIVE.tar.gz
set -euo pipefail
OUT=${1:?usage: scripts/pack_grid_results.sh OUT ARCHIVE.tar.gz}
ARCHIVE=$(realpath -m "${2:?usage: scripts/pack_grid_results.sh OUT ARCHIVE.tar.gz}")
cd "$OUT"
[[ -f data/bench_data.json ]] || { echo "pack: $OUT/data/bench_data.json missing: is $OUT a bench output?" >&2; exit 1; }
# the checksums of the data the runs read (recomputed here, so they describe the files as they are now)
find data -type f -name '*.parquet' | sort | xargs sha256sum > data_sha256.txt
files=(data_sha256.txt data/bench_data.json)
for done in runs/*/bench_done.json; do
    run=$(dirname "$done")
    for f in bench_done.json metrics.jsonl config.yaml; do
        [[ -f "$run/$f" ]] && files+=("$run/$f")
    done
done
for d in evals curve; do [[ -d $d ]] && files+=("$d"); done
tar czf "$ARCHIVE" "${files[@]}"
echo "pack: $(tar tzf "$ARCHIVE" | grep -c 'metrics.json$') evaluations, $(ls runs/*/bench_done.json | wc -l) finished runs -> $ARCHIVE"
