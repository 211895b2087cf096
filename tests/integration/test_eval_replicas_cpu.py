"""CPU integration tier: ``anatomy-r1 eval --engine hfcpu --replicas 2`` serves the model from two of verl's rollout
replicas (``LLMServerManager``, standalone, the project's ``hfcpu`` backend) on a local Ray, answers what
``--engine hf`` answers, and survives a killed replica: the command fails naming it, keeps the answers written so
far, and ``--resume`` finishes with every question answered once."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from anatomy_r1_verl import trace
from anatomy_r1_verl.config.assets import asset_path
from tests.helpers import child_command, child_env

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MODEL = str(asset_path("tiny-qwen25vl-annotated"))  # the demo's model: image last, scans the grid
QUESTIONS = 96


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval_replicas")
    args = ("prepare", "synthetic", "--out", str(out / "data"), "--train", "8", "--val", "8")
    args += ("--test", str(QUESTIONS), "--seed", "1", "--image-position", "last", "--no-progress")
    p = subprocess.run(child_command(*args), env=child_env(out), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return out


def _eval(out, name, *flags, env=None, wait=True):
    cmd = child_command("eval", MODEL, str(out / "data" / "test.parquet"), "--out", str(out / name))
    cmd += ["--max-new-tokens", "128", "--no-progress", *flags]
    if not wait:
        return subprocess.Popen(
            cmd, env=env or child_env(out), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    p = subprocess.run(cmd, env=env or child_env(out), cwd=ROOT, capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout + p.stderr


def _responses(d: Path) -> list[dict]:
    return [json.loads(line) for line in (d / "responses.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def hf(data):
    rc, log = _eval(data, "hf")
    assert rc == 0, log[-3000:]
    return _responses(data / "hf")


def test_two_hfcpu_replicas_answer_what_hf_answers(data, hf):
    rc, log = _eval(data, "hfcpu2", "--engine", "hfcpu", "--replicas", "2")
    assert rc == 0, log[-3000:]
    assert "from 2 hfcpu replica(s)" in log
    served = _responses(data / "hfcpu2")
    assert [r["row"] for r in served] == list(range(QUESTIONS))  # rewritten in row order
    differ = [r["row"] for r, s in zip(hf, served) if r["response"] != s["response"]]
    assert len(differ) <= QUESTIONS // 100, differ  # greedy, fp32 both: at least 99 % the same
    metrics = json.loads((data / "hfcpu2" / "metrics.json").read_text())
    assert metrics["engine"] == "hfcpu" and metrics["replicas"] == 2
    assert metrics["questions_generated"] == QUESTIONS and metrics["questions_per_s"] > 0


def test_a_killed_replica_fails_the_run_and_resume_finishes_it(data, hf, tmp_path):
    trace_dir = tmp_path / "trace"
    env = child_env(data, trace_dir)
    # two requests in flight per replica: questions finish a few at a time, so the kill lands mid-run
    proc = _eval(data, "killed", "--engine", "hfcpu", "--replicas", "2", "--in-flight", "2", env=env, wait=False)
    out = data / "killed"
    deadline = time.time() + 300
    servers = []
    while time.time() < deadline and proc.poll() is None:
        servers = [e for e in trace.read(str(trace_dir)) if e["event"] == "rollout_server_started"]
        lines = (out / "responses.jsonl").read_text().count("\n") if (out / "responses.jsonl").exists() else 0
        if len(servers) == 2 and lines >= 8:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the evaluation ended before a replica could be killed:\n" + proc.stdout.read()[-3000:]
    victim = servers[1]["pid"]
    os.kill(victim, signal.SIGKILL)
    log = proc.communicate(timeout=300)[0]
    assert proc.returncode == 1, log[-4000:]
    assert "died mid-evaluation" in log and "hfcpu" in log and "replica" in log, log[-4000:]
    assert "--resume" in log
    kept = _responses(out)
    assert 8 <= len(kept) < QUESTIONS

    rc, log = _eval(data, "killed", "--engine", "hfcpu", "--replicas", "2", "--resume")
    assert rc == 0, log[-3000:]
    assert "already answered (--resume)" in log
    final = _responses(out)
    assert sorted(r["row"] for r in final) == list(range(QUESTIONS)), "a question is missing or answered twice"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["questions_resumed"] + metrics["questions_generated"] == QUESTIONS
    assert metrics["questions_resumed"] >= 8
    # the answers kept and the answers added are what one uninterrupted run gives (greedy)
    reference = {r["row"]: r["response"] for r in hf}
    assert sum(reference[r["row"]] == r["response"] for r in final) >= QUESTIONS - QUESTIONS // 100


def test_resume_refuses_other_settings(data, hf):
    rc, log = _eval(data, "hf", "--resume", "--temperature", "1.0", "--samples", "2")
    assert rc == 2
    assert "--resume with samples=2" in log and "another --out" in log, log[-2000:]
