"""``anatomy-r1 submit``: run a recipe on a Ray cluster as a Ray job.

    anatomy-r1 submit RECIPE --address http://HEAD:8265 [--no-wait] [--job-id ID] [key=value ...]
    anatomy-r1 submit --eval --address http://HEAD:8265 [--no-wait] [--job-id ID] -- MODEL PARQUET ... [eval flags]

The recipe is composed here first (a typo fails now, not after the job is queued); the job then runs
``anatomy-r1 train RECIPE key=value ...`` on the cluster through Ray's ``JobSubmissionClient``. The
recipe file travels with the job (its folder on the cluster holds only that file, so a recipe must not
name sibling configs; data, models and custom reward files must be on a filesystem every node sees).

Every node gets, through the job's runtime environment, the variables this package and verl read:
``ANATOMY_R1_OUTPUT_DIR`` (required: a shared folder; runs, metrics and checkpoints go there),
``ANATOMY_R1_*``, ``VERL_*`` and ``WANDB_*`` when set here, ``OMP_NUM_THREADS``, and the offline hub
flags (``HF_HUB_OFFLINE=1``, ``TRANSFORMERS_OFFLINE=1`` unless set otherwise).

``--eval`` submits ``anatomy-r1 eval`` instead (its arguments after ``--``, checked here first): with
``--engine vllm`` it serves the model from vLLM replicas on the cluster's GPUs (docs/evaluation.md); model,
parquet files and the output folder must be on the shared filesystem.

Without ``--no-wait`` the job's log is streamed here and the exit code is the job's (0: SUCCEEDED).
Follow, list and stop jobs with ``anatomy-r1 jobs`` (or Ray's own ``ray job logs|list|stop``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

OFFLINE_DEFAULTS = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


class SubmitError(RuntimeError):
    """A submission that cannot go ahead; the message says what to set."""


def resolve_address(address: str | None) -> str:
    address = address or os.environ.get("RAY_ADDRESS")
    if not address:
        raise SubmitError(
            "no cluster address: pass --address http://HEAD:8265 (the head's dashboard port) or set RAY_ADDRESS"
        )
    if "://" not in address:
        address = f"http://{address}"
    return address


def client(address: str | None):
    from ray.job_submission import JobSubmissionClient

    addr = resolve_address(address)
    try:
        return JobSubmissionClient(addr)
    except ConnectionError as e:
        raise SubmitError(
            f"no Ray dashboard at {addr} ({e}); is the head running (`ray start --head "
            "--dashboard-host 0.0.0.0`) and its dashboard port reachable?"
        ) from e


def job_env(environ: dict | None = None) -> dict[str, str]:
    """The environment variables every process of the job gets (see the module docstring)."""
    environ = dict(os.environ if environ is None else environ)
    out_dir = environ.get("ANATOMY_R1_OUTPUT_DIR")
    if not out_dir:
        raise SubmitError(
            "set ANATOMY_R1_OUTPUT_DIR (or --output-dir) to a folder every node of the cluster "
            "sees (shared filesystem): runs, metrics and checkpoints are written there"
        )
    from anatomy_r1_verl.launch.env import forwarded_env

    env = dict(OFFLINE_DEFAULTS)
    env.update(forwarded_env(environ))
    env["ANATOMY_R1_OUTPUT_DIR"] = os.path.abspath(os.path.expanduser(out_dir))
    return env


def entrypoint(recipe_name: str, overrides: list[str]) -> str:
    return shlex.join(["anatomy-r1", "train", recipe_name, *overrides])


def submit(
    recipe: str,
    overrides: list[str],
    address: str | None = None,
    job_id: str | None = None,
    environ: dict | None = None,
) -> tuple[str, str]:
    """Compose the recipe (fails fast), submit it, return ``(job_id, address)``."""
    from anatomy_r1_verl.launch.compose import compose
    from anatomy_r1_verl.launch.recipes import resolve_recipe

    env = job_env(environ)
    # compose with the job's output dir, as the cluster will; data files are checked there, not here
    saved = os.environ.get("ANATOMY_R1_OUTPUT_DIR")
    os.environ["ANATOMY_R1_OUTPUT_DIR"] = env["ANATOMY_R1_OUTPUT_DIR"]
    try:
        cfg = compose(recipe, overrides)
    finally:
        if saved is None:
            os.environ.pop("ANATOMY_R1_OUTPUT_DIR")
        else:
            os.environ["ANATOMY_R1_OUTPUT_DIR"] = saved
    path = resolve_recipe(recipe)
    jobs = client(address)
    with tempfile.TemporaryDirectory(prefix="anatomy-r1-job-") as tmp:
        shutil.copy(path, Path(tmp) / path.name)  # the recipe travels as the job's working_dir
        runtime_env = {"working_dir": tmp, "env_vars": env}
        job_id = jobs.submit_job(
            entrypoint=entrypoint(path.name, overrides),
            runtime_env=runtime_env,
            submission_id=job_id,
            metadata={"recipe": str(path), "experiment": str(cfg.trainer.experiment_name)},
        )
    return job_id, resolve_address(address)


def submit_eval(
    eval_argv: list[str], address: str | None = None, job_id: str | None = None, environ: dict | None = None
) -> tuple[str, str]:
    """Check ``anatomy-r1 eval`` arguments here, then run them as a Ray job; returns ``(job_id, address)``."""
    from anatomy_r1_verl.commands.evaluate import build_parser

    parser = build_parser()
    parser.exit_on_error = False
    try:
        args = parser.parse_args(eval_argv)
    except (argparse.ArgumentError, SystemExit) as e:
        raise SubmitError(
            f"the eval arguments after -- are not valid for `anatomy-r1 eval` ({e}); see `anatomy-r1 eval --help`"
        ) from e
    if not args.model or not args.parquets:
        raise SubmitError("--eval needs `-- MODEL PARQUET [PARQUET ...] [eval flags]` after the submit options")
    env = job_env(environ)
    jobs = client(address)
    job_id = jobs.submit_job(
        entrypoint=shlex.join(["anatomy-r1", "eval", *eval_argv]),
        runtime_env={"env_vars": env},
        submission_id=job_id,
        metadata={"eval": str(args.model), "engine": args.engine},
    )
    return job_id, resolve_address(address)


def follow(job_id: str, address: str | None, out=sys.stdout, poll_s: float = 1.0) -> str:
    """Stream a job's log until it ends; returns its final status (SUCCEEDED, FAILED, STOPPED)."""
    import asyncio

    jobs = client(address)

    async def tail():
        async for chunk in jobs.tail_job_logs(job_id):
            out.write(chunk)
            out.flush()

    asyncio.run(tail())
    while True:  # the log stream ends with the job; its status may lag a moment
        status = str(jobs.get_job_status(job_id).value)
        if status in ("SUCCEEDED", "FAILED", "STOPPED"):
            return status
        time.sleep(poll_s)


