"""The paper's table layout from ``anatomy-r1 eval`` folders: one row per method (recipe / experiment name), one
column per benchmark (overall accuracy and format rate), then one table per benchmark and breakdown (answer
class, question type, ...), each cell the mean over the method's seeds ± their sample standard deviation, or,
for a single seed, the value with its Wilson 95 % interval. Markdown for reading, CSV (long form) for tools."""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import defaultdict
from pathlib import Path

from anatomy_r1_verl.evaluation.results import METRICS


class ReportError(ValueError):
    """Nothing (or something inconsistent) to report; the message names the folder and what to do."""


def find_evals(paths: list[str | Path]) -> list[dict]:
    """Every ``metrics.json`` written by ``anatomy-r1 eval`` at or under ``paths``, loaded, with its folder."""
    found = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise ReportError(f"{p}: no such folder")
        files = [p] if p.is_file() else sorted(p.rglob(METRICS))
        for f in files:
            m = json.loads(f.read_text())
            if "benchmarks" not in m or "method" not in m:
                continue  # some other metrics.json
            m["_dir"] = str(f.parent)
            found.append(m)
    if not found:
        raise ReportError(
            f"no eval folders (metrics.json of `anatomy-r1 eval`) under {[str(p) for p in paths]}; "
            "run `anatomy-r1 eval MODEL TEST.parquet` first"
        )
    seen: dict = {}
    for m in found:
        key = (m["method"], m.get("seed", 0))
        if key in seen:
            raise ReportError(
                f"method {key[0]!r} seed {key[1]} is evaluated twice: {seen[key]} and {m['_dir']}; "
                "pass one of them (or give them different --method/--seed)"
            )
        seen[key] = m["_dir"]
    return found


def aggregate(evals: list[dict]) -> list[dict]:
    """Long-form rows: method, seeds, benchmark, breakdown, group, metric, mean, spread, lo, hi, n."""
    cells: dict[tuple, dict] = defaultdict(dict)  # (method, bench, breakdown, group, metric) -> {seed: rate}
    order: list[str] = []
    for m in evals:
        if m["method"] not in order:
            order.append(m["method"])
        for bench, b in m["benchmarks"].items():
            parts = [("overall", "all", b["overall"])] + [
                (bd, g, s) for bd, gs in b["by"].items() for g, s in gs.items()
            ]
            for breakdown, group, summary in parts:
                for metric, v in summary.items():
                    if isinstance(v, dict):
                        cells[(m["method"], bench, breakdown, group, metric)][m.get("seed", 0)] = v
    rows = []
    for (method, bench, breakdown, group, metric), by_seed in cells.items():
        vals = [v["value"] for _, v in sorted(by_seed.items())]
        one = len(vals) == 1
        only = next(iter(by_seed.values()))
        rows.append(
            {
                "method": method,
                "seeds": " ".join(str(s) for s in sorted(by_seed)),
                "n_seeds": len(vals),
                "benchmark": bench,
                "breakdown": breakdown,
                "group": group,
                "metric": metric,
                "mean": statistics.fmean(vals),
                "spread": statistics.stdev(vals) if len(vals) > 1 else "",
                "lo": only["lo"] if one else "",
                "hi": only["hi"] if one else "",
                "n": only["n"],
            }
        )
    rank = {m: i for i, m in enumerate(order)}
    rows.sort(
        key=lambda r: (
            r["benchmark"],
            r["breakdown"] != "overall",
            r["breakdown"],
            r["group"],
            r["metric"],
            rank[r["method"]],
        )
    )
    return rows


def cell(row: dict | None) -> str:
    if row is None:
        return "–"
    if row["n_seeds"] > 1:
        return f"{100 * row['mean']:.1f} ± {100 * row['spread']:.1f}"
    return f"{100 * row['mean']:.1f} [{100 * row['lo']:.1f}, {100 * row['hi']:.1f}]"


def _table(title: str, methods: list[str], columns: list[str], get) -> str:
    out = [f"**{title}**", "", "| method | " + " | ".join(columns) + " |", "| --- |" + " --- |" * len(columns)]
    for m in methods:
        out.append(f"| {m} | " + " | ".join(cell(get(m, c)) for c in columns) + " |")
    return "\n".join(out) + "\n"


