"""The paper's claims, checked on a finished grid: each line states the numbers, the criterion and whether this
implementation met it on this benchmark (``met`` / ``missed`` / ``not measured`` when a row is missing).

The accuracy claim is tested over seeds and over the paired test questions (:mod:`.stats`), and against the
start model; ASCL's information (its S(q) against the same pacing with S(q) shuffled) by the same tests. The
reasons a claim is missed are printed with it. Control rows that are reported, not judged, carry no verdict."""

from __future__ import annotations

import statistics
from pathlib import Path

from anatomy_r1_verl.bench import gains, grid, seeing, stats
from anatomy_r1_verl.evaluation import results
from anatomy_r1_verl.report.training import by_method, mean_spread

S_Q_RISE = 0.05  # ASCL: batch S(q) of the last steps minus the first steps, at least
S_Q_FLAT = 0.05  # GRPO: |last - first| below
MAX_OVERHEAD = 0.03  # ASCL + GDQA on a GRPO step
START = grid.START  # the start model's eval (bench's evals/start/seed0)
FORMAT_MATCH = 0.01  # the invalid-gradient claim is judged only between rows whose training format rates match


def question_results(evals: list[dict]) -> dict[tuple[str, int], dict]:
    """(method, seed) -> {question: accuracy (mean over its samples)} from each eval's ``responses.jsonl``
    (the first benchmark of each eval); an eval folder without one is left out."""
    out = {}
    for m in evals:
        path = Path(m.get("_dir", "")) / results.RESPONSES
        if not path.is_file():
            continue
        bench = next(iter(m["benchmarks"]))
        per: dict = {}
        for r in results.read_responses(path.parent):
            if r.get("benchmark", bench) == bench:
                per.setdefault(str(r.get("id") or r["row"]), []).append(float(r["acc"]))
        out[(m["method"], int(m.get("seed", 0)))] = {k: sum(v) / len(v) for k, v in per.items()}
    return out


def comparison(per_question: dict, a: str, b: str) -> stats.Comparison:
    """Row ``a`` against row ``b`` (:func:`anatomy_r1_verl.bench.stats.compare`) over their seeds."""
    rows = {m: {s: q for (mm, s), q in per_question.items() if mm == m} for m in (a, b)}
    return stats.compare(rows[a], rows[b], a, b, b_once=b == START)


def _accuracy_line(per_question: dict, a="anatomy_r1", b="grpo", start=START, claim="Accuracy") -> str:
    """``a`` above ``b`` in greedy test accuracy by :func:`anatomy_r1_verl.bench.stats.verdict`'s tests, and above
    the start model. ``claim`` names what the comparison tests (the accuracy claim; ASCL's information, where ``b``
    is the shuffled-S(q) control)."""
    vs_base = comparison(per_question, a, b)
    if not vs_base.seeds:
        return f"- {claim}, {a} above {b}: not measured (no seed has both rows' responses)."
    vs_start = comparison(per_question, a, start)
    met, why = stats.verdict(vs_base, vs_start if vs_start.seeds else None)
    line = f"- {claim} (greedy test, points; in brackets the 95 % t interval over seeds), {stats.describe(vs_base)}."
    if vs_start.seeds:
        line += f" Against the start model: {stats.describe(vs_start)}."
    return (
        f"{line} Claim ({a} above {b} on every seed, permutation and CMH p < {stats.ALPHA}, and above the start "
        f"model): **{'met' if met else 'missed'}** ({'; '.join(why)})."
    )


def comparisons_markdown(per_question: dict, base="grpo", start=START) -> str:
    """Every row against GRPO and against the start model, one line each (the table under the claims)."""
    methods = sorted({m for m, _ in per_question} - {start})
    lines = []
    for m in methods:
        for other in (base, start):
            if m == other:
                continue
            c = comparison(per_question, m, other)
            if c.seeds:
                lines.append(f"- {stats.describe(c)}")
    if not lines:
        return ""
    return "\n".join(
        ["", "**Paired comparisons** (test accuracy in points; per seed: discordant questions a/b)", "", *lines]
    )


