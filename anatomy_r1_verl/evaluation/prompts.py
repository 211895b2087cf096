"""Prompts exactly as verl's agent loop builds them: verl's ``RLHFDataset`` row -> the processor's chat
template -> ``qwen_vl_utils`` images, so an offline number means what verl's ``val-core/<data_source>/acc``
means."""

from __future__ import annotations

from anatomy_r1_verl.patches import torchvision_ops

torchvision_ops.apply()


def load_rows(
    parquet: str,
    model_dir: str,
    limit: int | None = None,
    max_prompt_length: int = 1024,
    shuffle: bool = False,
    seed: int | None = None,
):
    """verl's RLHFDataset over ``parquet`` with the model's tokenizer/processor (rows carry ``raw_prompt``),
    and the processor. ``limit`` keeps the first N rows, or with ``shuffle`` the N rows verl's trainer draws
    for ``data.val_max_samples=N`` under ``data.shuffle`` and ``data.seed`` (verl's own selection)."""
    from omegaconf import OmegaConf
    from verl.utils import hf_processor, hf_tokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset

    cfg = OmegaConf.create(
        {
            "prompt_key": "prompt",
            "image_key": "images",
            "max_prompt_length": max_prompt_length,
            "filter_overlong_prompts": False,
            "truncation": "error",
            "val_max_samples": limit if limit else -1,
            "train_max_samples": -1,
            "shuffle": bool(shuffle),
            "seed": seed,
        }
    )
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


def request_inputs(processor, messages: list) -> tuple[list[int], list]:
    """One question as a rollout server takes it (token ids in, token ids out): the prompt's token ids with
    each image's pad run expanded, and its images (verl's agent loop sends the same pair)."""
    from qwen_vl_utils import process_vision_info

    images, _ = process_vision_info(messages)
    enc = encode_prompts(processor, [messages])
    return enc["input_ids"][0].tolist(), list(images or [])
