"""Synthetic surgical-scene VQA benchmark: frames, questions and verl parquet splits.

Writes ``<out>/{train,val,test}.parquet`` (verl ``RLHFDataset`` rows built by
:func:`anatomy_r1_verl.schema.make_row`, data_source ``synthetic_scene``), the frames as PNG under
``<out>/images/<split>/<frame_id>.png`` (absolute paths in the rows, or the PNG bytes in the rows
with ``embed_images``) and ``<out>/manifest.json``. Each row's ``extra_info.meta`` holds the frame's
scene graph and the question program, so a question can be re-rendered in another template
(:func:`anatomy_r1_verl.synthetic.questions.render_question`) and re-checked (:func:`anatomy_r1_verl.synthetic.questions.execute`).

Determinism: every frame draws from its own seed ``(seed, split, frame index)``; the same seed
gives byte-identical parquet files and images. Splits are made of different frames, and no two
frames of the whole benchmark share the same anatomy grid (a repeat is re-drawn from the frame's
own stream), so val/test layouts are never seen in train.

``look`` picks how the anatomy is painted (``classic`` or ``lookalike``, :data:`anatomy_r1_verl.synthetic.scene.LOOKS`)
and ``options`` how the distractors are drawn (``uniform`` or ``spread``, :mod:`anatomy_r1_verl.synthetic.options`);
``prepare synthetic --lookalike`` sets both for the look-alike benchmark, with zero-hop questions only
(:data:`anatomy_r1_verl.grammar.LOOKALIKE_FAMILY_WEIGHTS`).

``annotator_rate`` > 0 writes warm-start data labelled by a simulated annotator who confuses similar anatomy
(:mod:`anatomy_r1_verl.synthetic.annotator`): frames as always, questions and answers from the annotated scene.

Command: ``anatomy-r1 prepare synthetic --out data/synthetic`` (:mod:`data_prep.synthetic`).
"""

from __future__ import annotations

import io
import json
import math
import os
import random
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from anatomy_r1_verl.schema import check_image_position, make_row
from anatomy_r1_verl.synthetic.annotator import AnnotatorConfig, annotate
from anatomy_r1_verl.synthetic.manifest import MANIFEST
from anatomy_r1_verl.synthetic.options import OPTION_DRAWS, option_draw
from anatomy_r1_verl.synthetic.questions import (
    DEFAULT_FAMILY_WEIGHTS,
    FAMILIES,
    execute,
    render_question,
    sample_programs,
)
from anatomy_r1_verl.synthetic.scene import anatomy_colours, anatomy_key, check_look, render_scene, sample_layout

DATA_SOURCE = "synthetic_scene"
GENERATOR_VERSION = "1.0"
SPLITS = ("train", "val", "test")
_MAX_REDRAWS = 1000


@dataclass
class SyntheticConfig:
    out_dir: str
    seed: int = 0
    train: int = 8000  # questions per split
    val: int = 1000
    test: int = 1000
    questions_per_frame: int = 4
    image_size: int = 84  # 84 px: one cell = 28 px = one merged Qwen2.5-VL image token
    family_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_FAMILY_WEIGHTS))
    embed_images: bool = False
    max_instruments: int = 3
    noise: float = 6.0  # std of the per-pixel noise, in 0..255 units
    annotator_rate: float = 0.0  # > 0: questions asked on a simulated annotator's labels (synthetic/annotator.py)
    annotator_pairs: list = field(default_factory=list)  # the confused class pairs; empty = ASCL's closest pairs
    image_position: str = "first"  # where the prompt's image goes: first (the paper's) | last (after the instruction)
    look: str = "classic"  # classic (a colour per class) | lookalike (appearance from the closeness table)
    contrast: float = 1.0  # lookalike: scale of the visual differences between classes (synthetic/appearance.py)
    options: str = "uniform"  # how distractors are drawn: uniform | spread (S(q) over its range, synthetic/options.py)

    def validate(self) -> None:
        if self.questions_per_frame < 1:
            raise ValueError("questions_per_frame must be >= 1")
        if self.image_size < 24:
            raise ValueError(f"image_size {self.image_size} is too small (>= 24 px, 84 recommended)")
        if not 0 <= self.max_instruments <= 3:
            raise ValueError("max_instruments must be in 0..3")
        unknown = set(self.family_weights) - set(FAMILIES)
        if unknown:
            raise ValueError(f"unknown question families {sorted(unknown)}; known: {FAMILIES}")
        if any(w < 0 for w in self.family_weights.values()) or sum(self.family_weights.values()) <= 0:
            raise ValueError(f"family weights must be >= 0 with a positive sum, got {self.family_weights}")
        if any(n < 0 for n in (self.train, self.val, self.test)):
            raise ValueError("question counts must be >= 0")
        self.annotator().validate()
        check_image_position(self.image_position)
        check_look(self.look)
        if self.contrast <= 0:
            raise ValueError(f"contrast must be > 0, got {self.contrast}")
        if self.options not in OPTION_DRAWS:
            raise ValueError(f"unknown option draw {self.options!r}; known: {sorted(OPTION_DRAWS)}")

    def annotator(self) -> AnnotatorConfig:
        return AnnotatorConfig(rate=self.annotator_rate, pairs=[list(p) for p in self.annotator_pairs])


