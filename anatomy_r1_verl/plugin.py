"""The project's verl plugin, loaded by ``import verl`` in every process (driver and Ray workers).

It is declared in setup.py under the entry-point group ``verl.plugins``, which verl 0.9.1 loads on
import (``verl/__init__.py``) but whose failures it swallows at DEBUG level. So loading records its
outcome in :data:`STATUS`, and :func:`self_check` (called by the CLI before training, by the rollout
server and by ``anatomy-r1 doctor``) raises loudly when it did not load.

What it registers (nothing in verl's source is edited):
- :mod:`.tv_compat`: torchvision importable on the CPU build of torch (else Qwen2.5-VL's processor is None);
- :mod:`.cpu_platform`: the ``cpu`` platform and FSDP engines for it;
- :mod:`.hf_rollout`: the ``hfcpu`` rollout backend;
- :mod:`.trainer`: the ``anatomy_r1`` V1 trainer mode;
- :mod:`.agent_loop`: the ``anatomy_r1_agent`` agent loop (GDQA);
- :mod:`.verl_fixes`: the mRoPE position-ids workaround;
- when tracing is on (:mod:`.trace`), an event per vision-tower forward pass.
"""

from __future__ import annotations

import os
import traceback

STATUS: dict = {"loaded": False, "error": None}


def _trace_vision_tower(max_events: int = 8) -> None:
    from . import trace

    if not trace.enabled():
        return
    import torch
    from transformers.models.qwen2_5_vl import modeling_qwen2_5_vl as mq

    cls = mq.Qwen2_5_VisionTransformerPretrainedModel
    if getattr(cls, "_anatomy_r1_traced", False):
        return
    original = cls.forward
    counts = {True: 0, False: 0}

    def forward(self, hidden_states, grid_thw=None, *args, **kwargs):
        grad = torch.is_grad_enabled()
        if counts[grad] < max_events:
            counts[grad] += 1
            trace.emit("vision_forward", grad=grad, pixel_values=list(hidden_states.shape),
                       grid_thw=grid_thw.tolist() if grid_thw is not None else None)
        return original(self, hidden_states, grid_thw, *args, **kwargs)

    cls.forward = forward
    cls._anatomy_r1_traced = True


AGENT_LOOP = "anatomy_r1_agent"


def _register_agent_loop() -> None:
    """verl instantiates an agent loop from its ``_target_`` on first use: registering the name here keeps
    ``import verl`` light (the class, :class:`.agent_loop.GDQAAgentLoop`, imports verl's agent loops)."""
    from verl.experimental.agent_loop import agent_loop

    agent_loop._agent_loop_registry.setdefault(AGENT_LOOP, {"_target_": "anatomy_r1_verl.agent_loop.GDQAAgentLoop"})


def _load() -> None:
    from . import tv_compat

    tv_compat.install()
    from . import assets, cpu_platform, hf_rollout, trace, trainer, verl_fixes  # noqa: F401 (assets: resolver)

    cpu_platform.register()
    _register_agent_loop()
    hf_rollout.register()
    trainer.register()
    verl_fixes.install()
    _trace_vision_tower()
    trace.emit("plugin_loaded")


try:
    _load()
    STATUS["loaded"] = True
except Exception:  # recorded for self_check; verl would swallow it
    STATUS["error"] = traceback.format_exc()


class PluginNotLoaded(RuntimeError):
    pass


def self_check() -> None:
    """Raise unless the plugin is registered in verl in this process."""
    import importlib.metadata as md

    import verl  # noqa: F401  (loads the entry points)

    names = {ep.value for ep in md.entry_points(group="verl.plugins")}
    if __name__ not in names:
        raise PluginNotLoaded(f"{__name__} is not declared under the 'verl.plugins' entry point; reinstall the "
                              "package (pip install -e .) so verl loads it in every Ray worker")
    policy = os.getenv("VERL_USE_EXTERNAL_PLUGINS", "auto").strip().lower()
    if policy == "none":
        raise PluginNotLoaded("VERL_USE_EXTERNAL_PLUGINS=none disables verl's plugin loading; unset it")
    if not STATUS["loaded"]:
        raise PluginNotLoaded(f"{__name__} failed to load:\n{STATUS['error']}")
    from verl.plugin.platform import PlatformRegistry
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    from .cpu_platform import PLATFORM_NAME
    from .hf_rollout import ROLLOUT_NAME

    if PlatformRegistry.get(PLATFORM_NAME) is None:
        raise PluginNotLoaded(f"platform {PLATFORM_NAME!r} missing from verl's PlatformRegistry")
    RolloutReplicaRegistry.get(ROLLOUT_NAME)
