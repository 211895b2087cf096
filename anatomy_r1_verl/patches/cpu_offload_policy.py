"""verl's FSDP2 engine offloads the reference model with ``CPUOffloadPolicy(pin_memory=True)``; pinning memory
needs an accelerator, so on a CPU-only process torch raises.

The replacement of ``verl.workers.engine.fsdp.transformer_impl.CPUOffloadPolicy`` passes ``pin_memory`` only when
an accelerator is present: on a GPU machine it is verl's own call.

Upstream: verl 0.9.1 (``workers/engine/fsdp/transformer_impl.py``), torch 2.13.0.
"""

from __future__ import annotations

import torch

from anatomy_r1_verl.patches import record, replace

NAME = "cpu_offload_policy"
TARGET = "verl.workers.engine.fsdp.transformer_impl:CPUOffloadPolicy"


def has_accelerator() -> bool:
    return bool(torch.cuda.is_available()) or bool(getattr(torch, "npu", None) and torch.npu.is_available())


def apply() -> None:
    def make(policy):
        def cpu_offload_policy(pin_memory=True, **kwargs):
            return policy(pin_memory=pin_memory and has_accelerator(), **kwargs)

        return cpu_offload_policy

    replace(NAME, TARGET, make)
    record(NAME, "no pinned memory without an accelerator", "verl 0.9.1", [TARGET])
