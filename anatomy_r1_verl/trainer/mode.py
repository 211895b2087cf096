"""The ``anatomy_r1`` V1 trainer mode: verl's synchronous PPO trainer plus the method hooks, registered with
verl's ``register_trainer`` (the base config selects it with ``trainer.v1.trainer_mode=anatomy_r1``).

The class knows no method by name. It builds the hooks that ``anatomy_r1.hooks`` lists
(:mod:`anatomy_r1_verl.hooks`: the curriculum, GDQA's selection, the reward metrics, or any registered or
imported :class:`~anatomy_r1_verl.hooks.MethodHook`) and moves data between verl and them: the train sampler a
hook provides, each drawn batch, each step's samples (their metrics are logged with verl's), and the hooks' memory
in every checkpoint (:mod:`.state`). Beside the hooks, :class:`~anatomy_r1_verl.trainer.rollout_guard.RolloutGuard`
(``anatomy_r1.rollout_guard``) stops the run when the rollout engine and the actor disagree on the policy.
"""

from __future__ import annotations

import logging
import os

import transfer_queue as tq
from omegaconf import OmegaConf
from torchdata.stateful_dataloader import StatefulDataLoader
from verl.trainer.ppo.v1 import register_trainer
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync
from verl.utils.dataset.rl_dataset import collate_fn

from anatomy_r1_verl import trace
from anatomy_r1_verl.config.anatomy_r1 import anatomy_r1_config
from anatomy_r1_verl.hooks import DrawnBatch, HookContext, MethodHook, StepSamples, build_hooks
from anatomy_r1_verl.trainer import TRAINER_MODE
from anatomy_r1_verl.trainer.kept_rows import check_kept_rows, file_list
from anatomy_r1_verl.trainer.rollout_guard import RolloutGuard
from anatomy_r1_verl.trainer.state import METHOD_STATE_FILE, read_method_state, write_method_state

log = logging.getLogger(__name__)


def _column(values) -> list:
    return values.tolist() if hasattr(values, "tolist") else list(values)


