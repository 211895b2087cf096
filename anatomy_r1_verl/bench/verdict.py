"""The paper's claims, checked on a finished grid: each line states the numbers, the criterion and whether this
implementation met it on this benchmark (``met`` / ``missed`` / ``not measured`` when a row is missing)."""

from __future__ import annotations

import statistics

from anatomy_r1_verl.evaluation.intervals import difference_standard_error
from anatomy_r1_verl.report.training import by_method, mean_spread

S_Q_RISE = 0.05  # ASCL: batch S(q) of the last steps minus the first steps, at least
S_Q_FLAT = 0.05  # GRPO: |last - first| below
MAX_OVERHEAD = 0.03  # ASCL + GDQA on a GRPO step
FORMAT_GAP = 0.1  # a GDQA row whose training format rate is this much below GRPO's: its spread is the format's


def accuracies(evals: list[dict]) -> dict[tuple[str, int], tuple[float, int]]:
    """(method, seed) -> (overall greedy accuracy, questions) of the first benchmark of each eval."""
    out = {}
    for m in evals:
        bench = next(iter(m["benchmarks"].values()))
        out[(m["method"], int(m.get("seed", 0)))] = (bench["overall"]["acc"]["value"], bench["overall"]["n"])
    return out


def _accuracy_line(acc, a="anatomy_r1", b="grpo") -> str:
    seeds = sorted({s for (m, s) in acc if m == a} & {s for (m, s) in acc if m == b})
    if not seeds:
        return f"- Accuracy, {a} above {b} on every seed: not measured (no seed has both rows)."
    diffs = [100 * (acc[(a, s)][0] - acc[(b, s)][0]) for s in seeds]
    se = [100 * difference_standard_error(acc[(b, s)][0], acc[(a, s)][0], acc[(a, s)][1]) for s in seeds]
    spread = max((statistics.stdev([100 * acc[(m, s)][0] for s in seeds]) if len(seeds) > 1 else 0.0) for m in (a, b))
    every = all(d > 0 for d in diffs)
    mean = statistics.fmean(diffs)
    ok = every and mean > spread and len(seeds) > 1
    per = ", ".join(f"seed {s}: {d:+.1f} ± {e:.1f}" for s, d, e in zip(seeds, diffs, se))
    return (
        f"- Accuracy, {a} minus {b} (greedy test, points, ± 1 s.e. of the difference): {per}; mean {mean:+.1f} "
        f"vs the seeds' spread (larger sample s.d. of the two rows) {spread:.1f}. Claim (above on every seed and "
        f"by more than the spread): **{'met' if ok else 'missed'}**" + ("" if len(seeds) > 1 else " (one seed)") + "."
    )


def _invalid_line(runs: dict, a="grpo_gdqa", b="grpo") -> str:
    if a not in runs or b not in runs:
        return f"- Invalid-gradient ratio, {a} below {b} per answer class: not measured (missing row)."
    classes = sorted({c for r in runs[a] + runs[b] for c in r["invalid_by_class"]})
    cells, below, judged = [], 0, 0
    for c in classes:
        va = mean_spread([r["invalid_by_class"].get(c) for r in runs[a]])
        vb = mean_spread([r["invalid_by_class"].get(c) for r in runs[b]])
        if va is None or vb is None:
            continue
        cells.append(f"{c} {vb[0]:.3f} -> {va[0]:.3f}")
        if vb[0] > 0:  # a class GRPO never wastes a group on cannot get lower: not judged
            judged += 1
            below += va[0] < vb[0]
    overall = [mean_spread([r["invalid_mean"] for r in runs[m]]) for m in (b, a)]
    ov = f"; overall {overall[0][0]:.3f} -> {overall[1][0]:.3f}" if all(overall) else ""
    ok = judged > 0 and below == judged
    line = (
        f"- Invalid-gradient ratio, {b} -> {a} (mean over steps and seeds): {', '.join(cells)}{ov}. Claim (lower "
        f"in every class where {b} has any): **{'met' if ok else 'missed'}** ({below} of {judged} classes)."
    )
    fa, fb = (mean_spread([r["format_mean"] for r in runs[m]]) for m in (a, b))
    if fa and fb and fa[0] < fb[0] - FORMAT_GAP:
        line += (
            f" Caveat: {a}'s training format rate is {fa[0]:.2f} against {b}'s {fb[0]:.2f}, so much of its groups' "
            "reward spread comes from answers off the format, not from telling the anatomy apart."
        )
    return line


def _s_q_line(runs: dict, a="grpo_ascl", b="grpo") -> str:
    if a not in runs or b not in runs:
        return f"- Batch S(q), {a} rising while {b} stays flat: not measured (missing row)."

    def change(m):
        vals = [r["s_q_final"] - r["s_q_first"] for r in runs[m] if r["s_q_first"] is not None]
        return (
            (statistics.fmean(vals), [r["s_q_first"] for r in runs[m]], [r["s_q_final"] for r in runs[m]])
            if vals
            else None
        )

    ca, cb = change(a), change(b)
    if ca is None or cb is None:
        return f"- Batch S(q): not measured (no curriculum/batch_mean_s_q in the {a if ca is None else b} runs)."
    ok = ca[0] >= S_Q_RISE and abs(cb[0]) < S_Q_FLAT
    fmt = lambda c: f"{statistics.fmean(c[1]):.3f} -> {statistics.fmean(c[2]):.3f} ({c[0]:+.3f})"  # noqa: E731
    return (
        f"- Batch-mean S(q), first -> last steps (mean over seeds): {a} {fmt(ca)}, {b} {fmt(cb)}. Claim ({a} rises "
        f"by >= {S_Q_RISE}, {b} moves < {S_Q_FLAT}): **{'met' if ok else 'missed'}**."
    )


def _overhead_line(runs: dict, a="anatomy_r1", b="grpo") -> str:
    if a not in runs or b not in runs:
        return f"- Step time, {a} over {b}: not measured (missing row)."
    ta, tb = (mean_spread([r["step_s"] for r in runs[m]]) for m in (a, b))
    if ta is None or tb is None:
        return "- Step time: not measured (no timing_s/step)."
    over = ta[0] / tb[0] - 1
    return (
        f"- Median step time, mean over seeds: {b} {tb[0]:.2f} s, {a} {ta[0]:.2f} s ({100 * over:+.1f} %). Claim "
        f"(ASCL + GDQA add < {100 * MAX_OVERHEAD:.0f} %): **{'met' if over < MAX_OVERHEAD else 'missed'}** (runs "
        "one after another on a shared machine; benchmarks/bench_method_overhead.py measures it back to back)."
    )


def markdown(evals: list[dict], summaries: list[dict]) -> str:
    runs = by_method(summaries)
    lines = [
        "**The paper's claims on this grid**",
        "",
        _accuracy_line(accuracies(evals)),
        _invalid_line(runs),
        _s_q_line(runs),
        _overhead_line(runs),
    ]
    return "\n".join(lines) + "\n"
