"""Timing check of the synthetic benchmark generator: questions per second for 10,000 questions.

    python benchmarks/bench_synthetic.py [--questions 10000] [--image-size 84] [--embed-images]

The target is 10,000 questions (8000/1000/1000, 4 per frame) in under a minute on 2 cores.
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--questions", type=int, default=10_000)
    p.add_argument("--image-size", type=int, default=84)
    p.add_argument("--embed-images", action="store_true")
    args = p.parse_args()
    n = args.questions
    with tempfile.TemporaryDirectory() as out:
        cfg = SyntheticConfig(
            out_dir=out,
            train=n - 2 * (n // 10),
            val=n // 10,
            test=n // 10,
            image_size=args.image_size,
            embed_images=args.embed_images,
        )
        t0 = time.perf_counter()
        manifest = generate(cfg, progress=False)
        dt = time.perf_counter() - t0
    total = sum(s["questions"] for s in manifest["splits"].values())
    frames = sum(s["frames"] for s in manifest["splits"].values())
    print(f"{total} questions / {frames} frames ({args.image_size} px) in {dt:.1f} s: {total / dt:.0f} questions/s")


if __name__ == "__main__":
    main()
