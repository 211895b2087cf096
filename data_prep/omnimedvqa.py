"""OmniMedVQA -> verl parquet with a seeded per-modality train/test split.

Input layout (``--root``): ``QA_information/{Open-access,Restricted-access}/<dataset>.json``, each a
JSON list of records with ``question``, ``option_A``..``option_D`` (2 to 4 present),
``gt_answer`` (the option text), ``image_path`` (relative to the root, e.g. ``Images/...``),
``modality_type``, ``question_type`` and ``dataset``; other fields are kept out of the way.

Split: OmniMedVQA has none. Within each modality the images (``--split-by image``, default, so a
picture never lands in both splits) or the questions (``--split-by question``) are shuffled with
``random.Random(crc32(f"{seed}:{modality}"))`` and ``round(n * test_fraction)`` of them go to test.

Usage: ``python -m data_prep.omnimedvqa --root OmniMedVQA --out data/omnimedvqa [--modality "CT(Computed Tomography)"]``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from anatomy_r1_verl.schema import DEFAULT_INSTRUCTION, LETTERS

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
    stable_rng_seed,
)

DATA_SOURCE = "omnimedvqa"
SPLITS = ("train", "test")
ACCESS_DIRS = ("Open-access", "Restricted-access")
REQUIRED = ("question", "option_A", "option_B", "gt_answer", "image_path", "modality_type", "question_type", "dataset")


def _norm(text: Any) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().casefold()


def record_options(rec: dict) -> list[str]:
    """``option_A``.. in letter order; raises InvalidRecord on a gap (e.g. C missing but D present)."""
    present = [(L, rec.get(f"option_{L}")) for L in LETTERS]
    present = [(L, v) for L, v in present if v is not None and str(v).strip() != ""]
    letters = "".join(L for L, _ in present)
    if letters != LETTERS[: len(letters)]:
        raise InvalidRecord("no_options", f"options must run option_A, option_B, ... without gaps, got {letters!r}")
    if len(present) < 2:
        raise InvalidRecord("no_options", f"needs at least 2 options, got {len(present)}")
    return [str(v).strip() for _, v in present]


def convert(
    root: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
    split_by: str = "image",
    modalities: Iterable[str] | None = None,
    question_types: Iterable[str] | None = None,
    datasets: Iterable[str] | None = None,
    instruction: str = DEFAULT_INSTRUCTION,
    skip_invalid: bool = False,
    max_pixels: int | None = None,
    show_progress: bool = True,
    verify: str = "full",
    image_workers: int | None = None,
) -> dict:
    """Convert an OmniMedVQA tree; returns the summary (also saved as ``<out>/summary.json``).

    Records are checked ahead (:func:`data_prep.common.read_ahead`); the image of each record that
    will become a row is checked in the pool meanwhile."""
    root = Path(root).resolve()
    qa_dir = root / "QA_information"
    if not qa_dir.is_dir():
        raise ConfigError(f"{qa_dir} not found: --root must be the OmniMedVQA folder holding QA_information/")
    if not 0.0 <= test_fraction <= 1.0:
        raise ConfigError(f"test_fraction must be in [0, 1], got {test_fraction}")
    if split_by not in ("image", "question"):
        raise ConfigError(f"split_by must be 'image' or 'question', got {split_by!r}")
    filters = {"modality_type": modalities, "question_type": question_types, "dataset": datasets}
    filters = {k: {_norm(v) for v in vals} for k, vals in filters.items() if vals}

    options = {
        "root": str(root),
        "test_fraction": test_fraction,
        "seed": seed,
        "split_by": split_by,
        "filters": {k: sorted(v) for k, v in filters.items()},
    }
    run = ConversionRun(
        source=DATA_SOURCE,
        out_dir=out_dir,
        splits=SPLITS,
        skip_invalid=skip_invalid,
        max_pixels=max_pixels,
        mirror_root=root,
        options=options,
        verify=verify,
        image_workers=image_workers,
    )

    files = [p for d in ACCESS_DIRS for p in sorted((qa_dir / d).glob("*.json"))]
    if not files:
        raise ConfigError(f"no {{{','.join(ACCESS_DIRS)}}}/*.json under {qa_dir}")
    loaded = []
    for path in files:
        rel = str(path.relative_to(root))
        data = load_json_list(run, path, rel)
        if data is not None:
            loaded.append((path, rel, data))

    kept: list[tuple[str, str, dict]] = []  # (modality, group key, row)
    total = sum(len(d) for _, _, d in loaded)
    items = ((p, rel, i, rec) for p, rel, data in loaded for i, rec in enumerate(data))

    def prepare(item: tuple) -> tuple:
        return (*item, attempt(_prepare, run, root, item[3], filters))

    checked = read_ahead(items, prepare, run.images)
    for path, rel, idx, rec, got in progress(checked, enabled=show_progress, total=total, desc="omnimedvqa", unit="q"):
        with run.record(rel, f"record {idx}", rec):
            prepared = run.settle(got)
            if prepared is not None:
                kept.append(_one(run, prepared, path, rel, idx, rec, split_by, instruction))

    test_groups = _test_groups(kept, test_fraction, seed)
    for modality, group, row in kept:
        run.emit(row, "test" if (modality, group) in test_groups else "train")
    return run.finish()


def _prepare(run: ConversionRun, root: Path, rec: Any, filters: dict) -> tuple[list[str], str, str] | str:
    """``(options, answer, image key)`` of a record that will become a row (its image is prefetched),
    or the reason it is filtered out; raises InvalidRecord for a bad record."""
    if not isinstance(rec, dict):
        raise InvalidRecord("bad_json", f"expected a JSON object, got {type(rec).__name__}")
    missing = [k for k in REQUIRED if rec.get(k) is None or str(rec.get(k)).strip() == ""]
    if missing:
        raise InvalidRecord("missing_field", f"record lacks required field(s) {missing} (needs {list(REQUIRED)})")
    for field, allowed in filters.items():
        if _norm(rec[field]) not in allowed:
            return f"{field} not selected"
    opts = record_options(rec)
    gt = _norm(rec["gt_answer"])
    matches = [o for o in opts if _norm(o) == gt]
    if not matches:
        raise InvalidRecord("answer_not_in_options", f"gt_answer {rec['gt_answer']!r} is not among the options {opts}")
    return opts, matches[0], run.images.prefetch(root / str(rec["image_path"]).strip())


def _one(
    run: ConversionRun, prepared: tuple, path: Path, rel: str, idx: int, rec: dict, split_by: str, instruction: str
) -> tuple[str, str, dict]:
    opts, answer, image_key = prepared
    image = run.images.resolve(image_key)
    orig_id = str(rec.get("question_id", idx))
    row_id = f"{path.parent.name}/{path.stem}/{orig_id}"
    modality = str(rec["modality_type"]).strip()
    meta = {
        "source_file": rel,
        "record": idx,
        "original_id": orig_id,
        "modality": modality,
        "dataset": str(rec["dataset"]),
        "access": path.parent.name,
        "image_path": str(rec["image_path"]),
        "answer_class": answer,
    }
    row = run.build(
        row_id=row_id,
        file=rel,
        where=f"record {idx}",
        data_source=DATA_SOURCE,
        question=str(rec["question"]).strip(),
        options=opts,
        answer=answer,
        image=image,
        question_type=str(rec["question_type"]).strip(),
        instruction=instruction,
        meta=meta,
    )
    return modality, (image if split_by == "image" else row_id), row


def _test_groups(kept: list, fraction: float, seed: int) -> set[tuple[str, str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for modality, group, _ in kept:
        groups[modality].append(group)
    test: set[tuple[str, str]] = set()
    for modality, gs in groups.items():
        unique = sorted(set(gs))
        random.Random(stable_rng_seed(seed, modality)).shuffle(unique)
        test.update((modality, g) for g in unique[: round(len(unique) * fraction)])
    return test


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="anatomy-r1 prepare omnimedvqa",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--root", required=True, help="OmniMedVQA folder with QA_information/ and Images/")
    add_common_args(p)
    p.add_argument("--test-fraction", type=float, default=0.2, help="share of each modality in test (default 0.2)")
    p.add_argument(
        "--split-by",
        choices=("image", "question"),
        default="image",
        help="unit of the split: image (default; no image in both splits) or question",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--modality", action="append", default=None, help="keep only these modality_type values (repeatable)"
    )
    p.add_argument("--question-type", action="append", default=None, help="keep only these question_type values")
    p.add_argument("--dataset", action="append", default=None, help="keep only these dataset values")
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    # modality names contain commas rarely but parentheses often: repeat the flag rather than comma-split
    return run_cli(
        convert,
        root=a.root,
        out_dir=a.out,
        test_fraction=a.test_fraction,
        seed=a.seed,
        split_by=a.split_by,
        modalities=a.modality,
        question_types=a.question_type,
        datasets=a.dataset,
        skip_invalid=a.skip_invalid,
        max_pixels=a.max_pixels,
        show_progress=not a.no_progress,
        verify=a.verify,
        image_workers=a.image_workers,
    )


if __name__ == "__main__":
    raise SystemExit(main())
