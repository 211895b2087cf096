"""The authors' two figures from training runs' logged metrics (verl's ``file`` logger: one JSON line per step,
``{"step": N, "data": {metric: value}}``, at ``$ANATOMY_R1_OUTPUT_DIR/runs/<experiment>/metrics.jsonl``):

- Figure 1: the training reward (``critic/score/mean``, else ``reward/score/mean``) and the batch-mean
  difficulty S(q) of the drawn questions (``curriculum/batch_mean_s_q``) against the step, one line per run;
- Figure 2: the invalid-gradient ratio (share of GRPO groups with zero reward spread) per answer class
  (``gdqa/invalid_gradient_ratio/<class>``) against the step, one panel per run.

Optional smoothing is an exponential moving average (TensorBoard's); the raw curve stays, faint. A run that
lacks a metric is named in a message and left out of that panel; a figure none of whose panels has data is
not drawn (:class:`FigureError`)."""

from __future__ import annotations

from pathlib import Path

from anatomy_r1_verl.report.runlog import RunLogError, metrics_path, read_metrics

REWARD_METRICS = ("critic/score/mean", "reward/score/mean")
S_Q_METRIC = "curriculum/batch_mean_s_q"
INVALID_PREFIX = "gdqa/invalid_gradient_ratio/"
INVALID_OVERALL = "gdqa/invalid_gradient_ratio"


class FigureError(ValueError):
    """A figure with nothing to draw; the message names the runs and the metric they lack."""


def metrics_file(run: str | Path) -> Path:
    p = Path(run)
    f = metrics_path(p)
    if not f.is_file():
        raise FigureError(
            f"{p}: no metrics.jsonl (verl's file logger writes $ANATOMY_R1_OUTPUT_DIR/runs/<experiment>/"
            "metrics.jsonl when trainer.logger includes 'file'); pass a run folder or that file"
        )
    return f


def load_run(run: str | Path) -> tuple[str, dict[str, tuple[list[int], list[float]]]]:
    """``(label, {metric: (steps, values)})`` of a run; the label is the run folder's name."""
    f = metrics_file(run)
    series: dict[str, dict[int, float]] = {}
    try:
        records = read_metrics(f)
    except RunLogError as e:
        raise FigureError(str(e)) from e
    for rec in records:
        step, data = rec.get("step"), rec.get("data", rec)
        if step is None:
            continue
        for k, v in data.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                series.setdefault(k, {})[int(step)] = float(v)
    out = {k: (sorted(d), [d[s] for s in sorted(d)]) for k, d in series.items()}
    return f.parent.name, out


def ema(values: list[float], weight: float) -> list[float]:
    """Exponential moving average, TensorBoard's (debiased): weight 0 = raw, towards 1 = smoother."""
    if not 0 <= weight < 1:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    out, last = [], 0.0
    for num, v in enumerate(values, start=1):
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight**num))
    return out


def _plot(ax, steps, values, smooth: float, **kw):
    if smooth > 0 and len(values) > 1:
        ax.plot(steps, values, alpha=0.25, linewidth=1, color=kw.get("color"))
        ax.plot(steps, ema(values, smooth), linewidth=2, **kw)
    else:
        ax.plot(steps, values, linewidth=2, marker="o" if len(values) < 30 else None, markersize=3, **kw)


