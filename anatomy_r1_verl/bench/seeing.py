"""Seeing or naming: for every row and look-alike pair, the change in sensitivity (d') and in criterion (c)
against the start model (:mod:`anatomy_r1_verl.evaluation.sensitivity`, computed by ``anatomy-r1 eval``).

A row sees a pair better when d' rises on every seed and the 95 % t interval of the change over seeds lies above
0. It only names one class more when c moves (its interval excludes 0) while d' does not rise. That is the
shortcut that accuracy per class shows as one class gaining what its partner loses. With one seed there is no
interval, and no reading. Where the think checks the options one class at a time, the share of responses whose
checks are all true shows a third way to a preferred name: misreading the options.
"""

from __future__ import annotations

from anatomy_r1_verl.bench.grid import START
from anatomy_r1_verl.bench.stats import mean_interval

DIAGNOSTIC = "look_alike_pairs"
LEVEL = 0.95


def by_run(evals: list[dict], key: str, usable=bool) -> dict[tuple[str, int], dict]:
    """(row, seed) -> the ``key`` diagnostic of each evaluation, from its first benchmark where ``usable`` holds for
    it (default: present and non-empty); evaluations made before the diagnostic existed are left out."""
    out = {}
    for m in evals:
        for b in m["benchmarks"].values():
            found = (b.get("diagnostics") or {}).get(key)
            if found and usable(found):
                out[(m["method"], m.get("seed", 0))] = found
                break
    return out


def pair_detection(evals: list[dict]) -> dict[tuple[str, int], dict[str, dict]]:
    """(row, seed) -> {pair: its detection (d', c, ...)} from each evaluation's diagnostics."""
    return by_run(evals, DIAGNOSTIC)


def option_checks(evals: list[dict]) -> dict[tuple[str, int], float]:
    """(row, seed) -> the share of its responses whose think's option checks are all true (``anatomy-r1 eval``'s
    ``option_checks``), where the think makes any."""
    found = by_run(evals, "option_checks", usable=lambda f: bool(f.get("n")))
    return {run: f["value"] for run, f in found.items()}


def reading(d_deltas: list[float], c_deltas: list[float], second: str, first: str) -> str:
    """What the changes of d' and c over seeds say about one pair (``first / second``)."""
    d_ci, c_ci = mean_interval(d_deltas, LEVEL), mean_interval(c_deltas, LEVEL)
    if d_ci is None or c_ci is None:
        return "one seed: no reading"
    if d_ci[0] > 0 and all(d > 0 for d in d_deltas):
        return "**sees it better**"
    if d_ci[1] < 0:
        return "**sees it worse**"
    if c_ci[0] > 0 or c_ci[1] < 0:
        toward = second if c_ci[0] > 0 else first
        return f"**names {toward} more** (preference moved, sensitivity did not rise)"
    return "no clear change"


def _fmt_ci(ci: tuple[float, float] | None) -> str:
    return "-" if ci is None else f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"


def markdown(evals: list[dict], base: str = START) -> str:
    detections = pair_detection(evals)
    start = next((v for (m, _), v in detections.items() if m == base), None)
    rows = sorted({m for m, _ in detections if m != base}, key=[m["method"] for m in evals].index)
    if start is None or not rows:
        return ""
    lines = [
        "**Seeing or naming** (questions listing both classes of a look-alike pair: sensitivity d' and criterion "
        "c, c > 0 leaning to the second class; each row's change against the start model per seed, the mean and "
        f"its {LEVEL:.0%} t interval over seeds; `bench/seeing.py`)",
        "",
    ]
    lacking = [m["_dir"] for m in evals if (m["method"], m.get("seed", 0)) not in detections and "_dir" in m]
    if lacking:
        lines += [
            f"Left out, evaluated before the diagnostic existed ({len(lacking)}): "
            + ", ".join(lacking)
            + ". `anatomy-r1 eval --rescore DIR` adds it without generating.",
            "",
        ]
    checks = option_checks(evals)
    start_checks = next((v for (m, _), v in checks.items() if m == base), None)
    for row in rows:
        seeds = sorted(s for m, s in detections if m == row)
        lines += [
            f"{row}:",
            "",
            "| pair | start d' | d' per seed | change of d' | start c | c per seed | change of c | reading |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for pair, s0 in start.items():
            got = [detections[(row, s)].get(pair) for s in seeds]
            if any(g is None for g in got):
                continue
            dd = [g["d_prime"] - s0["d_prime"] for g in got]
            dc = [g["criterion"] - s0["criterion"] for g in got]
            first, second = pair.split(" / ")
            d_seeds = " / ".join(f"{g['d_prime']:.2f}" for g in got)
            c_seeds = " / ".join(f"{g['criterion']:+.2f}" for g in got)
            lines.append(
                f"| {pair} | {s0['d_prime']:.2f} | {d_seeds} | {sum(dd) / len(dd):+.2f} {_fmt_ci(mean_interval(dd, LEVEL))} | "
                f"{s0['criterion']:+.2f} | {c_seeds} | {sum(dc) / len(dc):+.2f} {_fmt_ci(mean_interval(dc, LEVEL))} | "
                f"{reading(dd, dc, second, first)} |"
            )
        row_checks = [checks[(row, s)] for s in seeds if (row, s) in checks]
        if start_checks is not None and row_checks:
            lines += [
                "",
                f"The think's option checks all true to the options: start {start_checks:.3f}; per seed "
                + " / ".join(f"{v:.3f}" for v in row_checks)
                + " (a check that turns false serves a preferred name, not the frame).",
            ]
        lines.append("")
    return "\n".join(lines)
