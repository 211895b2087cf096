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
from anatomy_r1_verl.cli import child_command, child_env
from reward_fns import accuracy_reward, format_reward

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
    cli("prepare", "augment", str(data / "train_scored.parquet"), "--out", str(data / "train_method.parquet"),
        "--k", "4")
    letter = f"{HERE / 'letter_a.py'}:gt_is_a"
    cmd = child_command("demo",
                 f"data.train_files={data / 'train_method.parquet'}", f"data.val_files={data / 'val.parquet'}",
                 "anatomy_r1.curriculum.enable=true", "anatomy_r1.gdqa.enable=true",
                 "trainer.total_training_steps=2", "trainer.test_freq=-1", "trainer.val_before_train=False",
                 "data.train_batch_size=4", "actor_rollout_ref.actor.ppo_mini_batch_size=4",
                 "actor_rollout_ref.rollout.n=4", f"trainer.rollout_data_dir={out / 'rollouts'}",
                 "+reward.custom_reward_function.reward_kwargs.weights.letter=1.0",
                 f"+reward.custom_reward_function.reward_kwargs.components.letter='{letter}'")
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    metrics = [json.loads(x) for x in (out / "runs" / "demo_cpu" / "metrics.jsonl").read_text().splitlines()]
    dumps = [json.loads(x) for f in sorted((out / "rollouts").glob("*.jsonl")) for x in f.read_text().splitlines()]
    return {"out": out, "data": data, "metrics": metrics, "trace": trace.read(str(out / "trace")), "dumps": dumps}


def _step(run, step):
    return [r["data"] for r in run["metrics"] if r["step"] == step and "training/global_step" in r["data"]][-1]


def test_logged_s_q_is_the_mean_of_the_batch_actually_drawn(run):
    s_q = pd.read_parquet(run["data"] / "train_method.parquet")
    by_id = dict(zip(s_q["extra_info"].map(lambda e: e["id"]), s_q["s_q"]))
    draws = [e for e in run["trace"] if e["event"] == "curriculum_batch"]
    for step in (1, 2):
        drawn = [by_id[i] for e in draws if e["step"] == step for i in e["ids"]]
        assert len(drawn) == 4
        m = _step(run, step)
        assert m["curriculum/batch_mean_s_q"] == pytest.approx(np.mean(drawn), abs=1e-9)
        assert 0 < m["curriculum/competence"] <= 1
        # the curriculum drew from the easiest rows
        pool = sorted(by_id.values())[: int(m["curriculum/pool_size"])]
        assert max(drawn) <= max(pool) + 1e-12
    assert any(k.startswith("curriculum/acc_s_q_") for k in _step(run, 1))


def test_gdqa_groups_see_different_prompts(run):
    sessions = defaultdict(dict)
    for e in run["trace"]:
        if e["event"] == "gdqa_rollout":
            sessions[e["uid"]][e["session"]] = e
    assert len(sessions) == 8  # 4 prompts x 2 steps
    for uid, by_session in sessions.items():
        assert sorted(by_session) == [0, 1, 2, 3], "rollout.n sessions of one uid"
        assert len({e["prompt_hash"] for e in by_session.values()}) == 4, "K=4 distinct prompts in one group"
    letters = [{e["ground_truth"] for e in s.values()} for s in sessions.values()]
    assert any(len(ls) > 1 for ls in letters), "option permutations never moved the letter"


def test_each_rollout_scored_against_its_own_variant(run):
    variant = {(e["uid"], e["session"]): e["ground_truth"]
               for e in run["trace"] if e["event"] == "gdqa_rollout"}
    assert run["dumps"], "no rollout dump"
    checked = 0
    for d in run["dumps"]:
        uid, session, _ = d["uid"].rsplit("_", 2)
        gt = variant[(uid, int(session))]
        options = re.findall(r"^([A-H])\. (.+)$", d["input"], flags=re.M)
        opts = [o for _, o in options]
        expected = (accuracy_reward(d["output"], gt, {"options": opts}) + 0.5 * format_reward(d["output"])
                    + (1.0 if gt == "A" else 0.0))
        assert d["score"] == pytest.approx(expected, abs=1e-6), d
        checked += 1
    assert checked == 32


def test_invalid_gradient_ratio_logged(run):
    for step in (1, 2):
        m = _step(run, step)
        assert 0.0 <= m["gdqa/invalid_gradient_ratio"] <= 1.0
        classes = [k for k in m if k.startswith("gdqa/invalid_gradient_ratio/")]
        assert classes


def test_composes_with_dapo_dynamic_sampling(run):
    """ASCL + GDQA + DAPO's filter_groups (verl's V1 replay buffer drops zero-spread groups) together."""
    out, data = run["out"], run["data"]
    env = child_env(out)
    cmd = child_command("demo", "trainer.experiment_name=dapo",
                 f"data.train_files={data / 'train_method.parquet'}", f"data.val_files={data / 'val.parquet'}",
                 "anatomy_r1.curriculum.enable=true", "anatomy_r1.gdqa.enable=true",
                 "algorithm.filter_groups.enable=true", "algorithm.filter_groups.metric=acc",
                 "trainer.total_training_steps=2", "trainer.test_freq=-1", "trainer.val_before_train=False",
                 "data.train_batch_size=4", "actor_rollout_ref.actor.ppo_mini_batch_size=4")
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    recs = [json.loads(x)["data"] for x in (out / "runs" / "dapo" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in recs if "training/global_step" in r]
    assert len(steps) == 2
    for m in steps:
        assert "curriculum/batch_mean_s_q" in m and "gdqa/invalid_gradient_ratio" in m
        # what reaches the update has reward spread in every group: DAPO filtered the rest
        assert m["gdqa/invalid_gradient_ratio"] == 0.0
