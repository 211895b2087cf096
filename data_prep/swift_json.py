"""The authors' release (ms-swift style JSON) -> verl parquet.

Each record: ``instruction`` (the full prompt: question, an ``Anatomy Options:`` header, lines
``A. Liver``.., then the think/answer request), ``sft_prompt`` / ``sft_instruction`` (the same with
``<image>`` and without the request; used only when ``instruction`` is absent), ``solution`` (the
letter, also accepted as ``<answer>B</answer>``), ``answer`` (the option text) and ``images`` (a
path, or a list of one path). Inputs may be ``.json`` (a list) or ``.jsonl`` (one record a line).

Image paths are absolute paths of the authors' machine. After stripping whitespace, the path is
split into components (``/`` or ``\\``) and placed under ``--image-root``:

- ``--keep-components N``: keep the last N components (``.../VID01/000123.png`` with N=2 ->
  ``<root>/VID01/000123.png``);
- ``--strip-components N``: drop the first N components (as ``tar`` does);
- default (find the file): the longest trailing part of the path that exists under the root,
  e.g. ``/home/a/SSG-VQA/data/VID01/1.png`` with root ``/mnt/SSG-VQA`` -> ``/mnt/SSG-VQA/data/VID01/1.png``.
  The leading part dropped for one file is tried first for the next ones (few stat calls).

Without ``--image-root`` a path is used as is (a relative one is taken relative to the JSON file).

Usage: ``python -m data_prep.swift_json anatomy_train.json --image-root /data/SSG-VQA --out data/release``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from anatomy_r1_verl.schema import DEFAULT_INSTRUCTION, LETTERS, parse_options

from .common import (
    ConfigError,
    ConversionRun,
    InvalidRecord,
    add_common_args,
    attempt,
    load_json_list,
    progress,
    read_ahead,
    run_cli,
)

DATA_SOURCE = "anatomy_r1_release"
_OPTION_LINE = re.compile(r"^\s*\(?([A-H])[\.\):]\s*(.+?)\s*$")
_HEADER_LINE = re.compile(r"^\s*[\w ]*options?\s*:\s*$", re.IGNORECASE)
_SOLUTION = re.compile(r"^\s*(?:<answer>)?\s*\(?([A-Za-z])\)?\s*\.?\s*(?:</answer>)?\s*$")


def split_instruction(text: str) -> tuple[str, list[str], str]:
    """``(question, options, request)`` from a prompt: the text before the option block (without
    ``<image>`` and the ``... Options:`` header), the option texts, and the text after the block."""
    options = parse_options(text)
    if len(options) < 2:
        raise InvalidRecord("no_options", "no 'A. ...' option lines (at least two) in the instruction")
    lines = text.splitlines()
    # parse_options keeps the last run that starts at an "A." line: find where it starts and ends
    start = max(i for i, ln in enumerate(lines) if (m := _OPTION_LINE.match(ln)) and m.group(1) == "A")
    end, expect = start, 0
    for i in range(start, len(lines)):  # like parse_options, lines between option lines are skipped
        m = _OPTION_LINE.match(lines[i])
        if m and m.group(1) == LETTERS[expect]:
            end, expect = i, expect + 1
            if expect == len(options):
                break
    head = lines[:start]
    while head and (not head[-1].strip() or _HEADER_LINE.match(head[-1])):
        head.pop()
    question = "\n".join(head).replace("<image>", "").strip()
    request = "\n".join(lines[end + 1 :]).strip()
    if not question:
        raise InvalidRecord("no_question", "no question text before the option lines")
    return question, options, request


class ImagePathMapper:
    """Rewrites the release's image paths under ``image_root``; see the module docstring for the rule."""

    def __init__(
        self,
        image_root: str | os.PathLike | None,
        keep_components: int | None = None,
        strip_components: int | None = None,
    ):
        if keep_components is not None and strip_components is not None:
            raise ConfigError("give --keep-components or --strip-components, not both")
        for name, v in (("keep_components", keep_components), ("strip_components", strip_components)):
            if v is not None and v < (1 if name == "keep_components" else 0):
                raise ConfigError(f"{name} must be {'>= 1' if name == 'keep_components' else '>= 0'}, got {v}")
        if (keep_components is not None or strip_components is not None) and image_root is None:
            raise ConfigError("--keep-components/--strip-components need --image-root")
        self.root = Path(image_root).resolve() if image_root is not None else None
        if self.root is not None and not self.root.is_dir():
            raise ConfigError(f"--image-root {self.root} is not a folder")
        self.keep, self.strip = keep_components, strip_components
        self._prefixes: list[tuple[str, ...]] = []  # dropped leading parts that worked, most recent first
        self._done: dict[tuple[str, Path], str] = {}  # many records share one frame

    def map(self, raw: Any, json_dir: Path) -> str:
        if isinstance(raw, (list, tuple)):
            if len(raw) != 1:
                raise InvalidRecord("bad_images", f"expects exactly one image, got {len(raw)}")
            raw = raw[0]
        if not isinstance(raw, str) or not raw.strip():
            raise InvalidRecord("missing_image", f"no image path (images={raw!r})")
        key = (raw, json_dir)
        hit = self._done.get(key)
        if hit is None:
            hit = self._done[key] = self._map(raw.strip(), json_dir)
        return hit

    def _map(self, path: str, json_dir: Path) -> str:
        if self.root is None:
            return path if os.path.isabs(path) else str(json_dir / path)
        parts = tuple(p for p in re.split(r"[\\/]+", path) if p not in ("", "."))
        if parts and re.fullmatch(r"[A-Za-z]:", parts[0]):
            parts = parts[1:]
        if self.keep is not None:
            return str(self.root.joinpath(*parts[-self.keep :]))
        if self.strip is not None:
            if self.strip >= len(parts):
                raise InvalidRecord("missing_image", f"--strip-components {self.strip} leaves nothing of {path!r}")
            return str(self.root.joinpath(*parts[self.strip :]))
        for prefix in self._prefixes:
            if parts[: len(prefix)] == prefix and len(parts) > len(prefix):
                cand = self.root.joinpath(*parts[len(prefix) :])
                if cand.is_file():
                    return str(cand)
        for k in range(len(parts)):
            cand = self.root.joinpath(*parts[k:])
            if cand.is_file():
                self._prefixes.insert(0, parts[:k])
                return str(cand)
        raise InvalidRecord(
            "missing_image",
            f"no trailing part of {path!r} exists under --image-root {self.root}; "
            f"check the root or pass --keep-components N",
        )


