"""What an accuracy number is made of: whether difficulty predicts errors, and whether a gain is perception or a
shortcut. Computed by ``anatomy-r1 eval`` for every benchmark whose rows allow it (SSG-VQA as well as the synthetic
set), written into ``metrics.json`` beside the accuracy:

- ``s_q_quintile`` (a breakdown): accuracy per quintile of S(q), easiest (Q1) to hardest (Q5), when the test file
  is scored (``anatomy-r1 prepare score``: ``extra_info.s_q``); with ``spearman_s_q_wrong``, the Spearman rank
  correlation of S(q) with being wrong (1 - the question's mean accuracy), its p-value and n.
- ``partner`` (a breakdown): accuracy on questions whose options list the answer's closest partner in the
  anatomical closeness table (``listed``) against those whose options do not (``not listed``). A model that
  answers by elimination, or by naming an option that is listed, gains on ``not listed`` without seeing more.
- ``think_answer``: among responses whose ``<think>`` names an anatomy class and whose answer names an option,
  the share whose answer is the class the think names last (the scan and grounded thinks end at the asked cell).
  A reward can raise accuracy by teaching the answer to overrule what the think read; this shows it.
- ``option_checks``: among responses whose ``<think>`` states whether classes are listed ("Gallbladder: not
  listed.", :mod:`reward_fns.option_checks`), the share whose statements are all true to the options. A reward on
  the answer alone can teach the think to misread the options in favour of a preferred name; this shows it.
- ``look_alike_pairs``: for each class and its closest partner, on the questions that list both, the
  sensitivity d' (how well the choice between the two follows the frame) and the criterion c (which name the
  model prefers when unsure), :mod:`.sensitivity`. A gain with d' unchanged is a change of preference.
- ``answers``: how the answers spread over the option letters and the classes, against the truths' letters, with
  a ``collapse`` warning when one letter takes more than half of the answers while it is at most
  :data:`BALANCED_TRUTH` of the truths (a model answering "C" to most questions is a bug to fix, not a row).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from anatomy_r1_verl.ascl.difficulty import DEFAULT_TABLE, ClosenessTable, normalize
from anatomy_r1_verl.evaluation.intervals import rate
from anatomy_r1_verl.evaluation.sensitivity import look_alike_pairs
from anatomy_r1_verl.schema import LETTERS
from reward_fns.mcq import as_options, extract_answer, extract_think, normalize_choice
from reward_fns.option_checks import true_checks

QUINTILES = 5
COLLAPSE_SHARE = 0.5  # one letter answering more than this share of the questions ...
BALANCED_TRUTH = 0.4  # ... while it is the right letter of at most this share: a collapse


@lru_cache(maxsize=1)
def _table() -> ClosenessTable:
    return ClosenessTable(DEFAULT_TABLE)


def closest_partner(answer: str, table: ClosenessTable | None = None) -> str | None:
    """The class the table calls closest to ``answer`` (None when the table does not know it)."""
    table = table or _table()
    i = table.index(answer)
    return None if i < 0 else table.classes[table.closest(i)]


def partner_group(extra_info: dict, table: ClosenessTable | None = None) -> str:
    """``listed`` / ``not listed``: whether the options name the answer's closest partner ("" = unknown)."""
    partner = closest_partner(str(extra_info.get("answer", "")), table)
    if partner is None:
        return ""
    table = table or _table()
    listed = {table.index(o) for o in as_options(extra_info.get("options"))}
    return "listed" if table.index(partner) in listed else "not listed"


def quintile_groups(s_q: Sequence[float], k: int = QUINTILES) -> tuple[list[str], list[tuple[float, float]]]:
    """The quintile label (``Q1`` easiest .. ``Q5`` hardest) of each score, by rank (ties split in input order),
    and each quintile's range."""
    order = np.argsort(np.asarray(s_q, float), kind="stable")
    labels = [""] * len(order)
    ranges = []
    for q, idx in enumerate(np.array_split(order, k)):
        for i in idx:
            labels[int(i)] = f"Q{q + 1}"
        vals = [float(s_q[int(i)]) for i in idx]
        ranges.append((min(vals), max(vals)) if vals else (math.nan, math.nan))
    return labels, ranges


def spearman_wrong(s_q: Sequence[float], acc: Sequence[float]) -> dict:
    """Spearman's rank correlation of S(q) with being wrong (1 - accuracy), scipy.stats.spearmanr."""
    from scipy.stats import spearmanr

    wrong = 1.0 - np.asarray(acc, float)
    if len(s_q) < 3 or np.ptp(wrong) == 0 or np.ptp(np.asarray(s_q, float)) == 0:
        return {"rho": None, "p": None, "n": len(s_q)}
    res = spearmanr(np.asarray(s_q, float), wrong)
    return {"rho": round(float(res.statistic), 6), "p": float(res.pvalue), "n": len(s_q)}


_CLASS_RE: dict[str, re.Pattern] = {}