@register_trainer(TRAINER_MODE)
class AnatomyR1Trainer(PPOTrainerSync):
    hooks: list[MethodHook] = []
    rollout_guard: RolloutGuard | None = None

    def _build_replay_buffer(self):
        # verl polls TransferQueue for finished groups every 2 s; on a CPU demo step of a few seconds that sleep
        # is most of the step (anatomy_r1.replay_poll_interval, the cpu profile sets 0.05)
        buffer = super()._build_replay_buffer()
        if hasattr(buffer, "poll_interval"):
            buffer.poll_interval = anatomy_r1_config(self.config).replay_poll_interval
        return buffer

    # ---- data order -----------------------------------------------------------------------------
    def _init_dataloader(self):
        super()._init_dataloader()
        settings = anatomy_r1_config(self.config)
        frame = self.train_dataset.dataframe
        extra_info = list(frame["extra_info"])
        self._check_kept_rows(extra_info)
        self.rollout_guard = RolloutGuard.from_config(self.config)
        data = self.config.data
        ctx = HookContext(
            config=settings,
            train_extra_info=extra_info,
            train_column=lambda name: list(frame[name]) if name in frame.column_names else None,
            batch_size=data.train_batch_size,
            total_steps=self.total_training_steps,
            dataloader_workers=data["dataloader_num_workers"],
        )
        self.hooks = build_hooks(settings.hooks, ctx)
        sampler = next((s for s in (h.sampler() for h in self.hooks) if s is not None), None)
        if sampler is not None:
            self.train_dataloader = StatefulDataLoader(
                dataset=self.train_dataset,
                batch_size=data.get("gen_batch_size", None) or data.train_batch_size,
                num_workers=data["dataloader_num_workers"],
                drop_last=True,
                collate_fn=collate_fn,
                sampler=sampler,
            )
            self.train_dataloader_it = None
        log.info("anatomy_r1 hooks: %s", [h.name for h in self.hooks])

    def _check_kept_rows(self, train_extra_info: list) -> None:
        data = self.config.data
        for key, dataset, limit in (
            ("data.train_files", self.train_dataset, data.get("train_max_samples", -1)),
            ("data.val_files", self.val_dataset, data.get("val_max_samples", -1)),
        ):
            frame = getattr(dataset, "dataframe", None)
            if frame is None:
                continue  # a custom dataset class (data.custom_cls): not verl's filter
            files = file_list(OmegaConf.select(self.config, key))
            kept = (
                train_extra_info
                if dataset is self.train_dataset
                else (list(frame["extra_info"]) if "extra_info" in frame.column_names else [None] * len(frame))
            )
            check_kept_rows(key, files, kept, limit or -1, data.get("max_prompt_length"))

    def _fetch_one_gen_batch(self):
        batch = super()._fetch_one_gen_batch()
        drawn = DrawnBatch(
            step=self.global_steps,
            rows=_column(batch["extra_info"]),  # the row dicts travel on to the agent loop with the batch
            column=lambda name: _column(batch[name]) if name in batch.keys() else None,  # noqa: SIM118 (a TensorDict)
        )
        for hook in self.hooks:
            hook.on_draw(drawn)
        return batch

    # ---- checkpoints: the hooks' memory rides with verl's data.pt ------------------------------------
    def _step_folder(self) -> str:
        return os.path.join(self.config.trainer.default_local_dir, f"global_step_{self.global_steps}")

    def _save_checkpoint(self):
        # written before verl's save, which marks the step as the latest checkpoint last
        write_method_state(self._step_folder(), {h.name: h.state_dict() for h in self.hooks})
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
            log.warning(
                "no %s in %s (a checkpoint of an older anatomy-r1?): the method hooks start with an empty memory",
                METHOD_STATE_FILE,
                folder,
            )
            return
        for hook in self.hooks:
            hook.load_state_dict(state.get(hook.name, {}))
        # per hook, how many entries its memory holds (e.g. GDQA's rows), for the resume tests' audit
        sizes = {name: sum(len(v) for v in st.values() if isinstance(v, (list, dict))) for name, st in state.items()}
        trace.emit("method_state_loaded", step=self.global_steps, sizes=sizes)

    # ---- metrics and feedback ------------------------------------------------------------------------
    def _samples(self, batch) -> StepSamples:
        fields = ["extra_fields", "extra_info"]
        data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=fields)
        keep = [not tag.get("is_padding", False) for tag in batch.tags]
        col = {f: [v for v, k in zip(_column(data[f]), keep) if k] for f in fields}
        return StepSamples(keys=[key for key, k in zip(batch.keys, keep) if k], **col)

    def _compute_old_log_prob(self, batch, metrics):
        # verl logs the rollout-vs-actor probability difference here, before the update: a wrong rollout
        # policy stops the run before any update on its samples
        batch = super()._compute_old_log_prob(batch, metrics)
        if self.rollout_guard is not None:
            metrics.update(self.rollout_guard.check(metrics, self.global_steps))
        return batch

    def step(self, metrics, timing_raw):
        # Feedback is folded in here, right after the update and before verl saves the step's checkpoint, so
        # data.pt holds the sampler state the next draw depends on (exact resume).
        batch = super().step(metrics, timing_raw)
        samples = self._samples(batch)
        self._step_metrics = {}
        for hook in self.hooks:
            self._step_metrics.update(hook.on_step(samples))
        if trace.enabled():
            self._trace_samples(batch)
        return batch

    def _trace_samples(self, batch) -> None:
        """One trace event per step with every sample's response, score and advantage, so a run can be audited
        offline (does each advantage belong to its response's reward?)."""
        data = tq.kv_batch_get(
            keys=batch.keys,
            partition_id=batch.partition_id,
            select_fields=["uid", "responses", "rm_scores", "advantages", "reward_model"],
        )
        keep = [not tag.get("is_padding", False) for tag in batch.tags]
        uids, gts = _column(data["uid"]), _column(data["reward_model"])
        samples = []
        for i, k in enumerate(keep):
            if not k:
                continue
            resp, adv = data["responses"][i], data["advantages"][i]
            samples.append(
                {
                    "uid": str(uids[i]),
                    "response": self.tokenizer.decode(resp, skip_special_tokens=True),
                    "score": float(data["rm_scores"][i].sum()),
                    "advantage": float(adv.float().mean()),
                    "ground_truth": (gts[i] or {}).get("ground_truth"),
                }
            )
        trace.emit("step_samples", step=self.global_steps, samples=samples)

    def _compute_metrics(self, batch, metrics, timing_raw, global_steps, epoch):
        super()._compute_metrics(batch, metrics, timing_raw, global_steps, epoch)
        metrics.update(getattr(self, "_step_metrics", {}))
        self._step_metrics = {}
