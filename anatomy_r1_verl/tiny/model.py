"""A tiny Qwen2.5-VL built offline and deterministically: the CPU default model.

Same model class (``Qwen2_5_VLForConditionalGeneration``), processor (``Qwen2_5_VLProcessor``), chat
template and special tokens as the real Qwen2.5-VL, so the CPU path runs the code the GPU path runs.
Only the sizes differ, and the tokenizer is a byte-level BPE trained here on the task's vocabulary
(the real Qwen vocabulary would make the embedding table a hundred times the rest of the model).

Images are resized to ``image_size`` x ``image_size`` (min = max pixels): at 84 px, 14 px patches merged
2x2 give a 3x3 grid of image tokens, one per cell of the synthetic scenes.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass, field

from anatomy_r1_verl.patches import torchvision_ops
from anatomy_r1_verl.synthetic.scene import POSITIONS as GRID_POSITIONS

torchvision_ops.apply()

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Qwen2.5-VL's chat template, reduced to single images and text (default system prompt included).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# the synthetic grid's cell names, then SSG-VQA's spellings of the edge cells (word-level vocabulary, in this order)
POSITIONS = [
    *GRID_POSITIONS,
    "top-middle",
    "middle-left",
    "middle-right",
    "bottom-middle",
]
INSTRUMENTS = ["grasper", "hook", "scissors", "clipper", "bipolar", "irrigator"]
COLOURS = ["red", "green", "yellow", "pink", "white", "blue", "purple", "grey", "orange", "brown", "black", "dark"]


@dataclass
class TinyConfig:
    text_hidden: int = 128
    text_layers: int = 3
    text_heads: int = 4
    kv_heads: int = 2
    vision_hidden: int = 64
    vision_depth: int = 2
    vision_heads: int = 2
    vocab_size: int = 1024
    rope_theta: float = 10.0
    image_size: int = 84
    seed: int = 0
    extra: dict = field(default_factory=dict)


def _corpus() -> list[str]:
    from anatomy_r1_verl.schema import ANATOMY_CLASSES, DEFAULT_INSTRUCTION, LETTERS

    lines = [DEFAULT_INSTRUCTION, "Anatomy Options:", "You are a helpful assistant."]
    names = (
        list(ANATOMY_CLASSES)
        + [a.lower() for a in ANATOMY_CLASSES]
        + [a.lower().replace(" ", "_") for a in ANATOMY_CLASSES]
    )
    for pos in POSITIONS:
        for name in ANATOMY_CLASSES:
            lines.append(f"What anatomy is at the {pos} of the frame?")
            lines.append(f"<think>The {pos} is {name}.</think> <answer>{LETTERS[len(name) % 4]}</answer>")
    for ins in INSTRUMENTS:
        for col in COLOURS:
            lines.append(f"What is the name of the {col} thing left of the {ins}? above below right of both and")
            lines.append(
                f"There is an anatomy above the {ins}; what is its name? Which anatomy is under the {col} one?"
            )
    for i, name in enumerate(names):
        lines.append(f"{LETTERS[i % 4]}. {name}\n{LETTERS[(i + 1) % 4]}. {names[(i + 3) % len(names)]}")
    lines.append(" ".join("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,:;?!()[]{}<>/-_'\"|"))
    return lines * 3


def build_tokenizer(vocab_size: int = 1024):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_corpus(), trainer)
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        model_max_length=4096,
    )
    hf.chat_template = CHAT_TEMPLATE
    return hf


def build_processor(tokenizer, image_size: int):
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    px = image_size * image_size
    image_processor = Qwen2VLImageProcessor(
        min_pixels=px, max_pixels=px, patch_size=14, merge_size=2, temporal_patch_size=2
    )
    return Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    )


def build(cfg: TinyConfig | None = None, out_dir: str | None = None):
    """Build (and optionally save) the tiny model and its processor. Same config, same bytes."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    cfg = cfg or TinyConfig()
    if cfg.image_size % 28:
        raise ValueError(f"image_size {cfg.image_size} must be a multiple of 28 (14 px patches merged 2x2)")
    torch.manual_seed(cfg.seed)
    tok = build_tokenizer(cfg.vocab_size)
    proc = build_processor(tok, cfg.image_size)
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    head_dim = cfg.text_hidden // cfg.text_heads
    half = head_dim // 2
    t_sec = half // 4
    h_sec = (half - t_sec) // 2
    mrope = [t_sec, h_sec, half - t_sec - h_sec]  # must sum to head_dim / 2
    config = Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=len(tok),
            hidden_size=cfg.text_hidden,
            intermediate_size=cfg.text_hidden * 2,
            num_hidden_layers=cfg.text_layers,
            num_attention_heads=cfg.text_heads,
            num_key_value_heads=cfg.kv_heads,
            max_position_embeddings=4096,
            rope_parameters={"rope_type": "default", "rope_theta": cfg.rope_theta, "mrope_section": mrope},
            bos_token_id=ids["<|endoftext|>"],
            eos_token_id=ids["<|im_end|>"],
            pad_token_id=ids["<|endoftext|>"],
            tie_word_embeddings=True,
        ),
        vision_config=dict(
            depth=cfg.vision_depth,
            hidden_size=cfg.vision_hidden,
            intermediate_size=cfg.vision_hidden * 2,
            num_heads=cfg.vision_heads,
            out_hidden_size=cfg.text_hidden,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
            window_size=112,
            fullatt_block_indexes=[cfg.vision_depth - 1],
        ),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
        **cfg.extra,
    )
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    if out_dir:
        save(model, proc, out_dir, {"tiny_config": asdict(cfg)})
    return model, proc


def save(model, processor, out_dir: str, info: dict | None = None) -> None:
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    if info is not None:
        with open(os.path.join(out_dir, "anatomy_r1_model.json"), "w") as f:
            json.dump(info, f, indent=2, sort_keys=True)


def ensure_built(out_dir: str, cfg: TinyConfig | None = None) -> str:
    """Build the random-init tiny model into ``out_dir`` unless a model is already there."""
    if not os.path.exists(os.path.join(out_dir, "config.json")):
        build(cfg, out_dir)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="anatomy-r1 build-model", description="Build the tiny random-init Qwen2.5-VL offline into a directory."
    )
    p.add_argument("out_dir")
    for f, v in asdict(TinyConfig()).items():
        if f != "extra":
            p.add_argument(f"--{f.replace('_', '-')}", type=type(v), default=v)
    a = vars(p.parse_args(argv))
    out = a.pop("out_dir")
    model, _ = build(TinyConfig(**a), out)
    print(f"built {out}: {sum(x.numel() for x in model.parameters()):,} parameters")
    return 0
