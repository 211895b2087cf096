"""Look-alike pairs told apart or named: d' and the criterion per pair (evaluation/sensitivity.py), and the bench's
reading of their changes over seeds (bench/seeing.py)."""

import random

import numpy as np
import pytest

from anatomy_r1_verl.ascl.difficulty import DEFAULT_TABLE, ClosenessTable
from anatomy_r1_verl.bench import seeing
from anatomy_r1_verl.evaluation import sensitivity

TABLE = ClosenessTable(DEFAULT_TABLE)


def test_the_pairs_are_each_class_with_its_closest_partner():
    assert sensitivity.pairs(TABLE) == [
        ("Liver", "Gallbladder"),
        ("Gallbladder", "Cystic Plate"),
        ("Gut", "Omentum"),
        ("Omentum", "Abdominal Wall Cavity"),
    ]


def _record(answer, options, said):
    letter = "ABCD"[options.index(said)] if said in options else "Z"
    return {
        "extra_info": {"answer": answer, "options": options},
        "response": f"<think>x</think><answer>{letter}</answer>",
    }


def test_trials_are_the_questions_that_list_both_and_whose_truth_is_one_of_them():
    both = ["Gut", "Liver", "Omentum", "Gallbladder"]
    records = [
        _record("Gut", both, "Gut"),  # hit
        _record("Omentum", both, "Gut"),  # false alarm
        _record("Omentum", both, "Liver"),  # another option: did not say Gut
        _record("Gut", ["Gut", "Liver", "Cystic Plate", "Gallbladder"], "Gut"),  # Omentum not listed: no trial
        _record("Liver", both, "Gut"),  # truth outside the pair: no trial
    ]
    is_first, said_first = sensitivity.trials(records, "Gut", "Omentum", TABLE)
    assert is_first.tolist() == [True, False, False] and said_first.tolist() == [True, True, False]


def _trials(p_first_given_first, p_first_given_second, n=400, seed=0):
    rng = random.Random(seed)
    is_first = np.array([i % 2 == 0 for i in range(n)])
    said = np.array([rng.random() < (p_first_given_first if f else p_first_given_second) for f in is_first])
    return is_first, said


def test_d_prime_measures_seeing_and_the_criterion_measures_preference():
    blind = sensitivity.detect(*_trials(0.5, 0.5))
    assert blind["d_prime_lo"] < 0 < blind["d_prime_hi"] and abs(blind["criterion"]) < 0.2
    blind_biased = sensitivity.detect(*_trials(0.9, 0.9))  # names the first class whatever the frame shows
    assert blind_biased["d_prime_lo"] < 0 < blind_biased["d_prime_hi"] and blind_biased["criterion"] < -1
    seeing_ = sensitivity.detect(*_trials(0.9, 0.1))  # as accurate on the first class, and sees
    assert seeing_["d_prime_lo"] > 2 and abs(seeing_["criterion"]) < 0.2
    assert seeing_["hit"] == pytest.approx(0.9, abs=0.05) and seeing_["false_alarm"] == pytest.approx(0.1, abs=0.05)
    # all answers alike: a finite d' (log-linear correction), no interval; too few trials: none
    same = sensitivity.detect(np.array([True, False] * 10), np.ones(20, dtype=bool))
    assert same["d_prime"] == pytest.approx(0.0) and np.isnan(same["d_prime_lo"])
    assert sensitivity.detect(np.array([True, False, True]), np.array([True, False, True])) is None


def _eval(method, seed, d_prime, criterion, checks=None):
    pair = {"d_prime": d_prime, "criterion": criterion, "n_first": 100, "n_second": 100}
    diagnostics = {"look_alike_pairs": {"Gut / Omentum": pair}}
    if checks is not None:
        diagnostics["option_checks"] = {"value": checks, "n": 80}
    return {"method": method, "seed": seed, "benchmarks": {"synthetic_scene": {"diagnostics": diagnostics}}}


def test_the_bench_reads_a_rising_d_prime_as_seeing_and_a_moved_criterion_as_naming():
    evals = [_eval("start", 0, 1.0, 0.0, checks=0.99)]
    # preference only, and the think's option checks turn false on seed 1
    evals += [_eval("grpo", s, 1.0 + e, 0.6 + e, 0.95 - s / 10) for s, e in enumerate((0.02, -0.03, 0.01))]
    evals += [_eval("anatomy_r1", s, 1.8 + e, e) for s, e in enumerate((0.1, -0.1, 0.05))]  # sees better
    evals += [_eval("sft", 0, 1.5, 0.0)]  # one seed
    md = seeing.markdown(evals)
    rows = {line.split(":")[0]: i for i, line in enumerate(md.splitlines()) if line.endswith(":")}
    lines = md.splitlines()
    assert "**names Omentum more**" in lines[rows["grpo"] + 4]
    assert "**sees it better**" in lines[rows["anatomy_r1"] + 4] and "+0.82" in lines[rows["anatomy_r1"] + 4]
    assert "one seed: no reading" in lines[rows["sft"] + 4]
    assert "option checks all true to the options: start 0.990; per seed 0.950 / 0.850 / 0.750" in md
    assert md.count("option checks all true") == 1  # rows without the diagnostic get no line
    assert seeing.markdown([e for e in evals if e["method"] != "start"]) == ""  # no start model: no section
