"""Compose a recipe (:mod:`.recipes`: a YAML delta over the package's base config) and its command-line overrides
into verl's full config, with the typed ``anatomy_r1`` block checked
(:func:`anatomy_r1_verl.config.anatomy_r1.anatomy_r1_config`).

``anatomy-r1 train RECIPE [hydra overrides...]`` composes exactly what ``python -m verl.trainer.main_ppo
--config-path=<recipe dir> --config-name=<recipe>`` would; any verl key can be overridden as usual.
"""

from __future__ import annotations

import os

from omegaconf import DictConfig, open_dict

from anatomy_r1_verl.config import assets  # noqa: F401  (registers the ${ar1_asset:NAME} resolver)
from anatomy_r1_verl.config.anatomy_r1 import ConfigError, anatomy_r1_config, register_schema
from anatomy_r1_verl.launch.recipes import PACKAGE_DIR, RecipeError, resolve_recipe

CONFIG_DIR = PACKAGE_DIR / "config"


def compose(recipe: str, overrides: list[str] | None = None) -> DictConfig:
    """The full verl config of a recipe with command-line overrides (no Ray, no model loading)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException

    path = resolve_recipe(recipe)
    register_schema()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(path.parent), version_base=None):
            cfg = hydra_compose(config_name=path.stem, overrides=list(overrides or []))
    except HydraException as e:
        cause = f" ({e.__cause__})" if e.__cause__ else ""
        raise RecipeError(
            f"{path}: {e}{cause}. A key that verl's config does not have needs a leading '+' (+section.key=value)"
        ) from e
    with open_dict(cfg):
        cfg.anatomy_r1.recipe = str(path)
        cfg.anatomy_r1.output_dir = os.path.abspath(os.path.expanduser(cfg.anatomy_r1.output_dir))
    try:
        anatomy_r1_config(cfg)  # types, ranges, choices and unknown keys of the anatomy_r1 block, once
    except ConfigError as e:
        raise RecipeError(f"{path}: {e}") from e
    return cfg


def trainer_kind(cfg: DictConfig) -> str:
    """``ppo`` (verl's main_ppo: every RL recipe) or ``sft`` (verl's SFT trainer), from ``anatomy_r1.trainer``."""
    try:
        kind = anatomy_r1_config(cfg).trainer
    except ConfigError as e:
        raise RecipeError(str(e)) from e
    return kind


def model_key(cfg: DictConfig) -> str:
    return "model.path" if trainer_kind(cfg) == "sft" else "actor_rollout_ref.model.path"
