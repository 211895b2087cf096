"""How a synthetic question's answer options are drawn: the answer and three other anatomy classes.

``uniform`` draws the distractors uniformly from the other classes. ``spread`` widens the range of S(q) (how
close a question's distractors are to its answer in the anatomical closeness table, the table term of ASCL's
difficulty) without letting the options give the answer away:

- A draw that picks distractors *per answer* (say, a target closeness drawn uniformly, then the nearest set)
  leaks: the four listed classes then say which of them is likely the answer. Measured over 120,000 draws, a
  reader of the option set alone is right 36 % of the time, against 25 % for ``uniform``.
- So ``spread`` weights the 4-class option *sets* instead: given its answer, a question lists a set ``O`` that
  contains it with probability ``w(O) / sum of w over the sets containing the answer``. When every class lies in
  sets of the same total weight, the options say nothing about which member is the answer. The weights are the
  solution of a linear programme (scipy.optimize.linprog): maximise the sets' distance from the middle of each
  member's closeness range (lists of close look-alikes, lists of distant classes), every class covered with total
  weight 1; mixed with the uniform weights (:data:`SPREAD_MIX` of the programme's) so that every set stays in use.

With the shipped table this raises the within-answer standard deviation of the table closeness from 0.085 to 0.106
(60,000 draws; tests/unit/test_lookalike.py) while the option-only reader stays at chance: six classes with three
distractors each bound how far S(q) can spread.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from anatomy_r1_verl.ascl.difficulty import DEFAULT_TABLE, ClosenessTable
from anatomy_r1_verl.schema import ANATOMY_CLASSES

N_OPTIONS = 4
SPREAD_MIX = 0.7  # weight of the linear programme's solution against the uniform weights


def uniform_options(answer: str, rng: random.Random, n: int = N_OPTIONS) -> list[str]:
    """The answer and ``n - 1`` distinct other anatomy classes drawn uniformly, shuffled."""
    options = [answer] + rng.sample([c for c in ANATOMY_CLASSES if c != answer], n - 1)
    rng.shuffle(options)
    return options


def set_closeness(answer: str, option_set: tuple[str, ...], table: ClosenessTable) -> float:
    """Mean table closeness of ``answer`` to the other classes of ``option_set``."""
    i = table.index(answer)
    return float(np.mean([table.matrix[i, table.index(d)] for d in option_set if d != answer]))


@lru_cache(maxsize=4)
def spread_weights(n: int = N_OPTIONS, mix: float = SPREAD_MIX) -> dict[tuple[str, ...], float]:
    """Every ``n``-class option set -> its weight (see the module docstring); each class's sets sum to 1."""
    from scipy.optimize import linprog

    table = ClosenessTable(DEFAULT_TABLE)
    sets = list(itertools.combinations(ANATOMY_CLASSES, n))
    span = {}
    for a in ANATOMY_CLASSES:
        vals = [set_closeness(a, o, table) for o in sets if a in o]
        span[a] = (min(vals), max(vals))
    dev = [
        sum(abs(set_closeness(a, o, table) - sum(span[a]) / 2) / max(span[a][1] - span[a][0], 1e-9) for a in o)
        for o in sets
    ]
    cover = [[1.0 if a in o else 0.0 for o in sets] for a in ANATOMY_CLASSES]
    res = linprog(-np.asarray(dev), A_eq=cover, b_eq=np.ones(len(ANATOMY_CLASSES)), bounds=(0, None))
    if res.status != 0:  # pragma: no cover - the uniform weights are always feasible
        raise RuntimeError(f"spread option weights: linprog failed ({res.message})")
    per_class = sum(1 for o in sets if ANATOMY_CLASSES[0] in o)
    return {o: (1 - mix) / per_class + mix * float(w) for o, w in zip(sets, res.x)}


def spread_options(answer: str, rng: random.Random, n: int = N_OPTIONS) -> list[str]:
    """The answer's option set drawn by :func:`spread_weights` among the sets that contain it, shuffled."""
    weights = spread_weights(n)
    sets = [o for o in weights if answer in o]
    if not sets:
        raise ValueError(f"spread options: {answer!r} is not an anatomy class {list(ANATOMY_CLASSES)}")
    options = list(rng.choices(sets, weights=[weights[o] for o in sets])[0])
    rng.shuffle(options)
    return options


OPTION_DRAWS: dict[str, Callable[[str, random.Random], list[str]]] = {
    "uniform": uniform_options,
    "spread": spread_options,
}


def option_draw(name: str) -> Callable[[str, random.Random], list[str]]:
    if name not in OPTION_DRAWS:
        raise ValueError(f"unknown option draw {name!r}; known: {sorted(OPTION_DRAWS)}")
    return OPTION_DRAWS[name]
