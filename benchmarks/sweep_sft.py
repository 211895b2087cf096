"""The SFT baseline's learning rate and epochs, chosen on the validation split (never the test split).

For each target style (``answer``: the paper's answer-only row; ``think``: think-then-answer, the scene
description as the think block), learning rate and number of epochs, this trains verl's own SFT trainer
(``anatomy-r1 train ssgvqa_sft profile=cpu model=tiny benchmark=synthetic``) from the shipped warm start on the
RL rows' budget of labelled examples (``--examples``, default the bench's prompts x steps, seed-ordered as the
bench orders them), then scores the last checkpoint greedily on the val split (``anatomy-r1 eval``) and prints
accuracy, format rate and the share of the most frequent answered letter (the collapse check). The start
model's val accuracy is measured the same way, once per target style. ``--seeds`` repeats each setting with
another file order (verl 0.9.1's SFT sampler ignores ``trainer.seed``).

    .venv/bin/python benchmarks/sweep_sft.py --data OUT/data [--targets answer think] [--lrs 1e-5 1e-4 3e-4]
        [--epochs 1 3] [--seeds 0] [--examples 128] [--out DIR]

Writes ``OUT/sweep.jsonl`` (one line per run, resumable: a setting already there is not rerun) and prints a
markdown table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anatomy_r1_verl.bench.data import DataSpec, SFTFile, ensure, make_sft_train  # noqa: E402
from anatomy_r1_verl.bench.grid import CPU_VARIANT, Budget  # noqa: E402
from tests.helpers import child_command, child_env  # noqa: E402

BUDGET_EXAMPLES = Budget().prompts * Budget().steps  # the questions an RL row of the bench sees
RESPONSE_TOKENS = 128  # a think target (the scan) is at most about 80 tokens


def val_file(data: Path, out: Path, target: str) -> Path:
    """The val split as the style's evaluation sees it (answer-only prompts for ``answer``)."""
    from data_prep.sft import convert

    if target != "answer":
        return data / "val.parquet"
    path = out / "files" / "sft_val.parquet"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        convert(str(data / "val.parquet"), str(path))
    return path


def evaluate(model: str, parquet: Path, out: Path, limit: int) -> dict:
    cmd = child_command(
        "eval", model, str(parquet), "--out", str(out), "--max-new-tokens", str(RESPONSE_TOKENS), "--no-progress"
    )
    if limit:
        cmd += ["--limit", str(limit)]
    proc = subprocess.run(cmd, env=child_env(out.parent), cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"eval failed: {' '.join(cmd)}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    m = json.loads((out / "metrics.json").read_text())
    (bench,) = m["benchmarks"].values()
    answers = bench["diagnostics"]["answers"]
    return {
        "acc": bench["overall"]["acc"]["value"],
        "format": bench["overall"]["format"]["value"],
        "n": bench["overall"]["n"],
        "top_letter": answers["top_letter"],
        "top_share": answers["top_share"],
    }


def train(data: Path, out: Path, name: str, train_file: Path, lr: float, epochs: int, batch: int) -> dict:
    run_dir = out / "runs" / name
    cmd = child_command(
        "train",
        "ssgvqa_sft",
        *CPU_VARIANT,
        f"anatomy_r1.data_dir={data}",
        f"data.train_files={train_file}",
        f"data.train_batch_size={batch}",
        f"optim.lr={lr}",
        f"trainer.total_epochs={epochs}",
        f"trainer.experiment_name={name}",
        "trainer.save_freq=100000",  # verl saves the last step anyway
    )
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=child_env(out), cwd=ROOT, capture_output=True, text=True)
    (out / f"{name}.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"SFT run {name} failed; see {out / (name + '.log')}")
    from anatomy_r1_verl.report.runlog import read_records

    losses = [r["train/loss"] for r in read_records(run_dir) if "train/loss" in r]
    steps = sorted(run_dir.glob("checkpoints/global_step_*"), key=lambda p: int(p.name.split("_")[-1]))
    if not steps:
        raise RuntimeError(f"SFT run {name} saved no checkpoint under {run_dir / 'checkpoints'}")
    return {"checkpoint": str(steps[-1]), "losses": losses, "train_s": round(time.perf_counter() - t0, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="a bench data folder (made with the bench defaults if missing)")
    p.add_argument("--out", default=None, help="working folder (default DATA/../sweep_sft)")
    p.add_argument("--targets", nargs="+", default=["answer", "think"], help="answer | think | scan")
    p.add_argument("--lrs", type=float, nargs="+", default=[1e-5, 1e-4, 3e-4])
    p.add_argument("--epochs", type=int, nargs="+", default=[1, 3])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument(
        "--examples",
        default=str(BUDGET_EXAMPLES),
        help="labelled questions per run: N or 'all' (default: the bench's prompts x steps)",
    )
    p.add_argument("--batch", type=int, default=Budget().prompts)
    p.add_argument("--val-limit", type=int, default=256, help="val questions scored (0: all)")
    a = p.parse_args()
    examples = None if a.examples == "all" else int(a.examples)
    data = ensure(Path(a.data), DataSpec())
    out = Path(a.out) if a.out else data.parent / "sweep_sft"
    out.mkdir(parents=True, exist_ok=True)
    done_file = out / "sweep.jsonl"
    done = (
        {json.loads(x)["name"]: json.loads(x) for x in done_file.read_text().splitlines()} if done_file.exists() else {}
    )
    from anatomy_r1_verl.tiny.assets import DEFAULT_MODEL, asset_path

    rows = []
    for target in a.targets:
        val = val_file(data, out, target)
        name = f"start_{target}"
        if name not in done:
            done[name] = {
                "name": name,
                "target": target,
                **evaluate(asset_path(DEFAULT_MODEL), val, out / "evals" / name, a.val_limit),
            }
            with done_file.open("a") as f:
                f.write(json.dumps(done[name]) + "\n")
        rows.append(done[name])
        for lr in a.lrs:
            for epochs in a.epochs:
                for seed in a.seeds:
                    name = f"{target}_lr{lr:g}_ep{epochs}_seed{seed}" + (
                        "" if a.examples == "128" else f"_n{a.examples}"
                    )
                    if name not in done:
                        tf = make_sft_train(data, SFTFile(seed, target, examples))
                        rec = {"name": name, "target": target, "lr": lr, "epochs": epochs, "seed": seed}
                        rec.update(train(data, out, name, tf, lr, epochs, a.batch))
                        rec.update(evaluate(rec["checkpoint"], val, out / "evals" / name, a.val_limit))
                        done[name] = rec
                        with done_file.open("a") as f:
                            f.write(json.dumps(rec) + "\n")
                    rows.append(done[name])
                    print(f"[sweep_sft] {name}: val acc {done[name]['acc']:.3f}", flush=True)
    print("\n| run | val acc | format | top letter (share) | loss first -> last | train s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        loss = f"{r['losses'][0]:.3f} -> {r['losses'][-1]:.3f}" if r.get("losses") else "-"
        print(
            f"| {r['name']} | {r['acc']:.3f} | {r['format']:.3f} | {r['top_letter']} ({r['top_share']:.2f}) | {loss} "
            f"| {r.get('train_s', '-')} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