def frame_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SPLITS.index(split), index)))


def _frame(cfg: SyntheticConfig, split: str, index: int, seen: set) -> tuple[dict, bytes, random.Random]:
    """Scene graph, PNG bytes and question rng of one frame; its anatomy grid is new to ``seen``."""
    rng = frame_rng(cfg.seed, split, index)
    for _ in range(_MAX_REDRAWS):
        scene = sample_layout(rng, cfg.max_instruments, anatomy_colours(cfg.look, cfg.contrast))
        if anatomy_key(scene) not in seen:
            break
    else:  # pragma: no cover - needs millions of frames
        raise RuntimeError("ran out of distinct anatomy grids; generate fewer frames")
    seen.add(anatomy_key(scene))
    frame_id = f"{split}_{index:06d}"
    scene = {"frame_id": frame_id, "image_size": cfg.image_size, **scene}
    buf = io.BytesIO()
    render_scene(scene, cfg.image_size, rng, cfg.noise, cfg.look, cfg.contrast).save(
        buf, format="PNG"
    )  # the frame shows the truth
    if cfg.annotator_rate > 0:  # questions and answers follow the annotator's labels
        scene = annotate(scene, cfg.annotator(), rng)
    return scene, buf.getvalue(), random.Random(int(rng.integers(2**63)))


def _split_rows(cfg: SyntheticConfig, split: str, n_questions: int, seen: set, bar: tqdm) -> list[dict]:
    image_dir = os.path.join(os.path.abspath(cfg.out_dir), "images", split)
    os.makedirs(image_dir, exist_ok=True)
    rows: list[dict] = []
    draw_options = option_draw(cfg.options)
    for f in range(math.ceil(n_questions / cfg.questions_per_frame)):
        scene, png, qrng = _frame(cfg, split, f, seen)
        path = os.path.join(image_dir, f"{scene['frame_id']}.png")
        with open(path, "wb") as fh:
            fh.write(png)
        n = min(cfg.questions_per_frame, n_questions - len(rows))
        for k, program in enumerate(sample_programs(scene, n, qrng, cfg.family_weights)):
            (answer,) = execute(program, scene)
            rows.append(
                make_row(
                    data_source=DATA_SOURCE,
                    question=render_question(program),
                    options=draw_options(answer, qrng),
                    answer=answer,
                    image=png if cfg.embed_images else path,
                    split=split,
                    index=len(rows),
                    row_id=f"{DATA_SOURCE}-{scene['frame_id']}-q{k}",
                    question_type=program["family"],
                    meta={
                        "generator": DATA_SOURCE,
                        "version": GENERATOR_VERSION,
                        "seed": cfg.seed,
                        "frame_id": scene["frame_id"],
                        "scene": scene,
                        "program": program,
                    },
                    image_position=cfg.image_position,
                )
            )
        bar.update(n)
    return rows


def generate(cfg: SyntheticConfig, progress: bool = True) -> dict:
    """Write the benchmark to ``cfg.out_dir`` and return its manifest."""
    cfg.validate()
    os.makedirs(cfg.out_dir, exist_ok=True)
    counts = {"train": cfg.train, "val": cfg.val, "test": cfg.test}
    seen: set = set()
    manifest = {
        "data_source": DATA_SOURCE,
        "generator_version": GENERATOR_VERSION,
        "config": {k: v for k, v in asdict(cfg).items() if k != "out_dir"},
        "splits": {},
    }
    with tqdm(total=sum(counts.values()), unit="q", desc="synthetic", disable=not progress) as bar:
        for split in SPLITS:
            rows = _split_rows(cfg, split, counts[split], seen, bar)
            path = os.path.join(cfg.out_dir, f"{split}.parquet")
            if rows:
                pq.write_table(pa.Table.from_pylist(rows), path)
            elif os.path.exists(path):  # an empty split must not leave an older run's file behind
                os.remove(path)
            extra = [r["extra_info"] for r in rows]
            manifest["splits"][split] = {
                "file": f"{split}.parquet" if rows else None,
                "questions": len(rows),
                "frames": math.ceil(len(rows) / cfg.questions_per_frame),
                "families": dict(sorted(Counter(e["question_type"] for e in extra).items())),
                "answers": dict(sorted(Counter(e["answer"] for e in extra).items())),
                "answer_letters": dict(sorted(Counter(e["answer_letter"] for e in extra).items())),
            }
    manifest["seed"] = cfg.seed
    with open(os.path.join(cfg.out_dir, MANIFEST), "w") as fh:
        json.dump(manifest, fh, indent=2, sort_keys=True)
        fh.write("\n")
    return manifest


def load_hf_dataset(out_dir: str, cache_dir: str | None = None):
    """The written splits as a ``datasets.DatasetDict`` (splits whose parquet exists)."""
    import datasets

    files = {s: os.path.join(out_dir, f"{s}.parquet") for s in SPLITS}
    files = {s: p for s, p in files.items() if os.path.exists(p)}
    if not files:
        raise FileNotFoundError(f"no {'/'.join(SPLITS)}.parquet in {out_dir}; run `anatomy-r1 prepare synthetic`")
    return datasets.load_dataset("parquet", data_files=files, cache_dir=cache_dir)
