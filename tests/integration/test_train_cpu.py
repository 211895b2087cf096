"""CPU integration tier: `anatomy-r1 train` runs verl 0.9.1's real GRPO trainer (Ray, FSDP2, hfcpu
rollout, reward workers, validation) for 2 steps on image questions, and we check what happened."""

import json
import subprocess
from pathlib import Path

import pytest
import torch

from anatomy_r1_verl import trace
from tests.helpers import assert_eval_reproduces_validation, child_command, child_env, eval_matches_validation

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    env = child_env(out, out / "trace")
    bonus = f"{HERE / 'length_bonus.py'}:brevity"
    cmd = child_command(
        "demo",
        "trainer.total_training_steps=2",
        "trainer.test_freq=2",
        "trainer.val_before_train=False",
        "trainer.save_freq=2",  # the checkpoint `anatomy-r1 eval` must score as the step-2 validation did
        f"trainer.validation_data_dir={out / 'val_dump'}",
        "data.train_batch_size=4",
        "actor_rollout_ref.actor.ppo_mini_batch_size=4",
        "actor_rollout_ref.rollout.n=4",
        "anatomy_r1.demo.questions.train=32",
        "anatomy_r1.demo.questions.val=16",
        "anatomy_r1.demo.questions.test=8",
        # weight decay off: any change of the actor's weights comes from the policy gradient
        "actor_rollout_ref.actor.optim.weight_decay=0.0",
        "+reward.custom_reward_function.reward_kwargs.weights.brevity=1.0",
        f"+reward.custom_reward_function.reward_kwargs.components.brevity='{bonus}'",
    )
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    (out / "run.log").write_text(log)
    assert proc.returncode == 0, log[-6000:]
    run_dir = out / "runs" / "demo_cpu"
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {"out": out, "log": log, "metrics": metrics, "trace": trace.read(str(out / "trace"))}


def _step(run, step):
    recs = [r["data"] for r in run["metrics"] if r["step"] == step and "training/global_step" in r["data"]]
    assert recs, f"no training metrics for step {step}"
    return recs[-1]


def _val_core(run, step):
    return _step(run, step)["val-core/synthetic_scene/acc/mean@1"]


def test_step_metrics_logged(run):
    for step in (1, 2):
        m = _step(run, step)
        for key in (
            "critic/score/mean",
            "reward/score/mean",
            "reward/acc/mean",
            "reward/format/mean",
            "actor/pg_loss",
            "actor/kl_loss",
            "actor/grad_norm",
        ):
            assert key in m, f"step {step}: {key} missing from {sorted(m)}"
        # the console logger printed verl's step line too
        assert f"step:{step} -" in run["log"]
    final = _step(run, 2)
    assert "val-core/synthetic_scene/acc/mean@1" in final
    assert "final validation accuracy (step 2)" in run["log"]


def test_policy_gradient_flowed(run):
    m = _step(run, 1)
    assert m["critic/advantages/max"] > 0, "no reward spread in any group: nothing to learn from"
    assert m["actor/grad_norm"] > 0


def test_actor_weights_changed_and_rollout_received_them(run):
    sent = {e["version"]: e for e in run["trace"] if e["event"] == "rollout_weights_sent"}
    loaded = {e["version"]: e for e in run["trace"] if e["event"] == "rollout_weights_loaded"}
    assert {0, 1, 2} <= set(sent), sorted(sent)
    for v in (0, 1, 2):
        assert loaded[v]["checksum"] == pytest.approx(sent[v]["checksum"], rel=0, abs=1e-9), v
        assert loaded[v]["n_tensors"] == sent[v]["n_tensors"] > 0
    assert sent[1]["checksum"] != sent[0]["checksum"], "actor weights did not change in step 1"
    assert sent[2]["checksum"] != sent[1]["checksum"], "actor weights did not change in step 2"


