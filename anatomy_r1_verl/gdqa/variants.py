"""GDQA (Group Diversity Question Augmentation), data side: K variants of one question.

A variant keeps the image and the correct anatomy and changes the surface of the prompt:

1. the question, re-generated in another phrasing of its family (the question grammar,
   :mod:`anatomy_r1_verl.grammar`): a row with a question program (``meta["program"]``, the synthetic benchmark)
   is re-rendered from it by the ``program_phrasings`` the caller passes
   (:func:`anatomy_r1_verl.synthetic.questions.phrasings`, which also executes each on the scene); other rows
   (SSG-VQA) are rewritten by a few regex patterns of SSG-VQA's anatomy questions
   (:func:`.rewrite.rewrite_question`); a question no pattern matches keeps its text;
2. the think/answer instruction wording (:data:`INSTRUCTION_WORDINGS`);
3. the order of the options (a seeded permutation per variant; the ground-truth letter follows).

Every variant is checked (:func:`check_variant`; synthetic re-renders must also execute to the same
answer on the scene graph). The first variant is the row's own prompt. :func:`augment_rows` stores
the list as a JSON string in ``extra_info["variants"]`` (plus ``extra_info["n_variants"]``) on every
row, so parquet schemas stay simple; :func:`pick_variant` is what the rollout side reads.

``--keep-instruction`` leaves out 2. (every variant keeps the row's own instruction): a model that learnt one
instruction wording answers the others off-format, and the group's reward spread then comes from the format,
not from the anatomy (measured in docs/benchmarks.md, the headline comparison).

Command: ``anatomy-r1 prepare augment IN.parquet --out OUT.parquet [--k 4] [--tau 0.5] [--keep-instruction]``
(:mod:`data_prep.augment`).
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from anatomy_r1_verl.gdqa.rewrite import rewrite_question
from anatomy_r1_verl.schema import DEFAULT_INSTRUCTION, LETTERS, SchemaError, build_prompt_text, row_meta, row_options

INSTRUCTION_WORDINGS: tuple[str, ...] = (
    DEFAULT_INSTRUCTION,
    "Reason step by step inside <think> </think> tags, then give only the letter of the correct option "
    "inside <answer> </answer> tags.",
    "Think about the image first and write your reasoning between <think> and </think>; then write the "
    "letter of the option you choose between <answer> and </answer>.",
    "Put your reasoning in <think> </think> tags, followed by the final answer, the letter of the right "
    "option, in <answer> </answer> tags.",
    "Explain your thinking within <think> </think>, and then state the correct option's letter within "
    "<answer> </answer>.",
)

_PERMUTATION_TRIES = 8


# a row's question program -> its other phrasings ``(template id, text)``, or None when the row must not be varied:
# given by the caller that knows the programs' semantics (for the synthetic benchmark,
# anatomy_r1_verl.synthetic.questions.phrasings); GDQA itself knows no scene
ProgramPhrasings = Callable[[dict, "dict | None", str], "list[tuple[int, str]] | None"]


# ---------------------------------------------------------------- variants


def _with_content(prompt: list, content: str) -> list:
    """A copy of the chat list with the question message's text replaced, ``<image>`` kept in place."""
    prompt = copy.deepcopy(list(prompt))
    idx = next(
        (
            i
            for i in range(len(prompt) - 1, -1, -1)
            if isinstance(prompt[i], Mapping) and "<image>" in str(prompt[i].get("content", ""))
        ),
        None,
    )
    if idx is None:
        idx = next(
            (
                i
                for i in range(len(prompt) - 1, -1, -1)
                if isinstance(prompt[i], Mapping) and prompt[i].get("role") == "user"
            ),
            None,
        )
    if idx is None:
        return prompt + [{"role": "user", "content": content}]
    old = str(prompt[idx].get("content", ""))
    body = content[len("<image>") :] if content.startswith("<image>") else content
    lead = re.match(r"^(?:\s*<image>)+\s*", old)
    tail = re.search(r"\s*(?:<image>\s*)+$", old)
    if lead:
        new = lead.group(0) + body
    elif tail:
        new = body + tail.group(0)
    else:  # no image token in the text (e.g. a system-side image): keep it that way
        new = body
    prompt[idx] = {**prompt[idx], "content": new}
    return prompt


def _prompt_text(prompt: Sequence) -> str:
    return "\n".join(str(m.get("content", "")) for m in prompt if isinstance(m, Mapping))


