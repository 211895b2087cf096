"""Headroom for reinforcement learning: what a model knows under sampling that its greedy answer does not show.

RL with a verifiable reward sharpens what a policy already does some of the time. Greedy accuracy can rise
only on questions answered wrong greedily where the right answer still has real probability under sampling.
For a model and a split this measures, from one greedy response and K sampled responses per question:

- ``greedy``: greedy accuracy; ``mean@K``: sampled accuracy; ``pass@K``: some sample right;
- ``p_hist``: the histogram of per-question p(correct) (the share of the K samples that are right);
- ``p_right_if_greedy_wrong`` / ``p_right_if_greedy_right``: mean p(correct) on the questions answered wrong /
  right greedily (near chance, 1 / number of options, on the wrong ones: nothing to sharpen);
- ``sharpenable``: the share of questions wrong greedily yet right in at least half of the samples (the
  greedy accuracy RL can win by sharpening alone), and ``reachable``: wrong greedily, right in at least 1/4;

overall and per question family, per answer class, per S(q) quintile (scored rows) and by whether the answer's
closest partner is among the options (:mod:`.diagnostics`). :func:`measure` runs the model; :func:`summarize`
works on records of :mod:`anatomy_r1_verl.evaluation.evaluate` (``benchmarks/bench_headroom.py`` prints it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from anatomy_r1_verl.evaluation.diagnostics import question_groups
from anatomy_r1_verl.evaluation.intervals import standard_error

BREAKDOWNS = ("question_type", "answer_class")


def _questions(records: Iterable[dict]) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        out[(r["file"], r["row"])].append(r)
    return out


def _stats(pairs: list[tuple[float, list[float]]], k: int) -> dict:
    """pairs: (greedy acc, [K sampled accs]) per question."""
    n = len(pairs)
    if not n:
        return {"n": 0}
    p = [sum(s) / len(s) for _, s in pairs]
    greedy = [g for g, _ in pairs]
    wrong = [pi for g, pi in zip(greedy, p) if g < 1.0]
    right = [pi for g, pi in zip(greedy, p) if g >= 1.0]
    g_mean = sum(greedy) / n
    hist = [0] * (k + 1)
    for pi in p:
        hist[round(pi * k)] += 1
    return {
        "n": n,
        "greedy": g_mean,
        "greedy_se": standard_error(g_mean, n),
        f"mean@{k}": sum(p) / n,
        f"pass@{k}": sum(pi > 0 for pi in p) / n,
        "p_right_if_greedy_wrong": sum(wrong) / len(wrong) if wrong else float("nan"),
        "p_right_if_greedy_right": sum(right) / len(right) if right else float("nan"),
        "sharpenable": sum(pi >= 0.5 for pi in wrong) / n,
        "reachable": sum(pi >= 0.25 for pi in wrong) / n,
        "p_hist": hist,
    }


def summarize(greedy_records: Iterable[dict], sampled_records: Iterable[dict]) -> dict:
    """``{"samples": K, "overall": stats, "by": {breakdown: {group: stats}}}`` (stats: see the module doc)."""
    greedy = _questions(greedy_records)
    sampled = _questions(sampled_records)
    if set(greedy) != set(sampled):
        missing = sorted(set(greedy) ^ set(sampled))[:3]
        raise ValueError(f"headroom: greedy and sampled records cover different questions (e.g. {missing})")
    ks = {len(v) for v in sampled.values()}
    if len(ks) != 1:
        raise ValueError(f"headroom: questions have different numbers of samples {sorted(ks)}")
    k = ks.pop()
    pairs = {q: (greedy[q][0]["acc"], [r["acc"] for r in sampled[q]]) for q in greedy}
    by: dict[str, dict[str, list]] = {b: defaultdict(list) for b in BREAKDOWNS}
    for q, pair in pairs.items():
        for b in BREAKDOWNS:
            by[b][greedy[q][0].get(b) or "-"].append(pair)
    # S(q) quintile (scored rows) and whether the answer's closest partner is listed: evaluation/diagnostics.py
    extra, _ = question_groups([greedy[q] for q in pairs])
    for b, labels in extra.items():
        for q, g in zip(pairs, labels):
            if g:
                by.setdefault(b, defaultdict(list))[g].append(pairs[q])
    return {
        "samples": k,
        "overall": _stats(list(pairs.values()), k),
        "by": {b: {g: _stats(v, k) for g, v in sorted(groups.items())} for b, groups in by.items()},
    }


def measure(
    model,
    processor,
    dataset,
    samples: int = 16,
    temperature: float = 1.0,
    batch_size: int = 32,
    seed: int = 0,
    progress: bool = True,
    max_new_tokens: int = 64,
) -> tuple[dict, list[dict], list[dict]]:
    """Greedy and ``samples`` sampled responses per row of a verl dataset: (summary, greedy, sampled records).
    ``max_new_tokens`` must cover the model's longest response (a truncated one scores as unformatted)."""
    from anatomy_r1_verl.evaluation.evaluate import response_records
    from anatomy_r1_verl.evaluation.generate import GenerationConfig

    greedy = response_records(
        model,
        processor,
        dataset,
        GenerationConfig(batch_size=batch_size, max_new_tokens=max_new_tokens),
        benchmark="headroom",
        progress=progress,
    )
    sampled = response_records(
        model,
        processor,
        dataset,
        GenerationConfig(
            samples=samples,
            temperature=temperature,
            seed=seed,
            batch_size=max(1, batch_size // 4),
            max_new_tokens=max_new_tokens,
        ),
        benchmark="headroom",
        progress=progress,
    )
    return summarize(greedy, sampled), greedy, sampled


def format_table(summary: dict) -> str:
    k = summary["samples"]
    cols = (
        "n",
        "greedy",
        f"mean@{k}",
        f"pass@{k}",
        "p_right_if_greedy_wrong",
        "p_right_if_greedy_right",
        "sharpenable",
        "reachable",
    )
    head = f"{'group':<28}" + "".join(f"{c.replace('p_right_if_greedy_', 'p|g.'):>12}" for c in cols)
    lines = [head]

    def row(name, st):
        cells = [f"{st[c]:>12d}" if c == "n" else f"{st[c]:>12.3f}" for c in cols]
        lines.append(f"{name:<28}" + "".join(cells))

    row("overall", summary["overall"])
    for b, groups in summary["by"].items():
        for g, st in groups.items():
            row(f"{b[:8]}={g}"[:28], st)
    o = summary["overall"]
    lines.append(
        f"p(correct) histogram over 0/{k}..{k}/{k}: {o['p_hist']}; greedy {o['greedy']:.3f} "
        f"+- {o['greedy_se']:.3f} (1 s.e.)"
    )
    return "\n".join(lines)
