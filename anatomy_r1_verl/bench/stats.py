"""Paired comparisons of two rows of the grid, as a reviewer would test them, with the field's libraries.

Two rows (a method and GRPO, or a method and the start model) answer the same test questions on each seed:

- **over seeds**: the per-seed accuracy differences, a 95 % t interval of their mean (``scipy.stats.ttest_rel``)
  and an exact paired permutation test in the claimed direction (``scipy.stats.permutation_test``, every sign
  flip of the differences). With n seeds its smallest attainable p is 2^-n: 3 seeds cannot reach 0.05, 5 can.
- **over questions**: an exact McNemar test per seed (``statsmodels.stats.contingency_tables.mcnemar``) and,
  combined over seeds, the Cochran-Mantel-Haenszel test with each (question, seed) pair as a stratum
  (``StratifiedTable.test_null_odds``), which is McNemar's test on the discordant pairs of all seeds together.

:func:`verdict` turns a comparison into met / missed and names the condition that decided it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

ALPHA = 0.05


@dataclass
class SeedResult:
    """One seed: accuracies on the questions both rows answered, and the discordant pairs."""

    seed: int
    n: int
    acc_a: float
    acc_b: float
    a_only: int  # questions a answered right and b wrong
    b_only: int
    p_mcnemar: float

    @property
    def diff(self) -> float:
        return self.acc_a - self.acc_b


@dataclass
class Comparison:
    """Row ``a`` against row ``b`` over the seeds both have."""

    a: str
    b: str
    seeds: list[SeedResult] = field(default_factory=list)
    mean_diff: float = math.nan
    ci: tuple[float, float] | None = None  # 95 % t interval of the mean difference (>= 2 seeds)
    p_t: float | None = None  # paired t test, two-sided
    p_seeds: float | None = None  # exact paired permutation test, one-sided in the claimed direction
    p_questions: float | None = None  # Cochran-Mantel-Haenszel over (question, seed) strata
    direction: int = 1  # +1: the claim is a above b

    @property
    def min_p_seeds(self) -> float:
        """The smallest p the permutation test can give with this many seeds."""
        return 2.0 ** -len(self.seeds) if self.seeds else 1.0


def mean_interval(values: list[float], level: float = 1 - ALPHA) -> tuple[float, float] | None:
    """The t interval of the mean of ``values`` (``scipy.stats.ttest_1samp``); None for fewer than two, the value
    itself when they are all equal."""
    from scipy import stats

    if len(values) < 2:
        return None
    if max(values) == min(values):
        return (values[0], values[0])
    ci = stats.ttest_1samp(values, 0.0).confidence_interval(level)
    return float(ci.low), float(ci.high)


def mcnemar_p(a_only: int, b_only: int) -> float:
    """Exact McNemar p of two rows' discordant counts (1.0 when there are none)."""
    from statsmodels.stats.contingency_tables import mcnemar

    if a_only + b_only == 0:
        return 1.0
    return float(mcnemar([[0, a_only], [b_only, 0]], exact=True).pvalue)


def _cmh(seeds: list[SeedResult]) -> float:
    """CMH with one stratum per discordant (question, seed) pair; concordant pairs carry no information."""
    from statsmodels.stats.contingency_tables import StratifiedTable

    a_only, b_only = sum(s.a_only for s in seeds), sum(s.b_only for s in seeds)
    if a_only + b_only == 0:
        return 1.0
    # a stratum is one question: rows (a, b), columns (right, wrong)
    tables = [np.array([[1, 0], [0, 1]])] * a_only + [np.array([[0, 1], [1, 0]])] * b_only
    return float(StratifiedTable(tables).test_null_odds(correction=False).pvalue)


