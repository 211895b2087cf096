"""Where each row's change against the start model comes from: per answer class and per S(q) quintile, paired over
the same test questions (:func:`anatomy_r1_verl.bench.stats.compare`), and the look-alike pairs where one class's
gain is its partner's loss.

A row can raise its accuracy without seeing more: by naming one class of a pair it cannot tell apart wherever
either appears. Its class then gains what its partner loses, or what the partner never had. Such a pair is named
a **shortcut** here when one class gains (CMH p < 0.05) and its closest partner in the anatomical closeness table
(:func:`anatomy_r1_verl.evaluation.diagnostics.closest_partner`) either loses (CMH p < 0.05) or does not gain
while the two classes' accuracies after the change sum to at most 1 (one name for both). Classes outside every
such pair that lose with p < 0.05 are named as the ones that **pay** for the change."""

from __future__ import annotations

import math
from pathlib import Path

from anatomy_r1_verl.bench import stats
from anatomy_r1_verl.bench.grid import START
from anatomy_r1_verl.evaluation import results
from anatomy_r1_verl.evaluation.diagnostics import closest_partner, partner_group, quintile_groups

CLASS = "answer class"
QUINTILE = "S(q) quintile"
PARTNER = "closest look-alike"  # listed among the options or not


def question_groups(evals: list[dict]) -> dict[str, dict[str, str]]:
    """breakdown -> {question: group}: the answer class of every test question; its S(q) quintile (Q1 easiest)
    when the test file is scored; whether its options list the answer's closest look-alike, when the questions
    carry their options. Read from the first eval with responses (every row answers the same file)."""
    for m in evals:
        path = Path(m.get("_dir", "")) / results.RESPONSES
        if not path.is_file():
            continue
        bench = next(iter(m["benchmarks"]))
        first: dict[str, dict] = {}
        for r in results.read_responses(path.parent):
            if r.get("benchmark", bench) == bench:
                first.setdefault(str(r.get("id") or r["row"]), r)
        out = {CLASS: {q: r.get("answer_class", "") for q, r in first.items()}}
        s_q = {q: (r.get("extra_info") or {}).get("s_q") for q, r in first.items()}
        if s_q and all(isinstance(v, (int, float)) and not math.isnan(v) for v in s_q.values()):
            labels, _ = quintile_groups(list(s_q.values()))
            out[QUINTILE] = dict(zip(s_q, labels))
        listed = {q: partner_group(r.get("extra_info") or {}) for q, r in first.items()}
        if listed and all(listed.values()):
            out[PARTNER] = listed
        return out
    return {}


def _subset(rows: dict[int, dict], keys: set[str]) -> dict[int, dict]:
    return {seed: {q: v for q, v in per.items() if q in keys} for seed, per in rows.items()}


def by_group(per_question: dict, groups: dict[str, str], a: str, b: str) -> dict[str, stats.Comparison]:
    """Row ``a`` against row ``b`` within each group of one breakdown."""
    rows = {m: {s: q for (mm, s), q in per_question.items() if mm == m} for m in (a, b)}
    out = {}
    for g in sorted({v for v in groups.values() if v}):
        keys = {q for q, v in groups.items() if v == g}
        c = stats.compare(_subset(rows[a], keys), _subset(rows[b], keys), a, b, b_once=b == START)
        if c.seeds:
            out[g] = c
    return out


def _significant(c: stats.Comparison, sign: int) -> bool:
    return c.mean_diff * sign > 0 and c.p_questions is not None and c.p_questions < stats.ALPHA


def _after(c: stats.Comparison) -> float:
    """The row's accuracy on the group, mean over seeds."""
    return sum(s.acc_a for s in c.seeds) / len(c.seeds)


def shortcuts(per_class: dict[str, stats.Comparison]) -> tuple[list[tuple[str, str]], list[str]]:
    """``(pairs, payers)``: the (gaining class, closest partner) pairs the module doc calls shortcuts, and the
    classes outside them that lose with CMH p < 0.05."""
    pairs = []
    for c, comp in per_class.items():
        partner = closest_partner(c)
        if partner not in per_class or not _significant(comp, +1):
            continue
        other = per_class[partner]
        one_name = other.mean_diff <= 0 and _after(comp) + _after(other) <= 1.0
        if _significant(other, -1) or one_name:
            pairs.append((c, partner))
    in_pairs = {x for pair in pairs for x in pair}
    payers = [c for c, comp in per_class.items() if c not in in_pairs and _significant(comp, -1)]
    return pairs, payers


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def _table(comparisons: dict[str, stats.Comparison], label: str) -> list[str]:
    lines = [f"| {label} | n | per seed | mean | CMH p |", "| --- | --- | --- | --- | --- |"]
    for g, c in comparisons.items():
        per = " / ".join(_pts(s.diff) for s in c.seeds)
        lines.append(f"| {g} | {c.seeds[0].n} | {per} | {_pts(c.mean_diff)} | {stats.fmt_p(c.p_questions)} |")
    return lines


def shortcut_line(a: str, per_class: dict[str, stats.Comparison]) -> str:
    pairs, payers = shortcuts(per_class)
    if not pairs and not payers:
        return f"{a}: no class gains at its closest partner's expense, and no other class loses (CMH p < 0.05)."
    parts = [
        f"**shortcut**: {g} {_pts(per_class[g].mean_diff)} taken from its look-alike {p} "
        f"{_pts(per_class[p].mean_diff)} (after: {g} {100 * _after(per_class[g]):.1f} %, {p} "
        f"{100 * _after(per_class[p]):.1f} %)"
        for g, p in pairs
    ]
    if payers:
        parts.append("**paid for by** " + ", ".join(f"{c} {_pts(per_class[c].mean_diff)}" for c in payers))
    return (
        f"{a}: " + "; ".join(parts) + " (points, mean over seeds; the gains and the payers' losses have CMH p < 0.05)."
    )


def markdown(per_question: dict, groups: dict[str, dict[str, str]], base: str = START) -> str:
    """Per row: its change against ``base`` by answer class, by S(q) quintile and by whether the closest look-alike
    is listed, and its shortcut line."""
    methods = sorted({m for m, _ in per_question} - {base})
    if not groups or not any(m == base for m, _ in per_question):
        return ""
    out = [
        "",
        f"**Where each change against the {base} model comes from** (test accuracy in points, paired over the same "
        "questions; a shortcut is a class that gains what its closest look-alike loses)",
    ]
    for m in methods:
        per_class = by_group(per_question, groups[CLASS], m, base)
        if not per_class:
            continue
        out += ["", f"- {shortcut_line(m, per_class)}", ""]
        out += _table(per_class, CLASS)
        if QUINTILE in groups:
            out += ["", *_table(by_group(per_question, groups[QUINTILE], m, base), QUINTILE + " (Q1 easiest)")]
        if PARTNER in groups:  # a gain on "not listed" alone can come from naming what is listed, not from seeing
            out += ["", *_table(by_group(per_question, groups[PARTNER], m, base), PARTNER)]
    return "\n".join(out) + "\n"
