"""GDQA inside verl: the ``anatomy_r1_agent`` agent loop spreads one GRPO group over question variants.

verl's V1 trainer gives each dataset row one ``uid`` and runs ``rollout.n`` sessions of it (``session_id``
0..n-1); advantages are normalised over the uid. This loop (verl's single-turn loop underneath) gives
session ``i`` of a row that carries variants (``extra_info.variants``, written by
``anatomy-r1 prepare augment``) the variant ``i % K``: its own question wording, instruction and option
order, with the same image. So the G = n rollouts of a group see K phrasings, and the advantage is
normalised across the whole group. The variant's letter and options travel in the output's
``extra_fields`` (:data:`~anatomy_r1_verl.schema.GDQA_GROUND_TRUTH`, ``GDQA_OPTIONS``), which verl's reward manager merges into
``extra_info``: ``reward_fns.combine`` scores each rollout against its own variant.

Off (``anatomy_r1.gdqa.enable=false``), or for a row without variants or not selected by the trainer
(``extra_info[GDQA_ACTIVE]``), it is exactly verl's single-turn loop.

Either way each distinct prompt is prepared once per agent-loop worker and shared by the sessions that ask it
(:class:`~anatomy_r1_verl.agent_loop.prompt_cache.PromptCacheMixin`, ``anatomy_r1.prompt_cache``): the same token ids and
images as verl's per-session preparation.
"""

from __future__ import annotations

import re
from typing import Any

from verl.experimental.agent_loop.agent_loop import register
from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop

from anatomy_r1_verl import trace
from anatomy_r1_verl.agent_loop import AGENT_LOOP
from anatomy_r1_verl.agent_loop.prompt_cache import PromptCacheMixin
from anatomy_r1_verl.config.anatomy_r1 import anatomy_r1_config
from anatomy_r1_verl.gdqa.variants import pick_variant
from anatomy_r1_verl.schema import GDQA_ACTIVE, GDQA_GROUND_TRUTH, GDQA_OPTIONS, GDQA_VARIANT, encode_options, row_key


def variant_messages(raw_prompt: list, variant_prompt: list) -> list:
    """The variant's chat messages in verl's structured form, reusing the row's image content items.

    ``raw_prompt`` is verl's (``<image>`` already replaced by ``{"type": "image", ...}`` items);
    ``variant_prompt`` has ``<image>`` placeholders in its text, in the same order.
    """
    images = [
        item
        for msg in raw_prompt
        if isinstance(msg.get("content"), list)
        for item in msg["content"]
        if isinstance(item, dict) and item.get("type") in ("image", "video")
    ]
    out, used = [], 0
    for msg in variant_prompt:
        content = msg["content"]
        if not isinstance(content, str) or not images:
            out.append(dict(msg))
            continue
        parts = []
        for seg in (s for s in re.split("(<image>)", content) if s):
            if seg == "<image>":
                parts.append(images[used])
                used += 1
            else:
                parts.append({"type": "text", "text": seg})
        out.append({**msg, "content": parts})
    if used != len(images):
        raise ValueError(f"GDQA variant has {used} <image> placeholders but the row has {len(images)} images")
    return out


@register(AGENT_LOOP)
class GDQAAgentLoop(PromptCacheMixin, SingleTurnAgentLoop):
    def _gdqa_enabled(self) -> bool:
        return anatomy_r1_config(self.config).gdqa.enable

    async def run(self, sampling_params: dict[str, Any], **kwargs):
        extra = kwargs.get("extra_info") or {}
        variant = None
        if self._gdqa_enabled() and extra.get(GDQA_ACTIVE, True):
            variant = pick_variant(extra, int(kwargs.get("session_id", 0)))
        if variant is None:
            return await super().run(sampling_params, **kwargs)
        kwargs = dict(kwargs, raw_prompt=variant_messages(list(kwargs["raw_prompt"]), variant["prompt"]))
        output = await super().run(sampling_params, **kwargs)
        output.extra_fields.update(
            {
                GDQA_GROUND_TRUTH: variant["ground_truth"],
                GDQA_OPTIONS: encode_options(variant["options"]),
                GDQA_VARIANT: int(kwargs.get("session_id", 0)),
            }
        )
        if trace.enabled():
            trace.emit(
                "gdqa_rollout",
                uid=str(kwargs.get("uid")),
                session=int(kwargs.get("session_id", 0)),
                ground_truth=variant["ground_truth"],
                prompt_hash=hash(tuple(output.prompt_ids)),
                row=row_key(extra),
            )
        return output
