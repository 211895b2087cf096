"""The project's verl V1 trainer mode ``anatomy_r1``: verl's synchronous PPO trainer plus the method's
data order and metrics, registered with verl's ``register_trainer`` (the base config selects it with
``trainer.v1.trainer_mode=anatomy_r1``).

- ASCL (``anatomy_r1.curriculum.enable``): the train dataloader draws through
  :class:`~anatomy_r1_verl.curriculum.CurriculumSampler`; its state rides in verl's ``data.pt``.
  Off, the dataloader is verl's own and training is plain verl GRPO.
- GDQA (``anatomy_r1.gdqa.enable``): rows with question variants are marked for the
  ``anatomy_r1_agent`` loop (``extra_info.gdqa_active``): all of them (``select: static``) or those whose
  group had zero reward spread the last time they were drawn (``online``, beyond the paper).
- Every step, through verl's logger (console, file, tensorboard, wandb):
  ``reward/<key>/mean`` for each key the reward returns (verl logs these for validation only);
  ``gdqa/invalid_gradient_ratio`` (share of groups whose rewards have zero spread) overall and per
  ground-truth answer class (``gdqa/invalid_gradient_ratio/<class>``, the authors' Figure 2);
  with the curriculum, ``curriculum/batch_mean_s_q`` (the authors' Figure 1), ``curriculum/competence``,
  ``curriculum/pool_size`` and ``curriculum/acc_s_q_<bucket>`` (accuracy per S(q) bucket).
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict

import numpy as np

from . import trace

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


def curriculum_config(config):
    from omegaconf import OmegaConf

    from .curriculum import CurriculumConfig

    raw = OmegaConf.select(config, "anatomy_r1.curriculum", default=None)
    if raw is None:
        return CurriculumConfig()
    raw = OmegaConf.to_container(raw, resolve=True)
    known = set(CurriculumConfig.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"anatomy_r1.curriculum: unknown keys {unknown}; known: {sorted(known)}")
    return CurriculumConfig(**raw)


GDQA_SELECT = ("static", "online")


def gdqa_config(config) -> dict:
    from omegaconf import OmegaConf

    raw = OmegaConf.select(config, "anatomy_r1.gdqa", default=None)
    cfg = {"enable": False, "select": "static", **(OmegaConf.to_container(raw, resolve=True) if raw else {})}
    if cfg["select"] not in GDQA_SELECT:
        raise ValueError(f"anatomy_r1.gdqa.select: {cfg['select']!r} is not one of {GDQA_SELECT}")
    return cfg


def gdqa_active(select: str, had_invalid_group: bool) -> bool:
    """Whether a drawn row's rollouts are spread over its variants: always (static: the rows that carry
    variants were chosen by `prepare augment --tau`), or only after its last group had zero spread (online)."""
    return select == "static" or bool(had_invalid_group)


def group_rewards(keys: list[str], scores: list[float]) -> dict[str, list[float]]:
    """Rewards per GRPO group: verl's TransferQueue keys are ``{uid}_{session_id}_{index}``."""
    groups: dict[str, list[float]] = defaultdict(list)
    for key, score in zip(keys, scores):
        groups[key.rsplit("_", 2)[0]].append(float(score))
    return groups


def invalid_gradient_metrics(groups: dict[str, list[float]], classes: dict[str, str]) -> dict[str, float]:
    from .variants import invalid_gradient_by_class, invalid_gradient_ratio

    out = {"gdqa/invalid_gradient_ratio": invalid_gradient_ratio(groups)}
    for cls, ratio in invalid_gradient_by_class(groups, classes).items():
        out[f"gdqa/invalid_gradient_ratio/{cls}"] = ratio
    return out


def row_key(extra_info) -> object:
    """The identity of a dataset row across steps: ``extra_info.id`` (the project's converters), else
    ``extra_info.index``."""
    e = extra_info or {}
    return e.get("id", e.get("index"))


METHOD_STATE_FILE = "anatomy_r1_state.json"


def write_method_state(folder: str, gdqa_invalid: dict) -> str:
    """Save the method's own memory next to verl's ``data.pt`` in a step's checkpoint folder: which rows'
    last group had zero reward spread (online GDQA reads it at the next draw)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, METHOD_STATE_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"version": 1, "gdqa_invalid": [[k, bool(v)] for k, v in gdqa_invalid.items()]}, f)
    os.replace(tmp, path)
    return path


def read_method_state(folder: str) -> dict | None:
    """The memory :func:`write_method_state` saved in ``folder``; None for a checkpoint without it."""
    path = os.path.join(folder, METHOD_STATE_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        state = json.load(f)
    if state.get("version") != 1:
        raise ValueError(f"{path}: unknown anatomy-r1 state version {state.get('version')!r}; "
                         "it was written by a newer anatomy-r1, upgrade to resume from it")
    return {"gdqa_invalid": {k: v for k, v in state["gdqa_invalid"]}}


def _column(values) -> list:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def row_s_q(dataset, key: str) -> np.ndarray:
    """S(q) of every row of verl's train dataset: the top-level column, else ``extra_info.<key>``."""
    frame = dataset.dataframe
    if key in frame.column_names:
        vals = frame[key]
    else:
        vals = [(e or {}).get(key) for e in frame["extra_info"]]
    if any(v is None for v in vals):
        first = next(i for i, v in enumerate(vals) if v is None)
        raise ValueError(f"anatomy_r1.curriculum is on but train row {first} has no {key!r}: score the train "
                         f"files first (anatomy-r1 prepare score IN.parquet --out OUT.parquet) and train on OUT")
    return np.asarray(vals, dtype=np.float64)


