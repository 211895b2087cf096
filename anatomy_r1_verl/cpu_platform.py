"""verl on a machine without an accelerator: a ``cpu`` platform and the FSDP engines for it.

Registered into verl from the project's ``verl.plugins`` entry point (see :mod:`anatomy_r1_verl.plugin`):

- ``PlatformCPU`` in verl's ``PlatformRegistry`` as ``cpu``. verl probes its built-in platforms (cuda,
  npu, rocm) first, so a GPU machine keeps CUDA; without an accelerator verl's auto-detection lands
  here (``VERL_PLATFORM=cpu`` forces it).
- verl's FSDP engines in its ``EngineRegistry`` for device ``cpu`` (verl registers them for cuda/npu).
- Two process-level fixes that only act without an accelerator: verl asks torch.distributed for the
  backend string ``cpu:gloo,cpu:gloo`` (rejected by torch; mapped to ``gloo``), and FSDP2's
  ``CPUOffloadPolicy(pin_memory=True)`` for the reference model (pinning needs an accelerator).
"""

from __future__ import annotations

import logging
import types
from contextlib import contextmanager

import torch

log = logging.getLogger(__name__)

PLATFORM_NAME = "cpu"


def has_accelerator() -> bool:
    return bool(torch.cuda.is_available()) or bool(getattr(torch, "npu", None) and torch.npu.is_available())


class _CpuDeviceModule(types.ModuleType):
    """``torch.cpu`` plus no-op stand-ins for the ``torch.cuda``-style calls verl makes on its device module."""

    _ZERO = {"memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved"}
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
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self._ZERO:
            return lambda *a, **k: 0
        log.debug("cpu platform: no-op for torch.<device>.%s", name)
        return lambda *a, **k: None


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


def map_backend(backend):
    """verl builds ``cpu:gloo,<device>:<backend>`` (``utils/distributed.py``); on CPU that is
    ``cpu:gloo,cpu:gloo``, which torch rejects: it means ``gloo``."""
    if isinstance(backend, str) and backend.replace(" ", "") == "cpu:gloo,cpu:gloo":
        return "gloo"
    return backend


def _gloo_backend_fix():
    dist = torch.distributed
    if getattr(dist.init_process_group, "_anatomy_r1", False):
        return
    original = dist.init_process_group

    def init_process_group(*args, backend=None, **kwargs):
        return original(*args, backend=map_backend(backend), **kwargs)

    init_process_group._anatomy_r1 = True
    dist.init_process_group = init_process_group


def _register_engines():
    from verl.workers.engine.base import EngineRegistry
    from verl.workers.engine.fsdp import transformer_impl as ti

    registered = EngineRegistry._engines
    for model_type, cls in (("language_model", ti.FSDPEngineWithLMHead), ("value_model", ti.FSDPEngineWithValueHead)):
        if PLATFORM_NAME not in registered.get(model_type, {}).get("fsdp2", {}):
            EngineRegistry.register(model_type=model_type, backend=["fsdp", "fsdp2"], device=PLATFORM_NAME)(cls)

    policy = getattr(ti, "CPUOffloadPolicy", None)
    if policy is not None and not getattr(policy, "_anatomy_r1", False):

        def cpu_offload_policy(pin_memory=True, **kwargs):
            return policy(pin_memory=pin_memory and has_accelerator(), **kwargs)

        cpu_offload_policy._anatomy_r1 = True
        ti.CPUOffloadPolicy = cpu_offload_policy


def register() -> None:
    from verl.plugin.platform import PlatformRegistry

    if PlatformRegistry.get(PLATFORM_NAME) is None:
        PlatformRegistry.register(platform=PLATFORM_NAME)(PlatformCPU)
    _gloo_backend_fix()
    _register_engines()
