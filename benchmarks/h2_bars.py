"""Issue 30's H2 bars, read from a finished ``anatomy-r1 bench`` output folder.

    .venv/bin/python benchmarks/h2_bars.py OUT [--rows grpo grpo_checks] [--json FILE]

For every RL row and seed, the change against the start model on the same test questions (points, one standard
error of the paired difference, exact McNemar p): on all questions, the easiest S(q) quintile (Q1), the two
hardest (Q4+Q5), the questions whose options list the answer's closest look-alike and those whose options do not.
Also the think/answer agreement and the share of responses whose option checks are all true (``anatomy-r1
eval``'s diagnostics). Then the four bars, each on every seed: Q4+Q5 up by at least 8 points; Q1 down by at
most 2; the listed gain at least the not-listed gain; think/answer agreement at least 0.95.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

Q45_GAIN = 0.08
Q1_DROP = 0.02
THINK_ANSWER = 0.95
GROUPS = ("all", "Q1", "Q4+Q5", "listed", "not listed")


def paired(a: dict[str, float], b: dict[str, float], keys: set[str]) -> dict:
    """Change of ``a`` over ``b`` on ``keys``: points, one standard error of the paired difference, McNemar p."""
    import numpy as np

    from anatomy_r1_verl.bench import stats

    ks = sorted(keys & set(a) & set(b))
    d = np.array([float(a[k] >= 0.5) - float(b[k] >= 0.5) for k in ks])
    a_only, b_only = int((d > 0).sum()), int((d < 0).sum())
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.nan
    return {"n": len(ks), "diff": float(d.mean()), "se": se, "p": stats.mcnemar_p(a_only, b_only)}


def bars(out: Path, rows: list[str] | None) -> dict:
    from anatomy_r1_verl.bench import gains, seeing, verdict
    from anatomy_r1_verl.bench.grid import START
    from anatomy_r1_verl.report import tables

    evals = tables.find_evals([out / "evals"])
    per_question = verdict.question_results(evals)
    groups = gains.question_groups(evals)
    if gains.QUINTILE not in groups or gains.PARTNER not in groups:
        raise SystemExit(f"{out}/evals: the test file is not scored with S(q), or its rows carry no options")
    quint, partner = groups[gains.QUINTILE], groups[gains.PARTNER]
    keys = {
        "all": set(quint),
        "Q1": {q for q, g in quint.items() if g == "Q1"},
        "Q4+Q5": {q for q, g in quint.items() if g in ("Q4", "Q5")},
        "listed": {q for q, g in partner.items() if g == "listed"},
        "not listed": {q for q, g in partner.items() if g == "not listed"},
    }
    diag = {key: seeing.by_run(evals, key) for key in ("think_answer", "option_checks")}
    start = next(v for (m, _), v in per_question.items() if m == START)
    result: dict = {}
    for (method, seed), answers in sorted(per_question.items()):
        if method == START or (rows and method not in rows):
            continue
        cell = {g: paired(answers, start, keys[g]) for g in GROUPS}
        for key, found in diag.items():
            cell[key] = (found.get((method, seed)) or {}).get("value")
        result.setdefault(method, {})[seed] = cell
    verdicts = {}
    for method, seeds in result.items():
        held = {
            f"Q4+Q5 >= +{100 * Q45_GAIN:.0f}": all(c["Q4+Q5"]["diff"] >= Q45_GAIN for c in seeds.values()),
            f"Q1 >= -{100 * Q1_DROP:.0f}": all(c["Q1"]["diff"] >= -Q1_DROP for c in seeds.values()),
            "listed >= not listed": all(c["listed"]["diff"] >= c["not listed"]["diff"] for c in seeds.values()),
            f"think/answer >= {THINK_ANSWER}": all((c["think_answer"] or 0) >= THINK_ANSWER for c in seeds.values()),
        }
        verdicts[method] = {"bars": held, "met": all(held.values())}
    return {
        "rows": result,
        "verdicts": verdicts,
        "start": {
            key: next((v["value"] for (m, _), v in found.items() if m == START), None) for key, found in diag.items()
        },
        "n": {g: len(k) for g, k in keys.items()},
    }


def markdown(res: dict) -> str:
    n = res["n"]
    head = " | ".join(f"{g} (n {n[g]})" for g in GROUPS)
    lines = [
        "Change against the start model, points ± one standard error (exact McNemar p).",
        f"Start model: think/answer {res['start']['think_answer']}, option checks all true "
        f"{res['start']['option_checks']}.",
        "",
        f"| row | seed | {head} | think/answer | checks all true |",
        "| --- | --- |" + " --- |" * (len(GROUPS) + 2),
    ]
    for method, seeds in res["rows"].items():
        for seed, c in seeds.items():
            cells = " | ".join(
                f"{100 * c[g]['diff']:+.1f} ± {100 * c[g]['se']:.1f} (p {c[g]['p']:.2g})" for g in GROUPS
            )
            ta = "–" if c["think_answer"] is None else f"{c['think_answer']:.3f}"
            oc = "–" if c["option_checks"] is None else f"{c['option_checks']:.3f}"
            lines.append(f"| {method} | {seed} | {cells} | {ta} | {oc} |")
    lines.append("")
    for method, v in res["verdicts"].items():
        held = ", ".join(f"{k}: {'held' if ok else 'missed'}" for k, ok in v["bars"].items())
        lines.append(f"- {method}: H2 **{'met' if v['met'] else 'missed'}** ({held}; each on every seed).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="an anatomy-r1 bench output folder (its evals/)")
    p.add_argument("--rows", nargs="*", default=None, help="the RL rows to read (default: every row)")
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    a = p.parse_args(argv)
    res = bars(a.out, a.rows)
    print(markdown(res))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
