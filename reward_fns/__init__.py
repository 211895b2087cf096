"""Pluggable rule rewards for multiple-choice answers; verl's entry point is :func:`compute_score`."""

from reward_fns.combine import compute_score
from reward_fns.mcq import accuracy_reward, consistency_reward, extract_answer, format_reward, normalize_choice
from reward_fns.option_checks import option_check_reward

__all__ = [
    "accuracy_reward",
    "compute_score",
    "consistency_reward",
    "extract_answer",
    "format_reward",
    "normalize_choice",
    "option_check_reward",
]
