"""Torch threads sized to the cores a CPU process can have *now*: the adaptive half of sharing a machine.

A torch pass with two OpenMP threads on a 2-core machine runs each parallel region as fast as its slower thread.
When another program holds one core, one of the two threads shares that core and every region waits for it:
the pass takes longer than the same pass on one thread (benchmarks/probe_omp_pass.py: 1.23 s with two threads
against 1.02 s with one, beside one busy process; 0.52 s with two on an idle machine). A fixed thread count is
therefore wrong on a machine that is sometimes busy; :class:`ThreadGovernor` picks it as the process runs.

It is a global module forward pre-hook (it runs in the thread that runs the model, between passes, where a change
of torch's thread count is safe), acting at most every ``interval`` seconds: it counts the runnable threads of
other processes (``procs_running`` in ``/proc/stat`` minus this process's own running threads, the minimum of a
few reads so that a brief wake-up of a daemon does not count) and uses ``cores - others`` threads, at least 1
and at most the configured count, changing only after two checks agree. ``cores`` is what the process may use
(its CPU affinity and the cgroup's CPU quota). Linux only; elsewhere it keeps the configured count.
"""

from __future__ import annotations

import math
import os
import time

from anatomy_r1_verl import trace

ADAPTIVE_THREADS_ENV = "ANATOMY_R1_ADAPTIVE_THREADS"
_installed: list = []


def usable_cores() -> int:
    """Cores this process may run on: its affinity mask, capped by the cgroup v2 CPU quota when one is set."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.floor(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def procs_running() -> int:
    """Runnable threads on the machine right now (``/proc/stat``)."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("procs_running"):
                return int(line.split()[1])
    raise OSError("no procs_running in /proc/stat")


def own_running() -> int:
    """This process's threads in state R (running or runnable)."""
    n = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        n += stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] == "R"
    return n


def others_running(reads: int = 3, gap_s: float = 0.001) -> int:
    """Runnable threads of other processes: the least of ``reads`` readings ``gap_s`` apart."""
    least = None
    for i in range(reads):
        if i:
            time.sleep(gap_s)
        n = max(0, procs_running() - own_running())
        least = n if least is None else min(least, n)
    return least or 0


class ThreadGovernor:
    """Sets torch's thread count from the free cores; call it between passes (see the module docstring)."""

    def __init__(self, max_threads: int, kind: str, interval: float = 0.5, cores: int | None = None):
        self.max_threads = max(1, int(max_threads))
        self.kind = kind
        self.interval = interval
        self.cores = cores or usable_cores()
        self.last = 0.0
        self.pending: int | None = None
        self.changes = 0

    def wanted(self, others: int) -> int:
        return max(1, min(self.max_threads, self.cores - others))

    def check(self, now: float | None = None) -> int:
        """The thread count after this check (changed when two checks in a row ask for the same other count)."""
        import torch

        now = time.monotonic() if now is None else now
        current = torch.get_num_threads()
        if now - self.last < self.interval:
            return current
        self.last = now
        want = self.wanted(others_running())
        if want == current:
            self.pending = None
        elif self.pending == want:
            torch.set_num_threads(want)
            self.pending = None
            self.changes += 1
            trace.emit("cpu_threads", kind=self.kind, pid=os.getpid(), threads=want, was=current)
            if self.changes <= 5:
                print(f"[anatomy-r1] {self.kind} process {os.getpid()}: {current} -> {want} torch threads", flush=True)
            return want
        else:
            self.pending = want
        return current

    def __call__(self, module, args):  # torch's forward pre-hook signature
        self.check()


def install(max_threads: int, kind: str) -> ThreadGovernor | None:
    """Start governing this process's torch threads when ``ANATOMY_R1_ADAPTIVE_THREADS`` is set (the cpu profile
    sets it through ``anatomy_r1.cpu_runtime.adaptive_threads``); once per process."""
    if os.environ.get(ADAPTIVE_THREADS_ENV, "") not in ("1", "true", "True") or not os.path.exists("/proc/stat"):
        return None
    if _installed:
        return _installed[0]
    import torch

    governor = ThreadGovernor(max_threads, kind)
    torch.nn.modules.module.register_module_forward_pre_hook(governor)
    _installed.append(governor)
    return governor