def compare(
    correct_a: dict[int, dict],
    correct_b: dict[int, dict],
    a: str,
    b: str,
    direction: int = 1,
    b_once: bool = False,
) -> Comparison:
    """``correct_x``: seed -> {question key: answered right (bool or a mean@K rate >= 0.5)}. ``b_once``: ``b`` is a
    model evaluated once (the start model, whatever its seed number), paired with every seed of ``a``; otherwise
    the rows are paired seed by seed."""
    from scipy import stats

    out = Comparison(a, b, direction=direction)
    if b_once and correct_b:
        if len(correct_b) > 1:
            raise ValueError(f"{b} is compared as a model evaluated once, but has seeds {sorted(correct_b)}")
        only = next(iter(correct_b.values()))
        correct_b = {s: only for s in correct_a}
    for seed in sorted(set(correct_a) & set(correct_b)):
        qa, qb = correct_a[seed], correct_b[seed]
        keys = sorted(set(qa) & set(qb))
        if not keys:
            continue
        ra = np.array([bool(qa[k] >= 0.5) for k in keys])
        rb = np.array([bool(qb[k] >= 0.5) for k in keys])
        a_only, b_only = int((ra & ~rb).sum()), int((~ra & rb).sum())
        out.seeds.append(SeedResult(seed, len(keys), ra.mean(), rb.mean(), a_only, b_only, mcnemar_p(a_only, b_only)))
    if not out.seeds:
        return out
    xa = np.array([s.acc_a for s in out.seeds])
    xb = np.array([s.acc_b for s in out.seeds])
    diffs = xa - xb
    out.mean_diff = float(diffs.mean())
    out.p_questions = _cmh(out.seeds)
    if len(out.seeds) >= 2:
        if np.ptp(diffs) > 0:
            t = stats.ttest_rel(xa, xb)
            ci = t.confidence_interval(1 - ALPHA)
            out.p_t, out.ci = float(t.pvalue), (float(ci.low), float(ci.high))
        else:  # every seed the same difference: no spread to build a t interval from
            out.p_t, out.ci = (1.0 if out.mean_diff == 0 else 0.0), (out.mean_diff, out.mean_diff)
        perm = stats.permutation_test(
            (xa, xb),
            lambda x, y, axis: np.mean(x - y, axis=axis),
            permutation_type="samples",
            alternative="greater" if direction > 0 else "less",
            n_resamples=math.inf,
            vectorized=True,
        )
        out.p_seeds = float(perm.pvalue)
    return out


def verdict(vs_base: Comparison, vs_start: Comparison | None) -> tuple[bool, list[str]]:
    """A claim "a is above b" is met only if a is above b on every seed, the seed-level permutation test and the
    question-level CMH test both give p < 0.05, and a is also above the start model on every seed with CMH
    p < 0.05. Returns (met, the conditions that failed, or what was checked when none did)."""
    failed = []
    c = vs_base
    if not c.seeds:
        return False, [f"no seed has both {c.a} and {c.b}"]
    wrong_way = [s.seed for s in c.seeds if s.diff * c.direction <= 0]
    if wrong_way:
        failed.append(f"not above {c.b} on seed(s) {wrong_way}")
    if c.p_seeds is None:
        failed.append("one seed: no test over seeds")
    elif c.p_seeds >= ALPHA:
        why = f"permutation test over seeds p = {fmt_p(c.p_seeds)}"
        if c.min_p_seeds >= ALPHA:
            why += f" (with {len(c.seeds)} seeds the smallest attainable p is {c.min_p_seeds:.3g})"
        failed.append(why)
    if c.p_questions is None or c.p_questions >= ALPHA:
        failed.append(f"CMH over questions p = {fmt_p(c.p_questions)}")
    if vs_start is None or not vs_start.seeds:
        failed.append("the start model was not evaluated")
    else:
        below = [s.seed for s in vs_start.seeds if s.diff <= 0]
        if below:
            failed.append(f"not above the start model on seed(s) {below}")
        elif vs_start.p_questions is None or vs_start.p_questions >= ALPHA:
            failed.append(f"above the start model, but CMH p = {fmt_p(vs_start.p_questions)}")
    if failed:
        return False, failed
    return True, [f"above {c.b} on all {len(c.seeds)} seeds, both tests p < {ALPHA}, above the start model"]


def paired_wilcoxon(a: list[float], b: list[float], direction: int = -1) -> float | None:
    """One-sided Wilcoxon signed-rank test of paired values (``scipy.stats.wilcoxon``; direction -1: a below b);
    None when every pair is equal (nothing to rank)."""
    from scipy import stats

    d = np.asarray(a, float) - np.asarray(b, float)
    if not np.any(d != 0):
        return None
    return float(stats.wilcoxon(d, alternative="less" if direction < 0 else "greater").pvalue)


def fmt_p(p: float | None) -> str:
    """A p-value for a line of text: two significant digits, ``< 1e-16`` below double precision's reach."""
    if p is None:
        return "n/a"
    return "< 1e-16" if p < 1e-16 else f"{p:.2g}"


def describe(c: Comparison) -> str:
    """One line: per-seed differences in points, the mean with its interval, and the p-values."""
    if not c.seeds:
        return f"{c.a} vs {c.b}: no seed in common"
    per = ", ".join(
        f"seed {s.seed} {100 * s.diff:+.1f} ({s.a_only}/{s.b_only}, McNemar p {fmt_p(s.p_mcnemar)})" for s in c.seeds
    )
    ci = f" [{100 * c.ci[0]:+.1f}, {100 * c.ci[1]:+.1f}]" if c.ci else ""
    tests = f"CMH p {fmt_p(c.p_questions)}"
    if c.p_seeds is not None:
        tests = f"permutation p {fmt_p(c.p_seeds)} (one-sided; t p {fmt_p(c.p_t)}), " + tests
    return f"{c.a} minus {c.b}: {per}; mean {100 * c.mean_diff:+.1f} points{ci}; {tests}"
