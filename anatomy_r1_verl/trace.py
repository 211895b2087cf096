"""Run-time trace events across Ray processes, for diagnostics and the integration tests.

Set ``ANATOMY_R1_TRACE_DIR`` (the CPU launcher sets it under the run's output directory) and every
process of the run appends JSON lines ``{"event": ..., "pid": ..., "time": ..., **fields}`` to
``<dir>/<pid>.jsonl``: the plugin loading, the rollout server's weight updates (with a checksum of the
weights), generation with images, and the vision tower's forward passes. Unset, :func:`emit` is a no-op.
"""

from __future__ import annotations

import glob
import json
import os
import time

ENV = "ANATOMY_R1_TRACE_DIR"


def enabled() -> bool:
    return bool(os.environ.get(ENV))


def emit(event: str, **fields) -> None:
    d = os.environ.get(ENV)
    if not d:
        return
    os.makedirs(d, exist_ok=True)
    rec = {"event": event, "pid": os.getpid(), "time": time.time(), **fields}
    with open(os.path.join(d, f"{os.getpid()}.jsonl"), "a") as f:
        f.write(json.dumps(rec, default=str) + "\n")


def read(trace_dir: str, event: str | None = None) -> list[dict]:
    """All events of a run (optionally of one kind), in time order."""
    out = []
    for path in glob.glob(os.path.join(trace_dir, "*.jsonl")):
        with open(path) as f:
            out += [json.loads(line) for line in f if line.strip()]
    out.sort(key=lambda r: r["time"])
    return [r for r in out if event is None or r["event"] == event]


def checksum(named_tensors) -> float:
    """Order-independent fingerprint of a set of weights: the sum of |w| over all tensors, in float64."""
    import torch

    total = 0.0
    for _, t in named_tensors:
        t = t.detach().to("cpu", torch.float64).flatten()
        total += float(t.abs().sum())
    return total
