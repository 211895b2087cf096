"""Per-step overhead of ASCL's sampler and of GDQA against a CPU demo step, measured in one run.

1. Runs the CPU demo recipe for a few steps through verl (curriculum and GDQA off) and takes the mean
   ``timing_s/step`` of the steps after the first: the denominator.
2. Times, over many repetitions, what each method adds to a step of that size (train_batch_size
   prompts x rollout.n rollouts):
   - ASCL: drawing a batch through verl's StatefulDataLoader with the curriculum sampler, minus the same
     with torchdata's RandomSampler (verl's default), plus the per-step curriculum metrics;
   - GDQA: picking each rollout's variant and rebuilding its chat messages (agent loop), the reward's
     own-variant lookup, and the invalid-gradient metrics.
Prints each overhead in milliseconds and as a share of the measured step.

    .venv/bin/python benchmarks/bench_method_overhead.py [--steps 4] [--skip-run --step-s 4.2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anatomy_r1_verl.report.runlog import read_records  # noqa: E402


def demo_step_seconds(steps: int, out: Path, batch: int, n: int) -> float:
    from tests.helpers import child_command, child_env

    env = child_env(out)
    cmd = child_command(
        "demo",
        "trainer.experiment_name=overhead",
        f"trainer.total_training_steps={steps}",
        "trainer.val_before_train=False",
        "trainer.test_freq=-1",
        f"data.train_batch_size={batch}",
        f"actor_rollout_ref.rollout.n={n}",
    )
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    recs = read_records(out / "runs" / "overhead")
    times = [r["timing_s/step"] for r in recs if "timing_s/step" in r]
    return float(np.mean(times[1:] if len(times) > 1 else times))


def per_call(fn, reps: int) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps


def sampler_overhead(n_rows: int, batch: int, rollouts: int, reps: int) -> dict:
    from torchdata.stateful_dataloader import StatefulDataLoader
    from torchdata.stateful_dataloader.sampler import RandomSampler

    from anatomy_r1_verl.ascl.curriculum import CurriculumConfig, CurriculumSampler, bucket_accuracy

    class Rows(torch.utils.data.Dataset):
        def __len__(self):
            return n_rows

        def __getitem__(self, i):
            return i

    rng = np.random.default_rng(0)
    s_q = rng.uniform(0, 1, n_rows)

    def loader(sampler):
        it = {"it": None}
        dl = StatefulDataLoader(Rows(), batch_size=batch, sampler=sampler, drop_last=True, collate_fn=list)

        def draw():
            try:
                return next(it["it"])
            except (StopIteration, TypeError):
                it["it"] = iter(dl)
                return next(it["it"])

        return draw

    cur = CurriculumSampler(s_q, batch, total_steps=100, cfg=CurriculumConfig(enable=True))
    t_cur = per_call(loader(cur), reps)
    t_rand = per_call(loader(RandomSampler(Rows(), generator=torch.Generator().manual_seed(0))), reps)
    acc = rng.integers(0, 2, batch * rollouts).astype(float)
    sq = rng.uniform(0, 1, batch * rollouts)
    t_metrics = per_call(
        lambda: (bucket_accuracy(sq, acc, [0, 0.2, 0.4, 0.6, 0.8, 1.0]), cur.competence(5), len(cur.pool(5))), reps
    )
    return {
        "curriculum_draw_ms": 1e3 * t_cur,
        "random_draw_ms": 1e3 * t_rand,
        "metrics_ms": 1e3 * t_metrics,
        "added_ms": 1e3 * (t_cur - t_rand + t_metrics),
    }


def gdqa_overhead(batch: int, rollouts: int, reps: int) -> dict:
    import pandas as pd

    from anatomy_r1_verl.agent_loop.loop import variant_messages
    from anatomy_r1_verl.gdqa.metrics import group_rewards, invalid_gradient_metrics
    from anatomy_r1_verl.gdqa.variants import augment_rows, pick_variant
    from anatomy_r1_verl.schema import GDQA_GROUND_TRUTH, GDQA_OPTIONS
    from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate
    from anatomy_r1_verl.synthetic.questions import phrasings
    from reward_fns.combine import own_variant

    with tempfile.TemporaryDirectory() as d:
        generate(SyntheticConfig(out_dir=d, train=batch, val=0, test=0), progress=False)
        rows = pd.read_parquet(f"{d}/train.parquet").to_dict("records")
    rows, _ = augment_rows(rows, k=4, program_phrasings=phrasings)
    raw = [
        [{"role": "user", "content": [{"type": "image", "image": "x.png"}, {"type": "text", "text": "q"}]}]
        for _ in rows
    ]

    def agent_side():
        for i, row in enumerate(rows):
            for s in range(rollouts):
                v = pick_variant(row["extra_info"], s)
                variant_messages(raw[i], v["prompt"])

    extra = [
        {GDQA_GROUND_TRUTH: "B", GDQA_OPTIONS: json.dumps(["Liver", "Gut", "Omentum", "Gallbladder"])}
        for _ in range(batch * rollouts)
    ]
    keys = [f"uid{i}_{s}_0" for i in range(batch) for s in range(rollouts)]
    scores = list(np.random.default_rng(0).integers(0, 2, batch * rollouts).astype(float))
    classes = {f"uid{i}": "Liver" for i in range(batch)}
    t_agent = per_call(agent_side, reps)
    t_reward = per_call(lambda: [own_variant("A", e) for e in extra], reps)
    t_metric = per_call(lambda: invalid_gradient_metrics(group_rewards(keys, scores), classes), reps)
    return {
        "agent_loop_ms": 1e3 * t_agent,
        "reward_ms": 1e3 * t_reward,
        "metrics_ms": 1e3 * t_metric,
        "added_ms": 1e3 * (t_agent + t_reward + t_metric),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--batch", type=int, default=8, help="train_batch_size (prompts per step)")
    p.add_argument("--n", type=int, default=8, help="rollout.n")
    p.add_argument("--rows", type=int, default=1024, help="train rows the sampler orders")
    p.add_argument("--reps", type=int, default=200)
    p.add_argument("--skip-run", action="store_true", help="use --step-s instead of running the demo")
    p.add_argument("--step-s", type=float, default=None)
    a = p.parse_args()
    if a.skip_run:
        step = a.step_s
    else:
        with tempfile.TemporaryDirectory() as d:
            step = demo_step_seconds(a.steps, Path(d), a.batch, a.n)
    print(f"CPU demo step (mean of steps 2..{a.steps}, batch {a.batch} x n {a.n}): {step:.2f} s")
    asc = sampler_overhead(a.rows, a.batch, a.n, a.reps)
    gd = gdqa_overhead(a.batch, a.n, a.reps)
    print(
        f"ASCL: curriculum draw {asc['curriculum_draw_ms']:.3f} ms vs RandomSampler {asc['random_draw_ms']:.3f} ms, "
        f"metrics {asc['metrics_ms']:.3f} ms -> added {asc['added_ms']:.3f} ms/step = "
        f"{100 * asc['added_ms'] / 1e3 / step:.4f}% of a step"
    )
    print(
        f"GDQA: agent loop {gd['agent_loop_ms']:.3f} ms, reward {gd['reward_ms']:.3f} ms, metrics "
        f"{gd['metrics_ms']:.3f} ms -> added {gd['added_ms']:.3f} ms/step = {100 * gd['added_ms'] / 1e3 / step:.4f}% "
        "of a step"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