def last_class_named(text: str, table: ClosenessTable | None = None) -> str | None:
    """The table class (or alias) a text names last, as its canonical class name; None when it names none."""
    table = table or _table()
    best, best_key = None, None
    for key, i in table.names().items():
        pat = _CLASS_RE.get(key)
        if pat is None:
            words = key.split()
            pat = _CLASS_RE[key] = re.compile(r"(?<!\w)" + r"[\s_\-]+".join(map(re.escape, words)) + r"(?!\w)", re.I)
        for m in pat.finditer(text):
            k = (m.end(), m.end() - m.start())
            if best_key is None or k > best_key:
                best, best_key = table.classes[i], k
    return best


def think_answer_agreement(records: list[dict], table: ClosenessTable | None = None) -> dict:
    """Share of responses whose answer is the class their ``<think>`` names last, with its interval; ``n`` counts
    the responses that have both (a think naming a class, an answer naming an option)."""
    table = table or _table()
    agree = n = 0
    for r in records:
        text = str(r.get("response", ""))
        think, answer = extract_think(text), extract_answer(text)
        options = as_options((r.get("extra_info") or {}).get("options"))
        if think is None or answer is None or not options:
            continue
        named, letter = last_class_named(think, table), normalize_choice(answer, options)
        if named is None or letter is None:
            continue
        n += 1
        agree += normalize(options[LETTERS.index(letter)]) == normalize(named)
    return rate(agree, n)


def option_check_truth(records: list[dict]) -> dict:
    """Share of responses whose think's option checks are all true to the options, with its interval; ``n``
    counts the responses whose think makes any."""
    good = n = 0
    for r in records:
        think = extract_think(str(r.get("response", "")))
        options = as_options((r.get("extra_info") or {}).get("options"))
        if think is None or not options:
            continue
        true, total = true_checks(think, options)
        if total:
            n += 1
            good += true == total
    return rate(good, n)


def answer_spread(records: list[dict]) -> dict:
    """Counts of the answered letters (``none``: no valid answer), the answered option texts and the truths'
    letters over ``records``, the most answered letter's share, and a ``collapse`` warning (None when fine)."""
    from collections import Counter

    letters, classes, truths = Counter(), Counter(), Counter()
    for r in records:
        options = as_options((r.get("extra_info") or {}).get("options"))
        answer = extract_answer(str(r.get("response", "")))
        letter = normalize_choice(answer, options) if answer is not None else None
        letters[letter or "none"] += 1
        if letter is not None and options:
            classes[options[LETTERS.index(letter)]] += 1
        truth = normalize_choice(str(r.get("ground_truth", "")), options)
        if truth:
            truths[truth] += 1
    n = sum(letters.values())
    valid = {k: v for k, v in letters.items() if k != "none"}
    top, top_n = max(valid.items(), key=lambda kv: kv[1]) if valid else ("none", 0)
    share = top_n / n if n else 0.0
    truth_share = truths.get(top, 0) / max(sum(truths.values()), 1)
    collapse = (
        f"answers {top} to {top_n} of {n} ({share:.0%}) where {top} is right for {truth_share:.0%}: the model "
        "has collapsed onto one letter"
        if share > COLLAPSE_SHARE and truth_share <= BALANCED_TRUTH
        else None
    )
    return {
        "n": n,
        "letters": dict(sorted(letters.items())),
        "truth_letters": dict(sorted(truths.items())),
        "classes": dict(classes.most_common()),
        "top_letter": top,
        "top_share": round(share, 4),
        "collapse": collapse,
    }


def question_groups(questions: list[list[dict]]) -> tuple[dict[str, list[str]], dict]:
    """The diagnostic breakdowns of a benchmark's questions (each a list of its K response records):
    ``{breakdown: [group per question]}`` and the scalar diagnostics."""
    table = _table()
    groups: dict[str, list[str]] = {"partner": [partner_group(q[0].get("extra_info") or {}, table) for q in questions]}
    responses = [r for q in questions for r in q]
    scalars: dict = {
        "think_answer": think_answer_agreement(responses, table),
        "option_checks": option_check_truth(responses),
        "answers": answer_spread(responses),
        "look_alike_pairs": look_alike_pairs(responses, table),
    }
    s_q = [(q[0].get("extra_info") or {}).get("s_q") for q in questions]
    if s_q and all(isinstance(s, (int, float)) and not math.isnan(s) for s in s_q):
        labels, ranges = quintile_groups(s_q)
        groups["s_q_quintile"] = labels
        acc = [sum(r["acc"] for r in q) / len(q) for q in questions]
        scalars["s_q_quintile_ranges"] = {f"Q{i + 1}": [round(a, 4), round(b, 4)] for i, (a, b) in enumerate(ranges)}
        scalars["spearman_s_q_wrong"] = spearman_wrong(s_q, acc)
    elif any(s is not None for s in s_q):
        scalars["s_q_missing"] = sum(s is None for s in s_q)
    return groups, scalars
