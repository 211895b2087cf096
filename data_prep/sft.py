"""``anatomy-r1 prepare sft``: the SFT baseline's files from rows of the project's format.

Two target styles (``--target``):

- ``answer`` (default, the paper's SFT row): the prompt rebuilt from ``extra_info.question``/``options`` with the
  SFT request (:data:`anatomy_r1_verl.schema.SFT_INSTRUCTION`, the authors' ``sft_prompt``: no ``<think>``), and
  the assistant's answer ``<answer>B</answer>``;
- ``think``, ``scan``, ``eliminate`` and ``check`` (synthetic benchmark only): the row's own prompt, the RL rows' instruction, and a
  think-then-answer target whose think block is what the generator knows of the scene
  (:func:`anatomy_r1_verl.tiny.warmstart.target_response`): ``think`` names the answer's cell and its class
  ("The bottom-left is Liver.", the shipped default model's style), ``scan`` the cells in reading order up to the
  answer's (the annotated and look-alike models' style), ``eliminate`` and ``check`` the look-alike warm starts'
  reading of the asked cell's group against the options; ``--answer text`` writes the option's text instead of its
  letter (those models' answer form). Its test file is then the RL rows' test split, and the format rate means
  what it means for them.

Each row gets a ``messages`` column, the chat verl's SFT trainer (``MultiTurnSFTDataset``) reads. The images, ids
and ``extra_info`` are kept (for ``answer``, ``extra_info.instruction`` becomes the SFT request), so a converted
test split is also what ``anatomy-r1 eval`` scores an SFT model on. ``--examples N`` keeps the first N rows (the
RL rows' budget: ``anatomy-r1 bench`` gives prompts x steps).

    anatomy-r1 prepare sft data/synthetic/train.parquet --out data/synthetic/sft_train.parquet [--target think]
"""

from __future__ import annotations

import argparse
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq

from anatomy_r1_verl.schema import SFT_INSTRUCTION, SchemaError, build_prompt_text, row_options, sft_target

TARGETS = ("answer", "think", "scan", "eliminate", "check")
# --target -> warmstart.target_response(think=...)
THINK_STYLE = {"think": "grounded", "scan": "scan", "eliminate": "eliminate", "check": "check"}
ANSWER_FORMS = ("letter", "text")  # a think target's answer: the letter, or the option's text


def sft_row(row: dict, where: str = "", target: str = "answer", answer_form: str = "letter") -> dict:
    extra = dict(row.get("extra_info") or {})
    rid = extra.get("id", extra.get("index", "?"))
    if not extra.get("question"):
        raise SchemaError(f"{where}row {rid}: no extra_info.question; convert the data with `anatomy-r1 prepare ...`")
    if target in THINK_STYLE:
        reply = think_target(row, THINK_STYLE[target], where, answer_form)
        return {**row, "messages": [*row["prompt"], {"role": "assistant", "content": reply}]}
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


def think_target(row: dict, style: str, where: str = "", answer_form: str = "letter") -> str:
    """``<think>`` what the scene shows (``style``: grounded | scan) ``</think><answer>`` the letter (or the option's
    text) ``</answer>``."""
    from anatomy_r1_verl.tiny.warmstart import target_response

    extra = row.get("extra_info") or {}
    try:
        return target_response(extra, think=style, answer_form=answer_form)
    except (KeyError, ValueError) as e:
        raise SchemaError(
            f"{where}row {extra.get('id', extra.get('index', '?'))}: --target {style} needs the synthetic generator's "
            f"scene graph and question program (extra_info.meta): {e}; use --target answer for other benchmarks"
        ) from e


def convert(
    src: str, out: str, target: str = "answer", examples: int | None = None, answer_form: str = "letter"
) -> int:
    if target not in TARGETS:
        raise SchemaError(f"--target must be one of {TARGETS}, got {target!r}")
    if answer_form not in ANSWER_FORMS:
        raise SchemaError(f"--answer must be one of {ANSWER_FORMS}, got {answer_form!r}")
    if answer_form != "letter" and target not in THINK_STYLE:
        raise SchemaError(
            f"--answer {answer_form} applies to a think target ({', '.join(THINK_STYLE)}), not --target {target}"
        )
    if not os.path.isfile(src):
        raise SchemaError(f"{src}: no such parquet file")
    rows = pq.read_table(src).to_pylist()
    if rows and not {"prompt", "reward_model", "extra_info"} <= set(rows[0]):
        raise SchemaError(
            f"{src}: not in the project's row format (needs prompt, reward_model, extra_info); "
            "convert it with `anatomy-r1 prepare ...`"
        )
    if examples is not None:
        if examples < 1 or examples > len(rows):
            raise SchemaError(f"{src}: --examples {examples}: the file has {len(rows)} rows; give 1..{len(rows)}")
        rows = rows[:examples]
    out_rows = [sft_row(r, f"{src}: ", target, answer_form) for r in rows]
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    pq.write_table(pa.Table.from_pylist(out_rows), out)
    return len(out_rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="anatomy-r1 prepare sft", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("parquet", help="a split in the project's row format")
    p.add_argument("--out", required=True, help="the SFT parquet to write")
    p.add_argument(
        "--target",
        choices=TARGETS,
        default="answer",
        help="answer-only (default), or think-then-answer: think (the answer's cell) | scan (the cells up to it) | "
        "eliminate | check (the look-alike warm starts' styles)",
    )
    p.add_argument(
        "--answer",
        choices=ANSWER_FORMS,
        default="letter",
        help="a think target's answer: the option's letter (default) or its text",
    )
    p.add_argument("--examples", type=int, default=None, help="keep the first N rows (default: all)")
    a = p.parse_args(argv)
    try:
        n = convert(a.parquet, a.out, a.target, a.examples, a.answer)
    except SchemaError as e:
        print(f"anatomy-r1 prepare sft: {e}", file=sys.stderr)
        return 2
    print(f"wrote {n} SFT rows to {a.out}")
    return 0
