"""GRPO headroom probe in plain torch: how fast can on-policy GRPO move a model's greedy val accuracy?

A diagnostic, not the trainer. It runs the loss verl's GRPO runs in the demo recipe (one update per
batch, so the policy ratio is 1 and clipping never acts; group-normalised rewards; token-mean over
response tokens) on one process without Ray, so a setting can be tried in a minute instead of five
(about 1 s per 8 x 8 step on 2 CPU cores, against 4-4.6 s through verl). What it finds still has to
be confirmed through verl with ``bench_grpo_cpu.py``. KL to a reference is left out (the demo's
coefficient is 0.001).

    .venv/bin/anatomy-r1 prepare synthetic --out outputs/probe_data --seed 1 --train 4096 --val 256 --test 0
    .venv/bin/python benchmarks/probe_grpo_torch.py --data outputs/probe_data --lr 1e-4 --steps 60

Options select the learning rate, batch and group size, Adam's eps, the reward weights (including the
``consistency`` component), the trained parameters (``--only REGEX``) and a small fixed train subset
(``--train-limit N``: can GRPO at least fit N questions?). It prints the sampled train accuracy every
5 steps and the greedy val accuracy every ``--eval-every`` steps, then a JSON line with the curve.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anatomy_r1_verl.patches import torchvision_ops as tv_compat  # noqa: E402

tv_compat.install()

from anatomy_r1_verl.evaluation.evaluate import evaluate  # noqa: E402
from anatomy_r1_verl.evaluation.prompts import encode_prompts, load_rows  # noqa: E402
from anatomy_r1_verl.tiny.assets import DEFAULT_MODEL, asset_path  # noqa: E402
from reward_fns import compute_score  # noqa: E402
from reward_fns.registry import DEFAULT_WEIGHTS  # noqa: E402


def repeat_batch(enc: dict, n: int) -> dict:
    """Each prompt of a processor batch n times in a row (images included), as verl's rollout.n does."""
    sizes = enc["image_grid_thw"].prod(-1).tolist()
    pixels = torch.split(enc["pixel_values"], sizes)
    out = {k: v.repeat_interleave(n, 0) for k, v in enc.items() if k not in ("pixel_values", "image_grid_thw")}
    out["pixel_values"] = torch.cat([p for p in pixels for _ in range(n)])
    out["image_grid_thw"] = enc["image_grid_thw"].repeat_interleave(n, 0)
    return out


