"""Runs a grid (:mod:`.grid`): each run trains (:func:`anatomy_r1_verl.launch.run.run_recipe`) and is then evaluated
greedily on the test split (:func:`anatomy_r1_verl.evaluation.evaluate.run_eval`), each in a fresh child process
with its log in ``OUT/logs``.

Each RL run's mid-run checkpoints are evaluated the same way (the learning curve, ``OUT/curve``).

Resumable: a run whose ``bench_done.json`` exists is not trained again and an eval whose ``metrics.json`` exists
is not redone; an interrupted run restarts from its latest checkpoint (``trainer.resume_mode=auto``,
``trainer.save_freq``), its wall time summed over attempts. A failed run is reported by name and log and
the grid goes on; the command then exits non-zero."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from anatomy_r1_verl.bench.grid import Run

DONE = "bench_done.json"


@dataclass
class Outcome:
    run: Run
    wall_s: float | None = None  # training wall time, child process start to exit, all attempts
    eval_s: float | None = None
    error: str | None = None
    skipped: list[str] = field(default_factory=list)  # what was found done already


def child_env(out_dir: Path) -> dict[str, str]:
    env = dict(os.environ, ANATOMY_R1_OUTPUT_DIR=str(out_dir))
    env.pop("VERL_FILE_LOGGER_PATH", None)  # would send the runs' metrics elsewhere
    env.pop("ANATOMY_R1_TRACE_DIR", None)
    return env


def _train_job(recipe: str, overrides: list[str]) -> int:
    from anatomy_r1_verl.launch.run import run_recipe

    return run_recipe(recipe, overrides)


def _eval_job(model: str, test_file: str, out: str, method: str, seed: int, max_new_tokens: int) -> int:
    from anatomy_r1_verl.evaluation.evaluate import run_eval
    from anatomy_r1_verl.evaluation.generate import GenerationConfig
    from anatomy_r1_verl.evaluation.results import format_summary

    cfg = GenerationConfig(max_new_tokens=max_new_tokens)
    _, metrics = run_eval(model, [test_file], out, cfg=cfg, method=method, seed=seed, progress=False)
    print(format_summary(metrics), flush=True)
    return 0


def _child_main(log: str, env: dict, fn, args: tuple) -> None:
    """A fresh process (Ray, Hydra and torch state of its own per run) writing its output to ``log``."""
    os.environ.clear()
    os.environ.update(env)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    sys.exit(int(fn(*args) or 0))


def _child(fn, args: tuple, env: dict, log: Path) -> tuple[int, float]:
    """``fn(*args)`` in a child process started fresh (spawn), its output in ``log``; (exit code, seconds)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write(f"\n$ {fn.__name__}{tuple(args)!r}\n")
    t0 = time.time()
    proc = multiprocessing.get_context("spawn").Process(target=_child_main, args=(str(log), env, fn, args))
    proc.start()
    proc.join()
    return proc.exitcode, time.time() - t0


def train(run: Run, out_dir: Path, env: dict) -> Outcome:
    done = run.run_dir / DONE
    if done.is_file():
        record = json.loads(done.read_text())
        if record.get("args") != list(run.train_args):  # another budget, data or override in the same OUT
            changed = sorted(set(run.train_args) ^ set(record.get("args") or []))
            return Outcome(
                run,
                error=f"{run.run_dir} was trained with other arguments (differing: {changed}); "
                "give another --out, or delete that run folder to train it again",
            )
        return Outcome(run, wall_s=record["wall_s"], skipped=["train"])
    log = out_dir / "logs" / f"{run.method}_seed{run.seed}.train.log"
    partial = run.run_dir / "bench_partial_wall_s.txt"  # wall time of interrupted attempts
    before = float(partial.read_text()) if partial.is_file() else 0.0
    rc, wall = _child(_train_job, (run.recipe, list(run.train_args)), env, log)
    if rc != 0 or not run.checkpoint.is_dir():
        run.run_dir.mkdir(parents=True, exist_ok=True)
        partial.write_text(str(before + wall))
        why = f"rc {rc}" if rc else f"no final checkpoint {run.checkpoint}"
        return Outcome(run, error=f"training failed ({why}); log: {log}")
    total = round(before + wall, 1)
    done.write_text(json.dumps({"wall_s": total, "args": list(run.train_args)}, indent=1))
    partial.unlink(missing_ok=True)
    return Outcome(run, wall_s=total)


