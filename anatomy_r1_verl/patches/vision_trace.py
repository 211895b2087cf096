"""Tracing only (``ANATOMY_R1_TRACE_DIR`` set): an event per Qwen2.5-VL vision-tower forward pass, so the
integration tests can prove that images reach the policy, with and without gradients.

Wraps ``Qwen2_5_VisionTransformerPretrainedModel.forward`` (transformers 5.x); applied only when tracing is on,
and then it changes nothing but the trace.

Upstream: transformers 5.5-5.10.
"""

from __future__ import annotations

from anatomy_r1_verl import trace
from anatomy_r1_verl.patches import record, resolve

NAME = "vision_trace"
TARGET = "transformers.models.qwen2_5_vl.modeling_qwen2_5_vl:Qwen2_5_VisionTransformerPretrainedModel"


def apply(max_events: int = 8) -> None:
    if not trace.enabled():
        return
    import torch

    _, _, cls = resolve(TARGET, NAME)
    if getattr(cls.forward, "_anatomy_r1_patch", None) == NAME:
        return
    original = cls.forward
    counts = {True: 0, False: 0}

    def forward(self, hidden_states, grid_thw=None, *args, **kwargs):
        grad = torch.is_grad_enabled()
        if counts[grad] < max_events:
            counts[grad] += 1
            trace.emit(
                "vision_forward",
                grad=grad,
                pixel_values=list(hidden_states.shape),
                grid_thw=grid_thw.tolist() if grid_thw is not None else None,
            )
        return original(self, hidden_states, grid_thw, *args, **kwargs)

    forward._anatomy_r1_patch = NAME
    cls.forward = forward
    record(NAME, "trace event per vision forward", "transformers 5.x", [TARGET + ".forward"])
