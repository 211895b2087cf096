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

    from anatomy_r1_verl.patches.gloo_backend import map_backend

    assert getattr(dist.init_process_group, "_anatomy_r1_patch", None) == "gloo_backend", "not wrapped"
    assert map_backend("cpu:gloo,cpu:gloo") == "gloo"
    assert map_backend("cpu:gloo,cuda:nccl") == "cpu:gloo,cuda:nccl"
    assert map_backend(None) is None


def test_self_check_lists_every_registration_and_patch():
    import verl  # noqa: F401

    from anatomy_r1_verl import patches, plugin

    lines = plugin.self_check()
    text = "\n".join(lines)
    for needle in (
        "PlatformRegistry['cpu']",
        "RolloutReplicaRegistry['hfcpu']",
        "_ROLLOUT_REGISTRY",
        "agent loop 'anatomy_r1_agent'",
        "TRAINER_REGISTRY['anatomy_r1']",
        "ar1_asset",
    ):
        assert needle in text, needle
    applied = [ln for ln in lines if ln.startswith("patched")]
    expected = {"gloo_backend", "cpu_offload_policy", "mrope_position_ids"}  # always, on any machine
    assert expected <= set(patches.LEDGER) and len(applied) == len(patches.LEDGER)
    for name in expected:  # each target listed is really replaced by the patch
        for target in patches.LEDGER[name].targets:
            _, _, obj = patches.resolve(target, name)
            assert getattr(obj, "_anatomy_r1_patch", None) == name, target


def test_a_patch_whose_target_moved_fails_loudly(monkeypatch):
    from verl.utils import tensordict_utils

    from anatomy_r1_verl import patches

    monkeypatch.delattr(tensordict_utils, "chunk_tensordict")
    with pytest.raises(patches.PatchTargetMoved, match="verl.utils.tensordict_utils has no 'chunk_tensordict'"):
        patches.resolve("verl.utils.tensordict_utils:chunk_tensordict", "mrope_position_ids")
    with pytest.raises(patches.PatchTargetMoved, match="cannot import verl.no_such_module"):
        patches.replace("mrope_position_ids", "verl.no_such_module:fn", lambda f: f)


def test_unknown_device_call_is_an_error_not_a_silent_no_op():
    from anatomy_r1_verl.cpu.platform import PlatformCPU, UnsupportedDeviceCall

    dev = PlatformCPU().device_module
    assert dev.memory_allocated() == 0 and dev.empty_cache() is None and dev.get_device_name() == "CPU"
    with pytest.raises(UnsupportedDeviceCall, match="torch.<device>.graph_pool_handle"):
        dev.graph_pool_handle()
    assert not hasattr(dev, "graph_pool_handle")  # verl's hasattr probes see "not supported"


def test_importing_the_runtime_does_not_import_data_prep():
    """The runtime (the plugin and everything it registers, the trainer, the commands) never imports data_prep;
    data_prep imports the runtime's schema and synthetic engine, not the other way round."""
    import subprocess
    import sys

    code = (
        "import sys, verl, anatomy_r1_verl.plugin as p; p.self_check(); "
        "import anatomy_r1_verl.commands.cli, anatomy_r1_verl.commands.demo, anatomy_r1_verl.commands.train, "
        "anatomy_r1_verl.gdqa.variants, anatomy_r1_verl.tiny.warmstart, anatomy_r1_verl.evaluation.evaluate, anatomy_r1_verl.commands.evaluate, "
        "anatomy_r1_verl.ascl.difficulty, anatomy_r1_verl.synthetic.generator; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'data_prep'); print(bad); "
        "sys.exit(1 if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]


def test_doctor_sees_a_busy_machine():
    """The load check counts a busy process as a busy core and warns, naming what it costs; idle, no warning."""
    import subprocess
    import sys

    from anatomy_r1_verl.cpu import runtime

    assert runtime.load_warning(0.1, 2) is None
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        seen = runtime.busy_cores(1.0)
    finally:
        busy.kill()
        busy.wait()
    assert seen >= 0.8, seen
    warning = runtime.load_warning(seen, 2)
    assert "cores are already busy" in warning and "Training beside other work" in warning
