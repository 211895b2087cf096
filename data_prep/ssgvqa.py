"""SSG-VQA -> verl parquet: anatomy questions as 4-option multiple choice, official video splits.

Input layout (``--root``): ``qa_txt/VIDxx/<frame>.txt`` (two header lines, then
``question|answer|type1|type2`` per line) and frames ``data/VIDxx/<frame>.png`` (``--images-dir``).
A question is kept when its answer is one of the kept anatomy classes (default: the six of
``schema.ANATOMY_CLASSES``; answers such as ``cystic_plate`` map to ``Cystic Plate``) and its
type1/type2 pass the optional filters; the others are counted as "filtered".

Options: the correct class plus ``num_options - 1`` distractors from the kept classes, either
drawn at random (``random``: ``random.Random(crc32(f"{seed}:{video}:{frame}:{line}"))``, so the
same question always gets the same options) or the most similar classes (``similarity``: via
``anatomy_r1_verl.ascl.difficulty.build_similarity``), then shuffled with that same seeded generator.

Usage: ``python -m data_prep.ssgvqa --root SSG-VQA --out data/ssgvqa [--skip-invalid]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from anatomy_r1_verl.schema import ANATOMY_CLASSES, DEFAULT_INSTRUCTION

from .common import (
    ConfigError,
    ConversionRun,
    InvalidRecord,
    add_common_args,
    attempt,
    progress,
    read_ahead,
    run_cli,
    split_list,
    stable_rng_seed,
)

DATA_SOURCE = "ssgvqa"
SPLITS = ("train", "val", "test")
DEFAULT_TEST_VIDEOS = (22, 74, 60, 2, 43)
DEFAULT_VAL_VIDEOS = (18, 48, 1, 35, 31)
HEADER_LINES = 2


@functools.lru_cache(maxsize=4096)  # answers repeat: a few distinct strings over ~1M lines
def class_key(name: str) -> str:
    """``"Cystic Plate"``, ``"cystic-plate"``, ``" cystic_plate "`` -> ``"cystic_plate"``."""
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


_DISPLAY = {class_key(c): c for c in ANATOMY_CLASSES}


def display_name(key: str) -> str:
    return _DISPLAY.get(key) or key.replace("_", " ").title()


def video_number(name: str) -> int | None:
    m = re.search(r"(\d+)$", str(name).strip())
    return int(m.group(1)) if m else None


def parse_videos(spec: Iterable[str | int] | None) -> set[int]:
    """``["22", "VID74", "60,02"]`` -> ``{22, 74, 60, 2}``."""
    out: set[int] = set()
    for item in split_list([str(s) for s in spec or []]) or []:
        n = video_number(item)
        if n is None:
            raise ConfigError(f"cannot read a video number from {item!r} (expected e.g. 22 or VID22)")
        out.add(n)
    return out


class DistractorPicker:
    """Options for one question: the answer plus ``k - 1`` distractors, shuffled per question id."""

    def __init__(self, pool: Sequence[str], k: int, mode: str, seed: int, similarity_config: dict | None = None):
        if mode not in ("random", "similarity"):
            raise ConfigError(f"distractors must be 'random' or 'similarity', got {mode!r}")
        if not 2 <= k <= len(pool):
            raise ConfigError(f"num_options {k} needs 2..{len(pool)} (the number of kept classes: {list(pool)})")
        self.pool, self.k, self.mode, self.seed = tuple(pool), k, mode, seed
        self._nearest: dict[str, list[str]] = {}
        self._sim: Callable[[str, str], float] | None = None
        if mode == "similarity":
            self._sim = _load_similarity(similarity_config)

    def options(self, answer: str, qid: str) -> list[str]:
        rng = random.Random(stable_rng_seed(self.seed, qid))
        others = [c for c in self.pool if c != answer]
        if self.mode == "random":
            distractors = rng.sample(others, self.k - 1)
        else:
            distractors = self._nearest.get(answer)
            if distractors is None:
                sim = self._sim
                distractors = sorted(others, key=lambda c: (-float(sim(answer, c)), c))[: self.k - 1]
                self._nearest[answer] = distractors
        opts = [answer, *distractors]
        rng.shuffle(opts)
        return opts


def _load_similarity(config: dict | None) -> Callable[[str, str], float]:
    try:
        from anatomy_r1_verl.ascl.difficulty import build_similarity
    except ImportError as e:
        raise ConfigError(
            "distractors='similarity' needs anatomy_r1_verl.ascl.difficulty.build_similarity, which could not be "
            f"imported ({type(e).__name__}: {e}); use --distractors random or install the full package"
        ) from e
    return build_similarity(config)


def convert(
    root: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    images_dir: str | os.PathLike | None = None,
    image_ext: str = ".png",
    test_videos: Iterable[str | int] = DEFAULT_TEST_VIDEOS,
    val_videos: Iterable[str | int] = DEFAULT_VAL_VIDEOS,
    answer_classes: Iterable[str] | None = None,
    question_types: Iterable[str] | None = None,
    complexities: Iterable[str] | None = None,
    num_options: int = 4,
    distractors: str = "random",
    similarity_config: dict | None = None,
    seed: int = 0,
    instruction: str = DEFAULT_INSTRUCTION,
    skip_invalid: bool = False,
    max_pixels: int | None = None,
    show_progress: bool = True,
    verify: str = "full",
    image_workers: int | None = None,
) -> dict:
    """Convert an SSG-VQA tree; returns the summary (also saved as ``<out>/summary.json``).

    Each frame's text file is read and parsed ahead (:func:`data_prep.common.read_ahead`) and its
    image checked in the pool when at least one of its questions is kept."""
    root = Path(root).resolve()
    qa_dir = root / "qa_txt"
    img_dir = Path(images_dir).resolve() if images_dir else root / "data"
    if not qa_dir.is_dir():
        raise ConfigError(f"{qa_dir} not found: --root must be the SSG-VQA folder holding qa_txt/VIDxx/*.txt")
    test_v, val_v = parse_videos(test_videos), parse_videos(val_videos)
    if test_v & val_v:
        raise ConfigError(f"videos {sorted(test_v & val_v)} are both test and val")
    keys = [class_key(c) for c in (answer_classes or ANATOMY_CLASSES)]
    classes = {k: display_name(k) for k in dict.fromkeys(keys)}
    qtypes = set(question_types) if question_types else None
    cplx = set(complexities) if complexities else None
    ext = image_ext if image_ext.startswith(".") else "." + image_ext
    picker = DistractorPicker(list(classes.values()), num_options, distractors, seed, similarity_config)

    options = {
        "root": str(root),
        "images_dir": str(img_dir),
        "test_videos": sorted(test_v),
        "val_videos": sorted(val_v),
        "answer_classes": list(classes),
        "question_types": sorted(qtypes or []),
        "complexities": sorted(cplx or []),
        "num_options": num_options,
        "distractors": distractors,
        "seed": seed,
    }
    run = ConversionRun(
        source=DATA_SOURCE,
        out_dir=out_dir,
        splits=SPLITS,
        skip_invalid=skip_invalid,
        max_pixels=max_pixels,
        mirror_root=img_dir,
        options=options,
        verify=verify,
        image_workers=image_workers,
    )

    def read_frame(path: Path) -> tuple:
        video, frame = path.parent.name, path.stem
        n = video_number(video)
        split = "test" if n in test_v else "val" if n in val_v else "train"
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        parsed, needs_image = [], False
        for lineno, line in enumerate(lines[HEADER_LINES:], start=HEADER_LINES + 1):
            if not line.strip():
                continue
            got = attempt(_parse, line, classes, qtypes, cplx)
            needs_image = needs_image or type(got) is tuple
            parsed.append((lineno, line, got))
        image = img_dir / video / (frame + ext)
        image = run.images.prefetch(image) if needs_image else str(image)
        return video, frame, split, str(path.relative_to(root)), image, parsed

    files = sorted(p for p in qa_dir.glob("*/*.txt") if p.is_file())
    frames = read_ahead(files, read_frame, run.images)
    for video, frame, split, rel, image, parsed in progress(
        frames, enabled=show_progress, total=len(files), desc="ssgvqa frames", unit="frame"
    ):
        for lineno, line, got in parsed:
            with run.record(rel, f"line {lineno}", line):
                fields = run.settle(got)
                if fields is not None:
                    _one(run, fields, rel, lineno, video, frame, split, image, classes, picker, instruction)
    return run.finish()


def _parse(line: str, classes: dict, qtypes: set | None, cplx: set | None) -> tuple | str:
    """A line's fields ``(question, answer_raw, type1, type2, extra_fields, class key)``, or the reason
    it is filtered out; raises InvalidRecord for a malformed line."""
    parts = line.split("|")
    if len(parts) < 2:
        raise InvalidRecord("malformed_line", f"expected 'question|answer|type1|type2', got {line!r}")
    # As the authors' loader reads it (CAMMA-public/SSG-VQA utils/dataloaderClassification.py): field 0 the
    # question, 1 the answer, 2 and 3 the question type and complexity; later fields (seen in released
    # files: a query component, NA) are kept in meta.
    extra_fields = [p.strip() for p in parts[4:]]
    parts = parts[:4]
    question, answer_raw, type1, type2 = [p.strip() for p in parts] + [""] * (4 - len(parts))
    if not question or not answer_raw:
        raise InvalidRecord("malformed_line", f"empty question or answer in {line!r}")
    key = class_key(answer_raw)
    if key not in classes:
        return "answer is not a kept anatomy class"
    if qtypes is not None and type1 not in qtypes:
        return "question type not selected"
    if cplx is not None and type2 not in cplx:
        return "complexity not selected"
    return question, answer_raw, type1, type2, extra_fields, key


def _one(
    run: ConversionRun,
    fields: tuple,
    rel: str,
    lineno: int,
    video: str,
    frame: str,
    split: str,
    image_key: str,
    classes: dict,
    picker: DistractorPicker,
    instruction: str,
) -> None:
    question, answer_raw, type1, type2, extra_fields, key = fields
    image = run.images.resolve(image_key)
    answer = classes[key]
    qid = f"{video}/{frame}/{lineno}"
    opts = picker.options(answer, f"{video}:{frame}:{lineno}")
    meta = {
        "source_file": rel,
        "line": lineno,
        "original_id": qid,
        "video": video,
        "frame": frame,
        "answer_raw": answer_raw,
        "answer_class": answer,
        "question_type": type1,
        "complexity": type2,
        "extra_fields": extra_fields,
        "distractors": picker.mode,
    }
    row = run.build(
        row_id=qid,
        file=rel,
        where=f"line {lineno}",
        data_source=DATA_SOURCE,
        question=question,
        options=opts,
        answer=answer,
        image=image,
        question_type=type1,
        instruction=instruction,
        meta=meta,
    )
    run.emit(row, split)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="anatomy-r1 prepare ssgvqa",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--root", required=True, help="SSG-VQA folder with qa_txt/VIDxx/<frame>.txt")
    add_common_args(p)
    p.add_argument("--images-dir", default=None, help="frames folder with VIDxx/<frame>.png (default <root>/data)")
    p.add_argument("--image-ext", default=".png", help="frame file extension (default .png)")
    p.add_argument(
        "--test-videos",
        action="append",
        default=None,
        help=f"test videos, repeatable or comma-separated (default {','.join(map(str, DEFAULT_TEST_VIDEOS))})",
    )
    p.add_argument(
        "--val-videos",
        action="append",
        default=None,
        help=f"val videos (default {','.join(map(str, DEFAULT_VAL_VIDEOS))}); all others are train",
    )
    p.add_argument(
        "--answer-class",
        action="append",
        default=None,
        dest="answer_classes",
        help="answer classes to keep, e.g. liver,cystic_plate (default: the six anatomy classes)",
    )
    p.add_argument(
        "--question-type",
        action="append",
        default=None,
        dest="question_types",
        help="keep only these type1 values (repeatable or comma-separated)",
    )
    p.add_argument(
        "--complexity",
        action="append",
        default=None,
        dest="complexities",
        help="keep only these type2 values (repeatable or comma-separated)",
    )
    p.add_argument("--num-options", type=int, default=4)
    p.add_argument(
        "--distractors",
        choices=("random", "similarity"),
        default="random",
        help="random (seeded per question) or the most similar classes (anatomy_r1_verl.ascl.difficulty)",
    )
    p.add_argument("--similarity-config", default=None, help="JSON file passed to build_similarity")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    sim_cfg = None
    if a.similarity_config:
        with open(a.similarity_config, encoding="utf-8") as fh:
            sim_cfg = json.load(fh)
    return run_cli(
        convert,
        root=a.root,
        out_dir=a.out,
        images_dir=a.images_dir,
        image_ext=a.image_ext,
        test_videos=split_list(a.test_videos) if a.test_videos is not None else DEFAULT_TEST_VIDEOS,
        val_videos=split_list(a.val_videos) if a.val_videos is not None else DEFAULT_VAL_VIDEOS,
        answer_classes=split_list(a.answer_classes),
        question_types=split_list(a.question_types),
        complexities=split_list(a.complexities),
        num_options=a.num_options,
        distractors=a.distractors,
        similarity_config=sim_cfg,
        seed=a.seed,
        skip_invalid=a.skip_invalid,
        max_pixels=a.max_pixels,
        show_progress=not a.no_progress,
        verify=a.verify,
        image_workers=a.image_workers,
    )


if __name__ == "__main__":
    raise SystemExit(main())
