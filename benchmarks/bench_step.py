"""One CPU GRPO step through verl against the same step in bare PyTorch, measured in one run.

Both sides train the shipped warm-started tiny Qwen2.5-VL on the demo's synthetic questions with the demo
recipe's batch (8 prompts x n 8), response length, temperature, learning rate and loss:

1. **bare torch**: one process, ``torch.set_num_threads(--threads)``: HF ``generate`` of the whole batch,
   the reward (``reward_fns.compute_score``, the same weights), a reference forward pass when the recipe's
   KL loss is on, one forward/backward/AdamW step; timed per phase;
2. **verl**: ``anatomy-r1 demo`` (verl's real trainer, Ray, FSDP2, the hfcpu rollout) for ``--steps`` steps
   without validation; per phase from verl's own ``timing_s/*`` metrics (gen, old_log_prob, ref,
   update_actor, the rest of ``timing_s/step``), and the time from the command's start to its first step
   (the first metrics line; the demo data are generated before the clock starts).

It prints the medians over the steps after ``--warmup``, the verl/torch ratio of the step, and a JSON line.
Extra ``key=value`` arguments are verl overrides for the verl side (``--bare-kl off`` drops the bare
reference pass to match a recipe without KL).

    .venv/bin/python benchmarks/bench_step.py [--steps 25] [--warmup 3] [key=value ...]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anatomy_r1_verl.patches import torchvision_ops  # noqa: E402

torchvision_ops.apply()

from anatomy_r1_verl.report.runlog import read_records  # noqa: E402
from tests.helpers import child_env, timed_demo_command  # noqa: E402

PHASES = ("gen", "old_log_prob", "ref", "update_actor")


def demo_settings() -> dict:
    """The demo recipe's settings the bare loop must copy, read from the composed config."""
    from anatomy_r1_verl.config.anatomy_r1 import anatomy_r1_config
    from anatomy_r1_verl.launch.compose import compose

    cfg = compose("demo_cpu", [])
    demo = anatomy_r1_config(cfg).demo
    a = cfg.actor_rollout_ref
    return {
        "batch": int(cfg.data.train_batch_size),
        "n": int(a.rollout.n),
        "response_length": int(cfg.data.max_response_length),
        "temperature": float(a.rollout.temperature),
        "lr": float(a.actor.optim.lr),
        "kl": bool(a.actor.use_kl_loss) and float(a.actor.kl_loss_coef) > 0,
        "weights": dict(cfg.reward.custom_reward_function.reward_kwargs.weights),
        "model": str(a.model.path),
        "seed": demo.seed,
        "questions": {"train": demo.questions.train, "val": demo.questions.val, "test": demo.questions.test},
    }


def ensure_data(out: Path, s: dict) -> Path:
    from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate

    data = out / "data" / "demo"
    if not (data / "train.parquet").is_file():
        q = s["questions"]
        generate(
            SyntheticConfig(
                out_dir=str(data), seed=s["seed"], train=int(q["train"]), val=int(q["val"]), test=int(q["test"])
            ),
            progress=False,
        )
    return data


def bare_torch(data: Path, s: dict, steps: int, threads: int, kl: bool) -> list[dict]:
    """The demo's GRPO step in one process; per step, seconds per phase."""
    from transformers import AutoModelForImageTextToText

    from anatomy_r1_verl.evaluation.prompts import encode_prompts, load_rows
    from benchmarks.probe_grpo_torch import group_advantages, repeat_batch, score_responses

    torch.manual_seed(0)
    torch.set_num_threads(threads)
    rows_all, proc = load_rows(str(data / "train.parquet"), s["model"])
    model = AutoModelForImageTextToText.from_pretrained(s["model"], dtype=torch.float32)
    ref = AutoModelForImageTextToText.from_pretrained(s["model"], dtype=torch.float32).eval() if kl else None
    tok = proc.tokenizer
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    opt = torch.optim.AdamW(model.parameters(), lr=s["lr"], weight_decay=0.01)
    rng = random.Random(0)
    order = list(range(len(rows_all)))
    rng.shuffle(order)
    out = []
    for step in range(steps):
        t = {"start": time.perf_counter()}
        rows = [rows_all[order[(step * s["batch"] + i) % len(order)]] for i in range(s["batch"])]
        enc = repeat_batch(encode_prompts(proc, [r["raw_prompt"] for r in rows]), s["n"])
        model.eval()
        with torch.no_grad():
            seqs = model.generate(
                **enc,
                max_new_tokens=s["response_length"],
                do_sample=True,
                temperature=s["temperature"],
                top_k=0,
                top_p=1.0,
                eos_token_id=eos,
                pad_token_id=tok.pad_token_id,
            )
        t["gen"] = time.perf_counter()
        width = enc["input_ids"].shape[1]
        resp = seqs[:, width:]
        mask, outs = score_responses(tok, resp, eos, rows, s["n"], s["weights"])
        adv = group_advantages([out["score"] for out in outs], s["n"])
        t["reward"] = time.perf_counter()
        inputs = {
            "input_ids": torch.cat([enc["input_ids"], resp], 1),
            "attention_mask": torch.cat([enc["attention_mask"], mask], 1),
            "pixel_values": enc["pixel_values"],
            "image_grid_thw": enc["image_grid_thw"],
        }
        if "mm_token_type_ids" in enc:
            inputs["mm_token_type_ids"] = torch.cat([enc["mm_token_type_ids"], torch.zeros_like(resp)], 1)

        def logp_of(m):  # called within this iteration only (B023)
            logits = m(**inputs).logits  # noqa: B023
            return torch.log_softmax(logits[:, width - 1 : -1].float(), -1).gather(-1, resp.unsqueeze(-1)).squeeze(-1)  # noqa: B023

        ref_logp = None
        if ref is not None:
            with torch.no_grad():
                ref_logp = logp_of(ref)
        t["ref"] = time.perf_counter()
        model.train()
        logp = logp_of(model)
        loss = -(adv * logp * mask).sum() / mask.sum()
        if ref_logp is not None:  # verl's low_var_kl (k3), token-mean
            d = ref_logp - logp
            loss = loss + 0.001 * (((torch.exp(d) - d - 1).clamp(-10, 10)) * mask).sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        t["update"] = time.perf_counter()
        out.append(
            {
                "gen": t["gen"] - t["start"],
                "reward": t["reward"] - t["gen"],
                "ref": t["ref"] - t["reward"],
                "update_actor": t["update"] - t["ref"],
                "step": t["update"] - t["start"],
            }
        )
    return out