def subplots(ncols: int, nrows: int = 1, min_width: float = 0.0):
    """A headless matplotlib figure of ``nrows`` x ``ncols`` panels with integer step ticks, as every report
    figure draws them: ``(pyplot, figure, flat list of axes)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(nrows, ncols, figsize=(max(4.6 * ncols, min_width), 3.4 * nrows), squeeze=False)
    flat = [a for row in axes for a in row]
    for ax in flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return plt, fig, flat


def save(plt, fig, out: Path) -> Path:
    """Write ``fig`` to ``out`` (its folder made) and close it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def figure1(runs: list[tuple[str, dict]], out: Path, smooth: float = 0.0, log=print) -> Path:
    """Reward and batch-mean S(q) against the step, one line per run."""
    panels = []
    reward = []
    for label, s in runs:
        name = next((m for m in REWARD_METRICS if m in s), None)
        if name is None:
            log(f"[report] figure 1: run {label} has none of {list(REWARD_METRICS)}; left out of the reward panel")
        else:
            reward.append((label, name, s[name]))
    if reward:
        panels.append(("training reward (" + ", ".join(sorted({n for _, n, _ in reward})) + ")", reward))
    sq = []
    for label, s in runs:
        if S_Q_METRIC not in s:
            log(
                f"[report] figure 1: run {label} has no {S_Q_METRIC} (no S(q) in its train file, or not an "
                "anatomy_r1 trainer run); left out of the S(q) panel"
            )
        else:
            sq.append((label, S_Q_METRIC, s[S_Q_METRIC]))
    if sq:
        panels.append(("batch-mean S(q) of the drawn questions", sq))
    if not panels:
        raise FigureError(f"figure 1: no run has {list(REWARD_METRICS)} or {S_Q_METRIC}; nothing to draw")
    plt, fig, axes = subplots(len(panels))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    labels = [label for label, _ in runs]
    for ax, (title, lines) in zip(axes, panels):
        for label, _, (steps, values) in lines:
            _plot(ax, steps, values, smooth, color=colors[labels.index(label) % len(colors)], label=label)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Figure 1: reward and curriculum difficulty" + (f" (EMA {smooth})" if smooth else ""), fontsize=11)
    return save(plt, fig, out)


def figure2(runs: list[tuple[str, dict]], out: Path, smooth: float = 0.0, log=print) -> Path:
    """Invalid-gradient ratio per answer class against the step, one panel per run."""
    have = []
    for label, s in runs:
        classes = sorted(k[len(INVALID_PREFIX) :] for k in s if k.startswith(INVALID_PREFIX))
        if not classes:
            log(
                f"[report] figure 2: run {label} has no {INVALID_PREFIX}<class> metrics (not an anatomy_r1 trainer "
                "run?); left out"
            )
        else:
            have.append((label, s, classes))
    if not have:
        raise FigureError(f"figure 2: no run has {INVALID_PREFIX}<class> metrics; nothing to draw")
    plt, fig, axes = subplots(len(have), min_width=7.0)  # room for the title and the class legend
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    all_classes = sorted({c for _, _, cs in have for c in cs})
    for ax, (label, s, classes) in zip(axes, have):
        for c in classes:
            steps, values = s[INVALID_PREFIX + c]
            _plot(ax, steps, values, smooth, color=colors[all_classes.index(c) % len(colors)], label=c)
        if INVALID_OVERALL in s:
            steps, values = s[INVALID_OVERALL]
            ax.plot(
                steps,
                ema(values, smooth) if smooth else values,
                color="black",
                linestyle="--",
                linewidth=1.2,
                label="all groups",
            )
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel("invalid-gradient ratio")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    fig.suptitle(
        "Figure 2: invalid-gradient ratio per answer class" + (f" (EMA {smooth})" if smooth else ""), fontsize=11
    )
    return save(plt, fig, out)


def average_runs(label: str, runs: list[tuple[str, dict]]) -> tuple[str, dict]:
    """One curve per metric: the mean over ``runs`` (a method's seeds) at each step some of them logged,
    labelled ``label (N seeds)``."""
    by_metric: dict[str, dict[int, list[float]]] = {}
    for _, series in runs:
        for metric, (steps, values) in series.items():
            for t, v in zip(steps, values):
                by_metric.setdefault(metric, {}).setdefault(t, []).append(v)
    merged = {m: (sorted(d), [sum(d[t]) / len(d[t]) for t in sorted(d)]) for m, d in by_metric.items()}
    return f"{label} ({len(runs)} seed{'s' if len(runs) != 1 else ''})", merged
