"""The folder ``anatomy-r1 eval`` writes, and re-scoring it without regenerating:

- ``responses.jsonl``: one line per response (benchmark, file, row, id, ground truth, breakdown keys, the row's
  ``extra_info`` without ``meta``, sample number, response text, score/acc/format)
- ``metrics.json``: the run's settings (model, method, seed, K, temperature, reward kwargs, interval method)
  and :func:`anatomy_r1_verl.evaluation.scoring.summarize` of the responses
- ``metrics.csv``: the same numbers flat: benchmark, breakdown, group, metric, value, lo, hi, n
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from anatomy_r1_verl.evaluation import intervals
from anatomy_r1_verl.evaluation.scoring import score, summarize

RESPONSES = "responses.jsonl"
METRICS = "metrics.json"
METRICS_CSV = "metrics.csv"


def write_responses(out_dir: Path, records: list[dict]) -> Path:
    path = Path(out_dir) / RESPONSES
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def read_responses(out_dir: Path) -> list[dict]:
    path = Path(out_dir) / RESPONSES
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no responses to re-score; pass the folder `anatomy-r1 eval --out` wrote")
    records = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}: line {lineno} is not JSON ({e})") from e
    if not records:
        raise ValueError(f"{path}: empty")
    return records


def csv_rows(benchmarks: dict) -> list[dict]:
    rows = []

    def add(bench, breakdown, group, summary):
        for metric, v in summary.items():
            if isinstance(v, dict):
                rows.append(
                    {
                        "benchmark": bench,
                        "breakdown": breakdown,
                        "group": group,
                        "metric": metric,
                        "value": v["value"],
                        "lo": v["lo"],
                        "hi": v["hi"],
                        "n": v["n"],
                    }
                )

    for bench, b in benchmarks.items():
        add(bench, "overall", "all", b["overall"])
        for breakdown, groups in b["by"].items():
            for group, s in groups.items():
                add(bench, breakdown, group, s)
    return rows


def write_metrics(out_dir: Path, records: list[dict], settings: dict) -> dict:
    """Summarize ``records`` and write ``metrics.json`` and ``metrics.csv``; returns the metrics."""
    out_dir = Path(out_dir)
    metrics = {**settings, "interval": intervals.METHOD, "benchmarks": summarize(records)}
    (out_dir / METRICS).write_text(json.dumps(metrics, indent=1, ensure_ascii=False))
    with open(out_dir / METRICS_CSV, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["benchmark", "breakdown", "group", "metric", "value", "lo", "hi", "n"])
        w.writeheader()
        w.writerows(csv_rows(metrics["benchmarks"]))
    return metrics


def rescore(out_dir: Path, reward_kwargs: dict | None = None) -> dict:
    """Score ``responses.jsonl`` again with today's reward functions and rewrite the metrics files."""
    out_dir = Path(out_dir)
    records = read_responses(out_dir)
    settings_path = out_dir / METRICS
    settings = json.loads(settings_path.read_text()) if settings_path.is_file() else {}
    settings.pop("benchmarks", None)
    if reward_kwargs is None:
        reward_kwargs = settings.get("reward_kwargs")
    for r in records:
        r.update(score(r, reward_kwargs))
    write_responses(out_dir, records)
    settings["reward_kwargs"] = reward_kwargs
    settings["rescored"] = True
    return write_metrics(out_dir, records, settings)


def diagnostic_lines(bench: dict) -> list[str]:
    """The diagnostics of one benchmark's summary as indented lines (nothing for what was not measured)."""
    lines, by, diag = [], bench["by"], bench.get("diagnostics") or {}
    if "s_q_quintile" in by:
        cells = "  ".join(f"{g} {s['acc']['value']:.3f}" for g, s in by["s_q_quintile"].items())
        sp = diag.get("spearman_s_q_wrong") or {}
        rho = "n/a" if sp.get("rho") is None else f"{sp['rho']:+.3f} (p {sp['p']:.2g})"
        lines.append(f"  S(q) quintiles easy->hard: {cells}; Spearman(S(q), wrong) {rho}")
    if "partner" in by:
        cells = "  ".join(f"{g} {s['acc']['value']:.3f} (n {s['n']})" for g, s in by["partner"].items())
        lines.append(f"  closest partner among the options: {cells}")
    ta = diag.get("think_answer")
    if ta and ta["n"]:
        lines.append(f"  answer = the class the think names last: {ta['value']:.3f} of {ta['n']} responses")
    spread = diag.get("answers")
    if spread and spread["n"]:
        cells = " ".join(f"{k} {v / spread['n']:.0%}" for k, v in spread["letters"].items())
        lines.append(f"  answered letters: {cells}")
        if spread["collapse"]:
            lines.append(f"  WARNING: {spread['collapse']}")
    return lines


def format_summary(metrics: dict) -> str:
    """A short human summary: per benchmark, accuracy and format rate with their intervals."""
    lines = []
    for bench, b in metrics["benchmarks"].items():
        o = b["overall"]
        k = b["samples"]
        acc = o["acc"]
        name = "acc" if k == 1 else f"mean@{k}"
        line = (
            f"{bench}: n={b['n']} {name} {acc['value']:.3f} [{acc['lo']:.3f}, {acc['hi']:.3f}]  "
            f"format {o['format']['value']:.3f} [{o['format']['lo']:.3f}, {o['format']['hi']:.3f}]"
        )
        if f"pass@{k}" in o:
            p = o[f"pass@{k}"]
            line += f"  pass@{k} {p['value']:.3f} [{p['lo']:.3f}, {p['hi']:.3f}]"
        lines.append(line)
        lines += diagnostic_lines(b)
    return "\n".join(lines)
