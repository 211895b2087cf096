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
RESUME_KEY = "resume.json"  # what must match for ``--resume`` to add to the answers already written


class ResumeError(ValueError):
    """``--resume`` on a folder whose answers came from other settings; the message names the setting."""


class ResponseLog:
    """``responses.jsonl`` written as questions finish (one line per response, flushed per question), so that a
    run that stops keeps what it generated; :meth:`finish` rewrites it in file/row/sample order.

    With ``resume`` the folder's earlier answers are kept: only questions with all their responses count as
    done (a line cut short by a kill is reported and its question generated again)."""

    def __init__(self, out_dir: Path, contract: dict, samples: int, resume: bool = False):
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / RESPONSES
        self.records: list[dict] = []
        self.notes: list[str] = []
        key_path = self.out_dir / RESUME_KEY
        if resume and self.path.is_file():
            before = json.loads(key_path.read_text()) if key_path.is_file() else None
            if before is None:
                raise ResumeError(
                    f"{key_path}: missing, so the answers in {self.path} cannot be matched to settings; "
                    "run without --resume (it starts over)"
                )
            for k in sorted(set(before) | set(contract)):
                if before.get(k) != contract.get(k):
                    raise ResumeError(
                        f"{self.out_dir}: --resume with {k}={contract.get(k)!r}, but the answers there were made with "
                        f"{k}={before.get(k)!r}; give the same settings, or another --out to start a new folder"
                    )
            records, torn = self._read_lines()
            per_question: dict[tuple, set] = {}
            for r in records:
                per_question.setdefault((r["file"], int(r["row"])), set()).add(int(r["sample"]))
            self.records = [r for r in records if len(per_question[(r["file"], int(r["row"]))]) >= samples]
            partial = len(records) - len(self.records)
            if torn or partial:
                self.notes.append(
                    f"{self.path}: {torn} line(s) cut short by the kill and {partial} response(s) of questions "
                    "without all their samples; those questions are generated again"
                )
        key_path.write_text(json.dumps(contract, indent=1))
        self._file = open(self.path, "w")
        for r in self.records:
            self._file.write(json.dumps(r, ensure_ascii=False) + "\n")
        self._file.flush()

    def _read_lines(self) -> tuple[list[dict], int]:
        records, torn = [], 0
        for line in self.path.read_text().splitlines():
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                torn += 1
        return records, torn

    def done(self, file: str) -> set[int]:
        """Rows of ``file`` already answered (all their samples)."""
        return {int(r["row"]) for r in self.records if r["file"] == file}

    def add(self, records: list[dict]) -> None:
        for r in records:
            self._file.write(json.dumps(r, ensure_ascii=False) + "\n")
        self._file.flush()
        self.records += records

    def finish(self, files: list[str]) -> list[dict]:
        """Close the log and rewrite it sorted by file (in the given order), row and sample."""
        self._file.close()
        order = {f: k for k, f in enumerate(files)}
        self.records.sort(key=lambda r: (order.get(r["file"], len(order)), int(r["row"]), int(r["sample"])))
        write_responses(self.out_dir, self.records)
        return self.records

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


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
    for pair, d in (diag.get("look_alike_pairs") or {}).items():
        lines.append(
            f"  look-alike pair {pair} (both listed, n {d['n_first']}/{d['n_second']}): d' {d['d_prime']:.2f} "
            f"[{d['d_prime_lo']:.2f}, {d['d_prime_hi']:.2f}], criterion {d['criterion']:+.2f}"
        )
    ta = diag.get("think_answer")
    if ta and ta["n"]:
        lines.append(f"  answer = the class the think names last: {ta['value']:.3f} of {ta['n']} responses")
    oc = diag.get("option_checks")
    if oc and oc["n"]:
        lines.append(f"  the think's option checks all true to the options: {oc['value']:.3f} of {oc['n']} responses")
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
