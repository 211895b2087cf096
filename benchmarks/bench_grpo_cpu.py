"""GRPO on CPU through verl from a warm-started tiny model: greedy test accuracy before and after, per seed.

For each seed: verl's real trainer (the CPU demo recipe: the look-alike benchmark, or with ``--classic`` the classic
frames; any overrides) for ``--steps`` steps on the train split,
validating on the val split (the split choices were made on) every ``--val-every`` steps and checkpointing at
the end; then ``anatomy-r1 eval`` (greedy, HF generate) of the start model and of the final checkpoint on the
test split, made from its own seed (``--test-seed``, nothing was tuned on it; 1,000 questions give one standard
error under 1.6 points) and scored with S(q). Prints per seed the test accuracy before and after, the gain with
its standard error, the format rate, the val curve, the per-class accuracy, the accuracy by S(q) quintile and
by whether the answer's closest partner is listed, the think/answer agreement and the training wall time; with
``--headroom K`` also the headroom probe (:mod:`anatomy_r1_verl.evaluation.headroom`) of the start model and of
every final model.

    .venv/bin/python benchmarks/bench_grpo_cpu.py --seeds 0 1 2 [--steps 100] [--model DIR] [--data DIR]
        [--headroom 8] [key=value ...]

``--data`` defaults to the synthetic benchmark with seed 1 (train 2,048, val 1,000 questions) and its test split
with seed ``--test-seed`` (1,000 questions), made as the demo recipe makes its questions (image position, look,
options) into OUT/data when missing; ``--model`` and ``--max-new-tokens`` to the demo recipe's model and
response length. A seed whose final checkpoint exists is not trained again (rerun the
command to finish an interrupted grid).
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

from anatomy_r1_verl.report.runlog import read_metrics  # noqa: E402
from tests.helpers import child_command, child_env  # noqa: E402


def val_curve(metrics_file: Path) -> dict[int, float]:
    out = {}
    for rec in read_metrics(metrics_file):
        acc = [v for k, v in rec["data"].items() if k.startswith("val-core/") and "/acc/" in k]
        if acc:
            out[rec["step"]] = acc[0]
    return out


def run(cmd: list[str], env: dict, log: Path) -> float:
    t0 = time.time()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed (rc {proc.returncode}); see {log}")
    return time.time() - t0


def test_eval(model: str, parquet: Path, out: Path, env: dict, max_new_tokens: int = 64) -> dict:
    """Greedy test accuracy (overall, per answer class) and format rate through ``anatomy-r1 eval``."""
    if not (out / "metrics.json").is_file():
        run(
            child_command(
                "eval", model, str(parquet), "--out", str(out), "--no-progress", "--max-new-tokens", str(max_new_tokens)
            ),
            env,
            out.with_suffix(".log"),
        )
    m = json.loads((out / "metrics.json").read_text())
    bench = next(iter(m["benchmarks"].values()))
    by = bench["by"]
    diag = bench.get("diagnostics", {})
    return {
        "acc": bench["overall"]["acc"]["value"],
        "n": bench["overall"]["n"],
        "format": bench["overall"]["format"]["value"],
        "by_class": {g: s["acc"]["value"] for g, s in by.get("answer_class", {}).items()},
        "by_quintile": {g: [s["acc"]["value"], s["n"]] for g, s in by.get("s_q_quintile", {}).items()},
        "by_partner": {g: [s["acc"]["value"], s["n"]] for g, s in by.get("partner", {}).items()},
        "spearman_s_q_wrong": (diag.get("spearman_s_q_wrong") or {}).get("rho"),
        "think_answer": (diag.get("think_answer") or {}).get("value"),
    }


def paired_gain(before_dir: Path, after_dir: Path) -> tuple[float, float, int]:
    """``(gain, one standard error, n)`` in points over the questions both evaluations answered, paired by id. An
    evaluation of a checkpoint on its run's val file answers only the run's val subset (``data.val_max_samples``),
    the start model's answers the whole file, so the two are compared on the questions they share."""
    import numpy as np

    from anatomy_r1_verl.evaluation.results import read_responses

    before, after = ({r["id"]: float(r["acc"]) for r in read_responses(d)} for d in (before_dir, after_dir))
    shared = [i for i in after if i in before]
    d = np.array([after[i] - before[i] for i in shared])
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    return round(100 * float(d.mean()), 2), round(100 * se, 2), len(d)