def markdown(rows: list[dict], breakdown_metric: str = "acc") -> str:
    """The main table (overall accuracy and format per benchmark) and one table per benchmark and breakdown."""
    methods = list(dict.fromkeys(r["method"] for r in rows))  # in the order the eval folders were given
    index = {(r["method"], r["benchmark"], r["breakdown"], r["group"], r["metric"]): r for r in rows}
    seeds = {r["method"]: r["seeds"] for r in rows}
    benches = list(dict.fromkeys(r["benchmark"] for r in rows))
    overall_metrics = [
        m for m in ("acc", "format") + tuple(sorted({r["metric"] for r in rows if r["metric"].startswith("pass@")}))
    ]
    cols = [
        f"{b} {m}"
        for b in benches
        for m in overall_metrics
        if any(k[1] == b and k[2] == "overall" and k[4] == m for k in index)
    ]
    n = {b: next(r["n"] for r in rows if r["benchmark"] == b and r["breakdown"] == "overall") for b in benches}
    parts = [
        "Percent. A cell is the mean over a method's seeds ± their sample standard deviation, or for a single "
        "seed the value [Wilson 95 % interval]. Seeds: " + "; ".join(f"{m}: {seeds[m]}" for m in methods) + ". "
        "Questions: " + ", ".join(f"{b} n={n[b]}" for b in benches) + ".\n"
    ]
    parts.append(
        _table(
            "Overall",
            methods,
            cols,
            lambda m, c: index.get((m, c.rsplit(" ", 1)[0], "overall", "all", c.rsplit(" ", 1)[1])),
        )
    )
    for b in benches:
        for bd in dict.fromkeys(r["breakdown"] for r in rows if r["benchmark"] == b and r["breakdown"] != "overall"):
            groups = list(dict.fromkeys(r["group"] for r in rows if r["benchmark"] == b and r["breakdown"] == bd))
            ns = {
                g: max(r["n"] for r in rows if r["benchmark"] == b and r["breakdown"] == bd and r["group"] == g)
                for g in groups
            }
            parts.append(
                _table(
                    f"{b}: {breakdown_metric} by {bd}",
                    methods,
                    [f"{g} (n={ns[g]})" for g in groups],
                    lambda m, c, b=b, bd=bd: index.get((m, b, bd, c.rsplit(" (n=", 1)[0], breakdown_metric)),
                )
            )
    return "\n".join(parts)


def answer_spread_section(evals: list[dict]) -> str:
    """Every evaluation's most answered letter and its share, flagging a collapse (evaluation/diagnostics.py)."""
    lines = [
        "",
        "### Answer spread (collapse check)",
        "",
        "| method | seed | benchmark | most answered | share | |",
        "|---|---|---|---|---|---|",
    ]
    found = False
    for m in evals:
        for bench, b in m["benchmarks"].items():
            spread = (b.get("diagnostics") or {}).get("answers")
            if not spread:
                continue
            found = True
            flag = f"**collapse**: {spread['collapse']}" if spread["collapse"] else ""
            lines.append(
                f"| {m['method']} | {m.get('seed', 0)} | {bench} | {spread['top_letter']} | "
                f"{100 * spread['top_share']:.1f} % | {flag} |"
            )
    return "\n".join(lines) + "\n" if found else ""


def per_seed_section(evals: list[dict]) -> str:
    """Overall accuracy of every method on every seed, one table per benchmark: the numbers behind each mean ± s.d.
    of the tables above, so that no seed is hidden in an average. Empty when no method has two seeds."""
    acc: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))  # bench -> method -> seed
    for m in evals:
        for bench, b in m["benchmarks"].items():
            a = b["overall"].get("acc")
            if isinstance(a, dict):
                acc[bench][m["method"]][int(m.get("seed", 0))] = a["value"]
    parts = []
    for bench, by_method in acc.items():
        if max(len(v) for v in by_method.values()) < 2:
            continue
        seeds = sorted({s for v in by_method.values() for s in v})
        lines = [
            f"**{bench}: accuracy per seed** (percent)",
            "",
            "| method | " + " | ".join(f"seed {s}" for s in seeds) + " | mean |",
            "| --- |" + " --- |" * (len(seeds) + 1),
        ]
        for method, v in by_method.items():
            cells = [f"{100 * v[s]:.1f}" if s in v else "–" for s in seeds]
            lines.append(f"| {method} | " + " | ".join(cells) + f" | {100 * statistics.fmean(v.values()):.1f} |")
        parts.append("\n".join(lines) + "\n")
    return "\n" + "\n".join(parts) if parts else ""


def accuracy_markdown(evals: list[dict], rows: list[dict]) -> str:
    """``table.md`` of ``anatomy-r1 report`` and ``bench``: the accuracy tables, every seed's overall accuracy,
    then the answer spread."""
    return markdown(rows) + per_seed_section(evals) + answer_spread_section(evals)


def collapses(evals: list[dict]) -> list[str]:
    """The collapse warnings of the evaluations, each naming its method, seed and benchmark."""
    out = []
    for m in evals:
        for bench, b in m["benchmarks"].items():
            c = ((b.get("diagnostics") or {}).get("answers") or {}).get("collapse")
            if c:
                out.append(f"{m['method']} seed {m.get('seed', 0)} on {bench}: {c}")
    return out


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(
        buf,
        fieldnames=[
            "method",
            "seeds",
            "n_seeds",
            "benchmark",
            "breakdown",
            "group",
            "metric",
            "mean",
            "spread",
            "lo",
            "hi",
            "n",
        ],
    )
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()
