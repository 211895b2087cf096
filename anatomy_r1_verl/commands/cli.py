"""``anatomy-r1``: the command line of the project.

anatomy-r1 train RECIPE [key=value ...]      run verl's GRPO trainer on a recipe (any verl key overridable)
anatomy-r1 train --list                      the shipped recipes
anatomy-r1 submit RECIPE --address URL ...   run a recipe on a Ray cluster as a Ray job (docs/cluster.md)
anatomy-r1 jobs list|status|logs|stop [ID]   the cluster's jobs: list, follow the log, stop
anatomy-r1 demo [key=value ...]              build the CPU demo assets if missing and train on them
anatomy-r1 prepare WHAT ...                  write verl parquet: synthetic | ssgvqa | omnimedvqa | swift-json,
                                             or add S(q) (score) / question variants (augment) to one,
                                             or make the SFT baseline's files from one (sft)
anatomy-r1 build-model OUT_DIR               build the tiny random-init Qwen2.5-VL offline
anatomy-r1 warmstart --data D --out M        SFT the tiny model on a synthetic train split (CPU)
anatomy-r1 eval MODEL PARQUET... [--out DIR] accuracy / format rate with 95 % intervals of a model or verl
                                             checkpoint on test splits (--samples K --temperature T; --rescore DIR)
anatomy-r1 report EVAL_DIR... [--runs RUN...] the paper's table (Markdown + CSV) from eval folders, and
                                             its Figures 1-2 (PNG) from training runs' metrics.jsonl
anatomy-r1 bench [--methods M...] [--seeds S...]  the table's rows (GRPO, Dr.GRPO, DAPO, GPG, +ASCL, +GDQA,
                                             Anatomy-R1, SFT) trained side by side on CPU, evaluated, reported
anatomy-r1 doctor                            check the install: every verl registration and runtime patch,
                                             torchvision, processor (--ray: a Ray worker)
"""

from __future__ import annotations

import importlib
import sys

# prepare sub-commands -> module with main(argv)
PREPARE = {
    "synthetic": "data_prep.synthetic",
    "ssgvqa": "data_prep.ssgvqa",
    "omnimedvqa": "data_prep.omnimedvqa",
    "swift-json": "data_prep.swift_json",
    "score": "anatomy_r1_verl.ascl.difficulty",  # ASCL: S(q) per row
    "augment": "anatomy_r1_verl.gdqa.variants",  # GDQA: question variants per row
    "sft": "data_prep.sft",  # the SFT baseline: messages with a <think>-less answer
}


# command -> "module:function" taking the remaining arguments (imported only when the command runs)
COMMANDS = {
    "train": "anatomy_r1_verl.commands.train:main_train",
    "submit": "anatomy_r1_verl.commands.submit:main",
    "jobs": "anatomy_r1_verl.commands.jobs:main",
    "demo": "anatomy_r1_verl.commands.demo:main",
    "build-model": "anatomy_r1_verl.tiny.model:main",
    "warmstart": "anatomy_r1_verl.tiny.warmstart:main",
    "eval": "anatomy_r1_verl.commands.evaluate:main",
    "report": "anatomy_r1_verl.commands.report:main",
    "bench": "anatomy_r1_verl.commands.bench:main",
    "doctor": "anatomy_r1_verl.commands.doctor:main",
}


def _call(target: str, argv: list[str]) -> int:
    module, func = target.split(":") if ":" in target else (target, "main")
    return int(getattr(importlib.import_module(module), func)(argv) or 0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "prepare":
        if not rest or rest[0] not in PREPARE:
            print(f"usage: anatomy-r1 prepare {{{','.join(PREPARE)}}} ...  (--help on each)", file=sys.stderr)
            return 2
        return _call(PREPARE[rest[0]], rest[1:])
    if cmd in COMMANDS:
        return _call(COMMANDS[cmd], rest)
    print(f"anatomy-r1: unknown command {cmd!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
