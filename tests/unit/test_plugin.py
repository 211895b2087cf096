"""The verl plugin is loaded by `import verl` through the entry point, and fails loudly when it is not."""

import pytest


def test_plugin_loaded_by_verl_entry_point():
    import verl  # noqa: F401
    from anatomy_r1_verl import plugin

    assert plugin.STATUS == {"loaded": True, "error": None}
    plugin.self_check()


def test_registered_into_verl():
    from verl.plugin.platform import PlatformRegistry
    from verl.trainer.ppo.v1 import get_trainer_cls
    from verl.workers.engine.base import EngineRegistry
    from verl.workers.rollout.base import get_rollout_class
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    assert PlatformRegistry.get("cpu").__name__ == "PlatformCPU"
    assert "cpu" in EngineRegistry._engines["language_model"]["fsdp2"]
    assert RolloutReplicaRegistry.get("hfcpu").__name__ == "HFRolloutReplica"
    assert get_rollout_class("hfcpu").__name__ == "HFServerAdapter"
    assert get_trainer_cls("anatomy_r1").__name__ == "AnatomyR1Trainer"


def test_cpu_platform_is_auto_detected_without_accelerator():
    import torch
    from verl.plugin.platform import get_platform

    if torch.cuda.is_available():
        pytest.skip("a GPU machine keeps CUDA")
    assert get_platform().device_name == "cpu"
    assert get_platform().communication_backend_name() == "gloo"


def test_self_check_fails_loudly(monkeypatch):
    from anatomy_r1_verl import plugin

    monkeypatch.setitem(plugin.STATUS, "loaded", False)
    monkeypatch.setitem(plugin.STATUS, "error", "Traceback: boom")
    with pytest.raises(plugin.PluginNotLoaded, match="boom"):
        plugin.self_check()
    monkeypatch.setenv("VERL_USE_EXTERNAL_PLUGINS", "none")
    with pytest.raises(plugin.PluginNotLoaded, match="VERL_USE_EXTERNAL_PLUGINS"):
        plugin.self_check()


def test_gloo_backend_string_is_mapped():
    import torch.distributed as dist

    from anatomy_r1_verl.cpu_platform import map_backend

    assert getattr(dist.init_process_group, "_anatomy_r1", False), "torch.distributed is not wrapped"
    assert map_backend("cpu:gloo,cpu:gloo") == "gloo"
    assert map_backend("cpu:gloo,cuda:nccl") == "cpu:gloo,cuda:nccl"
    assert map_backend(None) is None
