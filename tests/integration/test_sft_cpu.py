"""CPU integration tier: `anatomy-r1 train ssgvqa_sft profile=cpu model=tiny benchmark=synthetic` runs verl's own
SFT trainer (torchrun, FSDP2 engine on the project's cpu platform) for 2 steps, and `anatomy-r1 eval` merges the
checkpoint it saved with verl's model merger and scores it."""

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import child_command, child_env

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _run(out: Path, *args, env_extra=None) -> str:
    env = dict(child_env(out), **(env_extra or {}))
    proc = subprocess.run(child_command(*args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return proc.stdout + proc.stderr


def _synthetic(out: Path, data: Path, test: int) -> None:
    """16 train and 8 val synthetic questions (and ``test``) in ``data``."""
    _run(
        out,
        "prepare",
        "synthetic",
        "--out",
        str(data),
        "--train",
        "16",
        "--val",
        "8",
        "--test",
        str(test),
        "--no-progress",
    )


def _losses(run: Path) -> list[float]:
    metrics = [json.loads(line)["data"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [m["train/loss"] for m in metrics if "train/loss" in m]


def test_sft_recipe_trains_and_its_checkpoint_evaluates(tmp_path):
    data = tmp_path / "data" / "synthetic"
    _synthetic(tmp_path, data, test=8)
    for split in ("train", "val", "test"):
        _run(tmp_path, "prepare", "sft", str(data / f"{split}.parquet"), "--out", str(data / f"sft_{split}.parquet"))
    log = _run(
        tmp_path,
        "train",
        "ssgvqa_sft",
        "profile=cpu",
        "model=tiny",
        "benchmark=synthetic",
        "trainer.total_training_steps=2",
        "data.train_batch_size=4",
        "data.micro_batch_size_per_gpu=4",
        env_extra={"ANATOMY_R1_DATA": str(tmp_path / "data")},
    )
    assert "verl.trainer.sft_trainer" in log and "final losses (step 2)" in log
    run = tmp_path / "runs" / "ssgvqa_sft"
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = _losses(run)
    assert len(losses) == 2 and all(loss > 0 for loss in losses)
    assert any("val/loss" in m["data"] for m in metrics)
    ckpt = run / "checkpoints" / "global_step_2"
    assert (ckpt / "model_world_size_1_rank_0.pt").is_file()

    out = tmp_path / "eval"
    _run(tmp_path, "eval", str(ckpt), str(data / "sft_test.parquet"), "--out", str(out), "--no-progress")
    assert (ckpt / "merged_hf" / "config.json").is_file()  # verl's model merger wrote the HF model
    m = json.loads((out / "metrics.json").read_text())
    assert m["method"] == "ssgvqa_sft" and m["step"] == 2  # provenance read from the run's config.yaml
    recs = [json.loads(line) for line in (out / "responses.jsonl").read_text().splitlines()]
    assert len(recs) == 8 and m["benchmarks"]["synthetic_scene"]["n"] == 8


def test_two_sft_seeds_train_on_different_batches(tmp_path):
    """verl 0.9.1's SFT sampler ignores trainer.seed; the bench's seed-ordered train files (bench.data.SFTFile) are
    what makes two seeds two runs: their loss curves differ."""
    from anatomy_r1_verl.bench.data import SFTFile, make_sft_train

    data = tmp_path / "data"
    _synthetic(tmp_path, data, test=0)
    _run(tmp_path, "prepare", "sft", str(data / "val.parquet"), "--out", str(data / "sft_val.parquet"))
    curves = {}
    for seed in (0, 1):
        name = f"sft_seed{seed}"
        _run(
            tmp_path,
            "train",
            "ssgvqa_sft",
            "profile=cpu",
            "model=tiny",
            "benchmark=synthetic",
            f"anatomy_r1.data_dir={data}",
            f"data.train_files={make_sft_train(data, SFTFile(seed, 'answer', 12))}",
            f"trainer.experiment_name={name}",
            f"trainer.seed={seed}",
            "trainer.total_training_steps=3",
            "data.train_batch_size=4",
            "data.micro_batch_size_per_gpu=4",
        )
        curves[seed] = _losses(tmp_path / "runs" / name)
    assert len(curves[0]) == len(curves[1]) == 3 and curves[0] != curves[1], curves
