"""The CPU demo's step time on a busy machine: idle, then beside 1 and 2 busy processes, in one run.

Each condition runs ``anatomy-r1 demo`` (the demo recipe: verl's real trainer, Ray, FSDP2, the hfcpu rollout) for
``--steps`` steps without validation, beside 0, 1 or 2 busy processes started at nice 0 just before it and
stopped after it: ``python`` (a pure-Python loop, as a browser tab or an editor's indexer) or ``matmul`` (a
one-thread numpy matrix-multiply loop, as a second experiment). It reports, per condition, the median of verl's
``timing_s/step`` over the steps after ``--warmup``, its ratio to the idle median, and the wall time of the
command. A condition that does not finish within ``--timeout`` seconds reports the steps it logged (a step still
running then is at least the time since the last one).

Extra ``key=value`` arguments go to every demo run (verl or ``anatomy_r1`` overrides); ``--env NAME=VALUE`` sets a
variable for the runs, recorded in the JSON line. ``--variant NAME:KEY=VALUE[;KEY=VALUE]`` (repeatable) runs every
condition once per variant, the variants back to back within each condition, so that a setting is compared with
its alternative in one run (``--repeat`` runs the whole sequence again):

    .venv/bin/python benchmarks/bench_contention.py [--steps 8] [--warmup 2] [--busy python,matmul]
    .venv/bin/python benchmarks/bench_contention.py --counts 0 --repeat 2 \
        --variant off:anatomy_r1.cpu_runtime.adaptive_threads=false --variant on:anatomy_r1.cpu_runtime.adaptive_threads=true
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anatomy_r1_verl.report.runlog import read_records  # noqa: E402
from tests.helpers import child_env, timed_demo_command  # noqa: E402

BUSY = {
    "python": "while True:\n    pass\n",
    "matmul": "import numpy as np\na = np.random.rand(384, 384)\nwhile True:\n    a @ a\n",
}


def start_busy(kind: str, count: int) -> list[subprocess.Popen]:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return [subprocess.Popen([sys.executable, "-c", BUSY[kind]], env=env) for _ in range(count)]


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def demo_run(out: Path, name: str, steps: int, overrides: list[str], env_extra: dict, timeout: float) -> dict:
    """verl's per-step times of one demo run, its wall time and whether it finished."""
    env = {**child_env(out), **env_extra}
    cmd = timed_demo_command(name, steps, overrides)
    t0 = time.perf_counter()
    log = open(out / f"{name}.log", "w")
    # its own process group (to stop it whole) in this session: the busy processes and the demo share the
    # scheduler's autogroup, as a loop started from the same shell or a CI job's processes do
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, process_group=0)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()
        rc = None
    finally:
        log.close()
    wall = time.perf_counter() - t0
    records = read_records(out / "runs" / name)
    step_s = [r["timing_s/step"] for r in records if "timing_s/step" in r]
    if rc not in (0, None):
        raise RuntimeError(f"demo run {name} failed (rc {rc}); see {out / (name + '.log')}")
    return {"step_s": step_s, "wall_s": wall, "finished": rc == 0}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=6, help="steps per condition (default %(default)s)")
    p.add_argument("--warmup", type=int, default=2, help="first steps left out of the medians")
    p.add_argument("--busy", default="python,matmul", help="kinds of busy process: python, matmul (comma list)")
    p.add_argument("--counts", default="1,2", help="how many busy processes beside the demo (comma list)")
    p.add_argument("--timeout", type=float, default=900, help="seconds before a condition is stopped")
    p.add_argument("--env", action="append", default=[], help="NAME=VALUE for the demo runs (repeatable)")
    p.add_argument("--variant", action="append", default=[], help="NAME:KEY=VALUE[;KEY=VALUE] (repeatable)")
    p.add_argument("--repeat", type=int, default=1, help="run the whole sequence this many times")
    p.add_argument("--out", help="working folder (default: a temporary one)")
    p.add_argument("overrides", nargs="*", help="key=value overrides for every demo run")
    a = p.parse_args()
    env_extra = dict(kv.split("=", 1) for kv in a.env)
    out = Path(a.out or tempfile.mkdtemp(prefix="bench_contention_"))
    out.mkdir(parents=True, exist_ok=True)
    counts = [int(c) for c in a.counts.split(",")]
    conditions = [("idle", 0)] + [(k, c) for k in a.busy.split(",") for c in counts if c > 0]
    variants = [(v.split(":", 1)[0], [o for o in v.split(":", 1)[1].split(";") if o]) for v in a.variant] or [("", [])]
    rows = []
    for rep in range(a.repeat):
        for kind, count in conditions:
            for vname, vover in variants:
                name = "_".join(x for x in (f"{kind}_{count}", vname, f"r{rep}" if a.repeat > 1 else "") if x)
                busy = start_busy(kind, count) if count else []
                try:
                    r = demo_run(out, name, a.steps, [*a.overrides, *vover], env_extra, a.timeout)
                finally:
                    stop(busy)
                kept = r["step_s"][a.warmup :]
                r.update(
                    condition=f"{kind}_{count}",
                    variant=vname,
                    repeat=rep,
                    kind=kind,
                    busy=count,
                    median_step_s=statistics.median(kept) if kept else None,
                )
                rows.append(r)
                print(
                    f"[bench_contention] {name}: steps {[round(s, 1) for s in r['step_s']]}, wall {r['wall_s']:.0f} s"
                    + ("" if r["finished"] else f" (stopped at {a.timeout:.0f} s)"),
                    flush=True,
                )
    idle = {
        v: statistics.median([r["median_step_s"] for r in rows if r["busy"] == 0 and r["variant"] == v])
        for v, _ in variants
    }
    print(
        "\n| condition | variant | repeat | steps logged | median step (s) | x idle (same variant) | wall (s) |\n"
        "|---|---|---|---|---|---|---|"
    )
    for r in rows:
        med, base = r["median_step_s"], idle[r["variant"]]
        ratio = f"{med / base:.2f}" if med and base else "-"
        print(
            f"| {r['condition']} | {r['variant'] or '-'} | {r['repeat']} | {len(r['step_s'])}/{a.steps} | "
            f"{med if med is None else round(med, 2)} | {ratio} | {r['wall_s']:.0f}{'' if r['finished'] else ' (stopped)'} |"
        )
    print(
        json.dumps(
            {
                "env": env_extra,
                "overrides": a.overrides,
                "variants": a.variant,
                "steps": a.steps,
                "warmup": a.warmup,
                "rows": rows,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