def iter_records(run: ConversionRun, path: Path, rel: str) -> Iterator[tuple[str, Any, InvalidRecord | None]]:
    """``(where, record, None)``, or ``(where, raw line, error)`` for an unparsable .jsonl line (the
    caller rejects it in order); a bad .json file is rejected as a whole when it is loaded."""
    if path.suffix.lower() == ".jsonl":
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield f"line {lineno}", json.loads(line), None
                except json.JSONDecodeError as e:
                    yield (
                        f"line {lineno}",
                        line.rstrip("\n"),
                        InvalidRecord("bad_json", f"invalid JSON: {e.msg} (column {e.colno})"),
                    )
        return
    data = load_json_list(run, path, rel)
    for i, rec in enumerate(data or []):
        yield f"record {i}", rec, None


def convert(
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    image_root: str | os.PathLike | None = None,
    keep_components: int | None = None,
    strip_components: int | None = None,
    split: str = "train",
    instruction: str = "source",
    skip_invalid: bool = False,
    max_pixels: int | None = None,
    show_progress: bool = True,
    verify: str = "full",
    image_workers: int | None = None,
) -> dict:
    """Convert one or more release files (all into ``split``); returns the summary.

    ``instruction``: ``"source"`` keeps the release's think/answer request after the options (the
    project default when a record has none), ``"default"`` uses the project's, any other string is used as is.

    Within each file, records are parsed and their image paths mapped ahead
    (:func:`data_prep.common.read_ahead`, in record order, so the mapping is the same as one record
    at a time) while the pool checks the images.
    """
    paths = [Path(inputs)] if isinstance(inputs, (str, os.PathLike)) else [Path(p) for p in inputs]
    if not paths:
        raise ConfigError("no input file given")
    for p in paths:
        if not p.is_file():
            raise ConfigError(f"input file {p} not found")
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", split):
        raise ConfigError(f"split name {split!r} must be letters, digits, '_' or '-'")
    mapper = ImagePathMapper(image_root, keep_components, strip_components)
    options = {
        "inputs": [str(p.resolve()) for p in paths],
        "image_root": str(mapper.root) if mapper.root else None,
        "keep_components": keep_components,
        "strip_components": strip_components,
        "split": split,
        "instruction": instruction if instruction in ("source", "default") else "custom",
    }
    run = ConversionRun(
        source=DATA_SOURCE,
        out_dir=out_dir,
        splits=[split],
        skip_invalid=skip_invalid,
        max_pixels=max_pixels,
        mirror_root=mapper.root,
        options=options,
        verify=verify,
        image_workers=image_workers,
    )
    names = [p.name for p in paths]
    for path in paths:
        rel = str(path)
        id_prefix = path.name if names.count(path.name) == 1 else rel  # ids of records without an "id"

        def prepare(item: tuple, path: Path = path) -> tuple:
            where, rec, got = item  # got: the parse error of a bad .jsonl line, else None
            return where, rec, got if got is not None else attempt(_prepare, run, path, rec, mapper, instruction)

        items = read_ahead(iter_records(run, path, rel), prepare, run.images)
        for where, rec, got in progress(items, enabled=show_progress, desc=f"{path.name}", unit="rec"):
            with run.record(rel, where, rec):
                _one(run, run.settle(got), path, rel, id_prefix, where, rec, split)
    return run.finish()