def diagnostics_line(e: dict) -> str:
    quint = " ".join(f"{g} {v[0]:.3f}" for g, v in e["by_quintile"].items())
    partner = ", ".join(f"{g} {v[0]:.3f} (n {v[1]})" for g, v in e["by_partner"].items())
    rho = e["spearman_s_q_wrong"]
    return (
        f"S(q) quintiles {quint}; Spearman(S(q), wrong) {'n/a' if rho is None else f'{rho:+.3f}'}; partner {partner}; "
        f"think/answer agreement {e['think_answer'] if e['think_answer'] is None else round(e['think_answer'], 3)}"
    )


def headroom(model: str, parquet: Path, k: int, out: Path, env: dict, max_new_tokens: int = 64) -> dict:
    if not out.is_file():
        run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "bench_headroom.py"),
                model,
                str(parquet),
                "--samples",
                str(k),
                "--max-new-tokens",
                str(max_new_tokens),
                "--out",
                str(out),
            ],
            env,
            out.with_suffix(".log"),
        )
    o = json.loads(out.read_text())["overall"]
    return {
        key: o[key]
        for key in ("greedy", f"mean@{k}", f"pass@{k}", "p_right_if_greedy_wrong", "sharpenable", "reachable")
    }


def run_seed(seed: int, a, data: Path, out: Path, overrides: list[str]) -> dict:
    env = child_env(out)
    name = f"bench_grpo_seed{seed}"
    run_dir = out / "runs" / name
    ckpt = run_dir / "checkpoints" / f"global_step_{a.steps}"
    wall = None
    if not ckpt.is_dir():  # a finished seed is not rerun
        cmd = child_command(
            "demo",
            *(["--classic"] if a.classic else []),
            f"trainer.experiment_name={name}",
            f"trainer.total_training_steps={a.steps}",
            f"trainer.test_freq={a.val_every}",
            "trainer.val_before_train=True",
            f"trainer.save_freq={a.steps}",
            "trainer.resume_mode=disable",
            f"data.seed={seed}",
            f"actor_rollout_ref.rollout.seed={seed}",
            f"actor_rollout_ref.model.path={a.model}",
            f"data.train_files={data / 'train.parquet'}",
            f"data.val_files={data / 'val.parquet'}",
            f"data.max_response_length={a.max_new_tokens}",
            *overrides,
        )
        wall = round(run(cmd, env, out / f"{name}.log"), 1)
        (run_dir / "bench_wall_s.txt").write_text(str(wall))
    else:
        wall = float((run_dir / "bench_wall_s.txt").read_text())
    after = test_eval(str(ckpt), a.report, out / "evals" / f"seed{seed}", env, a.max_new_tokens)
    row = {
        "seed": seed,
        "steps": a.steps,
        "wall_s": wall,
        "val_curve": val_curve(run_dir / "metrics.jsonl"),
        "after": after,
    }
    if a.headroom:
        row["headroom_after"] = headroom(
            str(ckpt / "merged_hf"),
            a.report,
            a.headroom,
            out / "evals" / f"headroom_seed{seed}.json",
            env,
            a.max_new_tokens,
        )
    return row


def ensure_data(data: Path, demo, test_seed: int) -> Path:
    """The default benchmark data (made again when missing or made with other settings) and the path of its test
    split, made from ``test_seed`` and scored with S(q)."""
    from anatomy_r1_verl.ascl.difficulty import score_parquet
    from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate
    from anatomy_r1_verl.synthetic.manifest import stale_reason

    like = dict(
        image_position=demo.image_position, look=demo.look, options=demo.options, family_weights=demo.question_mix()
    )
    want = SyntheticConfig(out_dir=str(data), seed=1, train=2048, val=1000, test=0, **like)
    if stale_reason(str(data), want, splits=("train", "val"), setting="--data"):
        generate(want)
    test_dir = data / f"test_seed{test_seed}"
    test = SyntheticConfig(out_dir=str(test_dir), seed=test_seed, train=0, val=0, test=1000, **like)
    scored = test_dir / "test_scored.parquet"
    if stale_reason(str(test_dir), test, splits=("test",), setting="--data") or not scored.is_file():
        generate(test)
        score_parquet(test_dir / "test.parquet", scored, show_progress=False)
    return scored


