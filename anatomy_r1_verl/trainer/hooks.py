"""What the ``anatomy_r1`` trainer hands its method hooks, and what a hook is.

A hook is a plain object; the trainer (:mod:`.mode`) calls, when present:

- ``on_draw(rows)`` with the ``extra_info`` dicts of a batch just drawn from the dataloader, before rollout
  (a hook may add keys: they travel with the row to the agent loop);
- ``on_step(samples) -> dict`` after verl's update, with that step's :class:`StepSamples`; returns metrics;
- ``state() -> dict`` / ``load_state(dict)``: the hook's memory, saved with each checkpoint
  (:mod:`.state`).

Unit tests drive hooks with hand-made :class:`StepSamples`, no Ray, no verl.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StepSamples:
    """The non-padding samples of one training step, in verl's order."""

    keys: list[str]  # TransferQueue keys ``{uid}_{session_id}_{index}``
    extra_fields: list[dict] = field(default_factory=list)  # per sample; ``reward_extra_info`` = the reward's dict
    extra_info: list[dict] = field(default_factory=list)  # per sample: the dataset row's extra_info

    def reward(self, key: str) -> list[float]:
        """Per sample, ``reward_extra_info[key]`` as float (NaN when missing)."""
        return [float(((f or {}).get("reward_extra_info") or {}).get(key, float("nan"))) for f in self.extra_fields]
