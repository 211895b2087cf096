"""95 % confidence intervals for the rates ``anatomy-r1 eval`` reports (accuracy, format rate, pass@K).

The Wilson score interval (Wilson 1927) for a binomial proportion: unlike the normal ("Wald") interval it
stays inside [0, 1] and keeps close to its nominal coverage for small n and rates near 0 or 1, which is
where per-class breakdowns of a few hundred questions live.

For mean@K (the average over K samples of a question, averaged over n questions) the same formula is used
with the n questions as the trials: the variance of a mean of per-question averages in [0, 1] is at most
p(1-p)/n, so this interval is conservative (at least as wide as it needs to be), never too narrow.
"""

from __future__ import annotations

import math

METHOD = "Wilson score interval, 95 % (mean@K: the n questions as trials, conservative)"


def wilson(successes: float, n: int) -> tuple[float, float]:
    """The 95 % Wilson score interval ``(lo, hi)`` of ``successes`` out of ``n`` trials (statsmodels'
    ``proportion_confint``); ``(0.0, 1.0)`` for n = 0.

    ``successes`` may be fractional (a sum of per-question mean@K rates), which scipy's ``binomtest`` refuses."""
    if n < 0 or successes < 0 or successes > n + 1e-9:
        raise ValueError(f"wilson: need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return 0.0, 1.0
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(min(successes, n), n, alpha=0.05, method="wilson")
    return max(0.0, float(lo)), min(1.0, float(hi))


def rate(successes: float, n: int) -> dict:
    """``{"value", "lo", "hi", "n"}``: a rate with its Wilson interval, to 6 decimals (value 0.0 for n = 0)."""
    lo, hi = wilson(successes, n)
    return {"value": round(successes / n, 6) if n else 0.0, "lo": round(lo, 6), "hi": round(hi, 6), "n": n}


def standard_error(p: float, n: int) -> float:
    """One standard error of a rate ``p`` measured on ``n`` questions: sqrt(p (1 - p) / n)."""
    return math.sqrt(p * (1 - p) / n)


def difference_standard_error(before: float, after: float, n: int) -> float:
    """One standard error of ``after - before``, two rates on the same ``n`` questions taken as independent
    (a slight overestimate when the two are positively correlated, as before/after training are)."""
    return math.sqrt((before * (1 - before) + after * (1 - after)) / n)
