"""The tiny Qwen2.5-VL: deterministic build, offline reload, and a processor that really makes pixels."""

import hashlib
import os
from pathlib import Path

import pytest
import torch
from PIL import Image

from anatomy_r1_verl.tiny import model as tiny_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    tiny_model.build(out_dir=str(d))
    return d


def _digest(d: Path) -> str:
    return hashlib.sha256((d / "model.safetensors").read_bytes() + (d / "tokenizer.json").read_bytes()).hexdigest()


def test_build_is_deterministic(model_dir, tmp_path):
    tiny_model.build(out_dir=str(tmp_path))
    assert _digest(tmp_path) == _digest(model_dir)


def test_reloads_offline_with_real_classes(model_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor, Qwen2_5_VLForConditionalGeneration

    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    model = AutoModelForImageTextToText.from_pretrained(model_dir)
    assert isinstance(model, Qwen2_5_VLForConditionalGeneration)
    proc = AutoProcessor.from_pretrained(model_dir)
    assert type(proc).__name__ == "Qwen2_5_VLProcessor"
    for tok in tiny_model.SPECIAL_TOKENS:
        assert proc.tokenizer.convert_tokens_to_ids(tok) != proc.tokenizer.unk_token_id
    assert 500_000 < sum(p.numel() for p in model.parameters()) < 2_000_000


def test_verl_processor_emits_pixel_values_and_image_tokens(model_dir):
    """verl's hf_processor() returns None (text-only training, a warning only) when torchvision is broken."""
    from verl.utils import hf_processor

    proc = hf_processor(str(model_dir))
    assert proc is not None, "verl's hf_processor() returned None: images would never reach the model"
    img = Image.new("RGB", (200, 200), (160, 30, 30))  # resized to the model's 84 x 84
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What anatomy?"}]}]
    text = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    enc = proc(text=[text], images=[img], return_tensors="pt")
    side = tiny_model.TinyConfig().image_size // 14  # patches per side after the fixed resize
    assert enc["image_grid_thw"].tolist() == [[1, side, side]]
    assert enc["pixel_values"].shape == (side * side, 3 * 2 * 14 * 14)
    n_image_tokens = int((enc["input_ids"] == proc.tokenizer.convert_tokens_to_ids("<|image_pad|>")).sum())
    assert n_image_tokens == (side // 2) ** 2 == 9


def test_model_forward_uses_the_image(model_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(model_dir).eval()
    proc = AutoProcessor.from_pretrained(model_dir)
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What anatomy?"}]}]
    text = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    logits = []
    for colour in ((160, 30, 30), (40, 160, 60)):
        enc = proc(text=[text], images=[Image.new("RGB", (84, 84), colour)], return_tensors="pt")
        with torch.no_grad():
            logits.append(model(**enc).logits[0, -1])
    assert not torch.allclose(logits[0], logits[1]), "the output does not depend on the image"


def test_image_size_must_fit_patches():
    with pytest.raises(ValueError, match="multiple of 28"):
        tiny_model.build(tiny_model.TinyConfig(image_size=90))