def test_images_reached_the_model(run):
    rollout = [e for e in run["trace"] if e["event"] == "rollout_images"]
    assert rollout and all(e["pixel_values"][0] > 0 and e["image_pad_tokens"] > 0 for e in rollout)
    train = [e for e in run["trace"] if e["event"] == "vision_forward" and e["grad"]]
    assert train, "the actor's vision tower never ran with gradients: training was text-only"
    assert all(e["pixel_values"][0] > 0 for e in train)


def test_rollout_and_actor_score_the_same_policy(run):
    """The hfcpu rollout's log-probs of its own samples equal the FSDP actor's (fp32 both, Qwen2.5-VL's
    3-D image positions both): GRPO trains the policy that sampled the data. Before the image token
    types reached generate, max differences were ~0.1."""
    for step in (1, 2):
        m = _step(run, step)
        assert m["training/rollout_probs_diff_max"] < 1e-3, m["training/rollout_probs_diff_max"]


def test_advantages_are_each_groups_normalised_rewards(run):
    """Audit of the trained batch (trace event ``step_samples``): rollout.n samples per prompt, and every
    sample's GRPO advantage is its own reward, centred and scaled within its own group."""
    events = {e["step"]: e for e in run["trace"] if e["event"] == "step_samples"}
    assert {1, 2} <= set(events)
    for step in (1, 2):
        groups = {}
        for s in events[step]["samples"]:
            groups.setdefault(s["uid"], []).append(s)
        assert len(groups) == 4 and all(len(g) == 4 for g in groups.values())
        for g in groups.values():
            scores = torch.tensor([s["score"] for s in g], dtype=torch.float64)
            expect = (scores - scores.mean()) / (scores.std() + 1e-6)
            got = torch.tensor([s["advantage"] for s in g], dtype=torch.float64)
            assert torch.allclose(got, expect, atol=1e-3), (got, expect)
            assert len({s["ground_truth"] for s in g}) == 1


def test_cpu_runtime_as_seen_inside_the_ray_workers(run):
    """The settings that keep a CPU run's pace beside other work (cpu profile, ``anatomy_r1.cpu_runtime``;
    docs/benchmarks.md, "Training beside other work"), read inside the Ray workers themselves: workers at nice 0,
    not Ray's default 15; OpenMP's short spin; torch threads that follow the free cores; the FSDP engine with its
    2 torch threads (on a machine with 2 free cores), the hfcpu server with 1."""
    seen = {e["kind"]: e for e in run["trace"] if e["event"] == "cpu_runtime"}
    assert set(seen) >= {"FSDP engine", "hfcpu server"}, sorted(seen)
    for kind, e in seen.items():
        assert e["nice"] == 0, (kind, e)
        assert e["GOMP_SPINCOUNT"] == "10000" and e["OMP_NUM_THREADS"] == "1", (kind, e)
        assert e["ANATOMY_R1_ADAPTIVE_THREADS"] == "1", (kind, e)
    assert seen["FSDP engine"]["torch_threads"] == 2 and seen["hfcpu server"]["torch_threads"] == 1
    line = next(ln for ln in run["log"].splitlines() if ln.startswith("[anatomy-r1] cpu runtime: "))
    shown = dict(kv.split("=", 1) for kv in line.removeprefix("[anatomy-r1] cpu runtime: ").split(", "))
    assert shown["RAY_worker_niceness"] == "0" and shown["GOMP_SPINCOUNT"] == "10000", line
    assert shown["ANATOMY_R1_ADAPTIVE_THREADS"] == "1" and shown["OMP_NUM_THREADS"] == "1", line


def test_eval_of_the_checkpoint_reproduces_the_validation(run):
    """`anatomy-r1 eval` of the step-2 checkpoint, with no setting given, answers the 16 val questions as verl's
    step-2 validation did (the response length and sampling come from the run's config; docs/lora.md)."""
    got = eval_matches_validation(run["out"], 2)
    assert "max_new_tokens=160 (the run's" in got["stdout"]
    val_core = _val_core(run, 2)
    assert_eval_reproduces_validation(got, val_core)
