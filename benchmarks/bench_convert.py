"""Throughput of the real-data converters on generated fixtures.

Generates, in a temporary folder, ``--n`` SSG-VQA question lines over ``--n / --per-frame`` frames
(random-noise PNGs of ``--size`` px, so they compress like photos rather than flat colour) and/or an
ms-swift release JSON of ``--n`` records pointing at those frames, converts them, and prints rows/s
and the share of the conversion time spent on image verification (measured inside the same run by
``data_prep.common.ImageStore``) versus everything else (parsing, rows, parquet).

    python benchmarks/bench_convert.py                 # 100,000 rows per format, ~1 minute on 2 cores
    python benchmarks/bench_convert.py --n 20000 --format swift
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

import pyarrow.parquet  # noqa: E402,F401  (import once, outside the timings)

from data_prep import ssgvqa, swift_json  # noqa: E402

ANSWERS = ["liver", "gallbladder", "cystic_plate", "gut", "omentum", "abdominal_wall_cavity", "red", "2", "True"]
AUTHORS = "/home/authors/datasets/SSG-VQA/data"


def make_frames(root: Path, n_frames: int, size: int, per_video: int = 100) -> list[tuple[str, str]]:
    frames = []
    for i in range(n_frames):
        video, frame = f"VID{1 + i // per_video:02d}", f"{i % per_video:06d}"
        path = root / "data" / video / f"{frame}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.frombytes("RGB", (size, size), os.urandom(size * size * 3)).save(path, compress_level=1)
        frames.append((video, frame))
    return frames


def make_ssg_txt(root: Path, frames: list[tuple[str, str]], n: int) -> None:
    rng = random.Random(0)
    per = -(-n // len(frames))
    left = n
    for video, frame in frames:
        k = min(per, left)
        left -= k
        lines = [f"frame {frame}", "question|answer|type|complexity"]
        lines += [f"what is at position {j} of the frame?|{rng.choice(ANSWERS)}|query_component|zero_hop"
                  for j in range(k)]
        path = root / "qa_txt" / video / f"{frame}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")


def make_swift(path: Path, frames: list[tuple[str, str]], n: int) -> None:
    rng = random.Random(1)
    opts = ["Liver", "Gallbladder", "Cystic Plate", "Gut", "Omentum", "Abdominal Wall Cavity"]
    recs = []
    for i in range(n):
        video, frame = frames[i % len(frames)]
        o = rng.sample(opts, 4)
        k = rng.randrange(4)
        block = "\n".join(f"{L}. {t}" for L, t in zip("ABCD", o))
        recs.append({"instruction": f"<image>What is the anatomy in region {i % 9}?\nAnatomy Options:\n{block}\n"
                                    "First output the thinking process in <think> </think> tags and then output "
                                    "the final answer in <answer> </answer> tags.",
                     "solution": "ABCD"[k], "answer": o[k], "images": [f" {AUTHORS}/{video}/{frame}.png"]})
    path.write_text(json.dumps(recs))


def report(name: str, s: dict, wall: float) -> None:
    img, total = s["seconds"]["images"], s["seconds"]["total"]
    print(f"{name:8s} read {s['read']:>7,}  written {s['written']:>7,}  filtered {s['filtered']:>6,}  "
          f"distinct images {s['images']['distinct']:>5,}")
    print(f"{'':8s} {wall:6.2f} s wall, {s['read'] / wall:>9,.0f} rows/s read ({s['written'] / wall:,.0f} written/s); "
          f"image verification {img:.2f} s = {100 * img / total:.0f}% of the conversion, "
          f"rest (parsing, rows, parquet) {total - img:.2f} s = {100 * (total - img) / total:.0f}%")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000, help="rows per format (default 100,000)")
    p.add_argument("--per-frame", type=int, default=50, help="questions per frame (default 50: 2,000 frames)")
    p.add_argument("--size", type=int, default=128, help="frame side in px (default 128)")
    p.add_argument("--format", choices=("ssgvqa", "swift", "all"), default="all")
    a = p.parse_args(argv)
    n_frames = max(1, a.n // a.per_frame)
    with tempfile.TemporaryDirectory(prefix="bench_convert_") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        frames = make_frames(tmp / "ssg", n_frames, a.size)
        if a.format in ("ssgvqa", "all"):
            make_ssg_txt(tmp / "ssg", frames, a.n)
        if a.format in ("swift", "all"):
            make_swift(tmp / "release.json", frames, a.n)
        print(f"fixtures: {a.n:,} rows over {n_frames:,} frames of {a.size}x{a.size} px "
              f"in {time.perf_counter() - t0:.1f} s")
        if a.format in ("ssgvqa", "all"):
            t = time.perf_counter()
            s = ssgvqa.convert(tmp / "ssg", tmp / "out_ssg", test_videos=[], val_videos=[], show_progress=False)
            report("ssgvqa", s, time.perf_counter() - t)
        if a.format in ("swift", "all"):
            t = time.perf_counter()
            s = swift_json.convert(tmp / "release.json", tmp / "out_swift", image_root=tmp / "ssg",
                                   show_progress=False)
            report("swift", s, time.perf_counter() - t)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
