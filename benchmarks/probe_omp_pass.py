"""One forward/backward pass of the demo model's size under the process's own OpenMP settings: the probe behind
docs/benchmarks.md, "Training beside other work". Run it under the settings to compare, e.g. beside a busy loop:

    python -c 'while True: pass' &  T=2 GOMP_SPINCOUNT=10000 nice -n 15 .venv/bin/python benchmarks/probe_omp_pass.py

Environment: T torch threads (default 2), N timed passes (default 6). Prints the niceness, threads, OpenMP
variables and the median and minimum seconds per pass.
"""

import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anatomy_r1_verl.patches import torchvision_ops

torchvision_ops.apply()

from transformers import AutoModelForImageTextToText  # noqa: E402

from anatomy_r1_verl.config.assets import asset_path  # noqa: E402

torch.set_num_threads(int(os.environ.get("T", "2")))
model = AutoModelForImageTextToText.from_pretrained(asset_path("tiny-qwen25vl-annotated"))
ids = torch.randint(0, 100, (64, 180))  # the demo's update batch: 64 sequences of about 180 tokens


def one_pass() -> None:
    model(input_ids=ids).logits.float().logsumexp(-1).mean().backward()


one_pass()
times = []
for _ in range(int(os.environ.get("N", "6"))):
    t0 = time.perf_counter()
    one_pass()
    times.append(time.perf_counter() - t0)
times.sort()
print(
    f"nice={os.nice(0)} T={torch.get_num_threads()} GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT')} "
    f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')} median={times[len(times) // 2]:.3f}s min={times[0]:.3f}"
)
