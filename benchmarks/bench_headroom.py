"""Headroom probe: greedy accuracy, mean@K, pass@K and what RL could sharpen, for a model on a split.

    .venv/bin/python benchmarks/bench_headroom.py MODEL PARQUET [--samples 16] [--temperature 1]
                     [--limit N] [--out FILE.json]

MODEL is a Hugging Face model folder (for a verl checkpoint run `anatomy-r1 eval` once: it merges it to
``global_step_N/merged_hf``). Prints the table of :mod:`anatomy_r1_verl.evaluation.headroom` overall, per
question family and per answer class, and writes the summary as JSON with ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("parquet")
    p.add_argument("--samples", type=int, default=16)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-new-tokens", type=int, default=64, help="response budget (a scan <think> needs about 128)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)

    import torch

    from anatomy_r1_verl.evaluation import headroom
    from anatomy_r1_verl.evaluation.evaluate import load_model
    from anatomy_r1_verl.evaluation.prompts import load_rows

    torch.set_num_threads(a.threads)
    t0 = time.time()
    dataset, processor = load_rows(a.parquet, a.model, a.limit)
    summary, _, _ = headroom.measure(
        load_model(a.model),
        processor,
        dataset,
        samples=a.samples,
        temperature=a.temperature,
        batch_size=a.batch_size,
        seed=a.seed,
        max_new_tokens=a.max_new_tokens,
    )
    summary.update(model=a.model, parquet=a.parquet, temperature=a.temperature, seconds=round(time.time() - t0, 1))
    print(headroom.format_table(summary))
    print(
        f"{a.model} on {a.parquet}: {summary['overall']['n']} questions x (1 greedy + {a.samples} samples at "
        f"T={a.temperature}) in {summary['seconds']:.0f} s"
    )
    if a.out:
        Path(a.out).write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