def _invalid_line(runs: dict, a="grpo_gdqa", b="grpo", judged: bool = True) -> str:
    """Per class, the invalid-gradient ratios of the two rows paired over (seed, step), one-sided Wilcoxon
    signed-rank test. Met only if every class where ``b`` wastes any group is lower with p < 0.05, and the
    rows' training format rates differ by less than :data:`FORMAT_MATCH` (else a lower ratio can come from
    answers off the format rather than from telling the anatomy apart). ``judged=False`` reports a control row
    the same way, with its format rates and no verdict."""
    if a not in runs or b not in runs:
        what = "per answer class" if judged else "(a control, reported)"
        return f"- Invalid-gradient ratio, {a} below {b} {what}: not measured (missing row)."
    classes = sorted({c for r in runs[a] + runs[b] for c in r["invalid_by_class"]})
    seeds_b = {r["seed"]: r for r in runs[b]}
    cells, failed, n_judged = [], [], 0
    for c in classes:
        pa, pb = [], []
        for r in runs[a]:
            other = seeds_b.get(r["seed"])
            if other is None:
                continue
            xa, xb = r.get("invalid_steps_by_class", {}).get(c, {}), other.get("invalid_steps_by_class", {}).get(c, {})
            for step in sorted(set(xa) & set(xb)):
                pa.append(xa[step])
                pb.append(xb[step])
        if not pa:
            continue
        ma, mb = statistics.fmean(pa), statistics.fmean(pb)
        p = stats.paired_wilcoxon(pa, pb, direction=-1)
        cells.append(f"{c} {mb:.3f} -> {ma:.3f} (Wilcoxon p {stats.fmt_p(p)}, n {len(pa)})")
        if mb > 0:  # a class GRPO never wastes a group on cannot get lower: not judged
            n_judged += 1
            if not (ma < mb and p is not None and p < stats.ALPHA):
                failed.append(f"{c} not lower with p < {stats.ALPHA}")
    overall = [mean_spread([r["invalid_mean"] for r in runs[m]]) for m in (b, a)]
    ov = f"; overall {overall[0][0]:.3f} -> {overall[1][0]:.3f}" if all(overall) else ""
    fa, fb = (mean_spread([r["format_mean"] for r in runs[m]]) for m in (a, b))
    if fa and fb and abs(fa[0] - fb[0]) >= FORMAT_MATCH:
        failed.append(
            f"the training format rates differ ({a} {fa[0]:.2f}, {b} {fb[0]:.2f}; at most {FORMAT_MATCH} allowed): "
            "part of the groups' reward spread comes from answers off the format, not from telling the anatomy apart"
        )
    if not n_judged:
        failed.append(f"no class where {b} has any invalid group")
    head = f"- Invalid-gradient ratio, {b} -> {a} (mean over seeds and steps, paired by seed and step)"
    if not judged:
        rates = f"; training format rates {b} {fb[0]:.3f}, {a} {fa[0]:.3f}" if fa and fb else ""
        return f"{head}, a control reported, not judged: {', '.join(cells)}{ov}{rates}."
    verdict = (
        "**missed** (" + "; ".join(failed) + ")" if failed else f"**met** (all {n_judged} classes lower, p < 0.05)"
    )
    return (
        f"{head}: {', '.join(cells)}{ov}. Claim (lower in every class where {b} has any, and the same format rate): "
        f"{verdict}."
    )


def _per_seed(runs: dict, m: str, value) -> dict[int, float]:
    return {r["seed"]: value(r) for r in runs[m] if value(r) is not None}


def _pcts(xs: list[float]) -> str:
    """The mean of fractions ``xs`` in percent, with its 95 % t interval."""
    ci = stats.mean_interval(xs)
    spread = f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else ""
    return f"{100 * statistics.fmean(xs):+.1f} %{spread}"