def finished_eval(eval_dir: Path, test_file: Path, max_new_tokens: int) -> bool:
    """Whether ``eval_dir`` holds a finished evaluation of ``test_file`` at ``max_new_tokens``; an evaluation
    made with other settings is an error, not a result to reuse."""
    path = Path(eval_dir) / "metrics.json"
    if not path.is_file():
        return False
    m = json.loads(path.read_text())
    have = {"files": m.get("files"), "max_new_tokens": m.get("max_new_tokens")}
    want = {"files": [os.path.abspath(test_file)], "max_new_tokens": max_new_tokens}
    if have != want:
        differ = {k: (have[k], want[k]) for k in want if have[k] != want[k]}
        raise ValueError(
            f"{path} was evaluated with other settings (found, wanted: {differ}); give another --out, or delete "
            f"{eval_dir} to evaluate it again"
        )
    return True


def _evaluate_once(
    model: Path | str, test_file: Path, eval_dir: Path, row: str, seed: int, max_new_tokens: int, log: Path, env: dict
) -> tuple[bool, float, str | None]:
    """``model`` evaluated on ``test_file`` into ``eval_dir`` as ``row``/``seed``, unless a finished evaluation with
    the same settings is there: ``(ran, seconds, error or None)``."""
    try:
        if finished_eval(eval_dir, test_file, max_new_tokens):
            return False, 0.0, None
    except ValueError as e:
        return False, 0.0, str(e)
    args = (str(model), str(test_file), str(eval_dir), row, seed, max_new_tokens)
    rc, seconds = _child(_eval_job, args, env, log)
    return True, seconds, None if rc == 0 else f"rc {rc}; log: {log}"


def evaluate(outcome: Outcome, out_dir: Path, env: dict) -> Outcome:
    """The run's final checkpoint evaluated on the test split."""
    run = outcome.run
    log = out_dir / "logs" / f"{run.method}_seed{run.seed}.eval.log"
    ran, seconds, error = _evaluate_once(
        run.checkpoint, run.test_file, run.eval_dir, run.method, run.seed, run.max_new_tokens, log, env
    )
    if not ran and error is None:
        outcome.skipped.append("eval")
    elif ran:
        outcome.eval_s = seconds
    if error:
        outcome.error = f"eval failed ({error})" if ran else error
    return outcome


def evaluate_curve(outcome: Outcome, out_dir: Path, env: dict) -> Outcome:
    """The run's mid-run checkpoints (:attr:`.grid.Run.curve`) evaluated like its final one: the learning curve."""
    run = outcome.run
    for step, checkpoint, eval_dir in run.curve:
        if not checkpoint.is_dir() and not (eval_dir / "metrics.json").is_file():
            outcome.error = (
                f"no checkpoint {checkpoint} for the learning curve at step {step} (a trainer setting that keeps "
                "fewer checkpoints, such as trainer.max_actor_ckpt_to_keep?)"
            )
            return outcome
        log = out_dir / "logs" / f"{run.method}_seed{run.seed}_step{step}.eval.log"
        ran, seconds, error = _evaluate_once(
            checkpoint, run.test_file, eval_dir, run.method, run.seed, run.max_new_tokens, log, env
        )
        if ran:
            outcome.eval_s = (outcome.eval_s or 0.0) + seconds
        if error:
            outcome.error = f"eval of step {step} failed ({error})" if ran else error
            return outcome
    return outcome


def evaluate_start(
    model: str, test_file: Path, out_dir: Path, env: dict, max_new_tokens: int, method: str = "start"
) -> str | None:
    """The start model's own row (no training); returns an error message or None."""
    log = out_dir / "logs" / f"{method}.eval.log"
    eval_dir = out_dir / "evals" / method / "seed0"
    ran, _, error = _evaluate_once(model, test_file, eval_dir, method, 0, max_new_tokens, log, env)
    return f"eval of the start model failed ({error})" if ran and error else error


def run_grid(runs: list[Run], out_dir: Path, log=print) -> list[Outcome]:
    env = child_env(out_dir)
    outcomes = []
    t0 = time.time()
    for i, run in enumerate(runs, 1):
        o = train(run, out_dir, env)
        if o.error is None:
            o = evaluate(o, out_dir, env)
        if o.error is None:
            o = evaluate_curve(o, out_dir, env)
        outcomes.append(o)
        elapsed = time.time() - t0
        fresh = [x for x in outcomes if "train" not in x.skipped and x.error is None]
        eta = f", about {(elapsed / len(fresh)) * (len(runs) - i) / 60:.0f} min left" if fresh else ""
        state = o.error or (
            "done before"
            if o.skipped == ["train", "eval"] and not o.eval_s
            else f"trained {o.wall_s:.0f} s" + (f", eval {o.eval_s:.0f} s" if o.eval_s else "")
        )
        log(f"[bench] {i}/{len(runs)} {run.name}: {state}; elapsed {elapsed / 60:.1f} min{eta}")
    return outcomes