def how_to_follow(job_id: str, address: str) -> str:
    return (
        f"  logs:   anatomy-r1 jobs logs {job_id} --follow --address {address}\n"
        f"  status: anatomy-r1 jobs status {job_id} --address {address}\n"
        f"  stop:   anatomy-r1 jobs stop {job_id} --address {address}"
    )


def main(argv: list[str] | None = None) -> int:
    from anatomy_r1_verl.launch.compose import RecipeError

    ap = argparse.ArgumentParser(
        prog="anatomy-r1 submit", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("recipe", nargs="?", help="recipe YAML path or shipped recipe name (anatomy-r1 train --list)")
    ap.add_argument("--eval", action="store_true", help="submit `anatomy-r1 eval` with the arguments after --")
    ap.add_argument("--address", help="the head's dashboard, http://HEAD:8265 (default: $RAY_ADDRESS)")
    ap.add_argument("--no-wait", action="store_true", help="return once submitted (default: stream the log)")
    ap.add_argument("--job-id", help="a submission id of your choice (default: Ray makes one)")
    ap.add_argument("--output-dir", help="shared folder for runs and checkpoints (default: $ANATOMY_R1_OUTPUT_DIR)")
    argv = list(sys.argv[1:] if argv is None else argv)
    eval_argv = argv[argv.index("--") + 1 :] if "--" in argv else []
    args, overrides = ap.parse_known_args(argv[: argv.index("--")] if "--" in argv else argv)
    bad = [o for o in overrides if o.startswith("-")]
    if bad:
        ap.error(f"unknown option(s) {bad}; verl overrides are key=value")
    if args.eval == bool(args.recipe):
        ap.error("give a RECIPE (a training run), or --eval -- MODEL PARQUET ... (an evaluation), not both")
    environ = dict(os.environ)
    if args.output_dir:
        environ["ANATOMY_R1_OUTPUT_DIR"] = args.output_dir
    try:
        if args.eval:
            job_id, address = submit_eval(eval_argv, args.address, args.job_id, environ)
        else:
            job_id, address = submit(args.recipe, overrides, args.address, args.job_id, environ)
    except (RecipeError, SubmitError) as e:
        print(f"anatomy-r1: {e}", file=sys.stderr)
        return 2
    print(f"[anatomy-r1] submitted job {job_id} to {address}\n{how_to_follow(job_id, address)}", flush=True)
    if args.no_wait:
        return 0
    status = follow(job_id, address)
    print(f"[anatomy-r1] job {job_id}: {status}", flush=True)
    return 0 if status == "SUCCEEDED" else 1