def _s_q_line(runs: dict, a="grpo_ascl", b="grpo") -> str:
    if a not in runs or b not in runs:
        return f"- Batch S(q), {a} rising while {b} stays flat: not measured (missing row)."

    def change(m):
        rise = _per_seed(runs, m, lambda r: None if r["s_q_first"] is None else r["s_q_final"] - r["s_q_first"])
        if not rise:
            return None
        first = statistics.fmean(r["s_q_first"] for r in runs[m] if r["s_q_first"] is not None)
        final = statistics.fmean(r["s_q_final"] for r in runs[m] if r["s_q_first"] is not None)
        return statistics.fmean(rise.values()), first, final, list(rise.values())

    ca, cb = change(a), change(b)
    if ca is None or cb is None:
        return f"- Batch S(q): not measured (no curriculum/batch_mean_s_q in the {a if ca is None else b} runs)."
    ok = ca[0] >= S_Q_RISE and abs(cb[0]) < S_Q_FLAT

    def fmt(c):
        ci = stats.mean_interval(c[3])
        return f"{c[1]:.3f} -> {c[2]:.3f} ({c[0]:+.3f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}])" if ci else ")")

    return (
        f"- Batch-mean S(q), first -> last steps (mean over seeds, in brackets the 95 % t interval of the change): "
        f"{a} {fmt(ca)}, {b} {fmt(cb)}. Claim ({a} rises by >= {S_Q_RISE}, {b} moves < {S_Q_FLAT}): "
        f"**{'met' if ok else 'missed'}**."
    )


def _overhead_line(runs: dict, a="anatomy_r1", b="grpo") -> str:
    """The mean step times decide, as registered; the per-seed ratios (paired by seed) give the interval and a
    one-sided t test of the overhead being below :data:`MAX_OVERHEAD`."""
    from scipy.stats import ttest_1samp

    if a not in runs or b not in runs:
        return f"- Step time, {a} over {b}: not measured (missing row)."
    ta, tb = (mean_spread([r["step_s"] for r in runs[m]]) for m in (a, b))
    if ta is None or tb is None:
        return "- Step time: not measured (no timing_s/step)."
    over = ta[0] / tb[0] - 1
    sa, sb = _per_seed(runs, a, lambda r: r["step_s"]), _per_seed(runs, b, lambda r: r["step_s"])
    ratios = [sa[s] / sb[s] - 1 for s in sorted(set(sa) & set(sb))]
    paired = ""
    if len(ratios) >= 2:
        p = ttest_1samp(ratios, MAX_OVERHEAD, alternative="less").pvalue
        paired = (
            f"; paired by seed: {' / '.join(f'{100 * x:+.1f}' for x in ratios)} %, mean {_pcts(ratios)}, "
            f"t test of < {100 * MAX_OVERHEAD:.0f} % p {stats.fmt_p(float(p))}"
        )
    return (
        f"- Median step time, mean over seeds: {b} {tb[0]:.2f} s, {a} {ta[0]:.2f} s ({100 * over:+.1f} %){paired}. "
        f"Claim (ASCL + GDQA add < {100 * MAX_OVERHEAD:.0f} %): **{'met' if over < MAX_OVERHEAD else 'missed'}** "
        "(runs one after another on a shared machine; benchmarks/bench_method_overhead.py measures it back to back)."
    )


def markdown(evals: list[dict], summaries: list[dict]) -> str:
    runs = by_method(summaries)
    per_question = question_results(evals)
    lines = [
        "**The paper's claims on this grid**",
        "",
        _accuracy_line(per_question),
        _accuracy_line(per_question, "grpo_ascl", "grpo_ascl_shuffled", claim="ASCL's information"),
        _invalid_line(runs),
        _invalid_line(runs, "grpo_gdqa_keep", judged=False),
        _s_q_line(runs),
        _overhead_line(runs),
    ]
    where = gains.markdown(per_question, gains.question_groups(evals))
    seen = seeing.markdown(evals)
    return "\n".join(lines) + "\n" + comparisons_markdown(per_question) + "\n" + where + ("\n" + seen if seen else "")
