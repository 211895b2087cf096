"""CPU integration tier: a curriculum run resumed from verl's checkpoint of step 1 draws exactly the batches
the uninterrupted run drew from step 2 on (the sampler's state rides in global_step_N/data.pt, the GDQA
memory in global_step_N/anatomy_r1_state.json), and samples exactly the same responses (the hfcpu
rollout seeds each response from the run's seed, the step and the prompt)."""

import subprocess
from pathlib import Path

import pytest

from anatomy_r1_verl import trace
from anatomy_r1_verl.trainer.state import read_method_state
from tests.helpers import MECHANICS_MODEL, child_command, child_env

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _run(out: Path, trace_dir: Path, *args) -> None:
    proc = subprocess.run(
        child_command(*args), env=child_env(out, trace_dir), cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]


@pytest.mark.parametrize("mode", ["static", "adaptive"])
def test_resumed_curriculum_draws_the_uninterrupted_batches(tmp_path, mode):
    """static: batches depend on (seed, t) only. adaptive: the first batch after the resume depends on the
    feedback saved with the checkpoint, later ones on the resumed run's own rollouts, which are the
    uninterrupted run's because sampling is reproducible. Either way, every later batch matches."""
    data = tmp_path / "data"
    _run(
        tmp_path,
        tmp_path / "prep",
        "prepare",
        "synthetic",
        "--out",
        str(data),
        "--train",
        "64",
        "--val",
        "16",
        "--test",
        "8",
        "--no-progress",
    )
    _run(
        tmp_path,
        tmp_path / "prep",
        "prepare",
        "score",
        str(data / "train.parquet"),
        "--out",
        str(data / "train_scored.parquet"),
        "--embedding",
        "none",
        "--no-progress",
    )
    common = [
        f"data.train_files={data / 'train_scored.parquet'}",
        f"data.val_files={data / 'val.parquet'}",
        "anatomy_r1.curriculum.enable=true",
        f"anatomy_r1.curriculum.mode={mode}",
        "trainer.total_training_steps=3",
        "trainer.test_freq=-1",
        "trainer.val_before_train=False",
        "data.train_batch_size=4",
        "actor_rollout_ref.actor.ppo_mini_batch_size=4",
        "actor_rollout_ref.rollout.n=4",
        *MECHANICS_MODEL,
    ]
    _run(tmp_path, tmp_path / "full", "demo", *common, "trainer.experiment_name=full", "trainer.save_freq=1")
    ckpt = tmp_path / "runs" / "full" / "checkpoints" / "global_step_1"
    assert (ckpt / "data.pt").is_file()
    saved = read_method_state(str(ckpt))  # the GDQA memory: one entry per row drawn in step 1
    assert saved is not None and len(saved["gdqa"]["invalid"]) == 4
    _run(
        tmp_path,
        tmp_path / "resumed",
        "demo",
        *common,
        "trainer.experiment_name=resumed",
        "trainer.resume_mode=resume_path",
        f"trainer.resume_from_path={ckpt}",
    )

    def draws(d):
        out = {}
        for e in trace.read(str(d), "curriculum_batch"):
            out.setdefault(e["step"], []).extend(e["ids"])
        return out

    loaded = trace.read(str(tmp_path / "resumed"), "method_state_loaded")
    assert [(e["step"], e["sizes"]["gdqa"]) for e in loaded] == [(1, 4)]
    full, resumed = draws(tmp_path / "full"), draws(tmp_path / "resumed")
    assert sorted(full) == [1, 2, 3] and sorted(resumed) == [2, 3]
    assert all(len(full[s]) == 4 for s in full)
    assert resumed[2] == full[2] and resumed[3] == full[3]

    def samples(d):
        return {
            e["step"]: sorted((s["ground_truth"], s["response"], s["score"]) for s in e["samples"])
            for e in trace.read(str(d), "step_samples")
        }

    full_s, resumed_s = samples(tmp_path / "full"), samples(tmp_path / "resumed")
    assert sorted(resumed_s) == [2, 3] and all(len(full_s[s]) == 16 for s in (1, 2, 3))
    assert resumed_s[2] == full_s[2] and resumed_s[3] == full_s[3]
