"""``anatomy-r1 report``: the paper's table from ``anatomy-r1 eval`` folders and its two figures from training runs.

    anatomy-r1 report [EVAL_DIR ...] [--runs RUN ...] [--out DIR] [--smooth W]

EVAL_DIR: folders holding ``metrics.json`` files of ``anatomy-r1 eval`` (searched recursively; default
``$ANATOMY_R1_OUTPUT_DIR/evals``, where eval writes ``<method>/seed<seed>``). Writes DIR/table.md and
DIR/table.csv (rows = methods, columns = benchmarks and breakdowns, mean ± standard deviation over seeds).
RUN: training run folders (``$ANATOMY_R1_OUTPUT_DIR/runs/<experiment>``) or their ``metrics.jsonl``; draws
DIR/figure1.png (reward and batch-mean S(q) vs step) and DIR/figure2.png (invalid-gradient ratio per answer
class vs step) and DIR/training.md (per method: final and mean reward, invalid-gradient ratio, batch S(q), s/step;
:mod:`anatomy_r1_verl.report.training`). ``--smooth W`` (0 <= W < 1): exponential moving average of the curves. DIR defaults to
``$ANATOMY_R1_OUTPUT_DIR/report``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _output_root() -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.environ.get("ANATOMY_R1_OUTPUT_DIR", "outputs"))))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="anatomy-r1 report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("evals", nargs="*", help="eval folders (default $ANATOMY_R1_OUTPUT_DIR/evals)")
    p.add_argument("--runs", nargs="+", default=[], help="training run folders for the figures")
    p.add_argument("--out", default=None, help="output folder (default $ANATOMY_R1_OUTPUT_DIR/report)")
    p.add_argument("--smooth", type=float, default=0.0, help="EMA weight for the figures' curves, 0 <= W < 1")
    p.add_argument("--no-table", action="store_true", help="figures only")
    a = p.parse_args(argv)
    from anatomy_r1_verl.report import figures, tables

    out = Path(a.out) if a.out else _output_root() / "report"
    out.mkdir(parents=True, exist_ok=True)
    failed = False
    if not a.no_table:
        try:
            evals = tables.find_evals(a.evals or [_output_root() / "evals"])
            rows = tables.aggregate(evals)
        except tables.ReportError as e:
            print(f"anatomy-r1 report: {e}", file=sys.stderr)
            failed = True
        else:
            md = tables.accuracy_markdown(evals, rows)
            (out / "table.md").write_text(md)
            for warning in tables.collapses(evals):
                print(f"anatomy-r1 report: WARNING: {warning}", file=sys.stderr)
            (out / "table.csv").write_text(tables.to_csv(rows))
            print(md)
            print(f"[anatomy-r1 report] wrote {out / 'table.md'} and {out / 'table.csv'}")
    if a.runs:
        try:
            runs = [figures.load_run(r) for r in a.runs]
        except figures.FigureError as e:
            print(f"anatomy-r1 report: {e}", file=sys.stderr)
            return 2
        from anatomy_r1_verl.report import training

        train_md = training.markdown([training.summarize(*r) for r in runs])
        (out / "training.md").write_text(train_md)
        print(train_md)
        print(f"[anatomy-r1 report] wrote {out / 'training.md'}")
        for name, draw in (("figure1.png", figures.figure1), ("figure2.png", figures.figure2)):
            try:
                path = draw(runs, out / name, smooth=a.smooth)
                print(f"[anatomy-r1 report] wrote {path}")
            except (figures.FigureError, ValueError) as e:
                print(f"anatomy-r1 report: {e}", file=sys.stderr)
                failed = True
    return 2 if failed else 0
