"""``anatomy-r1 bench``: the paper's table rows side by side on the synthetic benchmark, one command.

    anatomy-r1 bench [--methods grpo anatomy_r1 ...] [--seeds 0 1 2] [--steps 20] [--prompts 8] [--rollouts 8]
                     [--out DIR] [--data DIR] [--model DIR] [--max-new-tokens N] [--image-position first|last]
                     [--classic] [--dry-run] [key=value ...]

The start model and what it needs (the response length of the RL rows' rollouts and of every evaluation, where
the image sits in a question, the RL rows' learning rate, the frames' look, distractor draw and question mix) come
from the demo recipe: recipes/demo_cpu.yaml, the look-alike benchmark (tiny-qwen25vl-lookalike-check, 160 tokens,
look-alike frames, spread options, zero-hop questions, lr 1e-4); with ``--classic``, recipes/demo_cpu_classic.yaml
(tiny-qwen25vl-annotated on the classic frames). Any of them can be given instead: --model, --max-new-tokens,
--image-position, an RL row's key=value (actor_rollout_ref.actor.optim.lr=3e-4, data.max_response_length=64) or an
anatomy_r1.demo.* key (anatomy_r1.demo.options=uniform). OUT/report/settings.md records each and where it came
from.

Makes the benchmark's questions once (``DIR/data``: train and val from --data-seed, the test split from
--test-seed, a seed nothing was tuned on; scored with S(q), augmented with question variants, and the SFT row's
copies), evaluates the start model, then for every seed and method trains the row's recipe composed for CPU with
one budget (steps x prompts x rollouts) and evaluates the final checkpoint greedily on the test split; then writes ``DIR/report``: the accuracy table (``anatomy-r1 report``), the training
table (reward, invalid-gradient ratio, S(q), s/step), the paper's claims checked (``claims.md``), Figures 1-2 and
the learning curve (each RL run's mid-run checkpoints, every ``--save-every`` steps, evaluated like the final one:
``curve.md``, ``curve.png``).
Rerunning the command finishes an interrupted grid: finished runs are not rerun. ``key=value`` overrides go to
every RL run. Methods: grpo dr_grpo dapo gpg grpo_ascl grpo_gdqa anatomy_r1 sft sft_think; controls:
grpo_ascl_shuffled grpo_gdqa_keep; sft_ceiling (a reference: the start model trained on every train question's
true label); grpo_checks (not the paper's: GRPO whose reward also scores the think's option checks).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    from anatomy_r1_verl.bench.data import DataSpec
    from anatomy_r1_verl.bench.grid import Budget

    b, d = Budget(), DataSpec()
    p = argparse.ArgumentParser(
        prog="anatomy-r1 bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--methods", nargs="+", default=None, help="rows to run (default: all, in the paper's order)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=b.steps, help=f"training steps per run (default {b.steps})")
    p.add_argument("--prompts", type=int, default=b.prompts, help=f"questions per step (default {b.prompts})")
    p.add_argument("--rollouts", type=int, default=b.rollouts, help=f"rollouts per question (default {b.rollouts})")
    p.add_argument("--save-every", type=int, default=b.save_every, help="checkpoint interval (resume point)")
    p.add_argument(
        "--sft-examples",
        default=None,
        help="labelled questions of an SFT run: N or 'all' (the whole train split); default prompts x steps, the "
        "questions an RL row sees",
    )
    p.add_argument("--out", default=None, help="output folder (default $ANATOMY_R1_OUTPUT_DIR/bench)")
    p.add_argument("--data", default=None, help="benchmark data folder (default OUT/data; made when missing)")
    p.add_argument("--data-seed", type=int, default=d.seed, help=f"seed of the train and val frames (default {d.seed})")
    p.add_argument(
        "--test-seed",
        type=int,
        default=d.test_seed,
        help=f"seed of the test frames, one nothing was tuned on (default {d.test_seed})",
    )
    p.add_argument("--train", type=int, default=d.train, help=f"train questions (default {d.train})")
    p.add_argument("--test", type=int, default=d.test, help=f"test questions (default {d.test})")
    p.add_argument("--tau", type=float, default=d.tau, help="GDQA: vary only train rows with S(q) >= tau")
    p.add_argument(
        "--keep-instruction",
        action="store_true",
        help="GDQA: variants keep the instruction wording (vary question and option order only)",
    )
    p.add_argument("--model", default=None, help="start model (default: the demo recipe's)")
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="response length of the RL rows' rollouts and of every evaluation (default: the demo recipe's)",
    )
    p.add_argument(
        "--image-position",
        choices=("first", "last"),
        default=None,
        help="where the questions put the image (default: the demo recipe's, where its model reads it)",
    )
    bench = p.add_mutually_exclusive_group()
    bench.add_argument(
        "--classic",
        action="store_true",
        help="the classic frames and their start model, tiny-qwen25vl-annotated (recipes/demo_cpu_classic.yaml)",
    )
    bench.add_argument(
        "--lookalike",
        action="store_true",
        help="the look-alike benchmark (recipes/demo_cpu.yaml): the default, kept for the commands that name it",
    )
    p.add_argument("--report-dir", default=None, help="where the report goes (default OUT/report)")
    p.add_argument("--dry-run", action="store_true", help="print the runs' commands and stop")
    p.add_argument(
        "overrides", nargs="*", help="hydra key=value for every RL run; anatomy_r1.demo.* keys set the bench's data"
    )
    return p


def write_report(out: Path, report_dir: Path, log=print, settings=None, final_step: int | None = None) -> bool:
    """Accuracy table, training table, claims and figures from what OUT holds, and the grid's ``settings``
    (:class:`anatomy_r1_verl.bench.settings.BenchSettings`); with the runs' ``final_step``, the learning curve
    too (``curve.md``, ``curve.png``). False when something failed."""
    from anatomy_r1_verl.bench import grid, verdict
    from anatomy_r1_verl.report import curve, figures, tables, training

    report_dir.mkdir(parents=True, exist_ok=True)
    if settings is not None:
        settings.write(report_dir)
    ok = True
    try:
        evals = tables.find_evals([out / "evals"])
        rows = tables.aggregate(evals)
        acc_md = tables.accuracy_markdown(evals, rows)
        (report_dir / "table.csv").write_text(tables.to_csv(rows))
        for warning in tables.collapses(evals):
            log(f"anatomy-r1 bench: WARNING: {warning}")
    except tables.ReportError as e:
        log(f"anatomy-r1 bench: {e}")
        evals, acc_md, ok = [], "", False
    runs = [figures.load_run(p.parent) for p in sorted((out / "runs").glob("bench_*/metrics.jsonl"))]  # read once
    summaries = [training.summarize(*r) for r in runs]
    train_md = training.markdown(summaries) if summaries else ""
    claims = verdict.markdown(evals, summaries)
    if settings is not None:
        claims = f"{claims.rstrip()}\n\n{settings.markdown()}"
    (report_dir / "table.md").write_text(acc_md)
    (report_dir / "training.md").write_text(train_md)
    (report_dir / "claims.md").write_text(claims)
    log("\n".join(x for x in (acc_md, train_md, claims) if x))
    by_method: dict[str, list] = {}
    for run in runs:
        by_method.setdefault(training.method_and_seed(run[0])[0], []).append(run)
    for name, draw, pair in (
        ("figure1.png", figures.figure1, ("grpo", "grpo_ascl")),
        ("figure2.png", figures.figure2, ("grpo", "grpo_gdqa")),
    ):
        chosen = [figures.average_runs(m, by_method[m]) for m in pair if by_method.get(m)]
        if not chosen:
            continue
        try:
            log(f"[bench] wrote {draw(chosen, report_dir / name, smooth=0.6, log=log)}")
        except (figures.FigureError, ValueError) as e:
            log(f"anatomy-r1 bench: {name}: {e}")
            ok = False
    if final_step is not None:
        try:
            points = curve.collect(out / "evals", out / grid.CURVE_DIR, final_step, start=grid.START)
        except tables.ReportError as e:
            log(f"anatomy-r1 bench: learning curve: {e}")
            points, ok = {}, False
        if points:
            curve_md = curve.markdown(points)
            (report_dir / "curve.md").write_text(curve_md)
            log(curve_md)
            log(f"[bench] wrote {curve.figure(points, report_dir / 'curve.png')}")
    log(f"[bench] wrote {report_dir}/table.md, training.md, claims.md")
    return ok


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    from anatomy_r1_verl.bench import data, grid, runner, settings
    from anatomy_r1_verl.launch.recipes import DEMO_RECIPES

    def log(msg: str) -> None:
        print(msg, flush=True)

    root = Path(os.path.abspath(os.path.expanduser(os.environ.get("ANATOMY_R1_OUTPUT_DIR", "outputs"))))
    out = Path(a.out).resolve() if a.out else root / "bench"
    data_dir = Path(a.data).resolve() if a.data else out / "data"
    bad = [o for o in a.overrides if "=" not in o]
    if bad:
        print(
            f"anatomy-r1 bench: {bad[0]!r} is not a key=value override (and not an option; see --help)", file=sys.stderr
        )
        return 2
    _, row_overrides = settings.split_overrides(tuple(a.overrides))
    try:
        grid.parse_methods(a.methods)  # before the recipe is composed: a typo fails at once
        recipe = DEMO_RECIPES["classic" if a.classic else "lookalike"]
        chosen = settings.resolve(a.model, a.max_new_tokens, a.image_position, tuple(a.overrides), recipe=recipe)
        sft_examples = None if a.sft_examples is None else (a.train if a.sft_examples == "all" else int(a.sft_examples))
        budget = grid.Budget(
            steps=a.steps, prompts=a.prompts, rollouts=a.rollouts, save_every=a.save_every, sft_examples=sft_examples
        )
        runs = grid.plan(
            a.methods,
            a.seeds,
            budget,
            data_dir,
            out,
            chosen,
            overrides=row_overrides,
            train_questions=a.train,
        )
    except ValueError as e:  # a bad budget, method or setting (RecipeError: a bad anatomy_r1.demo.* key)
        print(f"anatomy-r1 bench: {e}", file=sys.stderr)
        return 2
    for name, value in chosen.as_dict().items():
        if name != "sources":
            log(f"[bench] {name} = {value} ({chosen.sources[name]})")
    if a.dry_run:
        for r in runs:
            print(f"anatomy-r1 train {r.recipe} {' '.join(r.train_args)}\nanatomy-r1 eval {' '.join(r.eval_args())}")
        return 0
    try:
        data.ensure(
            data_dir,
            data.DataSpec(
                seed=a.data_seed,
                train=a.train,
                test=a.test,
                test_seed=a.test_seed,
                tau=a.tau,
                keep_instruction=a.keep_instruction,
                **chosen.data_fields(),
            ),
            log=log,
            sft_files=tuple(dict.fromkeys(r.sft_file for r in runs if r.sft_file is not None)),
        )
    except (ValueError, FileNotFoundError) as e:  # BenchDataError, or a bad row while the data are made
        print(f"anatomy-r1 bench: {e}", file=sys.stderr)
        return 2
    env = runner.child_env(out)
    err = runner.evaluate_start(chosen.model, data_dir / "test_scored.parquet", out, env, chosen.response_length)
    if err:
        log(f"[bench] {err}")
    log(
        f"[bench] {len(runs)} runs ({len({r.method for r in runs})} methods x {len(a.seeds)} seeds), "
        f"{budget.steps} steps x {budget.prompts} prompts x {budget.rollouts} rollouts each; out {out}"
    )
    outcomes = runner.run_grid(runs, out, log=log)
    report_dir = Path(a.report_dir).resolve() if a.report_dir else out / "report"
    ok = write_report(out, report_dir, log=log, settings=chosen, final_step=budget.steps)
    failed = [o for o in outcomes if o.error] + ([1] if err else [])
    for o in outcomes:
        if o.error:
            log(f"[bench] FAILED {o.run.name}: {o.error}")
    return 1 if failed or not ok else 0
