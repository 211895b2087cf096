"""ASCL's curriculum: competence pacing over questions sorted by difficulty S(q), as a resumable sampler.

verl 0.8 removed its curriculum hook; the project's trainer mode (:mod:`.trainer`) installs
:class:`CurriculumSampler` in verl's ``StatefulDataLoader`` when ``anatomy_r1.curriculum.enable`` is on.

- Rows are sorted by S(q), easiest (lowest) first (ties keep file order). ``shuffle_s_q`` (a control) permutes
  S(q) over the rows first: the same schedule with no information in it.
- The competence c(t) in (0, 1] is the fraction of the sorted rows that training batch t may draw from:
  ``linear`` c0 + (1 - c0) t / T, ``root`` sqrt(t (1 - c0^2) / T + c0^2), or ``stages`` (K equal steps);
  after the ramp (t >= T) the whole set.
- Batch t is ``batch_size`` indices drawn uniformly (``static``) from the easiest ceil(c(t) N) rows with
  a generator seeded by (seed, t), so the batches are a pure function of (seed, t, feedback so far).
  ``adaptive`` (beyond the paper) draws in proportion to acc (1 - acc) + floor, acc being each row's
  running (EMA) rollout accuracy, 0.5 before its first feedback: rows whose groups all succeed or all
  fail, which give GRPO no gradient, are drawn less.
- State (position and running accuracies) is saved by verl with the dataloader in
  ``global_step_N/data.pt``: a resumed run draws exactly the batches an uninterrupted run would have.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from torch.utils.data import Sampler

PACINGS = ("linear", "root", "stages")
MODES = ("static", "adaptive")


@dataclass
class CurriculumConfig:
    enable: bool = False
    pacing: str = "root"
    c0: float = 0.2
    ramp: float = 0.5  # T: a fraction (<= 1) of the total training steps, or a number of steps (> 1)
    stages: int = 4
    mode: str = "static"
    ema: float = 0.5  # adaptive: weight of the newest accuracy
    floor: float = 0.05  # adaptive: minimum draw weight
    s_q_key: str = "s_q"
    seed: int = 0
    # the control row: S(q) randomly permuted over the rows (seeded by ``seed``) before sorting, so the pacing is
    # ASCL's and the order carries no information about difficulty
    shuffle_s_q: bool = False
    buckets: list = field(default_factory=lambda: [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])

    def validate(self, prefix: str = "anatomy_r1.curriculum") -> None:
        if self.pacing not in PACINGS:
            raise ValueError(f"{prefix}.pacing: {self.pacing!r} is not one of {PACINGS}")
        if self.mode not in MODES:
            raise ValueError(f"{prefix}.mode: {self.mode!r} is not one of {MODES}")
        if not 0 < self.c0 <= 1:
            raise ValueError(f"{prefix}.c0: must be in (0, 1], got {self.c0}")
        if self.ramp <= 0:
            raise ValueError(f"{prefix}.ramp: must be > 0 (a fraction of the steps, or a step count), got {self.ramp}")
        if self.stages < 1:
            raise ValueError(f"{prefix}.stages: must be >= 1, got {self.stages}")

    def ramp_steps(self, total_steps: int) -> float:
        return self.ramp * total_steps if self.ramp <= 1 else self.ramp


def competence(t: float, ramp_steps: float, c0: float = 0.2, pacing: str = "root", stages: int = 4) -> float:
    """c(t): the fraction of the easiest rows that training batch ``t`` (0-based) may draw from."""
    if ramp_steps <= 0 or t >= ramp_steps:
        return 1.0
    x = max(t, 0) / ramp_steps
    if pacing == "linear":
        c = c0 + (1 - c0) * x
    elif pacing == "root":
        c = math.sqrt(x * (1 - c0**2) + c0**2)
    elif pacing == "stages":
        c = c0 + (1 - c0) * math.floor(stages * x) / stages
    else:
        raise ValueError(f"unknown pacing {pacing!r}; use one of {PACINGS}")
    return float(min(1.0, max(c0, c)))


class CurriculumSampler(Sampler[int]):
    """Yields dataset indices, ``batch_size`` per training batch, easiest ``ceil(c(t) N)`` rows first.

    One pass (``len(self)``) is one epoch's worth of indices; the batch counter carries on across epochs.
    """

    def __init__(self, s_q, batch_size: int, total_steps: int, cfg: CurriculumConfig, row_keys=None):
        s_q = np.asarray(s_q, dtype=np.float64)
        if s_q.ndim != 1 or len(s_q) == 0:
            raise ValueError("curriculum: need one S(q) per row")
        if np.isnan(s_q).any():
            bad = int(np.flatnonzero(np.isnan(s_q))[0])
            raise ValueError(f"curriculum: row {bad} has no S(q) (NaN); score the file with `anatomy-r1 prepare score`")
        cfg.validate()
        if cfg.shuffle_s_q:
            s_q = np.random.default_rng([cfg.seed, 0x5EED]).permutation(s_q)
        self.cfg = cfg
        self.s_q = s_q
        self.order = np.argsort(s_q, kind="stable")  # easiest first
        self.batch_size = int(batch_size)
        self.ramp_steps = cfg.ramp_steps(total_steps)
        self.position = 0  # indices handed out so far, all epochs
        self.acc = np.full(len(s_q), np.nan)  # adaptive: running accuracy per row (NaN: no feedback yet)
        # feedback names rows by these keys (the trainer passes schema.row_key of each row); default: positions
        self.row_keys = {k: i for i, k in enumerate(range(len(s_q)) if row_keys is None else row_keys)}
        if len(self.row_keys) != len(s_q):
            raise ValueError(
                f"curriculum: {len(s_q)} rows but {len(self.row_keys)} distinct row keys; each row needs "
                "its own identity (extra_info.id)"
            )

    def __len__(self) -> int:
        return len(self.s_q)

    def competence(self, t: int) -> float:
        return competence(t, self.ramp_steps, self.cfg.c0, self.cfg.pacing, self.cfg.stages)

    def pool(self, t: int) -> np.ndarray:
        """Dataset indices batch ``t`` may draw from (easiest first)."""
        n = max(1, math.ceil(self.competence(t) * len(self.s_q) - 1e-9))
        return self.order[:n]

    def batch(self, t: int) -> np.ndarray:
        """The ``batch_size`` indices of training batch ``t``: a pure function of (seed, t, feedback)."""
        pool = self.pool(t)
        rng = np.random.default_rng(np.random.SeedSequence(self.cfg.seed, spawn_key=(t,)))
        p = None
        if self.cfg.mode == "adaptive":
            acc = np.nan_to_num(self.acc[pool], nan=0.5)
            w = acc * (1 - acc) + self.cfg.floor
            p = w / w.sum()
        return rng.choice(pool, size=self.batch_size, replace=len(pool) < self.batch_size, p=p)

    def __iter__(self):
        return _CurriculumIterator(self)

    # feedback from the trainer (adaptive mode) ---------------------------------------------------
    def update(self, rows, accuracies) -> None:
        """Fold one step's per-rollout accuracies into the running accuracy of their rows."""
        sums: dict[int, list[float]] = {}
        for row, acc in zip(rows, accuracies):
            if row not in self.row_keys:
                raise KeyError(f"curriculum feedback for row {row!r}, which is not in the train set")
            i = self.row_keys[row]
            sums.setdefault(i, []).append(float(acc))
        for i, accs in sums.items():
            new = float(np.mean(accs))
            old = self.acc[i]
            self.acc[i] = new if np.isnan(old) else (1 - self.cfg.ema) * old + self.cfg.ema * new

    # state, saved by verl in global_step_N/data.pt through StatefulDataLoader ---------------------
    def state_dict(self) -> dict:
        return {"position": int(self.position), "acc": self.acc.copy()}

    def load_state_dict(self, state: dict) -> None:
        self.position = int(state["position"])
        acc = np.asarray(state["acc"], dtype=np.float64)
        if acc.shape != self.acc.shape:
            raise ValueError(
                f"curriculum state is for {acc.shape[0]} rows but the data set has {self.acc.shape[0]}: "
                "resume with the same train files"
            )
        self.acc = acc


