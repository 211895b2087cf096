"""The evaluation's diagnostics: accuracy by S(q) quintile, S(q)'s correlation with errors, the partner-listed
split and think/answer agreement, through the same summary ``anatomy-r1 eval`` writes."""

import pytest

from anatomy_r1_verl.evaluation.diagnostics import (
    closest_partner,
    last_class_named,
    partner_group,
    quintile_groups,
    spearman_wrong,
    think_answer_agreement,
)
from anatomy_r1_verl.evaluation.results import format_summary
from anatomy_r1_verl.evaluation.scoring import summarize
from tests.helpers import scored_record


def test_closest_partner_and_partner_group():
    assert closest_partner("Gallbladder") == "Cystic Plate"
    assert closest_partner("gut") == "Omentum"
    assert closest_partner("trocar") is None
    assert partner_group({"answer": "Gallbladder", "options": ["Cystic Plate", "Gallbladder", "Gut", "Liver"]}) == (
        "listed"
    )
    assert partner_group({"answer": "Gallbladder", "options": ["Omentum", "Gallbladder", "Gut", "Liver"]}) == (
        "not listed"
    )
    assert partner_group({"answer": "yes", "options": ["yes", "no"]}) == ""


def test_quintiles_by_rank_and_the_spearman_sign():
    s_q = [0.1 * i for i in range(10)]
    labels, ranges = quintile_groups(s_q)
    assert labels == ["Q1", "Q1", "Q2", "Q2", "Q3", "Q3", "Q4", "Q4", "Q5", "Q5"]
    assert ranges[0] == (0.0, 0.1) and ranges[-1] == pytest.approx((0.8, 0.9))
    harder_is_wrong = spearman_wrong(s_q, [1, 1, 1, 1, 1, 0, 1, 0, 0, 0])
    assert harder_is_wrong["rho"] > 0.6 and harder_is_wrong["p"] < 0.05
    assert spearman_wrong(s_q, [1] * 10)["rho"] is None  # no spread: no correlation


def test_last_class_named_reads_aliases_and_multiword_names():
    assert last_class_named("The top-left is Liver. The center is Cystic Plate.") == "Cystic Plate"
    assert last_class_named("The gallbladder bed, then the gall bladder") == "Gallbladder"
    assert last_class_named("nothing anatomical") is None


def test_think_answer_agreement_counts_only_responses_with_both():
    recs = [
        scored_record(0, "<think>The center is Gallbladder.</think><answer>B</answer>"),  # agrees
        scored_record(1, "<think>The center is Cystic Plate.</think><answer>B</answer>"),  # think read the partner
        scored_record(2, "<think>no class</think><answer>B</answer>"),  # not counted
        scored_record(3, "<think>The center is Liver.</think>"),  # no answer: not counted
    ]
    agree = think_answer_agreement(recs)
    assert agree["n"] == 2 and agree["value"] == 0.5


def test_summary_carries_the_diagnostics():
    recs = []
    for i in range(20):
        s_q = i / 20
        right = i < 12
        answer_text = "Gallbladder" if right else "Liver"
        options = (
            ("Cystic Plate", "Gallbladder", "Gut", "Liver") if i % 2 else ("Liver", "Gallbladder", "Gut", "Omentum")
        )
        recs.append(
            scored_record(
                i,
                f"<think>The center is {answer_text}.</think><answer>{answer_text}</answer>",
                "Gallbladder",
                options,
                s_q,
            )
        )
    bench = summarize(recs)["b"]
    quint = bench["by"]["s_q_quintile"]
    assert [round(quint[f"Q{k}"]["acc"]["value"], 2) for k in range(1, 6)] == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert bench["diagnostics"]["spearman_s_q_wrong"]["rho"] > 0.7
    assert bench["by"]["partner"]["listed"]["n"] == 10 and bench["by"]["partner"]["not listed"]["n"] == 10
    assert bench["diagnostics"]["think_answer"]["value"] == 1.0
    text = format_summary({"benchmarks": {"b": bench}})
    assert "S(q) quintiles easy->hard: Q1 1.000" in text and "closest partner among the options" in text


def test_unscored_rows_have_no_quintiles():
    recs = [scored_record(i, "<think>The center is Liver.</think><answer>A</answer>") for i in range(6)]
    bench = summarize(recs)["b"]
    assert "s_q_quintile" not in bench["by"] and "spearman_s_q_wrong" not in bench["diagnostics"]


def _letter_record(row, answer_letter, truth_letter):
    options = ("Liver", "Gallbladder", "Gut", "Omentum")
    answer = options["ABCD".index(truth_letter)]
    return scored_record(row, f"<think>x</think><answer>{answer_letter}</answer>", answer, options)


def test_a_collapse_onto_one_letter_is_flagged_in_eval_and_report(tmp_path):
    from anatomy_r1_verl.report import tables

    truths = "ABCD" * 10
    collapsed = [_letter_record(i, "C", t) for i, t in enumerate(truths)]
    healthy = [_letter_record(i, t if i % 3 else "A", t) for i, t in enumerate(truths)]
    bench = summarize(collapsed)["b"]
    spread = bench["diagnostics"]["answers"]
    assert spread["top_letter"] == "C" and spread["top_share"] == 1.0 and spread["truth_letters"]["C"] == 10
    assert "answers C to 40 of 40" in spread["collapse"]
    assert "WARNING: answers C to 40 of 40" in format_summary({"benchmarks": {"b": bench}})
    ok = summarize(healthy)["b"]["diagnostics"]["answers"]
    assert ok["collapse"] is None and ok["letters"]["A"] > 10
    # a truth that really is mostly one letter is not a collapse
    skewed = [_letter_record(i, "C", "C" if i < 30 else "A") for i in range(40)]
    assert summarize(skewed)["b"]["diagnostics"]["answers"]["collapse"] is None
    evals = [
        {"method": "sft", "seed": 0, "benchmarks": {"b": bench}},
        {"method": "grpo", "seed": 0, "benchmarks": summarize(healthy)},
    ]
    section = tables.answer_spread_section(evals)
    assert "| sft | 0 | b | C | 100.0 % | **collapse**" in section and "| grpo | 0 | b |" in section
    assert tables.collapses(evals) == [f"sft seed 0 on b: {spread['collapse']}"]


def test_no_answer_counts_as_none():
    rec = scored_record(0, "<think>x</think>")
    spread = summarize([rec])["b"]["diagnostics"]["answers"]
    assert spread["letters"] == {"none": 1} and spread["collapse"] is None


def test_summary_carries_each_look_alike_pairs_sensitivity():
    options = ("Liver", "Gallbladder", "Gut", "Omentum")
    recs = [  # Liver and Gallbladder both listed, and always told apart
        scored_record(i, f"<think>The center is {a}.</think><answer>{a}</answer>", a, options)
        for i, a in enumerate(["Liver", "Gallbladder"] * 10)
    ]
    bench = summarize(recs)["b"]
    pair = bench["diagnostics"]["look_alike_pairs"]["Liver / Gallbladder"]
    assert pair["n_first"] == pair["n_second"] == 10 and pair["d_prime"] > 2.5 and pair["criterion"] == 0
    assert list(bench["diagnostics"]["look_alike_pairs"]) == ["Liver / Gallbladder"]  # Gut, Omentum never the truth
    assert "look-alike pair Liver / Gallbladder (both listed, n 10/10): d' " in format_summary(
        {"benchmarks": {"b": bench}}
    )
