"""Throughput of ASCL difficulty scoring (anatomy_r1_verl.ascl.difficulty) on synthetic rows.

    python benchmarks/bench_difficulty.py                  # 1,000,000 in-memory rows, minilm embeddings
    python benchmarks/bench_difficulty.py --rows 200000 --embedding none
    python benchmarks/bench_difficulty.py --parquet 200000 # also score_parquet end to end on full rows

Rows draw 4 options from a pool of a few dozen distinct strings (the six anatomy classes plus colours,
counts and instruments), like SSG-VQA. Prints rows/s, the time spent embedding (model load separate)
versus scoring rows by lookup, and the per-row cost of the naive approach (embed each row's options
separately), measured on --naive-rows rows and EXTRAPOLATED to --rows.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from anatomy_r1_verl.ascl import difficulty as D
from anatomy_r1_verl.schema import ANATOMY_CLASSES, LETTERS, make_row

POOL = [
    *ANATOMY_CLASSES,
    "red",
    "blue",
    "yellow",
    "white",
    "brown",
    "green",
    "0",
    "1",
    "2",
    "3",
    "4",
    "True",
    "False",
    "grasper",
    "bipolar",
    "hook",
    "scissors",
    "clipper",
    "irrigator",
    "specimen bag",
    "left",
    "right",
    "top",
    "bottom",
    "center",
    "cystic duct",
    "cystic artery",
    "blood",
    "fluid",
    "fat",
]


def synthetic_rows(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        opts = rng.sample(POOL, 4)
        k = rng.randrange(4)
        rows.append(
            {
                "reward_model": {"style": "rule", "ground_truth": LETTERS[k]},
                "extra_info": {"index": i, "id": f"q{i}", "options": opts, "answer": opts[k]},
            }
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--embedding", default="minilm")
    p.add_argument("--naive-rows", type=int, default=200)
    p.add_argument("--parquet", type=int, default=0, help="also time score_parquet on this many full rows")
    a = p.parse_args()

    t = time.perf_counter()
    rows = synthetic_rows(a.rows)
    print(f"built {len(rows):,} rows ({len(POOL)} distinct option strings) in {time.perf_counter() - t:.1f} s")

    scorer = D.DifficultyScorer({"embedding": a.embedding})
    load_s = 0.0
    if scorer.embedder is not None:  # load the model outside the timings (one throwaway string)
        t = time.perf_counter()
        scorer.embedder(["warm up"])
        load_s = time.perf_counter() - t
        encode, embed_s = scorer.embedder._encode, [0.0]

        def timed(texts):
            t0 = time.perf_counter()
            out = encode(texts)
            embed_s[0] += time.perf_counter() - t0
            return out

        scorer.embedder._encode = timed
    t = time.perf_counter()
    scores = scorer.score_table(rows)
    total = time.perf_counter() - t
    emb = embed_s[0] if scorer.embedder is not None else 0.0
    print(f"\nscore_table, {a.embedding}: {len(rows):,} rows in {total:.2f} s = {len(rows) / total:,.0f} rows/s")
    print(f"  model load (once, not in the total): {load_s:.2f} s")
    print(f"  embedding {scorer.embedder.encoded - 1 if scorer.embedder else 0} distinct strings: {emb:.3f} s")
    print(f"  row pass + pair sims + lookup: {total - emb:.2f} s")
    print(f"  S(q): mean {scores.mean():.4f}  min {scores.min():.4f}  max {scores.max():.4f}")

    if scorer.embedder is not None and a.naive_rows:
        # naive: embed each row's options on their own, then cos/table per distractor
        table = scorer.table
        t = time.perf_counter()
        naive = []
        for r in rows[: a.naive_rows]:
            opts, ans = r["extra_info"]["options"], r["extra_info"]["answer"]
            e = np.asarray(encode([D.normalize(o) for o in opts]), dtype=np.float32)
            e /= np.linalg.norm(e, axis=1, keepdims=True)
            k = opts.index(ans)
            sims = []
            for j, o in enumerate(opts):
                if j != k:
                    ci, cj = table.index(ans), table.index(o)
                    tv = table.matrix[ci, cj] if ci >= 0 and cj >= 0 else 0.0
                    sims.append(min(1.0, max(0.0, scorer.lam * float(e[k] @ e[j]) + (1 - scorer.lam) * tv)))
            naive.append(float(np.mean(sims)))
        per_row = (time.perf_counter() - t) / a.naive_rows
        assert np.allclose(naive, scores[: a.naive_rows], atol=1e-5), "naive and vectorised scores differ"
        print(f"\nnaive (embed every row's options): {per_row * 1e3:.2f} ms/row measured on {a.naive_rows} rows")
        print(
            f"  EXTRAPOLATED to {len(rows):,} rows: {per_row * len(rows):,.0f} s "
            f"(~{per_row * len(rows) / 3600:.1f} h), {per_row * len(rows) / total:,.0f}x the vectorised time"
        )

    if a.parquet:
        import pyarrow as pa
        import pyarrow.parquet as pq

        full = [
            make_row(
                data_source="bench",
                question="Which structure is marked?",
                options=r["extra_info"]["options"],
                answer=r["extra_info"]["answer"],
                image=f"/data/frames/{i:07d}.png",
                split="train",
                index=i,
                row_id=f"q{i}",
            )
            for i, r in enumerate(rows[: a.parquet])
        ]
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "in.parquet"
            pq.write_table(pa.Table.from_pylist(full), src)
            del full
            t = time.perf_counter()
            D.score_parquet(src, Path(tmp) / "out.parquet", scorer=scorer, show_progress=False)
            sec = time.perf_counter() - t
        print(
            f"\nscore_parquet end to end (read, score, write) on {a.parquet:,} full rows: {sec:.2f} s "
            f"= {a.parquet / sec:,.0f} rows/s"
        )


if __name__ == "__main__":
    main()
