"""A grid's learning curve: each row's greedy test accuracy at its checkpoints, the start model's at step 0.

The bench evaluates every RL run's final checkpoint (``OUT/evals/<row>/seed<N>``) and its mid-run checkpoints
(``OUT/curve/<row>/seed<N>/step<K>``), all on the same test split. Read together they show whether a row's
change is still moving at the end of the budget, or came early and stayed. Accuracy is read overall and on the
easiest and the hardest two S(q) quintiles, because a gain on the hard quintiles that the easy one pays for is a
shortcut, not a better curve.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path

from anatomy_r1_verl.evaluation.results import METRICS
from anatomy_r1_verl.report import tables

STEP_DIR = re.compile(r"^step(\d+)$")
# (column, the S(q) quintiles pooled; None: every question)
VIEWS = (("all", None), ("Q1 (easiest)", ("Q1",)), ("Q4+Q5 (hardest)", ("Q4", "Q5")))


def accuracy(metrics: dict, quintiles: tuple[str, ...] | None = None) -> float | None:
    """Accuracy of one ``anatomy-r1 eval`` (``metrics.json``), pooled over its benchmarks; on ``quintiles`` of
    S(q) only when given (None when the evaluation has no S(q) quintiles)."""
    hits = total = 0.0
    for b in metrics["benchmarks"].values():
        if quintiles is None:
            cells = [b["overall"]]
        else:
            by = b.get("by", {}).get("s_q_quintile", {})
            cells = [v for k, v in by.items() if k.split()[0] in quintiles]
        for c in cells:
            n = c["acc"]["n"]
            hits += c["acc"]["value"] * n
            total += n
    return hits / total if total else None


def _evals(folder: Path) -> list[dict]:
    return tables.find_evals([folder]) if folder.is_dir() and any(folder.rglob(METRICS)) else []


def collect(finals: Path, mid_runs: Path, final_step: int, start: str) -> dict[str, dict[int, dict[int, dict]]]:
    """``{row: {step: {seed: metrics}}}``: the evaluations under ``finals`` at ``final_step`` (the one of method
    ``start`` at step 0, under every row) and those under ``mid_runs`` (``<row>/seed<N>/step<K>``); rows without
    a mid-run point are left out."""
    points: dict[str, dict[int, dict[int, dict]]] = {}
    start_eval = None
    for m in _evals(Path(finals)):
        if m["method"] == start:
            start_eval = m
        else:
            points.setdefault(m["method"], {}).setdefault(final_step, {})[m.get("seed", 0)] = m
    for m in _evals(Path(mid_runs)):
        step = STEP_DIR.match(Path(m["_dir"]).name)
        if step is None:
            raise tables.ReportError(f"{m['_dir']}: a learning-curve evaluation must sit in a folder step<K>")
        points.setdefault(m["method"], {}).setdefault(int(step.group(1)), {})[m.get("seed", 0)] = m
    curved = {row: steps for row, steps in points.items() if len(steps) > 1}  # rows with a mid-run point
    if start_eval is not None:
        for steps in curved.values():
            steps[0] = {0: start_eval}
    return curved


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    mean = 100 * statistics.fmean(values)
    spread = f" ± {100 * statistics.stdev(values):.1f}" if len(values) > 1 else ""
    return f"{mean:.1f}{spread} ({len(values)})"


def markdown(points: dict[str, dict[int, dict[int, dict]]]) -> str:
    """One table per view (all questions, the easiest quintile, the hardest two): a row per grid row, a column
    per step, the mean accuracy in percent ± the seeds' s.d. (the number of seeds)."""
    if not points:
        return ""
    steps = sorted({s for row in points.values() for s in row})
    parts = [
        "## Learning curve (greedy test accuracy, percent: mean ± s.d. over seeds (seeds); step 0 is the start model)"
    ]
    for title, quintiles in VIEWS:
        head = f"| {title} | " + " | ".join(f"step {s}" for s in steps) + " |"
        lines = [head, "| --- " * (len(steps) + 1) + "|"]
        for row, by_step in points.items():
            cells = []
            for s in steps:
                values = [accuracy(m, quintiles) for m in by_step.get(s, {}).values()]
                cells.append(_cell([v for v in values if v is not None]))
            lines.append(f"| {row} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def figure(points: dict[str, dict[int, dict[int, dict]]], out: Path) -> Path:
    """Accuracy against the step, one line per row (the seeds' mean, a band of ± one s.d.), one panel per view."""
    from anatomy_r1_verl.report.figures import FigureError, save, subplots

    if not points:
        raise FigureError("learning curve: no row has a mid-run evaluation; nothing to draw")
    plt, fig, axes = subplots(len(VIEWS))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (title, quintiles) in zip(axes, VIEWS):
        for i, (row, by_step) in enumerate(points.items()):
            xs, means, sds = [], [], []
            for s in sorted(by_step):
                values = [v for v in (accuracy(m, quintiles) for m in by_step[s].values()) if v is not None]
                if values:
                    xs.append(s)
                    means.append(100 * statistics.fmean(values))
                    sds.append(100 * statistics.stdev(values) if len(values) > 1 else 0.0)
            color = colors[i % len(colors)]
            ax.plot(xs, means, marker="o", markersize=3, linewidth=1.5, color=color, label=row)
            ax.fill_between(
                xs, [m - d for m, d in zip(means, sds)], [m + d for m, d in zip(means, sds)], color=color, alpha=0.12
            )
        ax.set_title(f"test accuracy, {title}", fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel("percent")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("Learning curve: the start model (step 0), the mid-run and the final checkpoints", fontsize=11)
    return save(plt, fig, out)
