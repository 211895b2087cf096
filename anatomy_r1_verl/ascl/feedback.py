"""ASCL's trainer hook: the curriculum sampler built from the train set's S(q), the per-step curriculum metrics,
and (``mode: adaptive``) the accuracy feedback that re-weights the next draws.

Feedback is keyed by the row's identity (:func:`anatomy_r1_verl.schema.row_key`: ``extra_info.id``, else
``extra_info.index``), the same identity GDQA's memory uses; identities must be unique over all train files
together, or feedback would land on the wrong rows, so a data set where they are not is refused at start-up.

Metrics: ``curriculum/competence``, ``curriculum/pool_size``, ``curriculum/batch_mean_s_q`` (the authors'
Figure 1) and ``curriculum/acc_s_q_<bucket>`` (accuracy per S(q) bucket). With the curriculum off and a scored
train file, :class:`DrawnDifficulty` still logs ``curriculum/batch_mean_s_q`` of verl's own shuffled draws: the
flat GRPO line the curriculum's rising one is compared with.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from anatomy_r1_verl import trace
from anatomy_r1_verl.ascl.curriculum import CurriculumConfig, CurriculumSampler, bucket_accuracy
from anatomy_r1_verl.hooks import DrawnBatch, HookContext, MethodHook, StepSamples, register_hook
from anatomy_r1_verl.schema import row_key, unique_row_keys

log = logging.getLogger(__name__)


def row_s_q(s_q_column, extra_info, key: str) -> np.ndarray:
    """S(q) of every train row: the top-level column if there is one, else ``extra_info.<key>``."""
    vals = list(s_q_column) if s_q_column is not None else [(e or {}).get(key) for e in extra_info]
    missing = [i for i, v in enumerate(vals) if v is None or (isinstance(v, float) and math.isnan(v))]
    if missing:
        raise ValueError(
            f"anatomy_r1.curriculum is on but train row {missing[0]} has no {key!r}: score the train "
            f"files first (anatomy-r1 prepare score IN.parquet --out OUT.parquet) and train on OUT"
        )
    return np.asarray(vals, dtype=np.float64)


BATCH_MEAN_S_Q = "curriculum/batch_mean_s_q"


class DrawnDifficulty(MethodHook):
    """Batch-mean S(q) of the rows drawn for each step, whoever drew them: verl's dataloader (a hook of its own)
    or the curriculum (:class:`CurriculumFeedback` logs through one). Rows without S(q) are skipped, and a step
    none of whose rows has one logs nothing."""

    def __init__(self, key: str = "s_q"):
        self.key = key
        self._drawn: list[float] = []

    def on_draw(self, batch: DrawnBatch) -> None:
        self.add(batch.rows, batch.column(self.key))

    def add(self, rows: list[dict], s_q=None) -> None:
        """``s_q``: the drawn rows' values when the caller has them (a batch column), else ``rows[i][key]``."""
        for v in s_q if s_q is not None else [(e or {}).get(self.key) for e in rows]:
            if v is not None and not (isinstance(v, float) and math.isnan(v)):
                self._drawn.append(float(v))

    def on_step(self, samples: StepSamples) -> dict[str, float]:
        drawn, self._drawn = self._drawn, []
        return {BATCH_MEAN_S_Q: float(np.mean(drawn))} if drawn else {}


@register_hook("curriculum")
class CurriculumFeedback(MethodHook):
    """ASCL's hook: with ``anatomy_r1.curriculum.enable`` the train rows are drawn by the curriculum sampler;
    off, :meth:`from_context` gives a :class:`DrawnDifficulty` instead (verl draws; their S(q) is still logged)."""

    def __init__(self, cfg: CurriculumConfig, s_q, row_keys: list | None, batch_size: int, total_steps: int):
        self.cfg = cfg
        self._sampler = CurriculumSampler(
            s_q, batch_size=batch_size, total_steps=total_steps, cfg=cfg, row_keys=row_keys
        )
        self.drawn = DrawnDifficulty(cfg.s_q_key)

    @classmethod
    def from_context(cls, ctx: HookContext) -> MethodHook:
        cfg = ctx.config.curriculum
        if not cfg.enable:
            return DrawnDifficulty(cfg.s_q_key)
        if cfg.mode == "adaptive" and ctx.dataloader_workers > 0:
            log.warning(
                "adaptive curriculum with data.dataloader_num_workers > 0: prefetched batches are drawn "
                "before the latest feedback; set it to 0 for exact feedback"
            )
        hook = cls.from_dataset(
            cfg, ctx.train_column(cfg.s_q_key), ctx.train_extra_info, ctx.batch_size, ctx.total_steps
        )
        log.info(
            "ASCL curriculum on: %s pacing, c0=%s, ramp %.1f steps, %s mode",
            cfg.pacing,
            cfg.c0,
            hook._sampler.ramp_steps,
            cfg.mode,
        )
        return hook

    @classmethod
    def from_dataset(
        cls, cfg: CurriculumConfig, s_q_column, extra_info: list, batch_size: int, total_steps: int
    ) -> CurriculumFeedback:
        if cfg.mode == "adaptive":
            keys = unique_row_keys(extra_info, "anatomy_r1.curriculum.mode=adaptive (feedback per train row)")
        else:
            keys = None  # static: no feedback, identities not needed
        return cls(cfg, row_s_q(s_q_column, extra_info, cfg.s_q_key), keys, batch_size, total_steps)

    def sampler(self) -> CurriculumSampler:
        return self._sampler

    def on_draw(self, batch: DrawnBatch) -> None:
        key = self.cfg.s_q_key
        column = batch.column(key)
        s_q = [float(v) for v in (column if column is not None else [e.get(key) for e in batch.rows])]
        self.drawn.add(batch.rows, s_q)
        trace.emit("curriculum_batch", step=batch.step, ids=[row_key(e) for e in batch.rows], s_q=s_q)

    def on_step(self, samples: StepSamples) -> dict[str, float]:
        cur, cfg = self._sampler, self.cfg
        t = max(cur.position - 1, 0) // cur.batch_size  # the batch the latest draw belongs to
        out = {
            "curriculum/competence": cur.competence(t),
            "curriculum/pool_size": float(len(cur.pool(t))),
            **self.drawn.on_step(samples),
        }
        acc = samples.reward("acc")
        s_q = [float((e or {}).get(cfg.s_q_key, np.nan)) for e in samples.extra_info]
        ok = [i for i, (a, s) in enumerate(zip(acc, s_q)) if not (np.isnan(a) or np.isnan(s))]
        for name, val in bucket_accuracy([s_q[i] for i in ok], [acc[i] for i in ok], cfg.buckets).items():
            out[f"curriculum/acc_s_q_{name}"] = val
        if cfg.mode == "adaptive":
            pairs = [(row_key(e), a) for e, a in zip(samples.extra_info, acc) if not np.isnan(a)]
            if pairs:
                cur.update(*zip(*pairs))
        return out
