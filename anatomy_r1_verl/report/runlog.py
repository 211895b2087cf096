"""Reading verl's ``file`` logger output, a run's ``metrics.jsonl``: one record per line,
``{"step": N, "data": {metric: value}}``, at ``$ANATOMY_R1_OUTPUT_DIR/runs/<experiment>/metrics.jsonl``."""

from __future__ import annotations

import json
from pathlib import Path

METRICS_FILE = "metrics.jsonl"


def metrics_path(run: Path | str) -> Path:
    """The metrics file of a run folder, or the file itself."""
    p = Path(run)
    return p if p.is_file() or p.suffix == ".jsonl" else p / METRICS_FILE


class RunLogError(ValueError):
    """A metrics.jsonl line that is not JSON; the message names the file and the line."""


def read_metrics(run: Path | str) -> list[dict]:
    """Every record of a run (a run folder or its ``metrics.jsonl``), in order; [] when there is none."""
    path = metrics_path(run)
    if not path.is_file():
        return []
    out = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise RunLogError(f"{path}: line {lineno} is not JSON ({e})") from e
    return out


def read_records(run: Path | str) -> list[dict]:
    """The ``data`` dict of every record (the metrics alone, with ``step`` added where the record has one)."""
    out = []
    for rec in read_metrics(run):
        data = dict(rec.get("data", rec))
        if "step" in rec:
            data.setdefault("step", rec["step"])
        out.append(data)
    return out


def final_validation(records: list[dict], first: bool = False) -> dict:
    """The last (``first``: the first) logged validation metrics ``val-core/*`` (accuracy per data source) and
    their step."""
    for rec in records if first else reversed(records):
        data = rec.get("data", rec)
        val = {k: v for k, v in data.items() if k.startswith("val-core/")}
        if val:
            return {"step": rec.get("step"), **val}
    return {}