class _CurriculumIterator:
    """One epoch of indices; its state is the sampler's global position (torchdata snapshots it)."""

    def __init__(self, sampler: CurriculumSampler):
        self.sampler = sampler
        self.remaining = len(sampler)
        self._batch_t, self._batch = None, None

    def __iter__(self):
        return self

    def __next__(self) -> int:
        if self.remaining <= 0:
            raise StopIteration
        s = self.sampler
        t, slot = divmod(s.position, s.batch_size)
        if self._batch_t != t:
            self._batch_t, self._batch = t, s.batch(t)
        s.position += 1
        self.remaining -= 1
        return int(self._batch[slot])

    def state_dict(self) -> dict:
        return {"position": int(self.sampler.position), "remaining": int(self.remaining)}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.position = int(state["position"])
        self.remaining = int(state["remaining"])
        self._batch_t = None


def bucket_accuracy(s_q, acc, edges) -> dict[str, float]:
    """Mean accuracy per S(q) bucket ``[lo, hi)`` (the last bucket includes hi)."""
    s_q, acc = np.asarray(s_q, dtype=float), np.asarray(acc, dtype=float)
    out = {}
    for j, (lo, hi) in enumerate(itertools.pairwise(edges)):
        last = j == len(edges) - 2
        m = (s_q >= lo) & ((s_q <= hi) if last else (s_q < hi))
        if m.any():
            out[f"{lo:.1f}-{hi:.1f}"] = float(acc[m].mean())
    return out