def check_variant(variant: Mapping[str, Any], answer: str, options: Sequence[str]) -> None:
    """Raise :class:`SchemaError` unless ``variant`` asks for ``answer`` among the same ``options``."""
    opts = list(variant["options"])
    gt = variant["ground_truth"]
    if sorted(opts) != sorted(options):
        raise SchemaError(f"variant options {opts} are not a permutation of {list(options)}")
    if opts.count(answer) != 1:
        raise SchemaError(f"answer {answer!r} is not among the variant options {opts} exactly once")
    if gt not in LETTERS or LETTERS.index(gt) >= len(opts) or opts[LETTERS.index(gt)] != answer:
        raise SchemaError(f"ground truth {gt!r} does not point at {answer!r} in {opts}")


def _row_answer(row: Mapping[str, Any], options: list[str]) -> tuple[str, str]:
    extra = row.get("extra_info") or {}
    rid = extra.get("id", extra.get("index", "?"))
    gt = str((row.get("reward_model") or {}).get("ground_truth", extra.get("answer_letter", ""))).strip()
    answer = extra.get("answer")
    if answer is None and gt in LETTERS[: len(options)]:
        answer = options[LETTERS.index(gt)]
    if answer is None:
        raise SchemaError(f"row {rid}: no extra_info.answer and no ground-truth letter; cannot build variants")
    try:
        check_variant({"options": options, "ground_truth": gt}, answer, options)
    except SchemaError as e:
        raise SchemaError(f"row {rid}: {e}") from None
    return answer, gt


def _family_and_phrasings(
    row: Mapping[str, Any], question: str, answer: str, program_phrasings: ProgramPhrasings | None
) -> tuple[str, int | None, list[tuple[int, str]] | None]:
    """(family, template of the original, other phrasings); phrasings None = row must not be varied. A row with
    a question program is re-phrased from its program when the caller gave ``program_phrasings``."""
    meta = row_meta(row)
    program = meta.get("program")
    if program_phrasings is not None and isinstance(program, dict) and "family" in program:
        scene = meta.get("scene") if isinstance(meta.get("scene"), dict) else None
        return program["family"], program.get("template"), program_phrasings(program, scene, answer)
    family, phrasings = rewrite_question(question)
    return family or "unmatched", None, phrasings


def _variants(
    row: Mapping[str, Any],
    k: int,
    seed: int,
    instructions: Sequence[str],
    program_phrasings: ProgramPhrasings | None = None,
) -> tuple[list[dict], str]:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not instructions:
        raise ValueError("instructions must hold at least one wording")
    extra = row.get("extra_info") or {}
    rid = extra.get("id", extra.get("index", "?"))
    options = row_options(row)
    answer, gt = _row_answer(row, options)
    question = str(extra.get("question", ""))
    own_instruction = str(extra.get("instruction") or DEFAULT_INSTRUCTION)
    family, own_template, others = _family_and_phrasings(row, question, answer, program_phrasings)
    original = {
        "prompt": copy.deepcopy(list(row["prompt"])),
        "ground_truth": gt,
        "options": options,
        "question": question,
        "instruction": own_instruction,
        "template": own_template,
    }
    variants = [original]
    if others is None or not question:  # inconsistent metadata, or a question we cannot rebuild
        return variants, family
    phrasings = [(own_template, question)] + others
    seen = {_prompt_text(original["prompt"])}
    for i in range(1, 4 * k):
        if len(variants) >= k:
            break
        template, text = phrasings[i % len(phrasings)]
        instruction = instructions[i % len(instructions)]
        for attempt in range(_PERMUTATION_TRIES):
            rng = random.Random(zlib.crc32(f"{seed}:{rid}:{i}:{attempt}".encode()))
            opts = rng.sample(options, len(options))
            letter = LETTERS[opts.index(answer)]
            prompt = _with_content(row["prompt"], build_prompt_text(text, opts, instruction))
            if _prompt_text(prompt) not in seen:
                break
        else:
            continue
        v = {
            "prompt": prompt,
            "ground_truth": letter,
            "options": opts,
            "question": text,
            "instruction": instruction,
            "template": template,
        }
        check_variant(v, answer, options)
        seen.add(_prompt_text(prompt))
        variants.append(v)
    return variants, family


def make_variants(
    row: Mapping[str, Any],
    k: int = 4,
    seed: int = 0,
    instructions: Sequence[str] = INSTRUCTION_WORDINGS,
    program_phrasings: ProgramPhrasings | None = None,
) -> list[dict]:
    """Up to ``k`` checked, pairwise distinct variants of a verl row; the first is the row's own prompt.

    Fewer than ``k`` (at least the original) when no more distinct valid ones exist. Raises
    :class:`SchemaError` when the row itself is inconsistent (answer not among its options once, or
    the letter not pointing at it).
    """
    return _variants(row, k, seed, instructions, program_phrasings)[0]


