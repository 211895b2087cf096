"""The training side of the paper's table, from runs' ``metrics.jsonl`` (verl's ``file`` logger): per run the
final and mean training reward, the invalid-gradient ratio (share of groups with zero reward spread), the
batch-mean S(q) at the start and end, and the median wall time per step; per method the mean ± sample standard
deviation over its seeds. A run folder ``<prefix>_<method>_seed<N>`` (``bench_grpo_seed0``) belongs to method
``<method>``; any other folder is its own method."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

from anatomy_r1_verl.report.figures import INVALID_OVERALL, INVALID_PREFIX, REWARD_METRICS, S_Q_METRIC, load_run

STEP_TIME = "timing_s/step"
TRAIN_ACC, TRAIN_FORMAT = "reward/acc/mean", "reward/format/mean"  # the reward's components (trainer/metrics.py)
WINDOW = 5  # steps averaged for "first" and "final" values
_SEED = re.compile(r"^(?:bench_)?(?P<method>.+?)_seed(?P<seed>\d+)$")


def method_and_seed(label: str) -> tuple[str, int]:
    m = _SEED.match(label)
    return (m["method"], int(m["seed"])) if m else (label, 0)


def _first_last(series) -> tuple[float, float] | None:
    if not series or not series[1]:
        return None
    vals = series[1]
    return statistics.fmean(vals[:WINDOW]), statistics.fmean(vals[-WINDOW:])


def summarize(label: str, series: dict) -> dict:
    """One run's figures (None where the run did not log the metric)."""
    method, seed = method_and_seed(label)
    reward = next((series[m] for m in REWARD_METRICS if m in series), None)
    steps = series.get(STEP_TIME, ([], []))[1][1:]  # the first step carries start-up costs
    fl_reward, fl_invalid, fl_sq = (
        _first_last(reward),
        _first_last(series.get(INVALID_OVERALL)),
        _first_last(series.get(S_Q_METRIC)),
    )
    per_class = {
        k[len(INVALID_PREFIX) :]: statistics.fmean(v[1])
        for k, v in series.items()
        if k.startswith(INVALID_PREFIX) and v[1]
    }
    return {
        "label": label,
        "method": method,
        "seed": seed,
        "steps": max((max(s[0]) for s in series.values() if s[0]), default=0),
        "reward_final": fl_reward[1] if fl_reward else None,
        "reward_mean": statistics.fmean(reward[1]) if reward and reward[1] else None,
        "acc_mean": statistics.fmean(series[TRAIN_ACC][1]) if series.get(TRAIN_ACC, ([], []))[1] else None,
        "format_mean": statistics.fmean(series[TRAIN_FORMAT][1]) if series.get(TRAIN_FORMAT, ([], []))[1] else None,
        "invalid_mean": statistics.fmean(series[INVALID_OVERALL][1]) if fl_invalid else None,
        "invalid_first": fl_invalid[0] if fl_invalid else None,
        "invalid_final": fl_invalid[1] if fl_invalid else None,
        "invalid_by_class": per_class,
        # class -> {step: ratio}: the paired values bench's verdict tests (seed x step)
        "invalid_steps_by_class": {
            k[len(INVALID_PREFIX) :]: dict(zip(v[0], v[1]))
            for k, v in series.items()
            if k.startswith(INVALID_PREFIX) and v[1]
        },
        "s_q_first": fl_sq[0] if fl_sq else None,
        "s_q_final": fl_sq[1] if fl_sq else None,
        "step_s": statistics.median(steps) if steps else None,
    }


def summarize_runs(runs: list[str | Path]) -> list[dict]:
    return [summarize(*load_run(r)) for r in runs]


COLUMNS = (
    ("reward_final", f"final reward (last {WINDOW} steps)", 3),
    ("reward_mean", "mean reward", 3),
    ("acc_mean", "mean train accuracy", 3),
    ("format_mean", "mean train format rate", 3),
    ("invalid_first", f"invalid-gradient ratio, first {WINDOW}", 3),
    ("invalid_final", f"invalid-gradient ratio, last {WINDOW}", 3),
    ("s_q_first", f"batch S(q), first {WINDOW}", 3),
    ("s_q_final", f"batch S(q), last {WINDOW}", 3),
    ("step_s", "s / step (median)", 2),
)


def by_method(summaries: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for s in summaries:
        out.setdefault(s["method"], []).append(s)
    return out


def mean_spread(values: list[float | None]) -> tuple[float, float | None] | None:
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else None)


def _cell(values, digits: int) -> str:
    ms = mean_spread(values)
    if ms is None:
        return "–"
    return f"{ms[0]:.{digits}f}" + (f" ± {ms[1]:.{digits}f}" if ms[1] is not None else "")


def markdown(summaries: list[dict]) -> str:
    groups = by_method(summaries)
    head = "| method | seeds | steps | " + " | ".join(c[1] for c in COLUMNS) + " |"
    lines = [
        "**Training** (mean ± sample standard deviation over seeds; – where the run did not log it)",
        "",
        head,
        "| --- |" + " --- |" * (len(COLUMNS) + 2),
    ]
    for method, runs in groups.items():
        seeds = " ".join(str(r["seed"]) for r in sorted(runs, key=lambda r: r["seed"]))
        steps = "/".join(sorted({str(r["steps"]) for r in runs}))
        lines.append(
            f"| {method} | {seeds} | {steps} | "
            + " | ".join(_cell([r[k] for r in runs], d) for k, _, d in COLUMNS)
            + " |"
        )
    classes = sorted({c for s in summaries for c in s["invalid_by_class"]})
    if classes:
        lines += [
            "",
            "**Invalid-gradient ratio per answer class** (mean over steps, then over seeds)",
            "",
            "| method | " + " | ".join(classes) + " |",
            "| --- |" + " --- |" * len(classes),
        ]
        for method, runs in groups.items():
            lines.append(
                f"| {method} | "
                + " | ".join(_cell([r["invalid_by_class"].get(c) for r in runs], 3) for c in classes)
                + " |"
            )
    return "\n".join(lines) + "\n"
