"""The think's option checks ("Gallbladder: not listed."): written by the warm start's check think, read back by
the reward and by the evaluation's diagnostic, and scored as the share that is true to the row's options."""

import pytest

from anatomy_r1_verl.evaluation.diagnostics import option_check_truth
from anatomy_r1_verl.evaluation.results import format_summary
from anatomy_r1_verl.evaluation.scoring import summarize
from anatomy_r1_verl.tiny.warmstart import check_text
from reward_fns import compute_score, option_check_reward
from reward_fns.option_checks import read_option_checks
from tests.helpers import scored_record

OPTIONS = ["Cystic Plate", "Liver", "Omentum", "Abdominal Wall Cavity"]
EXTRA = {"options": OPTIONS, "answer": "Cystic Plate"}
SCENE = {
    "frame_id": "f0",
    "objects": [
        {"pos": "top-left", "kind": "anatomy", "class": "Gut"},
        {"pos": "top-mid", "kind": "anatomy", "class": "Cystic Plate"},
    ],
}
# what the RL-trained model wrote on a test question whose options list Cystic Plate and not Gallbladder
LIE = (
    "<think>The top-left is Gut. The top-middle is Liver, Gallbladder or Cystic Plate. Liver: listed. "
    "Gallbladder: listed. Cystic Plate: not listed. The top-middle is Liver.</think><answer>Liver</answer>"
)


def test_the_warm_starts_check_think_is_read_back_statement_by_statement():
    think = check_text(SCENE, "top-mid", "Cystic Plate", OPTIONS)
    assert read_option_checks(think) == [("Liver", True), ("Gallbladder", False), ("Cystic Plate", True)]
    assert option_check_reward(f"<think>{think}</think><answer>A</answer>", extra_info=EXTRA) == 1.0


def test_the_reward_is_the_share_of_true_checks():
    # Liver: listed (true); Gallbladder: listed (false); Cystic Plate: not listed (false)
    assert option_check_reward(LIE, extra_info=EXTRA) == pytest.approx(1 / 3)
    no_checks = "<think>The top-middle is Cystic Plate.</think><answer>A</answer>"
    assert option_check_reward(no_checks, extra_info=EXTRA) == 1.0  # states nothing false
    assert option_check_reward("<answer>A</answer>", extra_info=EXTRA) == 0.0  # no think
    assert option_check_reward(LIE, extra_info={"answer": "Liver"}) == 0.0  # no options to check against
    assert option_check_reward(None, extra_info=None) == 0.0


def test_checks_is_a_built_in_reward_component():
    out = compute_score("synthetic_scene", LIE, "A", EXTRA, weights={"checks": 0.5})
    assert out["checks"] == pytest.approx(1 / 3) and out["acc"] == 0.0 and out["format"] == 1.0
    assert out["score"] == pytest.approx(0.5 * 1.0 + 0.5 / 3)


def test_the_evaluation_counts_responses_whose_checks_are_all_true():
    honest = "<think>" + check_text(SCENE, "top-mid", "Cystic Plate", OPTIONS) + "</think><answer>A</answer>"
    recs = [
        scored_record(0, honest, "Cystic Plate", OPTIONS),
        scored_record(1, LIE, "Cystic Plate", OPTIONS),
        scored_record(2, "<think>The top-middle is Liver.</think><answer>B</answer>", "Cystic Plate", OPTIONS),
    ]
    truth = option_check_truth(recs)
    assert truth["n"] == 2 and truth["value"] == 0.5  # the third makes no check: not counted
    bench = summarize(recs)["b"]
    assert bench["diagnostics"]["option_checks"]["n"] == 2
    assert "option checks all true to the options: 0.500 of 2 responses" in format_summary({"benchmarks": {"b": bench}})
