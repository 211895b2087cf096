"""Offline evaluation of a model on verl parquet rows: greedy answers scored by the project's rewards.

Prompts are built exactly as verl's agent loop builds them (verl's ``RLHFDataset`` row -> the
processor's chat template -> ``qwen_vl_utils`` images), so a number here means what verl's
``val-core/<data_source>/acc/mean@1`` means.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import torch
from tqdm import tqdm

from anatomy_r1_verl.patches import torchvision_ops

torchvision_ops.apply()


def load_rows(parquet: str, model_dir: str, limit: int | None = None):
    """verl's RLHFDataset over ``parquet`` with the model's tokenizer/processor; rows with raw_prompt."""
    from omegaconf import OmegaConf

    from verl.utils import hf_processor, hf_tokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset

    cfg = OmegaConf.create({"prompt_key": "prompt", "image_key": "images", "max_prompt_length": 1024,
                            "filter_overlong_prompts": False, "truncation": "error",
                            "val_max_samples": limit if limit else -1, "train_max_samples": -1})
    processor = hf_processor(model_dir)
    if processor is None:
        raise RuntimeError(f"verl's hf_processor({model_dir!r}) returned None; run `anatomy-r1 doctor`")
    return RLHFDataset(parquet, hf_tokenizer(model_dir), cfg, processor=processor, max_samples=limit or -1), processor


def encode_prompts(processor, raw_prompts: list, responses: list[str] | None = None):
    """Batch-encode chat prompts (optionally with a target response each), left-padded, with pixels."""
    from qwen_vl_utils import process_vision_info

    texts, images = [], []
    for i, messages in enumerate(raw_prompts):
        text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        if responses is not None:
            text += responses[i] + "<|im_end|>"
        texts.append(text)
        imgs, _ = process_vision_info(messages)
        images += list(imgs or [])
    return processor(text=texts, images=images or None, return_tensors="pt", padding=True)


@torch.no_grad()
def evaluate(model, processor, dataset, batch_size: int = 32, max_new_tokens: int = 64,
             progress: bool = True) -> dict:
    """Greedy accuracy and format rate over a dataset, overall and per question type."""
    from reward_fns import accuracy_reward, format_reward

    tok = processor.tokenizer
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    model.eval()
    acc, fmt, n = 0.0, 0.0, 0
    by_type = defaultdict(lambda: [0.0, 0])
    samples = []
    for start in tqdm(range(0, len(dataset), batch_size), desc="eval", disable=not progress):
        rows = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        enc = encode_prompts(processor, [r["raw_prompt"] for r in rows])
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos,
                             pad_token_id=tok.pad_token_id)
        texts = tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        for row, text in zip(rows, texts):
            extra = row["extra_info"]
            a = accuracy_reward(text, row["reward_model"]["ground_truth"], extra)
            acc += a
            fmt += format_reward(text)
            n += 1
            t = extra.get("question_type") or "all"
            by_type[t][0] += a
            by_type[t][1] += 1
            if len(samples) < 3:
                samples.append(text)
    return {"n": n, "acc": acc / max(n, 1), "format": fmt / max(n, 1),
            "acc_by_type": {k: v[0] / v[1] for k, v in sorted(by_type.items())}, "samples": samples}


def evaluate_dir(model_dir: str, parquet: str, limit: int | None = None, batch_size: int = 32) -> dict:
    from transformers import AutoModelForImageTextToText

    dataset, processor = load_rows(parquet, model_dir, limit)
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32)
    return evaluate(model, processor, dataset, batch_size=batch_size)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="anatomy-r1 eval", description="Greedy accuracy of a model on a parquet split.")
    p.add_argument("model_dir")
    p.add_argument("parquet")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=32)
    a = p.parse_args(argv)
    print(json.dumps(evaluate_dir(a.model_dir, a.parquet, a.limit, a.batch_size), indent=2))
    return 0
