"""Batched Hugging Face ``generate`` over verl-built prompts: greedy (one response per question) or K
seeded samples per question at a temperature (mean@K / pass@K).

Runs in this process on the CPU (the tiny model, small models) or one CUDA device: ``anatomy-r1 eval --engine
hf``. The other engines serve the model from verl's rollout replicas (:mod:`.replicas`). Decoding follows the ``hfcpu`` rollout that validates during training
(the same end-of-turn stop, vision special tokens suppressed), so a checkpoint's greedy accuracy here
reproduces the trainer's ``val-core`` number (docs/lora.md, "Evaluation and validation parity")."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm import tqdm

from anatomy_r1_verl.cpu.sampling import vision_token_ids
from anatomy_r1_verl.evaluation.prompts import encode_prompts


@dataclass
class GenerationConfig:
    samples: int = 1  # K responses per question
    temperature: float = 0.0  # 0: greedy (needs samples == 1)
    top_p: float = 1.0
    max_new_tokens: int = 64
    batch_size: int = 32  # questions per generate call
    seed: int = 0  # sampling seed; batch b draws from seed + b

    def validate(self) -> None:
        if self.samples < 1:
            raise ValueError(f"--samples must be >= 1, got {self.samples}")
        if self.temperature < 0:
            raise ValueError(f"--temperature must be >= 0, got {self.temperature}")
        if self.samples > 1 and self.temperature == 0:
            raise ValueError("--samples K > 1 needs --temperature T > 0 (greedy decoding gives K identical answers)")
        if self.batch_size < 1 or self.max_new_tokens < 1:
            raise ValueError("--batch-size and --max-new-tokens must be >= 1")


@torch.no_grad()
def generate(
    model, processor, dataset, cfg: GenerationConfig, progress: bool = True, desc: str = "eval", skip=frozenset()
):
    """Yields ``(row index, row, [K response texts])`` for every row of a verl ``RLHFDataset`` not in ``skip``."""
    cfg.validate()
    tok = processor.tokenizer
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    device = next(model.parameters()).device
    model.eval()
    greedy = cfg.temperature == 0
    kwargs = dict(max_new_tokens=cfg.max_new_tokens, eos_token_id=eos, pad_token_id=tok.pad_token_id)
    suppress = vision_token_ids(model.config)
    if suppress:
        kwargs["suppress_tokens"] = suppress  # as the hfcpu rollout does
    if greedy:
        kwargs.update(do_sample=False)
    else:
        kwargs.update(
            do_sample=True, temperature=cfg.temperature, top_p=cfg.top_p, top_k=0, num_return_sequences=cfg.samples
        )
    todo = [i for i in range(len(dataset)) if i not in skip]
    with tqdm(total=len(todo), desc=desc, unit="q", disable=not progress) as bar:
        for b, start in enumerate(range(0, len(todo), cfg.batch_size)):
            idx = todo[start : start + cfg.batch_size]
            rows = [dataset[i] for i in idx]
            enc = encode_prompts(processor, [r["raw_prompt"] for r in rows]).to(device)
            if not greedy:
                torch.manual_seed(cfg.seed + b)
            out = model.generate(**enc, **kwargs)
            texts = tok.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
            k = 1 if greedy else cfg.samples
            for j, (i, row) in enumerate(zip(idx, rows)):
                yield i, row, texts[j * k : (j + 1) * k]
            bar.update(len(idx))


class HFEngine:
    """``--engine hf``: the model loaded in this process, batched ``generate`` (:func:`generate`)."""

    name = "hf"
    replicas = 1

    def __init__(self, model):
        self.model = model

    def generate(self, dataset, processor, cfg: GenerationConfig, *, skip=frozenset(), progress=True, desc="eval"):
        return generate(self.model, processor, dataset, cfg, progress=progress, desc=desc, skip=skip)

    def close(self) -> None:
        pass
