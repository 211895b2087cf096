"""bench's paired statistics on per-question results whose answer is known: no effect, a clear effect, an effect
on two of three seeds, and a row above GRPO but below the start model."""

import numpy as np
import pytest

from anatomy_r1_verl.bench.stats import compare, verdict

N = 1000


def _row(p: float, seeds, seed_offset=0) -> dict:
    """seed -> {question: right}, each question right with probability p (its own draws per row and seed)."""
    rng = np.random.default_rng(1000 * seed_offset + 7)
    return {s: {f"q{i}": bool(x) for i, x in enumerate(rng.random(N) < p)} for s in seeds}


def _verdict(a, b, start):
    return verdict(compare(a, b, "a", "grpo"), compare(a, start, "a", "start", b_once=True) if start else None)


def test_no_effect_is_missed_with_every_failed_condition_named():
    seeds = range(5)
    met, why = _verdict(_row(0.4, seeds, 1), _row(0.4, seeds, 2), _row(0.4, [0], 3))
    assert not met
    assert any("CMH over questions" in w for w in why) and any("permutation test" in w for w in why)


def test_a_clear_effect_on_five_seeds_is_met():
    seeds = range(5)
    a, b = _row(0.55, seeds, 1), _row(0.4, seeds, 2)
    c = compare(a, b, "a", "grpo")
    assert c.p_seeds == pytest.approx(1 / 32)  # every sign flip of five positive differences: exact
    assert c.p_questions < 1e-6 and all(s.p_mcnemar < 0.05 for s in c.seeds)
    assert c.ci[0] > 0.1 and c.ci[1] < 0.2
    met, why = _verdict(a, b, _row(0.4, [0], 3))
    assert met, why


def test_three_seeds_cannot_meet_the_bar_and_say_why():
    seeds = range(3)
    met, why = _verdict(_row(0.6, seeds, 1), _row(0.4, seeds, 2), _row(0.4, [0], 3))
    assert not met and why == ["permutation test over seeds p = 0.12 (with 3 seeds the smallest attainable p is 0.125)"]


def test_an_effect_on_two_of_three_seeds_names_the_seed():
    a = _row(0.55, range(3), 1)
    a[2] = _row(0.38, [2], 4)[2]
    met, why = _verdict(a, _row(0.4, range(3), 2), _row(0.4, [0], 3))
    assert not met and "not above grpo on seed(s) [2]" in why


def test_a_row_above_grpo_but_below_the_start_model_is_missed():
    seeds = range(5)
    met, why = _verdict(_row(0.5, seeds, 1), _row(0.35, seeds, 2), _row(0.6, [0], 3))
    assert not met and why == ["not above the start model on seed(s) [0, 1, 2, 3, 4]"]


def test_cmh_over_question_strata_is_mcnemar_on_the_pooled_discordant_pairs():
    from statsmodels.stats.contingency_tables import mcnemar

    c = compare(_row(0.45, range(3), 1), _row(0.4, range(3), 2), "a", "grpo")
    a_only, b_only = sum(s.a_only for s in c.seeds), sum(s.b_only for s in c.seeds)
    pooled = mcnemar([[0, a_only], [b_only, 0]], exact=False, correction=False).pvalue
    assert c.p_questions == pytest.approx(pooled)


def test_the_start_model_pairs_with_any_seed_of_a_row_and_rows_pair_seed_by_seed():
    start, row = _row(0.4, [0], 3), _row(0.5, [42], 1)
    c = compare(row, start, "grpo", "start", b_once=True)
    assert [s.seed for s in c.seeds] == [42] and c.mean_diff > 0.05
    assert compare(row, _row(0.4, [0], 2), "grpo", "sft").seeds == []  # two rows: only common seeds pair
    with pytest.raises(ValueError, match="evaluated once"):
        compare(row, _row(0.4, [0, 1], 3), "grpo", "start", b_once=True)
