"""GDQA's trainer hook: which drawn rows spread their group over question variants, and the step's
invalid-gradient metrics.

``anatomy_r1.gdqa.select``: ``static`` marks every drawn row (the rows that carry variants were chosen by
``anatomy-r1 prepare augment --tau``); ``online`` (beyond the paper) marks a row only when its group had zero
reward spread the last time it was drawn. The mark is ``extra_info[GDQA_ACTIVE]``, read by the agent loop.
The memory is keyed by the row's identity (:func:`anatomy_r1_verl.schema.row_key`) and saved with checkpoints.
The invalid-gradient metrics are logged whether GDQA is on or off (the GRPO rows' Figure 2 line).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from anatomy_r1_verl.gdqa.metrics import group_rewards, group_uid, invalid_gradient_metrics, is_invalid
from anatomy_r1_verl.hooks import DrawnBatch, HookContext, MethodHook, StepSamples, register_hook
from anatomy_r1_verl.schema import GDQA_ACTIVE, row_key, unique_row_keys

GDQA_SELECT = ("static", "online")


@dataclass
class GDQAConfig:
    """``anatomy_r1.gdqa``: the rollout.n rollouts of a group spread over the row's question variants (train files
    augmented by ``anatomy-r1 prepare augment``)."""

    enable: bool = False
    select: str = "static"  # static: every row with variants | online: rows whose last group had zero spread

    def __post_init__(self):
        if self.select not in GDQA_SELECT:
            raise ValueError(f"anatomy_r1.gdqa.select: {self.select!r} is not one of {GDQA_SELECT}")


def gdqa_active(select: str, had_invalid_group: bool | None) -> bool:
    return select == "static" or bool(had_invalid_group)


@register_hook("gdqa")
class GDQASelection(MethodHook):
    def __init__(self, cfg: GDQAConfig | None = None):
        self.cfg = cfg or GDQAConfig()
        self.invalid: dict = {}  # row key -> its group had zero spread the last time it was drawn

    @classmethod
    def from_context(cls, ctx: HookContext) -> GDQASelection:
        cfg = ctx.config.gdqa
        if cfg.enable and cfg.select == "online":
            unique_row_keys(ctx.train_extra_info, "anatomy_r1.gdqa.select=online (memory per train row)")
        return cls(cfg)

    def on_draw(self, batch: DrawnBatch) -> None:
        if self.cfg.enable:
            for e in batch.rows:
                e[GDQA_ACTIVE] = gdqa_active(self.cfg.select, self.invalid.get(row_key(e)))

    def on_step(self, samples: StepSamples) -> dict[str, float]:
        groups = group_rewards(samples.keys, samples.reward("score"))
        classes, rows = {}, {}
        for key, e in zip(samples.keys, samples.extra_info):
            uid = group_uid(key)
            classes[uid] = str((e or {}).get("answer", "unknown"))
            rows[uid] = row_key(e)
        for uid, rewards in groups.items():
            self.invalid[rows[uid]] = is_invalid(rewards)
        return invalid_gradient_metrics(groups, classes)

    def state_dict(self) -> dict:
        # pairs, not an object: a row key may be an int (extra_info.index), which JSON object keys are not
        return {"invalid": [[k, bool(v)] for k, v in self.invalid.items()]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.invalid = {k: v for k, v in state.get("invalid", [])}
