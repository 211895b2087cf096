"""GDQA's trainer hook: which drawn rows spread their group over question variants, and the step's
invalid-gradient metrics.

``anatomy_r1.gdqa.select``: ``static`` marks every drawn row (the rows that carry variants were chosen by
``anatomy-r1 prepare augment --tau``); ``online`` (beyond the paper) marks a row only when its group had zero
reward spread the last time it was drawn. The mark is ``extra_info[GDQA_ACTIVE]``, read by the agent loop.
The memory is keyed by the row's identity (:func:`anatomy_r1_verl.schema.row_key`) and saved with checkpoints.
"""

from __future__ import annotations

from anatomy_r1_verl.gdqa.metrics import group_rewards, group_uid, invalid_gradient_metrics, is_invalid
from anatomy_r1_verl.schema import GDQA_ACTIVE, row_key, unique_row_keys
from anatomy_r1_verl.trainer.hooks import StepSamples

GDQA_SELECT = ("static", "online")


def gdqa_config(config) -> dict:
    """``anatomy_r1.gdqa`` of a verl config, checked."""
    from omegaconf import OmegaConf

    raw = OmegaConf.select(config, "anatomy_r1.gdqa", default=None)
    cfg = {"enable": False, "select": "static", **(OmegaConf.to_container(raw, resolve=True) if raw else {})}
    if cfg["select"] not in GDQA_SELECT:
        raise ValueError(f"anatomy_r1.gdqa.select: {cfg['select']!r} is not one of {GDQA_SELECT}")
    return cfg


def gdqa_active(select: str, had_invalid_group: bool | None) -> bool:
    return select == "static" or bool(had_invalid_group)


class GDQASelection:
    def __init__(self, enable: bool = False, select: str = "static", **_):
        self.enable, self.select = bool(enable), select
        self.invalid: dict = {}  # row key -> its group had zero spread the last time it was drawn

    @classmethod
    def from_config(cls, config, train_extra_info=None) -> GDQASelection:
        cfg = gdqa_config(config)
        if cfg["enable"] and cfg["select"] == "online" and train_extra_info is not None:
            unique_row_keys(train_extra_info, "anatomy_r1.gdqa.select=online (memory per train row)")
        return cls(**cfg)

    def on_draw(self, rows: list[dict]) -> None:
        if self.enable:
            for e in rows:
                e[GDQA_ACTIVE] = gdqa_active(self.select, self.invalid.get(row_key(e)))

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

    def state(self) -> dict:
        return {"gdqa_invalid": dict(self.invalid)}

    def load_state(self, state: dict) -> None:
        self.invalid = dict(state.get("gdqa_invalid", {}))
