"""Questions per second of ``anatomy-r1 eval --engine hf`` for a Qwen2.5-VL-7B-shaped model on one GPU: the
HF ``generate`` path, batched as the evaluation batches it, timed on random bf16 weights (no hub download: the
shapes are Qwen2.5-VL-7B-Instruct's published config; decoding cost does not depend on the weights' values,
and every response is held at a fixed length with ``min_new_tokens`` so that random weights do not stop early).

Each question is one 448x448 image (1,024 patches, 256 image tokens after the 2x2 merge) inside a ~100-token
prompt, and a response of ``--new-tokens`` tokens. This is the per-GPU baseline the docs' 8-GPU estimate starts
from; vLLM cannot be run where this runs, so its side of the estimate is not measured here.

    python benchmarks/gpu_hf_generate_7b.py [--batches 8 32 64] [--new-tokens 256] [--tiny]   # --tiny: CPU check
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def config(tiny: bool):
    from transformers import Qwen2_5_VLConfig

    if tiny:
        text = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4)
        text.update(num_key_value_heads=2, vocab_size=1000, rope_scaling={"type": "mrope", "mrope_section": [2, 2, 4]})
        vision = dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64)
    else:  # Qwen2.5-VL-7B-Instruct
        text = dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28)
        text.update(num_key_value_heads=4, vocab_size=152064)
        text.update(rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]}, max_position_embeddings=128000)
        vision = dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=3584)
        vision.update(fullatt_block_indexes=[7, 15, 23, 31], window_size=112)
    vision.update(patch_size=14, spatial_merge_size=2, temporal_patch_size=2, in_channels=3)
    cfg = Qwen2_5_VLConfig(text_config=text, vision_config=vision)
    cfg.image_token_id, cfg.vision_start_token_id, cfg.vision_end_token_id = 151655, 151652, 151653
    if tiny:
        cfg.image_token_id, cfg.vision_start_token_id, cfg.vision_end_token_id = 900, 901, 902
    return cfg


def batch(cfg, n: int, device, dtype, grid=(1, 32, 32), text_before=60, text_after=40):
    t, h, w = grid
    n_img = t * h * w // 4
    vocab = cfg.text_config.vocab_size
    gen = torch.Generator().manual_seed(0)
    ids = []
    for _ in range(n):
        before = torch.randint(10, min(vocab, 800), (text_before,), generator=gen).tolist()
        after = torch.randint(10, min(vocab, 800), (text_after,), generator=gen).tolist()
        ids.append(
            before + [cfg.vision_start_token_id] + [cfg.image_token_id] * n_img + [cfg.vision_end_token_id] + after
        )
    input_ids = torch.tensor(ids, device=device)
    patch = 3 * 2 * 14 * 14
    pixel_values = torch.randn(n * t * h * w, patch, generator=gen).to(device, dtype)
    grid_thw = torch.tensor([grid] * n, device=device)
    mm = (input_ids == cfg.image_token_id).long()
    return dict(
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids),
        pixel_values=pixel_values,
        image_grid_thw=grid_thw,
        mm_token_type_ids=mm,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, nargs="*", default=[8, 32, 64])
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tiny", action="store_true", help="a tiny model on the CPU: checks the script, measures nothing")
    a = ap.parse_args()
    if a.tiny:  # this project's CPU machines: PyPI's torchvision ops do not register without CUDA
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from anatomy_r1_verl.patches import torchvision_ops

        torchvision_ops.apply()
    from transformers import Qwen2_5_VLForConditionalGeneration

    device = torch.device("cpu" if a.tiny else "cuda")
    dtype = torch.float32 if a.tiny else torch.bfloat16
    cfg = config(a.tiny)
    cfg._attn_implementation = "sdpa"
    t0 = time.time()
    with device:
        model = Qwen2_5_VLForConditionalGeneration._from_config(cfg, dtype=dtype).eval()
    print(
        f"model: {sum(p.numel() for p in model.parameters()) / 1e9:.2f} B parameters, built in {time.time() - t0:.0f} s"
    )
    results = {"device": torch.cuda.get_device_name() if not a.tiny else "cpu", "new_tokens": a.new_tokens, "rows": []}
    for n in a.batches:
        inputs = batch(cfg, n, device, dtype, grid=(1, 4, 4) if a.tiny else (1, 32, 32))
        kw = dict(max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens, do_sample=False, pad_token_id=0)
        model.generate(**inputs, **{**kw, "max_new_tokens": 4, "min_new_tokens": 4})  # warm-up
        times = []
        for _ in range(a.repeats):
            if not a.tiny:
                torch.cuda.synchronize()
            t = time.perf_counter()
            out = model.generate(**inputs, **kw)
            if not a.tiny:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
            assert out.shape[1] == inputs["input_ids"].shape[1] + a.new_tokens
        mean = sum(times) / len(times)
        sd = (sum((x - mean) ** 2 for x in times) / max(1, len(times) - 1)) ** 0.5
        row = {"batch": n, "prompt_tokens": inputs["input_ids"].shape[1], "s_per_batch": times}
        row.update(questions_per_s=n / mean, questions_per_s_se=n * sd / mean**2 / len(times) ** 0.5)
        row["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30 if not a.tiny else None
        results["rows"].append(row)
        print(json.dumps(row), flush=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