def verl_run(out: Path, steps: int, overrides: list[str]) -> tuple[list[dict], float, float]:
    """verl's steps (timing_s/* per step), seconds from command start to the first step, and the wall time."""
    env = child_env(out)
    name = "bench_step"
    metrics = out / "runs" / name / "metrics.jsonl"
    cmd = timed_demo_command(name, steps, overrides)
    first: dict = {}
    done = threading.Event()

    def watch(t0: float) -> None:
        while not done.is_set():
            if metrics.is_file() and metrics.stat().st_size > 0:
                first["t"] = time.perf_counter() - t0
                return
            time.sleep(0.05)

    t0 = time.perf_counter()
    watcher = threading.Thread(target=watch, args=(t0,), daemon=True)
    watcher.start()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    done.set()
    (out / "verl.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"verl run failed (rc {proc.returncode}); see {out / 'verl.log'}")
    recs = read_records(metrics)
    steps_ = [r for r in recs if "timing_s/step" in r]
    return steps_, first.get("t", float("nan")), wall


def median(rows: list[dict], key: str) -> float:
    vals = [r[key] for r in rows if key in r]
    return statistics.median(vals) if vals else 0.0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=25, help="steps on each side (default %(default)s)")
    p.add_argument("--warmup", type=int, default=3, help="first steps left out of the medians")
    p.add_argument("--threads", type=int, default=2, help="torch threads of the bare loop (the machine's cores)")
    p.add_argument(
        "--bare-kl",
        choices=("auto", "on", "off"),
        default="auto",
        help="reference pass in the bare loop: as the recipe's KL loss (auto), or forced",
    )
    p.add_argument("--out", default=None, help="working folder (default: a temporary one)")
    a, overrides = p.parse_known_args()
    if a.steps <= a.warmup:
        p.error("--steps must exceed --warmup")
    s = demo_settings()
    kl = s["kl"] if a.bare_kl == "auto" else a.bare_kl == "on"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(a.out or tmp)
        data = ensure_data(out, s)
        print(f"[bench_step] bare torch: {a.steps} steps of {s['batch']} x {s['n']}, ref pass {kl}", flush=True)
        bare = bare_torch(data, s, a.steps, a.threads, kl)[a.warmup :]
        print(f"[bench_step] verl: {a.steps} steps, overrides {overrides or '-'}", flush=True)
        verl_steps, first_step_s, wall = verl_run(out, a.steps, overrides)
        verl_steps = verl_steps[a.warmup :]
    b_step, v_step = median(bare, "step"), median(verl_steps, "timing_s/step")
    v = {ph: median(verl_steps, f"timing_s/{ph}") for ph in PHASES}
    v["other"] = v_step - sum(v.values())
    b = {
        "gen": median(bare, "gen"),
        "reward": median(bare, "reward"),
        "ref": median(bare, "ref"),
        "update_actor": median(bare, "update_actor"),
    }
    print(f"\nmedian over steps {a.warmup + 1}-{a.steps} ({len(bare)} bare, {len(verl_steps)} verl)")
    print(f"{'phase':<14}{'bare torch s':>14}{'verl s':>10}")
    for ph in ("gen", "old_log_prob", "ref", "update_actor", "reward", "other"):
        print(f"{ph:<14}{b.get(ph, 0.0):>14.3f}{v.get(ph, float('nan')) if ph != 'reward' else float('nan'):>10.3f}")
    print(f"{'step':<14}{b_step:>14.3f}{v_step:>10.3f}")
    print(f"verl / bare torch step: {v_step / b_step:.2f}x")
    print(f"verl command start -> first step logged: {first_step_s:.1f} s (whole run {wall:.1f} s)")
    print(
        json.dumps(
            {
                "bare_step_s": b_step,
                "verl_step_s": v_step,
                "ratio": v_step / b_step,
                "first_step_s": first_step_s,
                "verl_wall_s": wall,
                "bare": b,
                "verl": v,
                "steps": a.steps,
                "warmup": a.warmup,
                "overrides": overrides,
                "bare_ref_pass": kl,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
