"""``anatomy-r1 prepare sft``: the SFT baseline's files from rows of the project's format.

For every row: the prompt rebuilt from ``extra_info.question``/``options`` with the SFT request
(:data:`anatomy_r1_verl.schema.SFT_INSTRUCTION`, the authors' ``sft_prompt``: no ``<think>``) and a ``messages``
column, the chat verl's SFT trainer (``MultiTurnSFTDataset``) reads: that prompt, then the assistant's answer
``<answer>B</answer>``. The images, ids and ``extra_info`` are kept (``extra_info.instruction`` becomes the SFT
request), so a converted test split is also what ``anatomy-r1 eval`` scores an SFT model on.

    anatomy-r1 prepare sft data/synthetic/train.parquet --out data/synthetic/sft_train.parquet
"""

from __future__ import annotations

import argparse
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq

from anatomy_r1_verl.schema import SFT_INSTRUCTION, SchemaError, build_prompt_text, row_options, sft_target


def sft_row(row: dict, where: str = "") -> dict:
    extra = dict(row.get("extra_info") or {})
    rid = extra.get("id", extra.get("index", "?"))
    if not extra.get("question"):
        raise SchemaError(f"{where}row {rid}: no extra_info.question; convert the data with `anatomy-r1 prepare ...`")
    options = row_options(row, where)
    letter = str(row["reward_model"]["ground_truth"])
    prompt = build_prompt_text(extra["question"], options, SFT_INSTRUCTION)
    extra["instruction"] = SFT_INSTRUCTION
    return {
        **row,
        "prompt": [{"role": "user", "content": prompt}],
        "extra_info": extra,
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": sft_target(letter)}],
    }


def convert(src: str, out: str) -> int:
    if not os.path.isfile(src):
        raise SchemaError(f"{src}: no such parquet file")
    rows = pq.read_table(src).to_pylist()
    if rows and not {"prompt", "reward_model", "extra_info"} <= set(rows[0]):
        raise SchemaError(
            f"{src}: not in the project's row format (needs prompt, reward_model, extra_info); "
            "convert it with `anatomy-r1 prepare ...`"
        )
    out_rows = [sft_row(r, f"{src}: ") for r in rows]
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    pq.write_table(pa.Table.from_pylist(out_rows), out)
    return len(out_rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="anatomy-r1 prepare sft", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("parquet", help="a split in the project's row format")
    p.add_argument("--out", required=True, help="the SFT parquet to write")
    a = p.parse_args(argv)
    try:
        n = convert(a.parquet, a.out)
    except SchemaError as e:
        print(f"anatomy-r1 prepare sft: {e}", file=sys.stderr)
        return 2
    print(f"wrote {n} SFT rows to {a.out}")
    return 0
