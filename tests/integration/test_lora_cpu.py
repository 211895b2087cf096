"""CPU integration tier, LoRA: `anatomy-r1 demo lora=on` trains adapters through verl's real trainer (FSDP2 +
peft, the actor with its adapters off as the reference), the hfcpu rollout serves the adapter verl sends after
each update, and `anatomy-r1 eval` of the LoRA checkpoint (verl's merger + the adapter folded in) reproduces the
step-2 validation."""

import json
import subprocess
from pathlib import Path

import pytest
import torch

from anatomy_r1_verl import trace
from tests.helpers import assert_eval_reproduces_validation, child_command, child_env, eval_matches_validation

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lora")
    cmd = child_command(
        "demo",
        "lora=on",
        "trainer.total_training_steps=2",
        "trainer.test_freq=2",
        "trainer.val_before_train=False",
        "trainer.save_freq=2",
        f"trainer.validation_data_dir={out / 'val_dump'}",
        "data.train_batch_size=4",
        "actor_rollout_ref.actor.ppo_mini_batch_size=4",
        "actor_rollout_ref.rollout.n=4",
        "actor_rollout_ref.actor.optim.lr=3e-3",  # adapters start at zero: a rate that moves them in 2 steps
        "anatomy_r1.demo.questions.train=32",
        "anatomy_r1.demo.questions.val=16",
        "anatomy_r1.demo.questions.test=8",
    )
    proc = subprocess.run(cmd, env=child_env(out, out / "trace"), cwd=ROOT, capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    (out / "run.log").write_text(log)
    assert proc.returncode == 0, log[-6000:]
    metrics = [json.loads(line) for line in (out / "runs" / "demo_cpu" / "metrics.jsonl").read_text().splitlines()]
    return {"out": out, "log": log, "metrics": metrics, "trace": trace.read(str(out / "trace"))}


def _step(run, step):
    return [r["data"] for r in run["metrics"] if r["step"] == step and "training/global_step" in r["data"]][-1]


def test_the_rollout_serves_each_steps_adapter(run):
    loaded = [e for e in run["trace"] if e["event"] == "rollout_weights_loaded"]
    adapters = [e for e in loaded if e.get("adapter")]
    assert len(adapters) >= 2, loaded  # one after each update
    # only the adapter travels: 7 projections x 2 matrices x the tiny model's layers, not the 68 model tensors
    assert all(e["n_tensors"] % 14 == 0 and e["n_tensors"] < 68 for e in adapters)
    assert len({e["checksum"] for e in adapters}) == len(adapters)  # a new adapter each step
    for step in (1, 2):
        m = _step(run, step)
        # the server's log-probs of the sampled tokens are the actor's (base + adapter)
        assert m["training/rollout_probs_diff_max"] < 1e-3, m["training/rollout_probs_diff_max"]
        assert m["actor/grad_norm"] > 0


def test_eval_of_the_lora_checkpoint_reproduces_the_validation(run):
    got = eval_matches_validation(run["out"], 2)
    assert "folding the LoRA adapter" in got["stdout"]
    val_core = _step(run, 2)["val-core/synthetic_scene/acc/mean@1"]
    assert_eval_reproduces_validation(got, val_core)
    # the adapter trained (lora_B left zero): the folded model is not the warm start
    from safetensors.torch import load_file

    merged = run["out"] / "runs" / "demo_cpu" / "checkpoints" / "global_step_2" / "merged_hf"
    adapter = load_file(str(merged / "lora_adapter" / "adapter_model.safetensors"))
    assert max(v.abs().max().item() for k, v in adapter.items() if "lora_B" in k) > 0
    assert not any("lora_" in k for k in load_file(str(merged / "model.safetensors")))
    assert torch.is_tensor(next(iter(adapter.values())))
