"""Stop a run whose rollout samples a different policy from the one the actor trains.

verl syncs the actor's weights into the rollout engine before each step, and, with
``actor_rollout_ref.rollout.calculate_log_probs=true``, logs how far the rollout's token probabilities are from
the actor's for the same tokens (``training/rollout_probs_diff_max`` / ``_mean``, verl's
``calculate_debug_metrics``). With a correct sync the two agree to numerical noise (fp32 on CPU: ~1e-6 for vLLM,
~1e-5 for hfcpu; bf16 on GPU: a mean of ~1e-3). A broken sync trains on samples of another policy without
any error: with vLLM >= 0.29 and Qwen-VL, the image-normalisation buffers that vLLM keeps inside the model
(``mm_device_do_normalize``) stay at the random values of verl's dummy-weight start, because verl's sync
never sends them (probs diff max 0.96 measured on CPU; see docs/design.md).

:class:`RolloutGuard` reads those metrics after each step's old-log-prob pass (the first one checks the sync
made before step 1) and raises :class:`RolloutPolicyMismatch` when one exceeds its threshold
(``anatomy_r1.rollout_guard``). It is a plain object; the trainer mode calls :meth:`RolloutGuard.check`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from omegaconf import OmegaConf

from anatomy_r1_verl.config.anatomy_r1 import anatomy_r1_config

MAX_KEY = "training/rollout_probs_diff_max"
MEAN_KEY = "training/rollout_probs_diff_mean"
CONFIG_KEY = "anatomy_r1.rollout_guard"
# rollouts whose probabilities come from another engine than the actor's: the metric is required there
ENGINE_ROLLOUTS = ("vllm", "sglang", "trtllm")


class RolloutPolicyMismatch(RuntimeError):
    """The rollout engine and the actor disagree on the policy: training would use samples of another policy."""


@dataclass
class RolloutGuard:
    max_diff_max: float | None = None  # threshold on training/rollout_probs_diff_max (None: not checked)
    max_diff_mean: float | None = None  # threshold on training/rollout_probs_diff_mean (None: not checked)
    require_metric: bool = False  # raise when verl did not log the metrics (calculate_log_probs off)
    rollout: str = ""

    @classmethod
    def from_config(cls, config) -> RolloutGuard | None:
        """The guard for a run's verl config (``anatomy_r1.rollout_guard``, typed); None when it checks nothing."""
        cfg = anatomy_r1_config(config).rollout_guard
        if not cfg.enable or (cfg.max_probs_diff_max is None and cfg.max_probs_diff_mean is None):
            return None
        rollout = str(OmegaConf.select(config, "actor_rollout_ref.rollout.name", default=""))
        guard = cls(
            max_diff_max=cfg.max_probs_diff_max,
            max_diff_mean=cfg.max_probs_diff_mean,
            rollout=rollout,
            require_metric=rollout in ENGINE_ROLLOUTS,
        )
        calc = OmegaConf.select(config, "actor_rollout_ref.rollout.calculate_log_probs", default=False)
        if guard.require_metric and not calc:
            raise RolloutPolicyMismatch(
                f"{CONFIG_KEY} is on for the {rollout!r} rollout but actor_rollout_ref.rollout.calculate_log_probs "
                "is false, so verl logs no rollout-vs-actor probability difference to check: set "
                "actor_rollout_ref.rollout.calculate_log_probs=true (the cpu_vllm and gpu profiles do), or turn "
                f"the guard off with {CONFIG_KEY}.enable=false"
            )
        return guard

    def check(self, metrics: dict, step: int) -> dict:
        """Raise :class:`RolloutPolicyMismatch` when a checked metric is over its threshold (or NaN); returns the
        guard's own metrics (``rollout_guard/checked``)."""
        checks = [
            (MAX_KEY, "max_probs_diff_max", self.max_diff_max),
            (MEAN_KEY, "max_probs_diff_mean", self.max_diff_mean),
        ]
        seen, over = 0, []
        for key, name, limit in checks:
            if limit is None:
                continue
            if key not in metrics:
                if self.require_metric:
                    raise RolloutPolicyMismatch(
                        f"step {step}: verl logged no {key} (actor_rollout_ref.rollout.calculate_log_probs must be "
                        f"true for {CONFIG_KEY}); cannot confirm that the {self.rollout} rollout serves the actor's "
                        "weights"
                    )
                continue
            value = float(metrics[key])
            seen += 1
            if math.isnan(value) or value > limit:
                over.append(f"{key} = {value:.3g} exceeds {CONFIG_KEY}.{name} = {limit:g}")
        if over:
            values = ", ".join(f"{k} = {float(metrics[k]):.3g}" for k in (MAX_KEY, MEAN_KEY) if k in metrics)
            raise RolloutPolicyMismatch(
                f"step {step}: {'; '.join(over)} ({values}): the {self.rollout or 'rollout'} engine samples a "
                "different policy from the actor (a weight sync that missed some tensors, e.g. vLLM >= 0.29's "
                "Qwen-VL image-normalisation buffers: set "
                "actor_rollout_ref.rollout.engine_kwargs.vllm.mm_device_do_normalize=false; see docs/design.md, "
                '"verl\'s vLLM rollout on CPU"). Training on these samples would be silently wrong, so the run '
                "stops before the update. Raise the threshold only if the difference is numerical noise of your "
                "dtype."
            )
        return {"rollout_guard/checked": float(seen)}
