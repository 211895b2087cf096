"""The think's option checks, and a reward for telling the truth in them.

A think that reads the options class by class states, for each class of the asked cell's look-alike group,
whether the options list it: "... Liver, Gallbladder or Cystic Plate. Liver: listed. Gallbladder: not listed.
Cystic Plate: listed. ...". Those statements are a look-up in the prompt, checkable against the row's options.
A reward on the final answer alone lets them drift: a model that comes to prefer one name of a look-alike pair
can write "Cystic Plate: not listed." when it is, and answer the other name (measured on the look-alike grid,
docs/benchmarks.md). :func:`option_check_reward` scores the share of those statements that are true, so
that a preference cannot be bought by misreading the options.

This module is the statements' one home: :func:`option_check_text` writes them (the warm start's think),
:func:`read_option_checks` reads them (this reward, and the evaluation's diagnostic).
"""

from __future__ import annotations

import re
from typing import Any

from reward_fns.mcq import as_text, extract_think, option_key, options_of

LISTED, NOT_LISTED = "listed", "not listed"
# "<class>: listed." / "<class>: not listed.", the class being what follows the previous sentence's end
_CHECK_RE = re.compile(r"(?:^|(?<=[.>]))\s*([^.:<>]+?)\s*:\s*(not listed|listed)\s*\.", re.IGNORECASE)


def option_check_text(name: str, listed: bool) -> str:
    """One option check: ``"Gallbladder: listed."`` or ``"Gallbladder: not listed."``."""
    return f"{name}: {LISTED if listed else NOT_LISTED}."


def read_option_checks(text: Any) -> list[tuple[str, bool]]:
    """The option checks in ``text``, in order: ``(class as written, whether it was said to be listed)``."""
    return [(m.group(1), m.group(2).casefold() == LISTED) for m in _CHECK_RE.finditer(as_text(text))]


def true_checks(text: Any, options: list[str]) -> tuple[int, int]:
    """``(true, total)`` option checks in ``text`` against the option texts ``options``."""
    listed = {option_key(o) for o in options}
    checks = read_option_checks(text)
    return sum((option_key(name) in listed) == said for name, said in checks), len(checks)


def option_check_reward(solution_str: Any = "", extra_info: Any = None, **_: Any) -> float:
    """The share of the think's option checks that are true. A think that makes none states nothing false
    (1.0); a completion without a think block, or a row without options, scores 0.0."""
    think = extract_think(as_text(solution_str))
    options = options_of(extra_info)
    if think is None or not options:
        return 0.0
    true, total = true_checks(think, options)
    return true / total if total else 1.0