def main() -> int:
    from anatomy_r1_verl.config.anatomy_r1 import anatomy_r1_config
    from anatomy_r1_verl.launch.compose import compose
    from anatomy_r1_verl.launch.recipes import DEMO_RECIPES
    from anatomy_r1_verl.synthetic.manifest import ManifestError

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--val-every", type=int, default=25)
    p.add_argument("--model", default=None, help="start model (default: the demo recipe's)")
    p.add_argument("--data", default=None, help="synthetic benchmark folder (default OUT/data, made when missing)")
    p.add_argument("--split", default="test", help="the reported split: test (from --test-seed) or val")
    p.add_argument("--test-seed", type=int, default=4, help="seed of the test split's frames (default %(default)s)")
    p.add_argument("--headroom", type=int, default=0, metavar="K", help="also the headroom probe with K samples")
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="response budget of the rollout (data.max_response_length), the evaluation and the probe "
        "(default: the demo recipe's; a scan <think> needs 128)",
    )
    p.add_argument(
        "--classic",
        action="store_true",
        help="the classic frames and their start model (recipes/demo_cpu_classic.yaml); default: the look-alike "
        "benchmark (recipes/demo_cpu.yaml)",
    )
    p.add_argument("--out", default=str(ROOT / "outputs" / "bench_grpo"))
    p.add_argument("overrides", nargs="*", help="extra hydra overrides for every run")
    a = p.parse_args()
    a.recipe = DEMO_RECIPES["classic" if a.classic else "lookalike"]
    demo = compose(a.recipe, a.overrides)  # e.g. anatomy_r1.demo.options=uniform: the data made, and the runs
    a.model = str(Path(a.model or demo.actor_rollout_ref.model.path).resolve())
    a.max_new_tokens = a.max_new_tokens or int(demo.data.max_response_length)
    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if a.data:
        data = Path(a.data).resolve()
        report = data / f"{a.split}.parquet"
        if not report.is_file():
            p.error(f"--data {data} has no {a.split}.parquet (omit --data to make the default benchmark)")
    else:
        data = out / "data"
        try:
            test = ensure_data(data, anatomy_r1_config(demo).demo, a.test_seed)
        except ManifestError as e:
            p.error(str(e))
        report = test if a.split == "test" else data / f"{a.split}.parquet"
    env = child_env(out)
    a.report = report
    before = test_eval(a.model, report, out / "evals" / "start", env, a.max_new_tokens)
    head_before = (
        headroom(
            a.model,
            report,
            a.headroom,
            out / "evals" / "headroom_start.json",
            env,
            a.max_new_tokens,
        )
        if a.headroom
        else None
    )
    n = before["n"]
    print(
        f"start model {a.model}: {a.split} acc {before['acc']:.3f} (n {n}), format {before['format']:.3f}"
        + (f"; headroom {json.dumps({k: round(v, 3) for k, v in head_before.items()})}" if head_before else ""),
        flush=True,
    )
    print(f"      {diagnostics_line(before)}", flush=True)
    print(
        f"{'seed':>4} {'steps':>5} {'acc before':>10} {'acc after':>9} {'paired gain (pts)':>10} {'+-1 s.e.':>8} "
        f"{'fmt after':>9} {'train wall (s)':>14}  val curve",
        flush=True,
    )
    rows = []
    for seed in a.seeds:
        r = run_seed(seed, a, data, out, a.overrides)
        after = r["after"]
        r["before"] = before
        r["gain_points"], r["gain_se_points"], r["gain_n"] = paired_gain(
            out / "evals" / "start", out / "evals" / f"seed{seed}"
        )
        rows.append(r)
        curve = " ".join(f"{s}:{v:.3f}" for s, v in sorted(r["val_curve"].items()))
        print(
            f"{seed:>4} {a.steps:>5} {before['acc']:>10.3f} {after['acc']:>9.3f} {r['gain_points']:>10.2f} "
            f"{r['gain_se_points']:>8.2f} {after['format']:>9.3f} {r['wall_s']:>14.1f}  {curve}  (paired over {r['gain_n']})",
            flush=True,
        )
        print(
            "      per class: "
            + ", ".join(
                f"{c} {before['by_class'].get(c, float('nan')):.2f}->{v:.2f}" for c, v in after["by_class"].items()
            ),
            flush=True,
        )
        print(f"      {diagnostics_line(after)}", flush=True)
        if a.headroom:
            print(
                f"      headroom after: {json.dumps({k: round(v, 3) for k, v in r['headroom_after'].items()})}",
                flush=True,
            )
    (out / "results.json").write_text(
        json.dumps(
            {
                "model": a.model,
                "data": str(data),
                "report": str(report),
                "split": a.split,
                "headroom_start": head_before,
                "seeds": rows,
            },
            indent=2,
        )
    )
    gains = [r["gain_points"] for r in rows]
    print(
        f"mean gain {sum(gains) / len(gains):.2f} points; min {min(gains):.2f}; max train wall "
        f"{max(r['wall_s'] for r in rows):.0f} s; wrote {out / 'results.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
