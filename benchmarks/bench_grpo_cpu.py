"""GRPO on CPU through verl, from the shipped warm-started tiny model: val accuracy before and after.

Runs the CPU demo recipe (verl's real trainer) once per seed for a fixed number of steps, with
validation before training and at the end, and prints per seed: val accuracy and format rate before
and after, the gain, the reasoning-answer consistency before and after (the ``consistency`` reward
component, logged even at weight 0) and the wall time of the whole run (Ray start to exit).

    .venv/bin/python benchmarks/bench_grpo_cpu.py --seeds 0 1 2 [--steps 40] [key=value ...]
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

from tests.helpers import child_command, child_env  # noqa: E402


def val_metrics(metrics_file: Path) -> dict[int, dict]:
    out = {}
    for line in metrics_file.read_text().splitlines():
        rec = json.loads(line)
        acc = {k: v for k, v in rec["data"].items() if k.startswith("val-core/") and "/acc/" in k}
        aux = {name: [v for k, v in rec["data"].items() if k.startswith("val-aux/") and f"/{name}/mean" in k]
               for name in ("format", "consistency")}
        if acc:
            out[rec["step"]] = {"acc": next(iter(acc.values())),
                                **{name: (vals or [float("nan")])[0] for name, vals in aux.items()}}
    return out


def run_seed(seed: int, steps: int, out_dir: Path, overrides: list[str]) -> dict:
    env = child_env(out_dir)
    name = f"bench_grpo_seed{seed}"
    cmd = child_command("demo", f"trainer.experiment_name={name}", f"trainer.total_training_steps={steps}",
                        f"trainer.test_freq={steps}", "trainer.val_before_train=True", f"data.seed={seed}",
                        f"actor_rollout_ref.rollout.seed={seed}", *overrides)
    t0 = time.time()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.time() - t0
    log = out_dir / f"{name}.log"
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"seed {seed} failed (rc {proc.returncode}); see {log}")
    vals = val_metrics(out_dir / "runs" / name / "metrics.jsonl")
    before, after = vals[min(vals)], vals[max(vals)]
    return {"seed": seed, "steps": steps, "wall_s": round(wall, 1), "acc_before": before["acc"],
            "acc_after": after["acc"], "format_before": before["format"], "format_after": after["format"],
            "consistency_before": before["consistency"], "consistency_after": after["consistency"],
            "gain_points": round(100 * (after["acc"] - before["acc"]), 2)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--out", default=str(ROOT / "outputs" / "bench_grpo"))
    p.add_argument("overrides", nargs="*", help="extra hydra overrides for every run")
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    print(f"{'seed':>4} {'steps':>5} {'acc before':>10} {'acc after':>9} {'gain (pts)':>10} "
          f"{'fmt before':>10} {'fmt after':>9} {'cons before':>11} {'cons after':>10} {'wall (s)':>8}", flush=True)
    for seed in a.seeds:
        r = run_seed(seed, a.steps, out, a.overrides)
        rows.append(r)
        print(f"{r['seed']:>4} {r['steps']:>5} {r['acc_before']:>10.3f} {r['acc_after']:>9.3f} {r['gain_points']:>10.2f} "
              f"{r['format_before']:>10.3f} {r['format_after']:>9.3f} {r['consistency_before']:>11.3f} "
              f"{r['consistency_after']:>10.3f} {r['wall_s']:>8.1f}", flush=True)
    (out / "results.json").write_text(json.dumps(rows, indent=2))
    print(f"mean gain {sum(r['gain_points'] for r in rows) / len(rows):.2f} points; "
          f"min gain {min(r['gain_points'] for r in rows):.2f}; max wall {max(r['wall_s'] for r in rows):.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
