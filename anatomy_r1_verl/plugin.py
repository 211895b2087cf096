"""The project's verl plugin, loaded by ``import verl`` in every process (driver and Ray workers).

It is declared in setup.py under the entry-point group ``verl.plugins``, which verl 0.9.1 loads on import
(``verl/__init__.py``) but whose failures it swallows at DEBUG level. So loading records its outcome in
:data:`STATUS`, and :func:`self_check` (called by the CLI before training, by the rollout server and by
``anatomy-r1 doctor``) raises loudly when it did not load.

Loading applies the runtime patches (:mod:`anatomy_r1_verl.patches`, each listed in its ledger) and calls each
subpackage's ``register()``, which registers through verl's own registration functions:

- :mod:`anatomy_r1_verl.cpu`: the ``cpu`` platform, verl's FSDP engines for it, the ``hfcpu`` rollout;
- :mod:`anatomy_r1_verl.agent_loop`: the ``anatomy_r1_agent`` agent loop;
- :mod:`anatomy_r1_verl.trainer`: the ``anatomy_r1`` V1 trainer mode and its ``reward_metrics`` hook;
- :mod:`anatomy_r1_verl.ascl`, :mod:`anatomy_r1_verl.gdqa`: the method hooks ``curriculum`` and ``gdqa``;
- the typed ``anatomy_r1`` config schema (:mod:`anatomy_r1_verl.config.anatomy_r1`) in Hydra's ConfigStore;
- the ``${ar1_asset:NAME}`` config resolver for the shipped tiny model (:mod:`anatomy_r1_verl.config.assets`).

:data:`REGISTERED` and ``patches.LEDGER`` say what was done in this process; ``anatomy-r1 doctor`` prints both.
"""

from __future__ import annotations

import os
import traceback

STATUS: dict = {"loaded": False, "error": None}
REGISTERED: list[str] = []


def _load() -> None:
    from anatomy_r1_verl.patches import torchvision_ops

    torchvision_ops.apply()  # before anything imports torchvision
    from anatomy_r1_verl import agent_loop, ascl, cpu, gdqa, patches, trace, trainer
    from anatomy_r1_verl.config import assets
    from anatomy_r1_verl.config.anatomy_r1 import register_schema

    register_schema()  # before Hydra composes a recipe, also under `python -m verl.trainer.main_ppo`
    REGISTERED[:] = (
        cpu.register()
        + agent_loop.register()
        + trainer.register()
        + ascl.register()
        + gdqa.register()
        + assets.register()
        + ["config schema 'anatomy_r1' = anatomy_r1_verl.config.anatomy_r1.AnatomyR1Config (ConfigStore)"]
    )
    patches.apply_all()
    trace.emit("plugin_loaded")


try:
    _load()
    STATUS["loaded"] = True
except Exception:  # recorded for self_check; verl would swallow it
    STATUS["error"] = traceback.format_exc()


class PluginNotLoaded(RuntimeError):
    pass


def self_check() -> list[str]:
    """Raise unless the plugin is registered in verl in this process; returns one line per registration and
    per applied runtime patch."""
    import importlib.metadata as md

    import verl  # noqa: F401  (loads the entry points)

    names = {ep.value for ep in md.entry_points(group="verl.plugins")}
    if __name__ not in names:
        raise PluginNotLoaded(
            f"{__name__} is not declared under the 'verl.plugins' entry point; reinstall the "
            "package (pip install -e .) so verl loads it in every Ray worker"
        )
    policy = os.getenv("VERL_USE_EXTERNAL_PLUGINS", "auto").strip().lower()
    if policy == "none":
        raise PluginNotLoaded("VERL_USE_EXTERNAL_PLUGINS=none disables verl's plugin loading; unset it")
    if not STATUS["loaded"]:
        raise PluginNotLoaded(f"{__name__} failed to load:\n{STATUS['error']}")
    from verl.experimental.agent_loop.agent_loop import _agent_loop_registry
    from verl.plugin.platform import PlatformRegistry
    from verl.trainer.ppo.v1.trainer_base import TRAINER_REGISTRY
    from verl.workers.rollout.base import get_rollout_class
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    from anatomy_r1_verl import patches
    from anatomy_r1_verl.agent_loop import AGENT_LOOP
    from anatomy_r1_verl.cpu import PLATFORM_NAME, ROLLOUT_NAME
    from anatomy_r1_verl.trainer import TRAINER_MODE

    if PlatformRegistry.get(PLATFORM_NAME) is None:
        raise PluginNotLoaded(f"platform {PLATFORM_NAME!r} missing from verl's PlatformRegistry")
    RolloutReplicaRegistry.get(ROLLOUT_NAME)
    get_rollout_class(ROLLOUT_NAME, "async")
    if AGENT_LOOP not in _agent_loop_registry:  # read only: verl has no public lookup
        raise PluginNotLoaded(f"agent loop {AGENT_LOOP!r} missing from verl's agent-loop registry")
    if TRAINER_MODE not in TRAINER_REGISTRY:
        raise PluginNotLoaded(f"trainer mode {TRAINER_MODE!r} missing from verl's TRAINER_REGISTRY")
    return [f"registered  {r}" for r in REGISTERED] + [f"patched     {p}" for p in patches.describe()]