def _make_trainer_cls():
    import transfer_queue as tq
    from torchdata.stateful_dataloader import StatefulDataLoader

    from omegaconf import OmegaConf

    from verl.trainer.ppo.v1 import register_trainer
    from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync
    from verl.utils.dataset.rl_dataset import collate_fn

    from .curriculum import CurriculumSampler, bucket_accuracy

    @register_trainer(TRAINER_MODE)
    class AnatomyR1Trainer(PPOTrainerSync):
        curriculum: CurriculumSampler | None = None

        def _build_replay_buffer(self):
            # verl polls TransferQueue for finished groups every 2 s; on a CPU demo step of a few seconds
            # that sleep is most of the step (anatomy_r1.replay_poll_interval, the cpu profile sets 0.2)
            buffer = super()._build_replay_buffer()
            interval = OmegaConf.select(self.config, "anatomy_r1.replay_poll_interval", default=None)
            if interval is not None and hasattr(buffer, "poll_interval"):
                buffer.poll_interval = float(interval)
            return buffer

        # ---- data order -------------------------------------------------------------------------
        def _init_dataloader(self):
            super()._init_dataloader()
            cfg = curriculum_config(self.config)
            self.curriculum_cfg = cfg
            self.gdqa_cfg = gdqa_config(self.config)
            self._gdqa_invalid: dict = {}  # row id -> its group had zero spread the last time it was drawn
            self._drawn: list[tuple] = []
            if not cfg.enable:
                return
            data = self.config.data
            if cfg.mode == "adaptive" and data["dataloader_num_workers"] > 0:
                log.warning("adaptive curriculum with data.dataloader_num_workers > 0: prefetched batches are "
                            "drawn before the latest feedback; set it to 0 for exact feedback")
            index = [(e or {}).get("index", i) for i, e in enumerate(self.train_dataset.dataframe["extra_info"])]
            self.curriculum = CurriculumSampler(
                row_s_q(self.train_dataset, cfg.s_q_key), batch_size=data.train_batch_size,
                total_steps=self.total_training_steps, cfg=cfg,
                row_keys=index if len(set(index)) == len(index) else None)
            self.train_dataloader = StatefulDataLoader(
                dataset=self.train_dataset,
                batch_size=data.get("gen_batch_size", None) or data.train_batch_size,
                num_workers=data["dataloader_num_workers"], drop_last=True, collate_fn=collate_fn,
                sampler=self.curriculum)
            self.train_dataloader_it = None
            log.info("ASCL curriculum on: %s pacing, c0=%s, ramp %.1f steps, %s mode", cfg.pacing, cfg.c0,
                     self.curriculum.ramp_steps, cfg.mode)

        # ---- checkpoints: the method's memory rides with verl's data.pt ------------------------------
        def _step_folder(self) -> str:
            return os.path.join(self.config.trainer.default_local_dir, f"global_step_{self.global_steps}")

        def _save_checkpoint(self):
            # written before verl's save, which marks the step as the latest checkpoint last
            write_method_state(self._step_folder(), self._gdqa_invalid)
            super()._save_checkpoint()

        def _load_checkpoint(self):
            super()._load_checkpoint()
            if not self.global_steps:
                return
            folder = self._step_folder()
            if self.config.trainer.resume_mode == "resume_path":
                folder = self.config.trainer.resume_from_path
                if not os.path.isabs(folder):
                    folder = os.path.join(os.getcwd(), folder)
            state = read_method_state(folder)
            if state is None:
                log.warning("no %s in %s (a checkpoint of an older anatomy-r1?): online GDQA starts with an "
                            "empty memory", METHOD_STATE_FILE, folder)
                return
            self._gdqa_invalid = state["gdqa_invalid"]
            trace.emit("method_state_loaded", step=self.global_steps, gdqa_rows=len(self._gdqa_invalid))

        def _fetch_one_gen_batch(self):
            batch = super()._fetch_one_gen_batch()
            extra = _column(batch["extra_info"])
            if self.gdqa_cfg["enable"]:
                select = self.gdqa_cfg["select"]
                for e in extra:  # the row dicts travel to the agent loop with the batch
                    e["gdqa_active"] = gdqa_active(select, self._gdqa_invalid.get(row_key(e)))
            if self.curriculum is not None:
                key = self.curriculum_cfg.s_q_key
                s_q = _column(batch[key]) if key in batch.keys() else [e.get(key) for e in extra]
                ids = [row_key(e) for e in extra]
                self._drawn += list(zip(ids, map(float, s_q)))
                trace.emit("curriculum_batch", step=self.global_steps, ids=ids, s_q=[float(v) for v in s_q])
            return batch

        # ---- metrics and feedback ------------------------------------------------------------------
        def _batch_fields(self, batch, fields: list[str]) -> dict[str, list]:
            data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=fields)
            keep = [not tag.get("is_padding", False) for tag in batch.tags]
            return {f: [v for v, k in zip(_column(data[f]), keep) if k] for f in fields}

        def step(self, metrics, timing_raw):
            # Feedback is folded in here, right after the update and before verl saves the step's
            # checkpoint, so data.pt holds the sampler state the next draw depends on (exact resume).
            batch = super().step(metrics, timing_raw)
            fields = self._batch_fields(batch, ["extra_fields", "extra_info"])
            self._step_metrics = reward_extra_metrics(fields["extra_fields"])
            self._step_metrics.update(self._gdqa_step(batch, fields))
            if self.curriculum is not None:
                self._step_metrics.update(self._curriculum_step(fields))
            if trace.enabled():
                self._trace_samples(batch)
            return batch

        def _trace_samples(self, batch) -> None:
            """One trace event per step with every sample's response, score and advantage, so a run can
            be audited offline (does each advantage belong to its response's reward?)."""
            data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id,
                                   select_fields=["uid", "responses", "rm_scores", "advantages", "reward_model"])
            keep = [not tag.get("is_padding", False) for tag in batch.tags]
            uids, gts = _column(data["uid"]), _column(data["reward_model"])
            samples = []
            for i, k in enumerate(keep):
                if not k:
                    continue
                resp, adv = data["responses"][i], data["advantages"][i]
                samples.append({"uid": str(uids[i]), "response": self.tokenizer.decode(resp, skip_special_tokens=True),
                                "score": float(data["rm_scores"][i].sum()), "advantage": float(adv.float().mean()),
                                "ground_truth": (gts[i] or {}).get("ground_truth")})
            trace.emit("step_samples", step=self.global_steps, samples=samples)

        def _compute_metrics(self, batch, metrics, timing_raw, global_steps, epoch):
            super()._compute_metrics(batch, metrics, timing_raw, global_steps, epoch)
            metrics.update(getattr(self, "_step_metrics", {}))
            self._step_metrics = {}

        def _gdqa_step(self, batch, fields) -> dict[str, float]:
            keys = [k for k, tag in zip(batch.keys, batch.tags) if not tag.get("is_padding", False)]
            scores = [float((f.get("reward_extra_info") or {}).get("score", np.nan)) for f in fields["extra_fields"]]
            groups = group_rewards(keys, scores)
            classes, rows = {}, {}
            for key, e in zip(keys, fields["extra_info"]):
                uid = key.rsplit("_", 2)[0]
                classes[uid] = str((e or {}).get("answer", "unknown"))
                rows[uid] = row_key(e)
            for uid, rewards in groups.items():  # online GDQA selection reads this at the next draw
                self._gdqa_invalid[rows[uid]] = (max(rewards) - min(rewards)) <= 1e-8
            return invalid_gradient_metrics(groups, classes)

        def _curriculum_step(self, fields) -> dict[str, float]:
            cur, cfg = self.curriculum, self.curriculum_cfg
            drawn, self._drawn = self._drawn, []
            t = max(cur.position - 1, 0) // cur.batch_size  # the batch the latest draw belongs to
            out = {"curriculum/competence": cur.competence(t), "curriculum/pool_size": float(len(cur.pool(t)))}
            if drawn:
                out["curriculum/batch_mean_s_q"] = float(np.mean([s for _, s in drawn]))
            acc = [float((f.get("reward_extra_info") or {}).get("acc", np.nan)) for f in fields["extra_fields"]]
            s_q = [float((e or {}).get(cfg.s_q_key, np.nan)) for e in fields["extra_info"]]
            ok = [i for i, (a, s) in enumerate(zip(acc, s_q)) if not (np.isnan(a) or np.isnan(s))]
            for name, val in bucket_accuracy([s_q[i] for i in ok], [acc[i] for i in ok], cfg.buckets).items():
                out[f"curriculum/acc_s_q_{name}"] = val
            if cfg.mode == "adaptive":
                rows = [(e or {}).get("index") for e in fields["extra_info"]]
                pairs = [(r, acc[i]) for i, r in enumerate(rows) if r is not None and not np.isnan(acc[i])]
                if pairs:
                    cur.update(*zip(*pairs))
            return out

    return AnatomyR1Trainer


def register() -> None:
    from verl.trainer.ppo.v1.trainer_base import TRAINER_REGISTRY

    if TRAINER_MODE not in TRAINER_REGISTRY:
        _make_trainer_cls()