def _text_field(rec: dict, *names: str) -> str | None:
    for n in names:
        v = rec.get(n)
        if isinstance(v, str) and v.strip():
            return v
    return None


def _prepare(
    run: ConversionRun, path: Path, rec: Any, mapper: ImagePathMapper, instruction_mode: str
) -> tuple[str, list[str], str, str, str, str]:
    """``(question, options, letter, answer, instruction, image key)`` of a record (its image is prefetched);
    raises InvalidRecord for a bad record."""
    if not isinstance(rec, dict):
        raise InvalidRecord("bad_json", f"expected a JSON object, got {type(rec).__name__}")
    prompt = _text_field(rec, "instruction")
    from_sft = prompt is None
    if from_sft:
        prompt = _text_field(rec, "sft_prompt", "sft_instruction")
    if prompt is None:
        raise InvalidRecord("missing_field", "record has no 'instruction' (nor 'sft_prompt'/'sft_instruction')")
    question, opts, request = split_instruction(prompt)
    letter, answer = _answer(rec, opts)
    if instruction_mode == "source":
        instr = request if request and not from_sft else DEFAULT_INSTRUCTION
    elif instruction_mode == "default":
        instr = DEFAULT_INSTRUCTION
    else:
        instr = instruction_mode
    image = run.images.prefetch(mapper.map(rec.get("images", rec.get("image")), path.parent))
    return question, opts, letter, answer, instr, image


def _one(
    run: ConversionRun, prepared: tuple, path: Path, rel: str, id_prefix: str, where: str, rec: dict, split: str
) -> None:
    question, opts, letter, answer, instr, image_key = prepared
    image = run.images.resolve(image_key)
    index = int(where.split()[-1])
    orig_id = rec.get("id")
    row_id = str(orig_id) if orig_id is not None else f"{id_prefix}:{index}"
    meta = {
        "source_file": rel,
        where.split()[0]: index,
        "original_id": orig_id,
        "answer_class": answer,
        "solution": letter,
        "original_image": rec.get("images", rec.get("image")),
    }
    row = run.build(
        row_id=row_id,
        file=rel,
        where=where,
        data_source=DATA_SOURCE,
        question=question,
        options=opts,
        answer=answer,
        image=image,
        question_type=str(rec.get("question_type") or ""),
        instruction=instr,
        meta=meta,
    )
    run.emit(row, split)


def _answer(rec: dict, opts: list[str]) -> tuple[str, str]:
    """The ground-truth letter and option text; ``solution`` and ``answer`` must agree with the options."""
    sol, ans = rec.get("solution"), rec.get("answer")
    if sol is None and ans is None:
        raise InvalidRecord("missing_field", "record has neither 'solution' (letter) nor 'answer' (option text)")
    by_text = None
    if ans is not None:
        norm = " ".join(str(ans).split()).casefold()
        hits = [i for i, o in enumerate(opts) if " ".join(o.split()).casefold() == norm]
        if not hits:
            raise InvalidRecord("answer_not_in_options", f"answer {ans!r} is not among the options {opts}")
        by_text = hits[0]
    if sol is None:
        return LETTERS[by_text], opts[by_text]
    m = _SOLUTION.match(str(sol))
    letter = m.group(1).upper() if m else None
    if letter is None or letter not in LETTERS[: len(opts)]:
        raise InvalidRecord(
            "unknown_letter", f"solution {sol!r} is not one of the option letters {LETTERS[: len(opts)]}"
        )
    i = LETTERS.index(letter)
    if by_text is not None and by_text != i:
        raise InvalidRecord("answer_mismatch", f"solution {letter} ({opts[i]!r}) disagrees with answer {ans!r}")
    return letter, opts[i]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="anatomy-r1 prepare swift-json",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", help="release file(s), .json (a list) or .jsonl")
    add_common_args(p)
    p.add_argument("--image-root", default=None, help="folder the images now live in (see the path rule below)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--keep-components", type=int, default=None, help="keep the last N components of each path")
    g.add_argument("--strip-components", type=int, default=None, help="drop the first N components of each path")
    p.add_argument("--split", default="train", help="split name of the output parquet (default train)")
    p.add_argument(
        "--instruction",
        default="source",
        help="'source' (the release's think/answer request, default), 'default' (the project's) or a text",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    return run_cli(
        convert,
        inputs=a.inputs,
        out_dir=a.out,
        image_root=a.image_root,
        keep_components=a.keep_components,
        strip_components=a.strip_components,
        split=a.split,
        instruction=a.instruction,
        skip_invalid=a.skip_invalid,
        max_pixels=a.max_pixels,
        show_progress=not a.no_progress,
        verify=a.verify,
        image_workers=a.image_workers,
    )


if __name__ == "__main__":
    raise SystemExit(main())
