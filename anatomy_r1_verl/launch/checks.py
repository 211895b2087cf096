"""What a user would otherwise find out an hour into a cluster job, checked before verl starts: the plugin
loaded, the reward's components resolvable, the data files and the model there, a processor that keeps the
images, a resumable checkpoint tracker.
"""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from anatomy_r1_verl.launch.compose import RecipeError, model_key


def _check_reward(cfg: DictConfig) -> None:
    if OmegaConf.select(cfg, "custom_reward_function.path", default=None):
        raise RecipeError(
            "top-level `custom_reward_function.*` is silently ignored by verl 0.9.1: "
            "use `reward.custom_reward_function.{path,name,reward_kwargs}`"
        )
    path = OmegaConf.select(cfg, "reward.custom_reward_function.path", default=None)
    if path and not str(path).startswith("pkg://") and not os.path.isfile(path):
        raise RecipeError(f"reward.custom_reward_function.path: no such file {path!r}")
    if path == "pkg://reward_fns.combine":
        # resolve every weighted component now, not in a Ray reward worker an hour into the job
        from reward_fns.registry import components

        kwargs = "reward.custom_reward_function.reward_kwargs"
        try:
            components(
                OmegaConf.select(cfg, f"{kwargs}.weights", default=None),
                OmegaConf.select(cfg, f"{kwargs}.components", default=None),
            )
        except ValueError as e:
            raise RecipeError(str(e)) from e


def _check_files(cfg: DictConfig) -> None:
    for key in ("data.train_files", "data.val_files"):
        val = OmegaConf.select(cfg, key, default=None)
        files = [val] if isinstance(val, str) else list(val or [])
        for f in files:
            if "://" not in str(f) and not os.path.isfile(os.path.expanduser(str(f))):
                raise RecipeError(
                    f"{key}: no such file {f!r}; build it with `anatomy-r1 prepare ...` or override the key"
                )
    key = model_key(cfg)
    model = OmegaConf.select(cfg, key)
    local = os.path.expanduser(str(model))
    if (os.path.isabs(local) or os.path.exists(local)) and not os.path.isfile(os.path.join(local, "config.json")):
        raise RecipeError(f"{key}: no model at {model!r} (no config.json)")


def check_processor(model_path: str) -> None:
    """A multimodal model must get a processor from verl, or training silently becomes text-only."""
    from transformers import AutoConfig
    from verl.utils import hf_processor

    if not hasattr(AutoConfig.from_pretrained(model_path), "vision_config"):
        return
    if hf_processor(model_path) is None:
        raise RecipeError(
            f"verl's hf_processor({model_path!r}) returned None: images would be dropped and "
            "training would be text-only. Run `anatomy-r1 doctor` (torchvision?)"
        )


def _check_resume(cfg: DictConfig) -> None:
    """verl rewrites ``latest_checkpointed_iteration.txt`` in place after each complete save; a kill in that
    instant leaves it empty, and verl's resume would stop on ``int('')``. Say what to do instead."""
    if OmegaConf.select(cfg, "trainer.resume_mode", default="auto") != "auto":
        return
    ckpt_dir = str(OmegaConf.select(cfg, "trainer.default_local_dir", default="") or "")
    tracker = os.path.join(ckpt_dir, "latest_checkpointed_iteration.txt")
    if not os.path.isfile(tracker):
        return
    text = Path(tracker).read_text().strip()
    if not text.isdigit() or not os.path.isdir(os.path.join(ckpt_dir, f"global_step_{text}")):
        done = sorted(
            (
                int(d.name.split("_")[-1])
                for d in Path(ckpt_dir).glob("global_step_*")
                if d.name.split("_")[-1].isdigit()
            ),
            reverse=True,
        )
        raise RecipeError(
            f"{tracker} reads {text!r}, not a saved step (a kill while verl wrote it?). Write the "
            f"last complete step into it (saved folders: {done or 'none'}; a folder is complete "
            "when it has data.pt) or delete it to start from scratch"
        )


def preflight(cfg: DictConfig) -> None:
    from anatomy_r1_verl.plugin import self_check

    self_check()
    _check_reward(cfg)
    _check_files(cfg)
    _check_resume(cfg)
    model = os.path.expanduser(str(OmegaConf.select(cfg, model_key(cfg))))
    if os.path.isdir(model):
        check_processor(model)
