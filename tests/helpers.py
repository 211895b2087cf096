"""Helpers for tests (and benchmarks) that run the ``anatomy-r1`` command line in a child process."""

from __future__ import annotations

import sys


def child_command(*args: str) -> list[str]:
    """argv that runs ``anatomy-r1 ARGS`` in a child process with this interpreter."""
    return [sys.executable, "-m", "anatomy_r1_verl", *args]


def timed_demo_command(name: str, steps: int, overrides: list[str]) -> list[str]:
    """argv of ``anatomy-r1 demo`` for a timing benchmark: ``steps`` steps as experiment ``name``, without
    validation or checkpoints, then ``overrides``."""
    return child_command(
        "demo",
        f"trainer.experiment_name={name}",
        f"trainer.total_training_steps={steps}",
        "trainer.test_freq=-1",
        "trainer.val_before_train=False",
        "trainer.save_freq=-1",
        *overrides,
    )


def child_env(output_dir, trace_dir=None) -> dict[str, str]:
    """Environment for a child ``anatomy-r1`` whose runs, demo data and metrics go under ``output_dir``.

    An inherited ``VERL_FILE_LOGGER_PATH`` would send verl's metrics elsewhere, so it is dropped; tracing
    is on only when ``trace_dir`` is given."""
    from anatomy_r1_verl.bench.runner import child_env as run_env

    env = run_env(output_dir)
    if trace_dir is not None:
        env["ANATOMY_R1_TRACE_DIR"] = str(trace_dir)
    return env


# The integration tests that make their own questions (`prepare synthetic`: image first) run the demo recipe on
# the default model, whose data that is, and its 64-token budget: they check the trainer's mechanics (draws,
# resumes, scores, syncs), and the reproducibility they assert was measured on it. The demo's own model
# (image last, 128-token scans) samples long, out-of-distribution responses on such data, so two rollout
# servers' float-order flips changed 10 of 16 samples after a resume instead of 1-2. test_train_cpu runs the
# demo as shipped.
MECHANICS_MODEL = ("actor_rollout_ref.model.path=${ar1_asset:tiny-qwen25vl-warm}", "data.max_response_length=64")


# Responses allowed to differ between verl's validation and `anatomy-r1 eval` of the same checkpoint: the eval
# reads verl's bf16-rounded merge of the fp32 actor, and batches its prompts its own way, so a greedy answer on the
# edge of a tie can flip (one response of 16, once, in the LoRA test's CI runs; docs/lora.md). A wrong response
# length, prompt or sampling setting changes most of them.
PARITY_FLIPS = 1


def assert_eval_reproduces_validation(got: dict, val_core: float) -> None:
    """The eval of a demo checkpoint answers its validation's questions as the validation did, up to
    :data:`PARITY_FLIPS` responses (each flip moving the accuracy by at most one question)."""
    import pytest

    n_val, n_eval = got["n"]
    assert n_val == n_eval == 16 and got["val_acc"] == pytest.approx(val_core), got
    only_val, only_eval = got["differ"]
    assert only_val == only_eval <= PARITY_FLIPS, got
    assert abs(got["eval_acc"][0] - val_core) <= only_val / n_val + 1e-9, got


def eval_matches_validation(run_out, step: int) -> dict:
    """Run ``anatomy-r1 eval`` on a demo run's step-``step`` checkpoint and its val file, with the run's own
    settings (none given), and set its answers beside verl's validation dump of that step
    (``trainer.validation_data_dir=<run_out>/val_dump``): returns both accuracies, the number of responses in
    each multiset that the other lacks (a check that does not depend on the dump's order), and the eval's stdout."""
    import json
    import subprocess
    from collections import Counter
    from pathlib import Path

    run_out = Path(run_out)
    ckpt = run_out / "runs" / "demo_cpu" / "checkpoints" / f"global_step_{step}"
    out = run_out / "eval_parity"
    cmd = child_command("eval", str(ckpt), str(run_out / "data" / "demo" / "val.parquet"), "--out", str(out))
    proc = subprocess.run(cmd, env=child_env(run_out), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    dumped = [json.loads(line) for line in (run_out / "val_dump" / f"{step}.jsonl").read_text().splitlines()]
    evaluated = [json.loads(line) for line in (out / "responses.jsonl").read_text().splitlines()]
    val = Counter((d["output"], float(d["acc"])) for d in dumped)
    ours = Counter((r["response"], float(r["acc"])) for r in evaluated)
    return {
        "val_acc": sum(d["acc"] for d in dumped) / len(dumped),
        "eval_acc": [
            b["overall"]["acc"]["value"] for b in json.loads((out / "metrics.json").read_text())["benchmarks"].values()
        ],
        "n": (len(dumped), len(evaluated)),
        "differ": (sum((val - ours).values()), sum((ours - val).values())),
        "stdout": proc.stdout,
    }


def scored_record(row, response, answer="Gallbladder", options=("Liver", "Gallbladder", "Gut", "Omentum"), s_q=None):
    """A scored response record of `anatomy-r1 eval` (benchmark "b"): question ``row`` answered ``response``,
    its truth ``answer`` among ``options``, and its S(q) when given."""
    from anatomy_r1_verl.evaluation.scoring import score

    letter = "ABCD"[list(options).index(answer)]
    extra = {"answer": answer, "options": list(options), **({} if s_q is None else {"s_q": s_q})}
    rec = {
        "benchmark": "b",
        "file": "f",
        "row": row,
        "id": str(row),
        "data_source": "synthetic_scene",
        "ground_truth": letter,
        "answer_class": answer,
        "question_type": "",
        "complexity": "",
        "modality": "",
        "extra_info": extra,
        "sample": 0,
        "response": response,
    }
    rec.update(score(rec))
    return rec
