"""The one verl row format every data set of this project is written in.

Every converter (synthetic benchmark, SSG-VQA, OmniMedVQA, the authors' JSON, the demo set) calls
:func:`make_row`, so ASCL (difficulty), GDQA (variants), evaluation and reports read any of them the
same way. A row is a verl ``RLHFDataset`` multimodal row:

- ``data_source``: str, the data set name (used by verl to split validation metrics)
- ``prompt``: chat list ``[{"role": "user", "content": "<image>..."}]``; ``<image>`` marks the image
- ``images``: list of ``{"image": "<absolute path>"}`` (or ``{"bytes": b"..."}``)
- ``ability``: ``"anatomy_vqa"``
- ``reward_model``: ``{"style": "rule", "ground_truth": "<letter>"}``
- ``extra_info``: ``split``, ``index``, ``id``, ``question``, ``options`` (list of option texts in
  letter order), ``answer`` (option text), ``answer_letter``, ``question_type``, ``instruction``
  and ``meta`` (a JSON string with provenance and anything source-specific, e.g. the scene graph).

It is also the contract for everything that crosses a boundary between the project's parts: a row's identity
(:func:`row_key`, used by both ASCL's feedback and GDQA's memory), the fields the GDQA agent loop hands to the
reward (:data:`GDQA_GROUND_TRUTH` ...), and the option-letter alphabet (:data:`LETTERS`, also the reward's).
This module imports nothing of the project, so every package may import it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

LETTERS = "ABCDEFGH"

# The six SSG-VQA anatomy classes the paper trains on, in display form.
ANATOMY_CLASSES = ("Liver", "Gallbladder", "Cystic Plate", "Gut", "Omentum", "Abdominal Wall Cavity")

DEFAULT_INSTRUCTION = (
    "First output the thinking process in <think> </think> tags and then output the final answer "
    "(the letter of the correct option) in <answer> </answer> tags."
)

# The SFT baseline's request (the authors' ``sft_prompt``: no think block), and its target answer.
SFT_INSTRUCTION = "Answer with the letter of the correct option in <answer> </answer> tags."


def sft_target(letter: str) -> str:
    return f"<answer>{letter}</answer>"


ABILITY = "anatomy_vqa"

_OPTION_LINE = re.compile(rf"^\s*\(?([{LETTERS}])[\.\):]\s*(.+?)\s*$")

# GDQA, trainer -> agent loop (in the drawn row's extra_info): spread this row's group over its variants.
GDQA_ACTIVE = "gdqa_active"
# GDQA, agent loop -> reward (a rollout's extra_fields, which verl merges into the reward's extra_info):
# the letter and options of the variant this rollout answered, and which variant it was.
GDQA_GROUND_TRUTH = "gdqa_ground_truth"
GDQA_OPTIONS = "gdqa_options"  # JSON list of option texts
GDQA_VARIANT = "gdqa_variant"


class SchemaError(ValueError):
    """A row that does not fit the project's row format; the message says which row and why."""


def encode_options(options: Sequence[str]) -> str:
    """The option texts as they travel in a rollout's extra fields (``GDQA_OPTIONS``): one JSON string per sample,
    written by the agent loop and read by the reward."""
    return json.dumps([str(o) for o in options])


def decode_options(value: str | Sequence[str]) -> list[str]:
    """The inverse of :func:`encode_options`; a list passes through."""
    return [str(o) for o in (json.loads(value) if isinstance(value, str) else value)]


def format_options(options: Sequence[str]) -> str:
    return "\n".join(f"{LETTERS[i]}. {opt}" for i, opt in enumerate(options))


IMAGE_POSITIONS = ("first", "last")


def check_image_position(image_position: str) -> None:
    """The one check of where a prompt's image goes (``build_prompt_text``, the synthetic generator's config)."""
    if image_position not in IMAGE_POSITIONS:
        raise ValueError(f"image_position must be one of {IMAGE_POSITIONS}, got {image_position!r}")


def build_prompt_text(
    question: str,
    options: Sequence[str],
    instruction: str = DEFAULT_INSTRUCTION,
    options_header: str = "Anatomy Options:",
    image_position: str = "first",
) -> str:
    """The paper's prompt: image, question, lettered options, then the think/answer instruction.

    ``image_position="last"`` puts the image after the instruction instead, so the response starts at a fixed
    distance from the image whatever the question's length (what a small model's rotary look-up of a grid cell
    needs; docs/benchmarks.md, issue 15)."""
    check_image_position(image_position)
    text = f"{question}\n{options_header}\n{format_options(options)}\n{instruction}"
    return f"<image>{text}" if image_position == "first" else f"{text}<image>"


