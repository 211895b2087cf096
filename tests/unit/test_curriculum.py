"""ASCL pacing and the resumable curriculum sampler (through torchdata's StatefulDataLoader, as verl uses it)."""

import itertools
import math

import numpy as np
import pytest
import torch
from torchdata.stateful_dataloader import StatefulDataLoader

from anatomy_r1_verl.ascl.curriculum import CurriculumConfig, CurriculumSampler, bucket_accuracy, competence


@pytest.mark.parametrize("pacing", ["linear", "root", "stages"])
def test_pacing_properties(pacing):
    T, c0 = 40, 0.2
    cs = [competence(t, T, c0, pacing, stages=4) for t in range(0, 60)]
    assert cs[0] == pytest.approx(c0)
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(cs)), "competence must not decrease"
    assert all(c0 <= c <= 1 for c in cs)
    assert cs[T] == 1.0 and cs[-1] == 1.0


def test_root_formula_and_stages():
    assert competence(10, 40, 0.2, "root") == pytest.approx(math.sqrt(10 * (1 - 0.04) / 40 + 0.04))
    assert competence(10, 40, 0.2, "linear") == pytest.approx(0.2 + 0.8 * 0.25)
    assert sorted({round(competence(t, 40, 0.2, "stages", 4), 9) for t in range(40)}) == [0.2, 0.4, 0.6, 0.8]


def _sampler(n=100, batch=8, steps=20, **kw):
    rng = np.random.default_rng(0)
    s_q = rng.uniform(0, 1, n)
    return s_q, CurriculumSampler(s_q, batch_size=batch, total_steps=steps, cfg=CurriculumConfig(enable=True, **kw))


def test_batches_come_from_the_easiest_rows():
    s_q, s = _sampler(c0=0.2, ramp=0.5)
    easiest = set(np.argsort(s_q, kind="stable")[: math.ceil(0.2 * 100)])
    assert set(s.batch(0)) <= easiest
    for t in range(0, 30):
        pool = set(s.pool(t))
        assert set(s.batch(t)) <= pool
        assert len(pool) == max(1, math.ceil(s.competence(t) * 100 - 1e-9))
    assert len(s.pool(10)) == 100  # after the ramp (0.5 * 20 steps), the whole set
    # easy first: the mean S(q) of early batches is below that of late batches
    early = np.mean([s_q[s.batch(t)].mean() for t in range(3)])
    late = np.mean([s_q[s.batch(t)].mean() for t in range(12, 15)])
    assert early < late


def test_shuffled_s_q_keeps_the_pacing_and_loses_the_order():
    """The control row: the pools grow exactly as ASCL's do, but the first pool is a random fifth of the rows,
    not the easiest fifth, and the seed picks the permutation."""
    s_q, ascl = _sampler(c0=0.2, ramp=0.5)
    _, shuffled = _sampler(c0=0.2, ramp=0.5, shuffle_s_q=True)
    assert [len(shuffled.pool(t)) for t in range(12)] == [len(ascl.pool(t)) for t in range(12)]
    first = shuffled.pool(0)
    assert sorted(s_q[first]) != sorted(s_q[ascl.pool(0)])
    assert s_q[first].mean() > s_q[ascl.pool(0)].mean() + 0.1  # uniform S(q): the easiest fifth averages ~0.1
    _, other_seed = _sampler(c0=0.2, ramp=0.5, shuffle_s_q=True, seed=7)
    assert set(other_seed.pool(0)) != set(first)


def test_deterministic_by_seed():
    _, a = _sampler(seed=1)
    _, b = _sampler(seed=1)
    _, c = _sampler(seed=2)
    assert all((a.batch(t) == b.batch(t)).all() for t in range(10))
    assert any((a.batch(t) != c.batch(t)).any() for t in range(10))


class _Rows(torch.utils.data.Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


def _loader(sampler, batch):
    return StatefulDataLoader(
        _Rows(len(sampler)), batch_size=batch, sampler=sampler, drop_last=True, num_workers=0, collate_fn=list
    )


def _draw(loader, n_batches, feedback=None):
    out, it = [], None
    while len(out) < n_batches:
        it = it or iter(loader)
        try:
            b = next(it)
        except StopIteration:  # a new epoch, as verl's trainer does
            it = None
            continue
        out.append(b)
        if feedback:
            feedback(b)
    return out


@pytest.mark.parametrize("mode", ["static", "adaptive"])
def test_resume_draws_exactly_the_uninterrupted_batches(mode):
    """verl saves train_dataloader.state_dict() in global_step_k/data.pt and loads it on resume."""
    n, batch, k, total = 40, 8, 7, 16  # 40 rows / 8 = 5 batches an epoch: resume crosses an epoch boundary
    acc_of = lambda rows: [float(r % 3 == 0) for r in rows]  # noqa: E731

    _, full = _sampler(n=n, batch=batch, steps=total, mode=mode, seed=3)
    loader = _loader(full, batch)
    fb = (lambda b: full.update(b, acc_of(b))) if mode == "adaptive" else None
    uninterrupted = _draw(loader, total, fb)

    _, first = _sampler(n=n, batch=batch, steps=total, mode=mode, seed=3)
    loader1 = _loader(first, batch)
    it, got = iter(loader1), []
    for _ in range(k):
        try:
            b = next(it)
        except StopIteration:
            it = iter(loader1)
            b = next(it)
        got.append(b)
        if mode == "adaptive":
            first.update(b, acc_of(b))
    state = loader1.state_dict()

    _, resumed = _sampler(n=n, batch=batch, steps=total, mode=mode, seed=3)
    loader2 = _loader(resumed, batch)
    loader2.load_state_dict(state)
    fb2 = (lambda b: resumed.update(b, acc_of(b))) if mode == "adaptive" else None
    rest = _draw(loader2, total - k, fb2)
    assert got == uninterrupted[:k]
    assert rest == uninterrupted[k:]


def test_adaptive_prefers_rows_with_reward_spread():
    s_q = np.zeros(20)
    s = CurriculumSampler(
        s_q, batch_size=2000, total_steps=1, cfg=CurriculumConfig(enable=True, mode="adaptive", c0=1.0, floor=0.01)
    )
    s.update(list(range(10)), [1.0] * 10)  # always solved: no gradient
    s.update(list(range(10, 20)), [0.5] * 10)
    drawn = s.batch(0)
    assert (drawn >= 10).mean() > 0.9


def test_state_mismatch_and_missing_scores_are_errors():
    _, s = _sampler(n=10)
    with pytest.raises(ValueError, match="same train files"):
        s.load_state_dict({"position": 0, "acc": np.zeros(11)})
    with pytest.raises(ValueError, match="prepare score"):
        CurriculumSampler([0.1, float("nan")], 1, 1, CurriculumConfig(enable=True))
    with pytest.raises(ValueError, match="anatomy_r1.curriculum.pacing"):
        CurriculumSampler([0.1], 1, 1, CurriculumConfig(enable=True, pacing="cubic"))


def test_bucket_accuracy():
    out = bucket_accuracy([0.1, 0.15, 0.5, 1.0], [1, 0, 1, 1], [0.0, 0.2, 0.6, 1.0])
    assert out == {"0.0-0.2": 0.5, "0.2-0.6": 1.0, "0.6-1.0": 1.0}
