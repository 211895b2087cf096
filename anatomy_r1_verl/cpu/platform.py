"""verl on a machine without an accelerator: a ``cpu`` platform and the FSDP engines for it.

Registered into verl from the project's ``verl.plugins`` entry point (see :mod:`anatomy_r1_verl.plugin`):

- ``PlatformCPU`` in verl's ``PlatformRegistry`` as ``cpu``. verl probes its built-in platforms (cuda,
  npu, rocm) first, so a GPU machine keeps CUDA; without an accelerator verl's auto-detection lands
  here (``VERL_PLATFORM=cpu`` forces it).
- verl's FSDP engines in its ``EngineRegistry`` for device ``cpu`` (verl registers them for cuda/npu).

Two process-level fixes it needs are runtime patches, kept with the others in :mod:`anatomy_r1_verl.patches`
(``gloo_backend``, ``cpu_offload_policy``).
"""

from __future__ import annotations

import os
import types
from contextlib import contextmanager

import torch

from anatomy_r1_verl.cpu import ENGINE_THREADS_ENV, PLATFORM_NAME, runtime
from anatomy_r1_verl.cpu.threads import install as install_thread_governor


class UnsupportedDeviceCall(AttributeError):
    """verl asked the ``cpu`` platform's device module for a ``torch.cuda``-style call it does not know."""


class _CpuDeviceModule(types.ModuleType):
    """``torch.cpu`` plus explicit stand-ins for the ``torch.cuda``-style calls verl 0.9.1 makes on its device
    module (every ``get_torch_device().<name>`` in verl's source). Any other name raises
    :class:`UnsupportedDeviceCall`, naming the call, instead of silently doing nothing."""

    _ZERO = {"memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved"}
    _NO_OP = {"empty_cache", "ipc_collect", "set_per_process_memory_fraction", "reset_peak_memory_stats"}
    _SPECIAL = {
        "manual_seed": lambda seed: torch.manual_seed(seed),
        "manual_seed_all": lambda seed: torch.manual_seed(seed),
        "get_rng_state": lambda *a, **k: torch.get_rng_state(),
        "set_rng_state": lambda state, *a, **k: torch.set_rng_state(state),
        # verl/utils/flops_counter.py looks the device name up in its table; "CPU" gives 0 peak flops
        "get_device_name": lambda *a, **k: "CPU",
        "mem_get_info": lambda *a, **k: (16 << 30, 24 << 30),
    }

    def __getattr__(self, name):
        if hasattr(torch.cpu, name):
            return getattr(torch.cpu, name)
        if name in self._SPECIAL:
            return self._SPECIAL[name]
        if name in self._ZERO:
            return lambda *a, **k: 0
        if name in self._NO_OP:
            return lambda *a, **k: None
        raise UnsupportedDeviceCall(
            f"cpu platform: verl called torch.<device>.{name}, which has no CPU meaning known to anatomy-r1 "
            f"(anatomy_r1_verl/cpu/platform.py, _CpuDeviceModule). Add it there as a no-op or a stand-in, "
            f"after checking what verl expects from it"
        )


_DEVICE_MODULE = _CpuDeviceModule("anatomy_r1_verl_cpu_device")


def _platform_base():
    from verl.plugin.platform import PlatformBase

    return PlatformBase


class PlatformCPU(_platform_base()):
    """verl platform for CPU-only processes (the project's CPU profile, tests and CI)."""

    device_name = property(lambda self: "cpu")
    vendor_name = property(lambda self: "cpu")
    device_module = property(lambda self: _DEVICE_MODULE)

    def is_available(self):
        return True

    def is_platform_available(self, use_smi_check=False):
        return True  # probed after cuda/npu/rocm, so only chosen when none of them is there

    def current_device(self):
        return "cpu"  # not 0: verl calls tensor.to(get_device_id())

    def device_count(self):
        return 1

    def set_device(self, device_index):
        pass

    def synchronize(self, device_index=None):
        pass

    def manual_seed(self, seed):
        torch.manual_seed(seed)

    def manual_seed_all(self, seed):
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings):
        pass

    def empty_cache(self):
        pass

    def get_device_capability(self, device_index=0):
        return (None, None)

    def communication_backend_name(self):
        return "gloo"

    def visible_devices_envvar(self):
        return "CUDA_VISIBLE_DEVICES"

    @contextmanager
    def nvtx_range(self, msg):
        yield

    def profiler_start(self):
        pass

    def profiler_stop(self):
        pass

    # verl's ResourcePoolManager always asks Ray for "GPU" bundles: the CPU profile starts Ray with
    # logical GPU slots (ray_kwargs.ray_init.num_gpus), one per FSDP rank.
    def ray_resource_name(self):
        return "GPU"

    def ray_noset_envvars(self):
        return []

    def is_ipc_supported(self):
        return False

    def cudart(self):
        return None


_engines_registered = False


def _engine_threads() -> None:
    threads = os.environ.get(ENGINE_THREADS_ENV)
    if threads:
        torch.set_num_threads(max(1, int(threads)))
    runtime.log_once("FSDP engine")
    install_thread_governor(torch.get_num_threads(), "FSDP engine")


def _register_engines() -> None:
    """verl's own FSDP engines, registered for device ``cpu`` through ``EngineRegistry.register``; each sets its
    process's torch threads (``ANATOMY_R1_ENGINE_THREADS``) when it is built."""
    global _engines_registered
    if _engines_registered:
        return
    from verl.workers.engine.base import EngineRegistry
    from verl.workers.engine.fsdp import transformer_impl as ti

    for model_type, base in (("language_model", ti.FSDPEngineWithLMHead), ("value_model", ti.FSDPEngineWithValueHead)):
        cls = type(f"CPU{base.__name__}", (base,), {"__init__": _threaded_init(base), "__module__": __name__})
        EngineRegistry.register(model_type=model_type, backend=["fsdp", "fsdp2"], device=PLATFORM_NAME)(cls)
    _engines_registered = True


def _threaded_init(base):
    def __init__(self, *args, **kwargs):
        _engine_threads()
        base.__init__(self, *args, **kwargs)

    return __init__


def register() -> None:
    """The platform and its engines, through verl's ``PlatformRegistry.register`` and ``EngineRegistry.register``."""
    from verl.plugin.platform import PlatformRegistry

    if PlatformRegistry.get(PLATFORM_NAME) is None:
        PlatformRegistry.register(platform=PLATFORM_NAME)(PlatformCPU)
    _register_engines()


register()  # on import, like verl's decorators (see anatomy_r1_verl.cpu.register)