def parse_options(text: str) -> list[str]:
    """Option texts from ``A. Liver`` style lines of a prompt, in letter order.

    Returns [] when no option block is found. Letters must run A, B, C... without gaps.
    """
    found: list[tuple[str, str]] = []
    for line in str(text).splitlines():
        m = _OPTION_LINE.match(line)
        if m:
            found.append((m.group(1), m.group(2)))
    # keep the first run that starts at A and is contiguous
    opts: list[str] = []
    for letter, body in found:
        if letter == LETTERS[len(opts)]:
            opts.append(body)
        elif letter == "A":
            opts = [body]
    return opts


def make_row(
    *,
    data_source: str,
    question: str,
    options: Sequence[str],
    answer: str,
    image: Any,
    split: str,
    index: int,
    row_id: str,
    question_type: str = "",
    instruction: str = DEFAULT_INSTRUCTION,
    meta: Mapping[str, Any] | None = None,
    image_position: str = "first",
) -> dict:
    """Build one verl row. ``answer`` is the correct option text and must be among ``options``.

    ``image`` is a path (str) or raw bytes. Raises :class:`SchemaError` naming ``row_id`` on bad input.
    """
    options = [str(o) for o in options]
    if not 2 <= len(options) <= len(LETTERS):
        raise SchemaError(f"row {row_id}: needs 2..{len(LETTERS)} options, got {len(options)}")
    if len(set(o.lower() for o in options)) != len(options):
        raise SchemaError(f"row {row_id}: duplicate options {options}")
    if answer not in options:
        raise SchemaError(f"row {row_id}: answer {answer!r} is not among the options {options}")
    letter = LETTERS[options.index(answer)]
    if isinstance(image, (bytes, bytearray)):
        img = {"bytes": bytes(image)}
    else:
        img = {"image": str(image)}
    return {
        "data_source": data_source,
        "prompt": [
            {
                "role": "user",
                "content": build_prompt_text(question, options, instruction, image_position=image_position),
            }
        ],
        "images": [img],
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": letter},
        "extra_info": {
            "split": split,
            "index": int(index),
            "id": str(row_id),
            "question": question,
            "options": options,
            "answer": answer,
            "answer_letter": letter,
            "question_type": question_type,
            "instruction": instruction,
            "meta": json.dumps(dict(meta or {}), sort_keys=True),
        },
    }


def row_options(row: Mapping[str, Any], where: str = "") -> list[str]:
    """Options of a verl row: ``extra_info.options`` if present, else parsed from the prompt text.

    Raises :class:`SchemaError` naming the row when neither yields at least two options.
    """
    extra = row.get("extra_info") or {}
    opts = extra.get("options") if isinstance(extra, Mapping) else None
    if opts is not None and len(opts) >= 2:
        return [str(o) for o in opts]
    text = ""
    for msg in row.get("prompt") or []:
        content = msg.get("content") if isinstance(msg, Mapping) else None
        if isinstance(content, str):
            text += content + "\n"
    opts = parse_options(text)
    if len(opts) < 2:
        rid = extra.get("id", extra.get("index", "?")) if isinstance(extra, Mapping) else "?"
        raise SchemaError(
            f"{where}row {rid}: no option list in extra_info.options and no 'A. ...' option "
            f"lines in the prompt; convert it with `anatomy-r1 prepare` or add the options"
        )
    return opts


def row_meta(row: Mapping[str, Any]) -> dict:
    extra = row.get("extra_info") or {}
    raw = extra.get("meta") if isinstance(extra, Mapping) else None
    if not raw:
        return {}
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


def row_key(extra_info: Mapping[str, Any] | None):
    """A row's identity across steps and files: ``extra_info.id`` (every converter writes a unique one), else
    ``extra_info.index``; None when the row has neither."""
    e = extra_info or {}
    key = e.get("id")
    return key if key is not None else e.get("index")


def unique_row_keys(extra_infos: Sequence[Mapping[str, Any] | None], purpose: str) -> list:
    """:func:`row_key` of every row of a data set, or a :class:`SchemaError` naming the rows whose identity is
    missing or shared (feedback keyed by it would land on the wrong row)."""
    keys = [row_key(e) for e in extra_infos]
    seen: dict = {}
    for i, k in enumerate(keys):
        if k is None:
            raise SchemaError(
                f"{purpose}: row {i} has no extra_info.id or extra_info.index; convert the data with "
                "`anatomy-r1 prepare` (it writes a unique extra_info.id per row)"
            )
        if k in seen:
            raise SchemaError(
                f"{purpose}: rows {seen[k]} and {i} share the identity {k!r} (extra_info.id, else "
                "extra_info.index), e.g. two train files both numbered from 0 without ids; give "
                "every row a unique extra_info.id (`anatomy-r1 prepare` writes one)"
            )
        seen[k] = i
    return keys
