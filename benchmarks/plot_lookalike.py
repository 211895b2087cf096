"""The look-alike benchmark's figures (docs/benchmarks.md, "The look-alike benchmark").

# S(q) of two scored train splits side by side (`anatomy-r1 prepare score` adds the s_q column)
.venv/bin/python benchmarks/plot_lookalike.py s_q OLD.parquet NEW.parquet --labels classic lookalike --out A.png
# accuracy by S(q) quintile of `anatomy-r1 eval` folders (their test file scored), one line each
.venv/bin/python benchmarks/plot_lookalike.py quintiles start=EVAL_DIR grpo_seed0=EVAL_DIR ... --out B.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_s_q(parquets: list[str], labels: list[str], out: str) -> None:
    import numpy as np
    import pyarrow.parquet as pq

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    bins = np.linspace(0, 1, 21)
    for path, label in zip(parquets, labels):
        table = pq.read_table(path)
        if "s_q" not in table.column_names:
            raise SystemExit(f"{path}: no s_q column; score it first with `anatomy-r1 prepare score`")
        s = np.asarray(table.column("s_q").to_pylist(), float)
        ax.hist(
            s,
            bins=bins,
            alpha=0.55,
            label=f"{label} (n {len(s)}, IQR {np.percentile(s, 25):.2f}-{np.percentile(s, 75):.2f})",
        )
    ax.set_xlabel("S(q): mean similarity of the distractors to the answer")
    ax.set_ylabel("questions")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


def plot_quintiles(named_dirs: list[str], out: str, benchmark: str | None) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for item in named_dirs:
        name, _, folder = item.partition("=")
        metrics = json.loads((Path(folder) / "metrics.json").read_text())
        benches = metrics["benchmarks"]
        b = benches[benchmark] if benchmark else next(iter(benches.values()))
        quint = b["by"].get("s_q_quintile")
        if not quint:
            raise SystemExit(f"{folder}: no s_q_quintile breakdown; evaluate a scored test file")
        groups = sorted(quint)
        x = list(range(1, len(groups) + 1))
        acc = [quint[g]["acc"]["value"] for g in groups]
        err = [
            [a - quint[g]["acc"]["lo"] for a, g in zip(acc, groups)],
            [quint[g]["acc"]["hi"] - a for a, g in zip(acc, groups)],
        ]
        ax.errorbar(x, acc, yerr=err, marker="o", capsize=3, label=name)
    ax.set_xticks(x, [f"Q{i}" for i in x])
    ax.set_xlabel("S(q) quintile (Q1 easiest, Q5 hardest)")
    ax.set_ylabel("accuracy (95 % Wilson interval)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("s_q")
    s.add_argument("parquets", nargs="+")
    s.add_argument("--labels", nargs="+")
    s.add_argument("--out", required=True)
    q = sub.add_parser("quintiles")
    q.add_argument("named_dirs", nargs="+", help="NAME=EVAL_DIR")
    q.add_argument("--benchmark", default=None)
    q.add_argument("--out", required=True)
    a = p.parse_args(argv)
    if a.what == "s_q":
        plot_s_q(a.parquets, a.labels or [Path(x).parent.name for x in a.parquets], a.out)
    else:
        plot_quintiles(a.named_dirs, a.out, a.benchmark)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
