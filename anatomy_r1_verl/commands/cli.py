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

import sys

# Each command's module is imported when that command runs (``anatomy-r1 --help`` stays fast), by a plain import
# statement, so a reader and the import linter see what each command uses.


def _train(argv):
    from anatomy_r1_verl.commands.train import main_train

    return main_train(argv)


def _submit(argv):
    from anatomy_r1_verl.commands import submit

    return submit.main(argv)


def _jobs(argv):
    from anatomy_r1_verl.commands import jobs

    return jobs.main(argv)


def _demo(argv):
    from anatomy_r1_verl.commands import demo

    return demo.main(argv)


def _build_model(argv):
    from anatomy_r1_verl.tiny import model

    return model.main(argv)


def _warmstart(argv):
    from anatomy_r1_verl.tiny import warmstart

    return warmstart.main(argv)


def _eval(argv):
    from anatomy_r1_verl.commands import evaluate

    return evaluate.main(argv)


def _report(argv):
    from anatomy_r1_verl.commands import report

    return report.main(argv)


def _bench(argv):
    from anatomy_r1_verl.commands import bench

    return bench.main(argv)


def _doctor(argv):
    from anatomy_r1_verl.commands import doctor

    return doctor.main(argv)


def _prepare_synthetic(argv):
    from data_prep import synthetic

    return synthetic.main(argv)


def _prepare_ssgvqa(argv):
    from data_prep import ssgvqa

    return ssgvqa.main(argv)


def _prepare_omnimedvqa(argv):
    from data_prep import omnimedvqa

    return omnimedvqa.main(argv)


def _prepare_swift_json(argv):
    from data_prep import swift_json

    return swift_json.main(argv)


def _prepare_score(argv):  # ASCL: S(q) per row
    from anatomy_r1_verl.ascl import difficulty

    return difficulty.main(argv)


def _prepare_augment(argv):  # GDQA: question variants per row
    from data_prep import augment

    return augment.main(argv)


def _prepare_sft(argv):  # the SFT baseline: messages with a <think>-less answer
    from data_prep import sft

    return sft.main(argv)


PREPARE = {
    "synthetic": _prepare_synthetic,
    "ssgvqa": _prepare_ssgvqa,
    "omnimedvqa": _prepare_omnimedvqa,
    "swift-json": _prepare_swift_json,
    "score": _prepare_score,
    "augment": _prepare_augment,
    "sft": _prepare_sft,
}
COMMANDS = {
    "train": _train,
    "submit": _submit,
    "jobs": _jobs,
    "demo": _demo,
    "build-model": _build_model,
    "warmstart": _warmstart,
    "eval": _eval,
    "report": _report,
    "bench": _bench,
    "doctor": _doctor,
}


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
        return int(PREPARE[rest[0]](rest[1:]) or 0)
    if cmd in COMMANDS:
        return int(COMMANDS[cmd](rest) or 0)
    print(f"anatomy-r1: unknown command {cmd!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
