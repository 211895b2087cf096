"""Where a row's change against the start model comes from (bench/gains.py), on per-question results where the
answer is known: a naming shortcut inside a look-alike pair, a real gain, and a change the other classes pay for."""

import json

from anatomy_r1_verl.bench import gains, verdict
from anatomy_r1_verl.evaluation import results

N = 60  # questions per class


def _questions():
    """Gut and Omentum (each other's closest look-alike), Liver, and S(q) rising with the question index."""
    classes = ["Gut", "Omentum", "Liver"]
    return [(f"q{c}{i}", c, i / N) for c in classes for i in range(N)]


def _rows(start: dict, after: dict, seeds=(0, 1, 2)) -> dict:
    per = {("start", 0): start}
    for s in seeds:
        per[("grpo", s)] = after
    return per


def _groups():
    qs = _questions()
    return {gains.CLASS: {q: c for q, c, _ in qs}}


def test_a_class_that_takes_its_partners_questions_is_a_shortcut():
    qs = _questions()
    # the start model gets half of every class right; after RL it names Gut everywhere in the pair
    start = {q: float(i % 2 == 0) for q, c, i in ((q, c, int(s * N)) for q, c, s in qs)}
    after = {q: (1.0 if c == "Gut" else 0.0 if c == "Omentum" else start[q]) for q, c, _ in qs}
    per_class = gains.by_group(_rows(start, after), _groups()[gains.CLASS], "grpo", "start")
    assert round(100 * per_class["Gut"].mean_diff) == 50 and round(100 * per_class["Omentum"].mean_diff) == -50
    assert gains.shortcuts(per_class) == ([("Gut", "Omentum")], [])
    line = gains.shortcut_line("grpo", per_class)
    assert "**shortcut**: Gut +50.0 taken from its look-alike Omentum -50.0 (after: Gut 100.0 %, Omentum 0.0 %)" in line


def test_a_class_that_takes_what_its_partner_never_had_is_a_shortcut():
    """The start model names the pair wrongly both ways; after RL one name covers both: the partner stays at 0."""
    qs = _questions()
    start = {q: (0.0 if c in ("Gut", "Omentum") else float(int(s * N) % 2 == 0)) for q, c, s in qs}
    after = {q: (1.0 if c == "Gut" else start[q]) for q, c, _ in qs}
    per_class = gains.by_group(_rows(start, after), _groups()[gains.CLASS], "grpo", "start")
    assert per_class["Omentum"].mean_diff == 0
    assert gains.shortcuts(per_class) == ([("Gut", "Omentum")], [])
    # both classes of the pair improving is no shortcut, even when one gains more
    both = {q: (1.0 if c == "Gut" else float(int(s * N) % 4 != 0) if c == "Omentum" else start[q]) for q, c, s in qs}
    per_class = gains.by_group(_rows(start, both), _groups()[gains.CLASS], "grpo", "start")
    assert gains.shortcuts(per_class) == ([], [])


def test_a_gain_in_every_class_is_no_shortcut_and_a_loss_elsewhere_is_named():
    qs = _questions()
    start = {q: float(int(s * N) % 2 == 0) for q, c, s in qs}
    better = {q: 1.0 for q, c, _ in qs}
    per_class = gains.by_group(_rows(start, better), _groups()[gains.CLASS], "grpo", "start")
    assert gains.shortcuts(per_class) == ([], [])
    assert "no class gains at its closest partner's expense" in gains.shortcut_line("grpo", per_class)
    # Gut gains and Liver pays, Omentum unchanged: no pair, one payer
    paid = {q: (1.0 if c == "Gut" else 0.0 if c == "Liver" else start[q]) for q, c, _ in qs}
    per_class = gains.by_group(_rows(start, paid), _groups()[gains.CLASS], "grpo", "start")
    assert gains.shortcuts(per_class) == ([], ["Liver"])
    assert "**paid for by** Liver -50.0" in gains.shortcut_line("grpo", per_class)


def test_the_report_reads_classes_and_s_q_quintiles_from_the_responses(tmp_path):
    qs = _questions()
    evals = []
    for method, seeds, right in (("start", [0], lambda s: s < 0.5), ("grpo", [0, 1], lambda s: True)):
        for seed in seeds:
            recs = [
                {
                    "benchmark": "synthetic_scene",
                    "file": "t.parquet",
                    "row": k,
                    "id": q,
                    "answer_class": c,
                    # the options list the answer's closest look-alike on the even questions
                    "extra_info": {
                        "s_q": s,
                        "answer": c,
                        "options": [c, gains.closest_partner(c) if k % 2 == 0 else "Abdominal Wall Cavity"],
                    },
                    "acc": float(right(s)),
                    "format": 1.0,
                }
                for k, (q, c, s) in enumerate(qs)
            ]
            path = tmp_path / method / f"seed{seed}"
            path.mkdir(parents=True)
            results.write_responses(path, recs)
            m = {"method": method, "seed": seed, "benchmarks": {"synthetic_scene": {}}, "_dir": str(path)}
            (path / "metrics.json").write_text(json.dumps(m))
            evals.append(m)
    groups = gains.question_groups(evals)
    assert set(groups) == {gains.CLASS, gains.QUINTILE, gains.PARTNER} and len(groups[gains.QUINTILE]) == 3 * N
    md = gains.markdown(verdict.question_results(evals), groups)
    # the start model is wrong on the upper half of S(q) in every class: the gain is all in Q3-Q5
    assert "| Q1 | 36 | +0.0 / +0.0 | +0.0 | 1 |" in md
    assert "| Q5 | 36 | +100.0 / +100.0 | +100.0 |" in md
    assert "grpo: no class gains at its closest partner's expense" in md
    # half the questions list the look-alike, and the start model is right on the lower half of S(q) in each
    assert "| listed | 90 | +50.0 / +50.0 | +50.0 |" in md and "| not listed | 90 | +50.0 / +50.0 | +50.0 |" in md
