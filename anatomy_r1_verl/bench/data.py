"""The comparison's questions, made once and shared by every row: the synthetic benchmark (a seed other than the
warm start's; the image where the start model reads it), its train split scored with S(q) (ASCL) and then augmented
with question variants (GDQA), its test split scored with S(q) (the quintiles of every row's evaluation), and the
SFT row's copies of train, val and test. ``bench_data.json`` records what was made; a folder made with other
settings is refused rather than mixed."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from anatomy_r1_verl.ascl.difficulty import score_parquet
from anatomy_r1_verl.gdqa.variants import augment_parquet
from anatomy_r1_verl.grammar import DEFAULT_FAMILY_WEIGHTS
from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate
from anatomy_r1_verl.synthetic.questions import phrasings
from data_prep import sft

MANIFEST = "bench_data.json"


@dataclass(frozen=True)
class DataSpec:
    seed: int = 1  # train and val frames (the shipped models were warm-started on seed-0 and seed-2 frames)
    train: int = 1024
    val: int = 256
    test: int = 1000  # one standard error of an accuracy near 0.45 is 1.6 points
    test_seed: int = 7  # the test frames: a seed nothing was tuned on or evaluated before (docs/benchmarks.md)
    variants: int = 4  # GDQA: phrasings per question, the original included
    tau: float | None = None  # GDQA: vary only rows with S(q) >= tau (None: all rows)
    keep_instruction: bool = False  # GDQA: variants keep the row's instruction wording (method.md varies it)
    image_position: str = "first"  # where the questions put the image (the start model's: bench.settings)
    look: str = "classic"  # the frames' look (synthetic.scene.LOOKS)
    options: str = "uniform"  # the distractor draw (synthetic.options.OPTION_DRAWS)
    family_weights: dict = field(default_factory=lambda: dict(DEFAULT_FAMILY_WEIGHTS))  # the question mix


FILES = (
    "train.parquet",
    "val.parquet",
    "test.parquet",  # only in a folder the user made: bench makes its test split in test_seed<N>/ (test_split)
    "train_scored.parquet",
    "test_scored.parquet",  # the split every row is evaluated on, with S(q): eval reports accuracy by its quintile
    "train_augmented.parquet",
    "train_augmented_keep.parquet",  # the grpo_gdqa_keep row's: variants keep the row's instruction wording
    "sft_train.parquet",
    "sft_val.parquet",
    "sft_test.parquet",
)


class BenchDataError(ValueError):
    pass


@dataclass(frozen=True)
class SFTFile:
    """One SFT train file: the train split in the seed's order, its first ``examples`` rows (None: all), as
    SFT rows of ``target`` style (``data_prep.sft``: answer | think | scan) answering with ``answer``."""

    seed: int
    target: str = "answer"
    examples: int | None = None
    answer: str = "letter"  # a think target's answer form: letter | text (the start model's)

    def path(self, data_dir: Path) -> Path:
        n = "all" if self.examples is None else self.examples
        style = self.target if self.answer == "letter" else f"{self.target}-{self.answer}"
        return Path(data_dir) / f"sft_{style}_train_seed{self.seed}_n{n}.parquet"


def make_sft_train(data_dir: Path, spec: SFTFile) -> Path:
    """Write ``spec``'s file once. The seed orders the rows because verl 0.9.1's SFT trainer ignores
    ``trainer.seed`` (its sampler's seed is fixed): without it every SFT seed would be the same run; with
    ``examples`` it also picks which labelled questions a seed sees."""
    import numpy as np
    import pyarrow.parquet as pq

    out = spec.path(data_dir)
    if not out.is_file():
        table = pq.read_table(Path(data_dir) / "train.parquet")
        ordered = out.with_name(out.stem + ".order.parquet")
        pq.write_table(table.take(np.random.default_rng(spec.seed).permutation(table.num_rows)), ordered)
        try:
            sft.convert(str(ordered), str(out), target=spec.target, examples=spec.examples, answer_form=spec.answer)
        finally:
            ordered.unlink()
    return out


def test_split(data_dir: Path, manifest: dict) -> Path:
    """The unscored test split: a folder the user made keeps its own ``test.parquet``; bench makes it from its own
    seed (:attr:`DataSpec.test_seed`) in ``test_seed<N>/``, frames that share nothing with train and val."""
    if manifest.get("external"):
        return Path(data_dir) / "test.parquet"
    return Path(data_dir) / f"test_seed{manifest['test_seed']}" / "test.parquet"


def ensure(data_dir: Path, spec: DataSpec, log=print, sft_files: tuple[SFTFile, ...] = ()) -> Path:
    """Make what is missing in ``data_dir``; returns it. Each step is skipped when its file exists."""
    data_dir = Path(data_dir)
    manifest = data_dir / MANIFEST
    want = asdict(spec)
    if not manifest.is_file() and all((data_dir / f).is_file() for f in FILES[:3]):
        # a folder the user made (another seed, the simulated annotator, ...): used as it is, not regenerated
        log(
            f"[bench] using the splits already in {data_dir} (no {MANIFEST}: not made by bench; the data options "
            "are ignored)"
        )
        manifest.write_text(json.dumps({"external": True}, indent=1))
    if manifest.is_file():
        have = json.loads(manifest.read_text())
        if have.get("external"):
            want = have
        else:
            have.setdefault("family_weights", dict(DEFAULT_FAMILY_WEIGHTS))  # made before the mix was a setting
            if have != want:
                raise BenchDataError(
                    f"{manifest}: this folder was made with {have}, not {want}; give another --data "
                    "folder (or delete this one) instead of mixing two benchmarks"
                )
    data_dir.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(want, indent=1))
    d = str(data_dir)
    like = dict(
        image_position=spec.image_position, look=spec.look, options=spec.options, family_weights=spec.family_weights
    )
    test = test_split(data_dir, want)
    if not all((data_dir / f).is_file() for f in FILES[:2]):
        log(
            f"[bench] generating the synthetic benchmark into {d} (seed {spec.seed}: {spec.train} train, {spec.val} val)"
        )
        generate(
            SyntheticConfig(out_dir=d, seed=spec.seed, train=spec.train, val=spec.val, test=0, **like), progress=False
        )
    if not test.is_file():
        log(f"[bench] generating its test split into {test.parent} (seed {spec.test_seed}: {spec.test} questions)")
        generate(
            SyntheticConfig(out_dir=str(test.parent), seed=spec.test_seed, train=0, val=0, test=spec.test, **like),
            progress=False,
        )
    if not (data_dir / "train_scored.parquet").is_file():
        log("[bench] scoring the train split with S(q) (ASCL)")
        score_parquet(f"{d}/train.parquet", f"{d}/train_scored.parquet", show_progress=False)
    if not (data_dir / "test_scored.parquet").is_file():
        log("[bench] scoring the test split with S(q) (eval's accuracy by S(q) quintile)")
        score_parquet(test, f"{d}/test_scored.parquet", show_progress=False)
    if not (data_dir / "train_augmented.parquet").is_file():
        log(f"[bench] augmenting the scored train split with {spec.variants} phrasings per question (GDQA)")
        augment_parquet(
            f"{d}/train_scored.parquet",
            f"{d}/train_augmented.parquet",
            k=spec.variants,
            tau=spec.tau,
            keep_instruction=bool(spec.keep_instruction),
            program_phrasings=phrasings,
        )
    if not (data_dir / "train_augmented_keep.parquet").is_file():
        log("[bench] augmenting it again with the instruction kept (the grpo_gdqa_keep row)")
        augment_parquet(
            f"{d}/train_scored.parquet",
            f"{d}/train_augmented_keep.parquet",
            k=spec.variants,
            tau=spec.tau,
            keep_instruction=True,
            program_phrasings=phrasings,
        )
    for split, src in (("train", f"{d}/train.parquet"), ("val", f"{d}/val.parquet"), ("test", str(test))):
        if not (data_dir / f"sft_{split}.parquet").is_file():
            sft.convert(src, f"{d}/sft_{split}.parquet")
    for f in sft_files:
        make_sft_train(data_dir, f)
    return data_dir
