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
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping, Sequence

LETTERS = "ABCDEFGH"

# The six SSG-VQA anatomy classes the paper trains on, in display form.
ANATOMY_CLASSES = ("Liver", "Gallbladder", "Cystic Plate", "Gut", "Omentum", "Abdominal Wall Cavity")

DEFAULT_INSTRUCTION = (
    "First output the thinking process in <think> </think> tags and then output the final answer "
    "(the letter of the correct option) in <answer> </answer> tags."
)

ABILITY = "anatomy_vqa"

_OPTION_LINE = re.compile(r"^\s*\(?([A-H])[\.\):]\s*(.+?)\s*$")


class SchemaError(ValueError):
    """A row that does not fit the project's row format; the message says which row and why."""


def format_options(options: Sequence[str]) -> str:
    return "\n".join(f"{LETTERS[i]}. {opt}" for i, opt in enumerate(options))


def build_prompt_text(question: str, options: Sequence[str], instruction: str = DEFAULT_INSTRUCTION,
                      options_header: str = "Anatomy Options:") -> str:
    """The paper's prompt: image, question, lettered options, then the think/answer instruction."""
    return f"<image>{question}\n{options_header}\n{format_options(options)}\n{instruction}"


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


def make_row(*, data_source: str, question: str, options: Sequence[str], answer: str, image: Any, split: str,
             index: int, row_id: str, question_type: str = "", instruction: str = DEFAULT_INSTRUCTION,
             meta: Mapping[str, Any] | None = None) -> dict:
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
        "prompt": [{"role": "user", "content": build_prompt_text(question, options, instruction)}],
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
        raise SchemaError(f"{where}row {rid}: no option list in extra_info.options and no 'A. ...' option "
                          f"lines in the prompt; convert it with `anatomy-r1 prepare` or add the options")
    return opts


def row_meta(row: Mapping[str, Any]) -> dict:
    extra = row.get("extra_info") or {}
    raw = extra.get("meta") if isinstance(extra, Mapping) else None
    if not raw:
        return {}
    return json.loads(raw) if isinstance(raw, str) else dict(raw)
