"""What the thread governor (anatomy_r1_verl/cpu/threads.py) costs on an idle machine: passes of the demo model with
its forward pre-hook installed and removed, alternately, in one process.

Two kinds of pass: a training pass (forward and backward of 64 sequences of 180 tokens, as the FSDP engine's
update) and a decoding-sized forward (64 sequences of 8 tokens, as one step of the hfcpu server's generation,
where the hook's per-module call weighs most). Prints the median seconds per pass with and without the hook, the
ratio, and the Wilcoxon signed-rank test of the paired rounds (scipy.stats.wilcoxon). The governor keeps the
configured threads while no other process runs, so on an idle machine its only cost is the hook itself.

    .venv/bin/python benchmarks/bench_thread_governor.py [--rounds 12] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anatomy_r1_verl.patches import torchvision_ops

torchvision_ops.apply()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()

    import torch
    from scipy.stats import wilcoxon
    from transformers import AutoModelForImageTextToText

    from anatomy_r1_verl.config.assets import asset_path
    from anatomy_r1_verl.cpu.threads import ThreadGovernor

    torch.set_num_threads(a.threads)
    model = AutoModelForImageTextToText.from_pretrained(asset_path("tiny-qwen25vl-annotated"))
    train_ids, decode_ids = torch.randint(0, 100, (64, 180)), torch.randint(0, 100, (64, 8))

    def train_pass():
        model(input_ids=train_ids).logits.float().logsumexp(-1).mean().backward()

    def decode_pass():
        with torch.no_grad():
            for _ in range(10):
                model(input_ids=decode_ids)

    governor = ThreadGovernor(a.threads, "bench")
    print(f"pid {os.getpid()}, {a.threads} threads, {governor.cores} usable cores, {a.rounds} rounds", flush=True)
    for name, fn in (("training pass", train_pass), ("10 decoding-sized forwards", decode_pass)):
        fn()
        with_hook, without = [], []
        for r in range(a.rounds):
            for hooked in (True, False) if r % 2 == 0 else (False, True):
                handle = torch.nn.modules.module.register_module_forward_pre_hook(governor) if hooked else None
                t0 = time.perf_counter()
                fn()
                (with_hook if hooked else without).append(time.perf_counter() - t0)
                if handle is not None:
                    handle.remove()
        m_with, m_without = statistics.median(with_hook), statistics.median(without)
        test = wilcoxon(with_hook, without)
        print(
            f"{name}: with the hook {m_with:.4f} s, without {m_without:.4f} s, ratio {m_with / m_without:.3f} "
            f"(Wilcoxon signed-rank over {a.rounds} paired rounds: p {test.pvalue:.3g}); thread changes "
            f"{governor.changes}, threads now {torch.get_num_threads()}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
