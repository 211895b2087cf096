"""``anatomy-r1 prepare augment``: GDQA's question variants written into a parquet (:mod:`anatomy_r1_verl.gdqa.variants`),
rows of the synthetic benchmark re-phrased from their question programs (:func:`anatomy_r1_verl.synthetic.questions.phrasings`),
SSG-VQA rows by GDQA's rewrite of their text."""

from __future__ import annotations

import argparse
import json
import sys

from anatomy_r1_verl.gdqa import variants
from anatomy_r1_verl.synthetic.questions import phrasings


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="anatomy-r1 prepare augment", description=variants.__doc__.split("\n\n")[0])
    p.add_argument("input", metavar="IN.parquet", help="verl parquet to augment (left untouched)")
    p.add_argument("--out", required=True, metavar="OUT.parquet", help="new parquet with extra_info.variants")
    p.add_argument("--k", type=int, default=4, help="variants per selected question, the original included")
    p.add_argument(
        "--tau",
        type=float,
        default=None,
        help="vary only rows with S(q) >= tau (needs `anatomy-r1 prepare score`); default: all rows",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the option permutations")
    p.add_argument(
        "--keep-instruction",
        action="store_true",
        help="every variant keeps the row's own instruction (vary question and option order only)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    if a.k < 1:
        print("error: --k must be >= 1", file=sys.stderr)
        return 2
    try:
        stats = variants.augment_parquet(
            a.input,
            a.out,
            k=a.k,
            tau=a.tau,
            seed=a.seed,
            keep_instruction=a.keep_instruction,
            program_phrasings=phrasings,
        )
    except (FileNotFoundError, ValueError) as e:  # SchemaError is a ValueError
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(stats, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
