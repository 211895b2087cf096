"""What a CPU run's process actually runs with: its niceness, torch threads and OpenMP wait settings, printed once
per process and recorded in the trace (``cpu_runtime``), so a run's log says how its processes shared the cores
and a test can check the settings inside a Ray worker (tests/integration/test_train_cpu.py).

The settings themselves come from ``anatomy_r1.cpu_runtime`` and ``anatomy_r1.engine_threads`` through the
launcher's environment (:func:`anatomy_r1_verl.launch.env.run_env`).
"""

from __future__ import annotations

import os

from anatomy_r1_verl import trace
from anatomy_r1_verl.cpu.threads import ADAPTIVE_THREADS_ENV

# the variables the OpenMP runtime under torch (libgomp) reads at start-up
OMP_VARIABLES = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
# and whether torch's threads follow the free cores (anatomy_r1_verl.cpu.threads)
RUNTIME_VARIABLES = (*OMP_VARIABLES, ADAPTIVE_THREADS_ENV)
_logged: set[str] = set()
# benchmarks/bench_contention.py, the demo's median step beside busy processes at nice 0 (docs/benchmarks.md)
COST_ONE_BUSY = "1.2x"
COST_TWO_BUSY = "2.3x"


def describe(kind: str) -> dict:
    import torch

    return {
        "kind": kind,
        "pid": os.getpid(),
        "nice": os.nice(0),
        "torch_threads": torch.get_num_threads(),
        **{k: os.environ.get(k) for k in RUNTIME_VARIABLES},
    }


def log_once(kind: str) -> dict:
    """Print (first time in this process, per kind) and trace the runtime of a process of ``kind``."""
    info = describe(kind)
    if kind not in _logged:
        _logged.add(kind)
        env = ", ".join(f"{k}={info[k]}" for k in RUNTIME_VARIABLES if info[k] is not None)
        print(
            f"[anatomy-r1] {kind} process {info['pid']}: nice {info['nice']}, {info['torch_threads']} torch threads"
            + (f", {env}" if env else ""),
            flush=True,
        )
        trace.emit("cpu_runtime", **info)
    return info


def _cpu_times() -> tuple[float, float]:
    with open("/proc/stat") as f:
        fields = [float(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields[:8]), idle


def busy_cores(interval: float = 0.5) -> float:
    """How many cores' worth of CPU the machine's processes used over ``interval`` seconds (Linux /proc/stat)."""
    import time

    total0, idle0 = _cpu_times()
    time.sleep(interval)
    total1, idle1 = _cpu_times()
    cores = os.cpu_count() or 1
    return max(0.0, cores * (1.0 - (idle1 - idle0) / max(total1 - total0, 1e-9)))


def load_warning(busy: float, cores: int) -> str | None:
    """A warning when other work already holds a core or more, with what the benchmark measured it to cost."""
    if busy < 0.5:
        return None
    return (
        f"{busy:.1f} of {cores} cores are already busy (load average {os.getloadavg()[0]:.1f}): a CPU run's steps "
        "take longer while that lasts; with the cpu profile's settings the demo's median step measured "
        f"{COST_ONE_BUSY} its idle time beside one busy process and {COST_TWO_BUSY} beside two "
        '(docs/benchmarks.md, "Training beside other work")'
    )
