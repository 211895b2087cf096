"""GDQA's measure: the invalid-gradient ratio, the share of GRPO groups whose rewards have zero spread.

A group whose G rollouts all score the same has advantage 0 for every sample and contributes no gradient
(the authors' motivation for GDQA, their Figure 2 per answer class). Computed every step, with or without
GDQA, so a baseline run reports it too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

SPREAD_EPS = 1e-8


def is_invalid(rewards: Sequence[float]) -> bool:
    """True when a group's rewards have zero spread (or it has none)."""
    return not rewards or max(rewards) - min(rewards) <= SPREAD_EPS


def invalid_gradient_ratio(groups: Mapping[str, Sequence[float]]) -> float:
    """Share of groups whose rewards have zero spread (GRPO advantage 0); 0.0 for no groups."""
    return sum(is_invalid(r) for r in groups.values()) / len(groups) if groups else 0.0


def invalid_gradient_by_class(groups: Mapping[str, Sequence[float]], classes: Mapping[str, str]) -> dict[str, float]:
    """:func:`invalid_gradient_ratio` per answer class; groups whose uid has no class count as ``"unknown"``."""
    by_class: dict[str, dict[str, Sequence[float]]] = defaultdict(dict)
    for uid, rewards in groups.items():
        by_class[classes.get(uid, "unknown")][uid] = rewards
    return {c: invalid_gradient_ratio(g) for c, g in sorted(by_class.items())}


def group_uid(key: str) -> str:
    """The GRPO group of a sample from verl's TransferQueue key ``{uid}_{session_id}_{index}``."""
    return key.rsplit("_", 2)[0]


def group_rewards(keys: Sequence[str], scores: Sequence[float]) -> dict[str, list[float]]:
    """Rewards per GRPO group."""
    groups: dict[str, list[float]] = defaultdict(list)
    for key, score in zip(keys, scores):
        groups[group_uid(key)].append(float(score))
    return groups


def invalid_gradient_metrics(groups: Mapping[str, Sequence[float]], classes: Mapping[str, str]) -> dict[str, float]:
    """``gdqa/invalid_gradient_ratio`` overall and ``gdqa/invalid_gradient_ratio/<class>`` per answer class."""
    out = {"gdqa/invalid_gradient_ratio": invalid_gradient_ratio(groups)}
    for cls, ratio in invalid_gradient_by_class(groups, classes).items():
        out[f"gdqa/invalid_gradient_ratio/{cls}"] = ratio
    return out
