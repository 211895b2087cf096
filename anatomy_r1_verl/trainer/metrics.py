"""Step metrics of the reward: the mean of every numeric key the reward function returns, and its errors.

verl 0.9.1 logs the reward's extra keys for validation only; this hook logs ``reward/<key>/mean`` for every
training step, and ``reward/errors``: how many reward components raised or returned no number in the step
(each such component was scored 0; see ``reward_fns.registry.call_safely``).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from anatomy_r1_verl.hooks import MethodHook, StepSamples, register_hook

ERRORS_KEY = "errors"  # reward_fns.combine.ERRORS_KEY


def reward_extra_metrics(extra_fields: list) -> dict[str, float]:
    """Mean of each numeric reward key over the samples of a step, and the step's total of reward errors."""
    values: dict[str, list[float]] = defaultdict(list)
    for fields in extra_fields:
        info = fields.get("reward_extra_info", {}) if isinstance(fields, dict) else {}
        for key, val in (info or {}).items():
            if isinstance(val, (int, float, np.number)) and not isinstance(val, bool):
                values[key].append(float(val))
    out = {f"reward/{k}/mean": float(np.mean(v)) for k, v in values.items() if v}
    if values.get(ERRORS_KEY):
        out["reward/errors"] = float(np.sum(values[ERRORS_KEY]))
    return out


@register_hook("reward_metrics")
class RewardMetrics(MethodHook):
    def on_step(self, samples: StepSamples) -> dict[str, float]:
        return reward_extra_metrics(samples.extra_fields)
