"""``anatomy-r1 prepare synthetic``: the command that writes the synthetic surgical-scene benchmark.

The engine (scenes, question programs, the generator) is :mod:`anatomy_r1_verl.synthetic`; this module is its
command line only, so the runtime package never imports ``data_prep``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from anatomy_r1_verl.grammar import DEFAULT_FAMILY_WEIGHTS, FAMILIES, LOOKALIKE_FAMILY_WEIGHTS
from anatomy_r1_verl.schema import IMAGE_POSITIONS
from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate
from anatomy_r1_verl.synthetic.options import OPTION_DRAWS
from anatomy_r1_verl.synthetic.scene import LOOKS


def parse_family_weights(text: str) -> dict[str, float]:
    """``"zero_hop=0.4,one_hop=0.3,..."`` -> dict; families left out get weight 0."""
    weights = {f: 0.0 for f in FAMILIES}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or name.strip() not in FAMILIES:
            raise argparse.ArgumentTypeError(f"bad family weight {part!r}; use NAME=W with NAME in {FAMILIES}")
        weights[name.strip()] = float(value)
    return weights


def parse_pairs(text: str) -> list[list[str]]:
    """``"Gallbladder:Cystic Plate,Gut:Omentum"`` -> [[a, b], ...]."""
    pairs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        a, sep, b = part.partition(":")
        if not sep:
            raise argparse.ArgumentTypeError(f"bad annotator pair {part!r}; use CLASS:CLASS")
        pairs.append([a.strip(), b.strip()])
    return pairs


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    d = SyntheticConfig(out_dir="")
    p = argparse.ArgumentParser(
        prog=prog,
        description="Generate the synthetic surgical-scene VQA benchmark "
        "(3x3 anatomy grid with instruments, SSG-VQA-style question families).",
    )
    p.add_argument("--out", required=True, help="output folder (parquet, images/, manifest.json)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--train", type=int, default=d.train, help="train questions (default %(default)s)")
    p.add_argument("--val", type=int, default=d.val, help="validation questions (default %(default)s)")
    p.add_argument("--test", type=int, default=d.test, help="test questions (default %(default)s)")
    p.add_argument(
        "--questions-per-frame",
        type=int,
        default=d.questions_per_frame,
        help="questions sharing one frame (default %(default)s)",
    )
    p.add_argument(
        "--image-size",
        type=int,
        default=d.image_size,
        help="frame side in px; multiples of 84 align cells with Qwen2.5-VL tokens (default %(default)s)",
    )
    p.add_argument(
        "--family-weights",
        type=parse_family_weights,
        default=None,
        help="question mix; families left out get 0 (default "
        + ",".join(f"{k}={v}" for k, v in d.family_weights.items())
        + "; with --lookalike zero_hop=1)",
    )
    p.add_argument("--max-instruments", type=int, default=d.max_instruments, help="0..3 (default %(default)s)")
    p.add_argument("--noise", type=float, default=d.noise, help="pixel noise std (default %(default)s)")
    p.add_argument(
        "--annotator-rate",
        type=float,
        default=d.annotator_rate,
        help="label noise of a simulated annotator who confuses similar anatomy: P(a region of a "
        "confused class is labelled as its partner); 0 = true labels (default %(default)s)",
    )
    p.add_argument(
        "--annotator-pairs",
        type=parse_pairs,
        default=[],
        help="confused pairs 'A:B,C:D' (default: the closest disjoint pairs of ASCL's closeness table)",
    )
    p.add_argument(
        "--image-position",
        choices=IMAGE_POSITIONS,
        default=d.image_position,
        help="the prompt's image before the question (the paper's layout) or after the instruction, at "
        "a fixed distance from the response (default %(default)s)",
    )
    p.add_argument(
        "--look",
        choices=sorted(LOOKS),
        default=d.look,
        help="classic: a colour per class; lookalike: each class's appearance derived from the anatomical "
        "closeness table, so that close classes look alike (default %(default)s)",
    )
    p.add_argument(
        "--contrast",
        type=float,
        default=d.contrast,
        help="lookalike: scale of the visual differences between classes (default %(default)s)",
    )
    p.add_argument(
        "--options",
        choices=sorted(OPTION_DRAWS),
        default=d.options,
        help="distractor draw: uniform, or spread (S(q) spread over its range) (default %(default)s)",
    )
    p.add_argument(
        "--lookalike",
        action="store_true",
        help="the look-alike benchmark: --look lookalike --options spread --image-position last, zero-hop "
        "questions only unless --family-weights is given",
    )
    p.add_argument(
        "--embed-images",
        action="store_true",
        help="store the PNG bytes in the rows instead of paths (the PNG files are written too)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def main(argv: Sequence[str] | None = None, prog: str | None = "anatomy-r1 prepare synthetic") -> int:
    args = build_parser(prog).parse_args(argv)
    if args.lookalike:
        args.look, args.options, args.image_position = "lookalike", "spread", "last"
        if args.family_weights is None:
            args.family_weights = dict(LOOKALIKE_FAMILY_WEIGHTS)
    if args.family_weights is None:
        args.family_weights = dict(DEFAULT_FAMILY_WEIGHTS)
    cfg = SyntheticConfig(
        out_dir=args.out,
        seed=args.seed,
        train=args.train,
        val=args.val,
        test=args.test,
        questions_per_frame=args.questions_per_frame,
        image_size=args.image_size,
        family_weights=args.family_weights,
        embed_images=args.embed_images,
        max_instruments=args.max_instruments,
        noise=args.noise,
        annotator_rate=args.annotator_rate,
        annotator_pairs=args.annotator_pairs,
        image_position=args.image_position,
        look=args.look,
        contrast=args.contrast,
        options=args.options,
    )
    manifest = generate(cfg, progress=not args.no_progress)
    summary = ", ".join(f"{s} {v['questions']} questions / {v['frames']} frames" for s, v in manifest["splits"].items())
    print(f"wrote {summary} to {os.path.abspath(args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
