"""The project's verl V1 trainer mode ``anatomy_r1``: verl's synchronous PPO trainer plus the step
metrics the method needs, registered with verl's ``register_trainer`` (select it with
``trainer.v1.trainer_mode=anatomy_r1``; the base config does).

Added every step, through verl's own logger (console, file, tensorboard, wandb alike):
- ``reward/<key>/mean`` for every key the reward function returns (``acc``, ``format``, ``score`` ...):
  verl logs these for validation only.
"""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np

log = logging.getLogger(__name__)

TRAINER_MODE = "anatomy_r1"


def reward_extra_metrics(extra_fields: list) -> dict[str, float]:
    """Mean of each numeric reward component over the samples of a step."""
    values: dict[str, list[float]] = defaultdict(list)
    for fields in extra_fields:
        info = fields.get("reward_extra_info", {}) if isinstance(fields, dict) else {}
        for key, val in (info or {}).items():
            if isinstance(val, (int, float, np.number)) and not isinstance(val, bool):
                values[key].append(float(val))
    return {f"reward/{k}/mean": float(np.mean(v)) for k, v in values.items() if v}


def _make_trainer_cls():
    import transfer_queue as tq

    from verl.trainer.ppo.v1 import register_trainer
    from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync

    @register_trainer(TRAINER_MODE)
    class AnatomyR1Trainer(PPOTrainerSync):
        def _batch_extra_fields(self, batch) -> list:
            data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=["extra_fields"])
            fields = data["extra_fields"]
            fields = fields.tolist() if hasattr(fields, "tolist") else list(fields)
            padding = [tag.get("is_padding", False) for tag in batch.tags]
            return [f for f, pad in zip(fields, padding) if not pad]

        def _compute_metrics(self, batch, metrics, timing_raw, global_steps, epoch):
            super()._compute_metrics(batch, metrics, timing_raw, global_steps, epoch)
            metrics.update(reward_extra_metrics(self._batch_extra_fields(batch)))

    return AnatomyR1Trainer


def register() -> None:
    from verl.trainer.ppo.v1.trainer_base import TRAINER_REGISTRY

    if TRAINER_MODE not in TRAINER_REGISTRY:
        _make_trainer_cls()
