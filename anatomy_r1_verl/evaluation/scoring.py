"""Scoring: every response through the reward function training used (``reward_fns.combine.compute_score``,
the function verl calls), then accuracy and format rate overall and per breakdown, each with a Wilson 95 %
interval (:mod:`.intervals`).

A question's accuracy is its mean over its K responses (mean@K; K = 1 is greedy accuracy); pass@K (any of the
K correct) is reported when K > 1. Breakdowns (a breakdown appears when some row of the benchmark has it):

- ``answer_class``: the correct option's text (``extra_info.answer``; the class GDQA's Figure 2 uses)
- ``question_type``: ``extra_info.question_type`` (SSG-VQA's type, OmniMedVQA's type, the synthetic family)
- ``complexity``: SSG-VQA's complexity (``meta.complexity``)
- ``modality`` and ``modality/question_type``: OmniMedVQA (``meta.modality``)
- ``s_q_quintile`` and ``partner``, with the scalar ``diagnostics`` (S(q)'s correlation with errors, think/answer
  agreement): :mod:`.diagnostics`
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from anatomy_r1_verl.evaluation.diagnostics import question_groups
from anatomy_r1_verl.evaluation.intervals import rate
from anatomy_r1_verl.schema import row_meta
from reward_fns.registry import DEFAULT_WEIGHTS

# the reward's own defaults (they set the logged score only; acc and format do not depend on weights)
DEFAULT_REWARD_KWARGS = {"weights": dict(DEFAULT_WEIGHTS)}

BREAKDOWNS = ("answer_class", "question_type", "complexity", "modality", "modality/question_type")
# computed over a benchmark's questions rather than read from a row (:mod:`.diagnostics`)
DIAGNOSTIC_BREAKDOWNS = ("s_q_quintile", "partner")


def row_fields(row: dict) -> dict:
    """What a response record keeps of its row: identity, ground truth, the breakdown keys, and ``extra_info``
    without ``meta`` (enough to re-score; ``meta`` can hold a whole scene graph)."""
    extra = dict(row.get("extra_info") or {})
    meta = row_meta(row)
    extra.pop("meta", None)
    return {
        "id": str(extra.get("id", extra.get("index", ""))),
        "data_source": str(row.get("data_source", "")),
        "ground_truth": str(row["reward_model"]["ground_truth"]),
        "answer_class": str(extra.get("answer", "")),
        "question_type": str(extra.get("question_type") or ""),
        "complexity": str(meta.get("complexity") or ""),
        "modality": str(meta.get("modality") or ""),
        "extra_info": _plain(extra),
    }


def _plain(value):
    """JSON-ready: numpy arrays (parquet lists) to lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def score(record: dict, reward_kwargs: dict | None = None) -> dict:
    """``score``, ``acc``, ``format`` of one response record, from the training reward function."""
    from reward_fns.combine import compute_score

    kw = DEFAULT_REWARD_KWARGS if reward_kwargs is None else reward_kwargs
    out = compute_score(
        record["data_source"], record["response"], record["ground_truth"], dict(record["extra_info"]), **kw
    )
    return {"score": float(out["score"]), "acc": float(out["acc"]), "format": float(out["format"])}


def group_keys(record: dict) -> dict[str, str]:
    """The record's group in each breakdown ("" = the row does not have it)."""
    keys = {b: record.get(b, "") for b in ("answer_class", "question_type", "complexity", "modality")}
    keys["modality/question_type"] = (
        f"{record['modality']} / {record['question_type']}" if record.get("modality") else ""
    )
    return keys


def _summary(questions: list[list[dict]], k: int) -> dict:
    n = len(questions)
    acc = sum(sum(s["acc"] for s in q) / len(q) for q in questions)
    fmt = sum(sum(s["format"] for s in q) / len(q) for q in questions)
    out = {
        "n": n,
        "acc": rate(acc, n),
        "format": rate(fmt, n),
        "score": sum(sum(s["score"] for s in q) / len(q) for q in questions) / n if n else 0.0,
    }
    if k > 1:
        out[f"pass@{k}"] = rate(sum(any(s["acc"] >= 1.0 for s in q) for q in questions), n)
    return out


def summarize(records: Iterable[dict]) -> dict:
    """``{benchmark: {"n", "samples", "overall": summary, "by": {breakdown: {group: summary}}}}`` where a
    summary is ``{"n", "acc", "format", "score"[, "pass@K"]}`` and each rate is ``{"value", "lo", "hi", "n"}``."""
    questions: dict[str, dict[tuple, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        questions[r["benchmark"]][(r["file"], r["row"])].append(r)
    result = {}
    for bench, qs in sorted(questions.items()):
        ks = {len(q) for q in qs.values()}
        if len(ks) != 1:
            raise ValueError(
                f"benchmark {bench}: questions have different numbers of responses {sorted(ks)}; "
                "responses.jsonl is incomplete, regenerate it"
            )
        k = ks.pop()
        qlist = list(qs.values())
        by: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for q in qlist:
            for b, g in group_keys(q[0]).items():
                if g:
                    by[b][g].append(q)
        extra_groups, diagnostics = question_groups(qlist)
        for b, labels in extra_groups.items():
            for q, g in zip(qlist, labels):
                if g:
                    by[b][g].append(q)
        result[bench] = {
            "n": len(qlist),
            "samples": k,
            "overall": _summary(qlist, k),
            "by": {
                b: {g: _summary(v, k) for g, v in sorted(by[b].items())}
                for b in BREAKDOWNS + DIAGNOSTIC_BREAKDOWNS
                if b in by
            },
            "diagnostics": diagnostics,
        }
    return result
