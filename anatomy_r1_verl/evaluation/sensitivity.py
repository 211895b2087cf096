"""Seeing a look-alike pair apart, or naming one of it: signal-detection sensitivity and bias per pair.

On a question whose options list both classes of a look-alike pair (each class and its closest partner in the
anatomical closeness table) and whose answer is one of them, the model's choice between the two is a yes/no
trial: "is it the first class?". Over such trials,

- the hit rate H is the share of first-class questions answered with the first class, the false-alarm rate F
  the share of second-class questions answered with the first class;
- the **sensitivity** d' = z(H) - z(F) measures how well the answers follow what is in the frame. It is 0 when
  the choice ignores the frame, whatever the accuracy;
- the **criterion** c = -(z(H) + z(F)) / 2 measures which name the model prefers when unsure. It is 0 for no
  preference; it is positive when the model leans to the second class.

Accuracy alone cannot tell these apart. A reward can raise one class's accuracy by moving c, which is a naming
shortcut, and then d' stays put. It raises perception only through d'. Rates of 0 or 1 take the log-linear
correction (Hautus 1995: add 0.5 to the count and 1 to the trials). The interval is a percentile bootstrap over
the trials of each class, each class resampled on its own (``scipy.stats.bootstrap``, seeded).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from anatomy_r1_verl.ascl.difficulty import ClosenessTable, normalize
from anatomy_r1_verl.schema import LETTERS
from reward_fns.mcq import as_options, extract_answer, normalize_choice

RESAMPLES = 2000
MIN_TRIALS = 5  # of each class: fewer gives no d'


def pairs(table: ClosenessTable) -> list[tuple[str, str]]:
    """Each class with its closest partner in ``table``, as unordered pairs in the table's class order."""
    out = []
    for i, name in enumerate(table.classes):
        j = table.closest(i)
        pair = (name, table.classes[j]) if i < j else (table.classes[j], name)
        if table.matrix[i, j] > 0 and pair not in out:
            out.append(pair)
    return sorted(out, key=lambda p: (table.index(p[0]), table.index(p[1])))


def trials(records: list[dict], first: str, second: str, table: ClosenessTable) -> tuple[np.ndarray, np.ndarray]:
    """``(is_first, said_first)`` over the responses whose options list both classes and whose truth is one of
    them (a response with no valid answer, or another option, did not say the first class)."""
    is_first, said_first = [], []
    a, b = table.index(first), table.index(second)
    for r in records:
        extra = r.get("extra_info") or {}
        options = as_options(extra.get("options"))
        listed = [table.index(o) for o in options]
        truth = table.index(str(extra.get("answer", "")))
        if truth not in (a, b) or a not in listed or b not in listed:
            continue
        answer = extract_answer(str(r.get("response", "")))
        letter = normalize_choice(answer, options) if answer is not None else None
        said = letter is not None and table.index(normalize(options[LETTERS.index(letter)])) == a
        is_first.append(truth == a)
        said_first.append(said)
    return np.asarray(is_first, dtype=bool), np.asarray(said_first, dtype=bool)


def _d_prime(first_said: np.ndarray, second_said: np.ndarray, axis: int = -1) -> np.ndarray:
    """d' from the first class's trials (said the first class?) and the second class's, with the log-linear
    correction; vectorised along ``axis`` for the bootstrap."""
    h = (first_said.sum(axis=axis) + 0.5) / (first_said.shape[axis] + 1.0)
    f = (second_said.sum(axis=axis) + 0.5) / (second_said.shape[axis] + 1.0)
    return stats.norm.ppf(h) - stats.norm.ppf(f)


def detect(is_first: np.ndarray, said_first: np.ndarray, seed: int = 0) -> dict | None:
    """Hit and false-alarm rates, d' with its 95 % bootstrap interval, the criterion, and the trials of each
    class; None with fewer than :data:`MIN_TRIALS` of either."""
    first_said, second_said = said_first[is_first].astype(float), said_first[~is_first].astype(float)
    n_first, n_second = len(first_said), len(second_said)
    if min(n_first, n_second) < MIN_TRIALS:
        return None
    h = (first_said.sum() + 0.5) / (n_first + 1.0)
    f = (second_said.sum() + 0.5) / (n_second + 1.0)
    zh, zf = stats.norm.ppf(h), stats.norm.ppf(f)
    lo = hi = float("nan")
    if len(set(said_first.tolist())) > 1:  # an all-same answer has no spread to resample
        # two samples, each resampled on its own: the class counts stay as the test split fixed them
        ci = stats.bootstrap(
            (first_said, second_said),
            _d_prime,
            vectorized=True,
            n_resamples=RESAMPLES,
            method="percentile",
            rng=np.random.default_rng(seed),
        ).confidence_interval
        lo, hi = float(ci.low), float(ci.high)
    return {
        "n_first": n_first,
        "n_second": n_second,
        "hit": round(float(h), 4),
        "false_alarm": round(float(f), 4),
        "d_prime": round(float(zh - zf), 4),
        "d_prime_lo": round(lo, 4),
        "d_prime_hi": round(hi, 4),
        "criterion": round(float(-(zh + zf) / 2), 4),
    }


def look_alike_pairs(records: list[dict], table: ClosenessTable) -> dict[str, dict]:
    """``{"first / second": detect(...)}`` for every look-alike pair of ``table`` with enough trials."""
    out = {}
    for first, second in pairs(table):
        found = detect(*trials(records, first, second, table))
        if found is not None:
            out[f"{first} / {second}"] = found
    return out