# ---------------------------------------------------------------- rows and parquet


def _s_q(row: Mapping[str, Any], key: str) -> float | None:
    value = row.get(key)
    if value is None:
        value = (row.get("extra_info") or {}).get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def augment_rows(
    rows: Iterable[Mapping[str, Any]],
    k: int = 4,
    tau: float | None = None,
    s_q_key: str = "s_q",
    seed: int = 0,
    keep_instruction: bool = False,
    program_phrasings: ProgramPhrasings | None = None,
) -> tuple[list[dict], dict]:
    """Rows with ``extra_info["variants"]`` (JSON list) and ``extra_info["n_variants"]``, and counts.

    With ``tau`` only rows with ``S(q) >= tau`` are varied (static selection); the others get the one
    variant they have. ``S(q)`` is read from the column ``s_q_key`` or from ``extra_info[s_q_key]``.
    ``keep_instruction``: every variant keeps the row's own instruction wording.
    """
    rows = list(rows)
    if tau is not None:
        missing = [i for i, r in enumerate(rows) if _s_q(r, s_q_key) is None]
        if missing:
            raise SchemaError(
                f"--tau needs the difficulty score {s_q_key!r} (column or extra_info) on every row; "
                f"{len(missing)} of {len(rows)} rows lack it (first: row {missing[0]}). Run "
                f"`anatomy-r1 prepare score` first, or leave tau out to vary every row"
            )
    stats: dict[str, Any] = {
        "rows": 0,
        "selected": 0,
        "varied": 0,
        "unvariable": 0,
        "rephrased": 0,
        "variants": 0,
        "k": k,
        "tau": tau,
        "keep_instruction": keep_instruction,
    }
    per_family: dict[str, Counter] = defaultdict(Counter)
    out = []
    for row in rows:
        selected = tau is None or _s_q(row, s_q_key) >= tau
        own = (str((row.get("extra_info") or {}).get("instruction") or DEFAULT_INSTRUCTION),)
        wordings = own if keep_instruction else INSTRUCTION_WORDINGS
        variants, family = _variants(row, k if selected else 1, seed, wordings, program_phrasings)
        new = dict(row)
        new["extra_info"] = {
            **(row.get("extra_info") or {}),
            "variants": json.dumps(variants),
            "n_variants": len(variants),
        }
        out.append(new)
        counts = {
            "rows": 1,
            "selected": int(selected),
            "varied": int(len(variants) > 1),
            "unvariable": int(selected and k > 1 and len(variants) == 1),
            "rephrased": int(any(v["question"] != variants[0]["question"] for v in variants)),
        }
        for name, n in counts.items():
            stats[name] += n
            per_family[family][name] += n
        stats["variants"] += len(variants)
    stats["families"] = {f: dict(c) for f, c in sorted(per_family.items())}
    return out, stats


def augment_parquet(
    in_path: str | os.PathLike,
    out_path: str | os.PathLike,
    k: int = 4,
    tau: float | None = None,
    seed: int = 0,
    keep_instruction: bool = False,
    program_phrasings: ProgramPhrasings | None = None,
) -> dict:
    """Write the augmented rows of ``in_path`` to a new parquet ``out_path``; the input is left untouched."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    in_path, out_path = os.path.abspath(in_path), os.path.abspath(out_path)
    if not os.path.isfile(in_path):
        raise FileNotFoundError(f"{in_path} not found")
    if os.path.realpath(in_path) == os.path.realpath(out_path):
        raise ValueError(f"--out {out_path} is the input file; write the augmented rows to a new file")
    rows, stats = augment_rows(
        pq.read_table(in_path).to_pylist(),
        k=k,
        tau=tau,
        seed=seed,
        keep_instruction=keep_instruction,
        program_phrasings=program_phrasings,
    )
    os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), out_path)
    return {**stats, "in": in_path, "out": out_path}


# ---------------------------------------------------------------- trainer side (pure functions)


def pick_variant(extra_info: Mapping[str, Any] | None, session_id: int) -> dict | None:
    """Variant ``session_id % len(variants)`` of a row, or None when it has no variants."""
    raw = (extra_info or {}).get("variants")
    if raw is None:
        return None
    variants = json.loads(raw) if isinstance(raw, (str, bytes)) else list(raw)
    return variants[session_id % len(variants)] if variants else None
