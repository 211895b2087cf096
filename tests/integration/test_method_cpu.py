"""CPU integration tier: ASCL + GDQA inside verl's real trainer, 2 steps."""

import json
import re
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anatomy_r1_verl import trace
from reward_fns import accuracy_reward, format_reward
from tests.helpers import MECHANICS_MODEL, child_command, child_env

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("method")
    env = child_env(out, out / "trace")
    data = out / "data"

    def cli(*args):
        p = subprocess.run(child_command(*args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, (args, p.stdout[-3000:], p.stderr[-3000:])
        return p.stdout

    cli("prepare", "synthetic", "--out", str(data), "--train", "48", "--val", "16", "--test", "8", "--no-progress")
    cli("prepare", "score", str(data / "train.parquet"), "--out", str(data / "train_scored.parquet"))
    cli(
        "prepare",
        "augment",
        str(data / "train_scored.parquet"),
        "--out",
        str(data / "train_method.parquet"),
        "--k",
        "4",
    )
    letter = f"{HERE / 'letter_a.py'}:gt_is_a"
    cmd = child_command(
        "demo",
        f"data.train_files={data / 'train_method.parquet'}",
        f"data.val_files={data / 'val.parquet'}",
        "anatomy_r1.curriculum.enable=true",
        "anatomy_r1.gdqa.enable=true",
        "anatomy_r1.curriculum.ramp=4",  # step 2 lies inside the ramp: competence strictly between c0 and 1
        # a third hook from outside the package, beside the built-in ones, with no edit to the trainer
        f"anatomy_r1.hooks=[reward_metrics,curriculum,gdqa,'{HERE / 'toy_hook.py'}:ToyHook']",
        "trainer.total_training_steps=2",
        "trainer.test_freq=-1",
        "trainer.val_before_train=False",
        "data.train_batch_size=4",
        "actor_rollout_ref.actor.ppo_mini_batch_size=4",
        "actor_rollout_ref.rollout.n=4",
        f"trainer.rollout_data_dir={out / 'rollouts'}",
        *MECHANICS_MODEL,
        "+reward.custom_reward_function.reward_kwargs.weights.letter=1.0",
        f"+reward.custom_reward_function.reward_kwargs.components.letter='{letter}'",
    )
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    metrics = [json.loads(x) for x in (out / "runs" / "demo_cpu" / "metrics.jsonl").read_text().splitlines()]
    dumps = [json.loads(x) for f in sorted((out / "rollouts").glob("*.jsonl")) for x in f.read_text().splitlines()]
    return {"out": out, "data": data, "metrics": metrics, "trace": trace.read(str(out / "trace")), "dumps": dumps}


def _step(run, step):
    return [r["data"] for r in run["metrics"] if r["step"] == step and "training/global_step" in r["data"]][-1]


def _rows(run):
    frame = pd.read_parquet(run["data"] / "train_method.parquet")
    return {e["id"]: {"s_q": float(s), "answer": e["answer"]} for e, s in zip(frame["extra_info"], frame["s_q"])}


def _scored_samples(run, step):
    """Every rollout of a step with its group, its row and its accuracy recomputed from the dump."""
    variant = {(e["uid"], e["session"]): e for e in run["trace"] if e["event"] == "gdqa_rollout"}
    out = []
    for d in run["dumps"]:
        if d["step"] != step:
            continue
        uid, session, _ = d["uid"].rsplit("_", 2)
        v = variant[(uid, int(session))]
        opts = [o for _, o in re.findall(r"^([A-H])\. (.+)$", d["input"], flags=re.M)]
        out.append(
            {
                "uid": uid,
                "row": v["row"],
                "score": d["score"],
                "acc": accuracy_reward(d["output"], v["ground_truth"], {"options": opts}),
            }
        )
    return out


def test_logged_s_q_is_the_mean_of_the_batch_actually_drawn(run):
    rows = _rows(run)
    draws = [e for e in run["trace"] if e["event"] == "curriculum_batch"]
    # c(t) = sqrt(x (1 - c0^2) + c0^2), x = t / T, root pacing, c0 = 0.2, T = 4 steps; batch t = step - 1
    competence = {1: 0.2, 2: float(np.sqrt(0.25 * 0.96 + 0.04))}
    for step in (1, 2):
        drawn = [rows[i]["s_q"] for e in draws if e["step"] == step for i in e["ids"]]
        assert len(drawn) == 4
        m = _step(run, step)
        assert m["curriculum/batch_mean_s_q"] == pytest.approx(np.mean(drawn), abs=1e-9)
        assert m["curriculum/competence"] == pytest.approx(competence[step], abs=1e-12)
        assert m["curriculum/pool_size"] == np.ceil(competence[step] * len(rows) - 1e-9)
        # the curriculum drew from the easiest rows
        pool = sorted(r["s_q"] for r in rows.values())[: int(m["curriculum/pool_size"])]
        assert max(drawn) <= max(pool) + 1e-12


def test_accuracy_per_s_q_bucket_is_exact(run):
    rows = _rows(run)
    edges = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    for step in (1, 2):
        buckets = defaultdict(list)
        for smp in _scored_samples(run, step):
            s_q = rows[smp["row"]]["s_q"]
            j = min(int(np.searchsorted(edges, s_q, side="right")) - 1, len(edges) - 2)
            buckets[f"curriculum/acc_s_q_{edges[j]:.1f}-{edges[j + 1]:.1f}"].append(smp["acc"])
        logged = {k: v for k, v in _step(run, step).items() if k.startswith("curriculum/acc_s_q_")}
        assert logged == pytest.approx({k: float(np.mean(v)) for k, v in buckets.items()}, abs=1e-12)


def test_gdqa_groups_see_different_prompts(run):
    sessions = defaultdict(dict)
    for e in run["trace"]:
        if e["event"] == "gdqa_rollout":
            sessions[e["uid"]][e["session"]] = e
    assert len(sessions) == 8  # 4 prompts x 2 steps
    for by_session in sessions.values():
        assert sorted(by_session) == [0, 1, 2, 3], "rollout.n sessions of one uid"
        assert len({e["prompt_hash"] for e in by_session.values()}) == 4, "K=4 distinct prompts in one group"
    letters = [{e["ground_truth"] for e in s.values()} for s in sessions.values()]
    assert any(len(ls) > 1 for ls in letters), "option permutations never moved the letter"


def test_each_rollout_scored_against_its_own_variant(run):
    variant = {(e["uid"], e["session"]): e["ground_truth"] for e in run["trace"] if e["event"] == "gdqa_rollout"}
    assert run["dumps"], "no rollout dump"
    checked = 0
    for d in run["dumps"]:
        uid, session, _ = d["uid"].rsplit("_", 2)
        gt = variant[(uid, int(session))]
        options = re.findall(r"^([A-H])\. (.+)$", d["input"], flags=re.M)
        opts = [o for _, o in options]
        expected = (
            accuracy_reward(d["output"], gt, {"options": opts})
            + 0.5 * format_reward(d["output"])
            + (1.0 if gt == "A" else 0.0)
        )
        assert d["score"] == pytest.approx(expected, abs=1e-6), d
        checked += 1
    assert checked == 32


def test_invalid_gradient_ratio_is_the_exact_share_of_flat_groups(run):
    rows = _rows(run)
    for step in (1, 2):
        groups, row_of = defaultdict(list), {}
        for smp in _scored_samples(run, step):
            groups[smp["uid"]].append(smp["score"])
            row_of[smp["uid"]] = smp["row"]
        assert len(groups) == 4 and all(len(g) == 4 for g in groups.values())
        flat = {u: max(g) - min(g) <= 1e-8 for u, g in groups.items()}
        by_class = defaultdict(list)
        for u, f in flat.items():
            by_class[rows[row_of[u]]["answer"]].append(f)
        m = _step(run, step)
        assert m["gdqa/invalid_gradient_ratio"] == pytest.approx(np.mean(list(flat.values())), abs=1e-12)
        logged = {k.rsplit("/", 1)[1]: v for k, v in m.items() if k.startswith("gdqa/invalid_gradient_ratio/")}
        assert logged == pytest.approx({c: float(np.mean(f)) for c, f in by_class.items()}, abs=1e-12)
        assert m["reward/errors"] == 0.0


def test_composes_with_dapo_dynamic_sampling(run):
    """ASCL + GDQA + DAPO's filter_groups (verl's V1 replay buffer drops zero-spread groups) together."""
    out, data = run["out"], run["data"]
    env = child_env(out)
    cmd = child_command(
        "demo",
        "trainer.experiment_name=dapo",
        f"data.train_files={data / 'train_method.parquet'}",
        f"data.val_files={data / 'val.parquet'}",
        "anatomy_r1.curriculum.enable=true",
        "anatomy_r1.gdqa.enable=true",
        "algorithm.filter_groups.enable=true",
        "algorithm.filter_groups.metric=acc",
        "trainer.total_training_steps=2",
        "trainer.test_freq=-1",
        "trainer.val_before_train=False",
        "data.train_batch_size=4",
        "actor_rollout_ref.actor.ppo_mini_batch_size=4",
        *MECHANICS_MODEL,
    )
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    recs = [json.loads(x)["data"] for x in (out / "runs" / "dapo" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in recs if "training/global_step" in r]
    assert len(steps) == 2
    for m in steps:
        assert "curriculum/batch_mean_s_q" in m and "gdqa/invalid_gradient_ratio" in m
        # what reaches the update has reward spread in every group: DAPO filtered the rest
        assert m["gdqa/invalid_gradient_ratio"] == 0.0


def test_a_hook_from_outside_the_package_runs_through_the_trainer(run):
    """``anatomy_r1.hooks`` names tests/integration/toy_hook.py:ToyHook: the trainer builds it from its context,
    hands it each drawn batch (the key it adds reaches the step's samples) and each step's samples, and logs its
    metrics next to verl's, without the trainer knowing it."""
    for step in (1, 2):
        m = _step(run, step)
        assert m["toy/steps"] == step and m["toy/rows_drawn"] == 4 * step and m["toy/batch_size"] == 4
        assert m["toy/samples"] == 16 and m["toy/samples_marked"] == 16  # 4 prompts x rollout.n 4
        assert "curriculum/competence" in m and "gdqa/invalid_gradient_ratio" in m  # the built-in hooks still run
