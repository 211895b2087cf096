"""The actor's trainable parameters under ``lora=on`` against full fine-tuning, counted as verl's FSDP engine
builds the actor, and a worked (analytic) estimate of the same for Qwen2.5-VL-7B.

The tiny model is wrapped with peft exactly as verl 0.9.1's engine does (``get_peft_model`` with the composed
recipe's ``lora_rank``, ``lora_alpha``, ``target_modules``, ``exclude_modules``) and counted. For 7B nothing is
downloaded: the counts come from the published config shapes below, so that side is an estimate, and so are the
memory figures derived from it (bytes per parameter of mixed-precision AdamW training, not a measurement).

The step time of the two is measured by ``bench_contention.py`` with two variants, side by side in one run:

    .venv/bin/python benchmarks/bench_lora.py [--recipe demo_cpu]
    .venv/bin/python benchmarks/bench_contention.py --counts 0 --repeat 2 --steps 8 \\
        --variant full:actor_rollout_ref.model.lora_rank=0 --variant lora:lora=on
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Qwen2.5-VL-7B-Instruct's config.json (language model + vision tower), for the estimate
QWEN25VL_7B = {
    "hidden": 3584,
    "intermediate": 18944,
    "layers": 28,
    "kv_dim": 4 * 128,  # 4 key/value heads of 128
    "total_params": 8.29e9,  # language model 7.6 B + vision tower 0.68 B
}


def lora_params_7b(rank: int, targets: list[str]) -> int:
    """A * B parameters of rank-``rank`` adapters on ``targets`` in every language-model layer of 7B."""
    h, i, kv = QWEN25VL_7B["hidden"], QWEN25VL_7B["intermediate"], QWEN25VL_7B["kv_dim"]
    shapes = {
        "q_proj": (h, h),
        "k_proj": (h, kv),
        "v_proj": (h, kv),
        "o_proj": (h, h),
        "gate_proj": (h, i),
        "up_proj": (h, i),
        "down_proj": (i, h),
    }
    return QWEN25VL_7B["layers"] * sum(rank * (a + b) for t, (a, b) in shapes.items() if t in targets)


def count_tiny(recipe: str) -> dict:
    import torch
    from omegaconf import OmegaConf

    from anatomy_r1_verl.patches import torchvision_ops

    torchvision_ops.apply()  # peft imports transformers' models, which import torchvision
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForImageTextToText

    from anatomy_r1_verl.launch.compose import compose

    cfg = compose(recipe, ["lora=on"])
    m = cfg.actor_rollout_ref.model
    model = AutoModelForImageTextToText.from_pretrained(m.path, dtype=torch.float32)
    total = sum(p.numel() for p in model.parameters())
    config = LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=int(m.lora_rank),
        lora_alpha=int(m.lora_alpha),
        target_modules=OmegaConf.to_container(m.target_modules),
        exclude_modules=m.exclude_modules,
        bias="none",
    )
    peft_model = get_peft_model(model, config)
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    adapted = sorted({n.split(".lora_")[0] for n, _ in peft_model.named_parameters() if ".lora_" in n})
    return {
        "model": m.path,
        "rank": int(m.lora_rank),
        "targets": list(config.target_modules),
        "full_trainable": total,
        "lora_trainable": trainable,
        "lora_share": trainable / total,
        "adapted_modules": len(adapted),
        "vision_modules_adapted": sum("visual" in n for n in adapted),
    }


def estimate_7b(rank: int, targets: list[str]) -> dict:
    """Training-state memory of the actor (weights, gradients, AdamW), summed over the FSDP ranks; activations,
    the vLLM engine and its KV cache come on top. Full: bf16 weights and gradients plus fp32 master weights and
    two AdamW moments = 16 bytes a parameter, and a bf16 reference model. LoRA: frozen bf16 base (2 bytes) and
    16 bytes per adapter parameter; no reference model (verl uses the actor with its adapters off)."""
    n = QWEN25VL_7B["total_params"]
    lora = lora_params_7b(rank, targets)
    gib = 2**30
    return {
        "lora_trainable": lora,
        "full_state_gib": round((16 * n + 2 * n) / gib, 1),
        "lora_state_gib": round((2 * n + 16 * lora) / gib, 1),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default="demo_cpu")
    a = p.parse_args()
    tiny = count_tiny(a.recipe)
    est = estimate_7b(tiny["rank"], tiny["targets"])
    print(
        f"tiny ({Path(tiny['model']).name}): trainable {tiny['full_trainable']:,} full vs {tiny['lora_trainable']:,} "
        f"LoRA r={tiny['rank']} ({100 * tiny['lora_share']:.1f} %), {tiny['adapted_modules']} modules adapted, "
        f"{tiny['vision_modules_adapted']} of them in the vision tower"
    )
    print(
        f"Qwen2.5-VL-7B (estimate): {est['lora_trainable'] / 1e6:.1f} M LoRA parameters; actor training state "
        f"~{est['full_state_gib']} GiB full (with a bf16 reference) vs ~{est['lora_state_gib']} GiB LoRA, over all ranks"
    )
    print(json.dumps({"tiny": tiny, "qwen25vl_7b_estimate": est}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