def score_responses(tok, resp, eos: int, rows: list, n: int, weights: dict) -> tuple:
    """Mask of each sampled response (up to and including its EOS) and its reward dict (``compute_score``);
    response ``i`` answers ``rows[i // n]``."""
    mask = torch.zeros_like(resp)
    outs = []
    for i in range(resp.shape[0]):
        ids = resp[i].tolist()
        length = ids.index(eos) + 1 if eos in ids else len(ids)
        mask[i, :length] = 1
        row = rows[i // n]
        outs.append(
            compute_score(
                "synthetic_scene",
                tok.decode(ids[:length], skip_special_tokens=True),
                row["reward_model"]["ground_truth"],
                row["extra_info"],
                weights=weights,
            )
        )
    return mask, outs


def group_advantages(scores: list, n: int) -> torch.Tensor:
    """GRPO advantages: each score normalised within its group of ``n``, as a column."""
    r = torch.tensor(scores).view(-1, n)
    return ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-6)).view(-1, 1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="model folder (default: the shipped warm-started model)")
    p.add_argument("--data", required=True, help="synthetic benchmark folder with train.parquet and val.parquet")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--batch", type=int, default=8, help="prompts per step")
    p.add_argument("--n", type=int, default=8, help="samples per prompt (the GRPO group)")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--eval-every", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--adam-eps", type=float, default=1e-8)
    p.add_argument(
        "--weights",
        type=json.loads,
        default=dict(DEFAULT_WEIGHTS),
        help='reward weights as JSON, e.g. \'{"accuracy": 1, "format": 0.5, "consistency": 0.5}\'',
    )
    p.add_argument("--only", default="", help="train only parameters whose name matches this regex")
    p.add_argument("--train-limit", type=int, default=0, help="draw prompts from the first N train rows only")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save", default="", help="write the trained model here")
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=40,
        help="rollout response budget; validation gets at least 64 (a scan <think> needs about 128)",
    )
    a = p.parse_args()
    for split in ("train", "val"):
        if not os.path.isfile(os.path.join(a.data, f"{split}.parquet")):
            p.error(
                f"--data {a.data}: no {split}.parquet; make one with "
                f"`anatomy-r1 prepare synthetic --out {a.data} --seed 1 --train 4096 --val 256 --test 0`"
            )

    from transformers import AutoModelForImageTextToText

    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    torch.set_num_threads(a.threads)
    model_dir = a.model or str(asset_path(DEFAULT_MODEL))
    train, proc = load_rows(os.path.join(a.data, "train.parquet"), model_dir)
    val, _ = load_rows(os.path.join(a.data, "val.parquet"), model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32)
    tok = proc.tokenizer
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    params = [w for name, w in model.named_parameters() if not a.only or re.search(a.only, name)]
    if not params:
        p.error(f"--only {a.only!r} matches no parameter")
    opt = torch.optim.AdamW(params, lr=a.lr, eps=a.adam_eps, weight_decay=0.01)  # verl's actor defaults
    print(f"trainable parameters: {sum(w.numel() for w in params):,}", flush=True)

    t0 = time.time()
    val_tokens = max(64, a.max_new_tokens)
    curve = [
        {
            "step": 0,
            "val_acc": evaluate(model, proc, val, max_new_tokens=val_tokens, progress=False)["acc"],
            "seconds": 0,
        }
    ]
    print(f"step 0 val acc {curve[0]['val_acc']:.4f}", flush=True)
    order = list(range(min(a.train_limit, len(train)) if a.train_limit else len(train)))
    rng.shuffle(order)
    window: list[float] = []
    for step in range(1, a.steps + 1):
        rows = [train[order[((step - 1) * a.batch + i) % len(order)]] for i in range(a.batch)]
        enc = repeat_batch(encode_prompts(proc, [r["raw_prompt"] for r in rows]), a.n)
        model.eval()
        with torch.no_grad():
            seqs = model.generate(
                **enc,
                max_new_tokens=a.max_new_tokens,
                do_sample=True,
                temperature=a.temperature,
                top_k=0,
                top_p=1.0,
                eos_token_id=eos,
                pad_token_id=tok.pad_token_id,
            )
        width = enc["input_ids"].shape[1]
        resp = seqs[:, width:]
        mask, outs = score_responses(tok, resp, eos, rows, a.n, a.weights)
        window += [out["acc"] for out in outs]
        adv = group_advantages([out["score"] for out in outs], a.n)

        model.train()
        extra = {}
        if "mm_token_type_ids" in enc:  # Qwen2.5-VL's 3-D image positions, as in the rollout
            extra["mm_token_type_ids"] = torch.cat([enc["mm_token_type_ids"], torch.zeros_like(resp)], 1)
        logits = model(
            input_ids=torch.cat([enc["input_ids"], resp], 1),
            attention_mask=torch.cat([enc["attention_mask"], mask], 1),
            pixel_values=enc["pixel_values"],
            image_grid_thw=enc["image_grid_thw"],
            **extra,
        ).logits
        logp = torch.log_softmax(logits[:, width - 1 : -1].float(), -1).gather(-1, resp.unsqueeze(-1)).squeeze(-1)
        loss = -(adv * logp * mask).sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 5 == 0:
            print(
                f"step {step} sampled train acc {sum(window) / len(window):.3f} t={time.time() - t0:.0f}s", flush=True
            )
            window = []
        if step % a.eval_every == 0 or step == a.steps:
            acc = evaluate(model, proc, val, max_new_tokens=val_tokens, progress=False)["acc"]
            curve.append({"step": step, "val_acc": acc, "seconds": round(time.time() - t0)})
            print(f"step {step} val acc {acc:.4f} t={time.time() - t0:.0f}s", flush=True)
    if a.save:
        model.save_pretrained(a.save)
        proc.save_pretrained(a.save)
    print(json.dumps({"args": vars(a), "curve": curve}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
