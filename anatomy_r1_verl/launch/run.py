"""Run verl's own trainer on a composed config: ``main_ppo`` (every RL recipe), locally or joining a running Ray
cluster, or, for ``anatomy_r1.trainer: sft``, verl's SFT trainer under torchrun; then the final report line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from anatomy_r1_verl.config.anatomy_r1 import ConfigError, anatomy_r1_config
from anatomy_r1_verl.cpu import ENGINE_THREADS_ENV
from anatomy_r1_verl.cpu.runtime import RUNTIME_VARIABLES
from anatomy_r1_verl.launch.checks import preflight
from anatomy_r1_verl.launch.compose import RecipeError, compose, trainer_kind
from anatomy_r1_verl.launch.env import forwarded_env, run_env
from anatomy_r1_verl.report.runlog import final_validation, read_metrics


def cluster_address(cfg: DictConfig) -> str | None:
    """The running Ray cluster to join: ``RAY_ADDRESS`` (set by Ray for a job's entrypoint) or
    ``ray_kwargs.ray_init.address``; None: verl starts a local one."""
    return os.environ.get("RAY_ADDRESS") or OmegaConf.select(cfg, "ray_kwargs.ray_init.address", default=None)


def connect_cluster(cfg: DictConfig, address: str) -> None:
    """Join a running cluster before verl's ``run_ppo`` does (it then skips its own ``ray.init``).

    verl would call ``ray.init(**ray_kwargs.ray_init)``, and Ray refuses ``num_cpus``/``num_gpus`` when
    joining a cluster (the CPU profile sets them for its local one); the cluster's own resources count.
    The rest is verl's: its worker environment (``get_ppo_ray_runtime_env``), ``ray_init.runtime_env``, the
    TransferQueue flag, plus the launcher's variables (:func:`run_env`, :func:`forwarded_env`), which a
    worker on another node would otherwise not have. Inside a Ray job they merge with the job's runtime
    environment, these values winning on a conflict."""
    import ray
    from verl.trainer.constants_ppo import get_ppo_ray_runtime_env

    if ray.is_initialized():
        return
    kwargs = OmegaConf.to_container(cfg.ray_kwargs.get("ray_init", {}), resolve=True) or {}
    dropped = {k: kwargs.pop(k) for k in ("num_cpus", "num_gpus", "resources") if k in kwargs}
    runtime_env = get_ppo_ray_runtime_env(cfg)
    env_vars = runtime_env.setdefault("env_vars", {})
    if cfg.transfer_queue.enable:
        env_vars["TRANSFER_QUEUE_ENABLE"] = "1"
    env_vars.update(forwarded_env())
    runtime_env = OmegaConf.to_container(OmegaConf.merge(runtime_env, kwargs.pop("runtime_env", None) or {}))
    if "working_dir" in runtime_env and runtime_env["working_dir"] is None:
        runtime_env.pop("working_dir")
    os.environ["RAY_OVERRIDE_JOB_RUNTIME_ENV"] = "1"
    kwargs["address"] = address
    print(
        f"[anatomy-r1] joining the Ray cluster at {address} (its own resources count; ignoring "
        f"ray_kwargs.ray_init {sorted(dropped)})",
        flush=True,
    )
    ray.init(runtime_env=runtime_env, **kwargs)


def train(cfg: DictConfig) -> Path:
    """Run verl's main_ppo on a composed config; returns the run directory."""
    OmegaConf.resolve(cfg)
    try:
        settings = anatomy_r1_config(cfg)
    except ConfigError as e:
        raise RecipeError(str(e)) from e
    run_dir = Path(settings.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    env = run_env(cfg)
    os.environ.update(env)
    preflight(cfg)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
    print(f"[anatomy-r1] recipe {settings.recipe} -> run dir {run_dir}", flush=True)
    if cfg.trainer.device == "cpu":
        shown = ("RAY_worker_niceness", *RUNTIME_VARIABLES, ENGINE_THREADS_ENV)
        print(
            "[anatomy-r1] cpu runtime: " + ", ".join(f"{k}={os.environ[k]}" for k in shown if k in os.environ),
            flush=True,
        )
    if trainer_kind(cfg) == "sft":
        return train_sft(cfg, run_dir)

    address = cluster_address(cfg)
    dog = None
    if address:
        from anatomy_r1_verl.launch import watchdog

        connect_cluster(cfg, address)
        dog = watchdog.start(settings.watchdog.interval_s)

    from verl.trainer.main_ppo import main as verl_main

    try:
        verl_main(cfg)  # hydra.main passes a given config straight to verl's task function
    except BaseException:
        # verl raised first (e.g. ActorDiedError from a dead rollout server): still name the dead actor
        message = dog.last_word() if dog is not None else None
        if message:
            watchdog.announce(message)
        raise
    if dog is not None:
        dog.stopped.set()
    return run_dir


def sft_command(cfg: DictConfig, run_dir: Path) -> list[str]:
    """torchrun running verl's SFT trainer on the composed config saved as ``run_dir/config.yaml``."""
    if int(cfg.trainer.nnodes) > 1:
        raise RecipeError(
            f"trainer.nnodes={cfg.trainer.nnodes}: a multi-node SFT run needs torchrun on every node; "
            f"run `torchrun --nnodes N --node_rank R --rdzv_endpoint HOST:PORT --nproc_per_node "
            f"{cfg.trainer.n_gpus_per_node} -m verl.trainer.sft_trainer --config-path {run_dir} "
            "--config-name config` there"
        )
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nnodes=1",
        f"--nproc_per_node={int(cfg.trainer.n_gpus_per_node)}",
        "-m",
        "verl.trainer.sft_trainer",
        f"--config-path={run_dir}",
        "--config-name=config",
    ]


def train_sft(cfg: DictConfig, run_dir: Path) -> Path:
    """verl's own SFT trainer (``verl.trainer.sft_trainer``, torchrun, FSDP engine) on the composed config."""
    import subprocess

    cmd = sft_command(cfg, run_dir)
    print("[anatomy-r1] " + " ".join(cmd), flush=True)
    rc = subprocess.call(cmd, env=dict(os.environ))
    if rc != 0:
        raise RecipeError(
            f"verl's SFT trainer exited with {rc} (its log is above; the config is {run_dir}/config.yaml)"
        )
    return run_dir


def run_recipe(recipe: str, overrides: list[str], before_train=None) -> int:
    """Compose, (optionally) prepare, train and report; the exit code of ``anatomy-r1 train``/``demo``."""
    try:
        cfg = compose(recipe, overrides)
        if before_train is not None:
            before_train(cfg)
        run_dir = train(cfg)
    except RecipeError as e:
        print(f"anatomy-r1: {e}", file=sys.stderr)
        return 2
    report_final(run_dir)
    return 0


def val_questions(run_dir: Path) -> int | None:
    """How many questions the run validated on (the rows of its ``data.val_files``), None when unknown."""
    cfg_path = Path(run_dir) / "config.yaml"
    if not cfg_path.is_file():
        return None
    try:
        from anatomy_r1_verl.trainer.kept_rows import expected_rows, file_list

        cfg = OmegaConf.load(cfg_path)
        return expected_rows(
            file_list(OmegaConf.select(cfg, "data.val_files")),
            OmegaConf.select(cfg, "data.val_max_samples", default=-1),
        )[1]
    except Exception:  # a moved or unreadable file: the line goes without its standard error
        return None


def gain_line(before: float, after: float, n: int | None) -> str:
    """``+4.30 points (one standard error 2.10, n 1000: ...)``, the standard error of the difference
    (:func:`anatomy_r1_verl.evaluation.intervals.difference_standard_error`)."""
    from anatomy_r1_verl.evaluation.intervals import difference_standard_error

    gain = 100 * (after - before)
    if not n:
        return f"{gain:+.2f} points"
    se = 100 * difference_standard_error(before, after, n)
    verdict = "beyond" if abs(gain) > se else "within"
    return f"{gain:+.2f} points (one standard error {se:.2f}, n {n}: {verdict} one standard error)"


def report_final(run_dir: Path) -> dict:
    records = read_metrics(run_dir)
    final = final_validation(records)
    losses = {k: v for rec in records for k, v in rec.get("data", rec).items() if k in ("train/loss", "val/loss")}
    if not final and losses:  # the SFT trainer logs losses, not validation accuracy
        pretty = ", ".join(f"{k} = {v:.4f}" for k, v in sorted(losses.items()))
        print(
            f"[anatomy-r1] final losses (step {records[-1].get('step')}): {pretty}; accuracy: `anatomy-r1 eval "
            f"{run_dir}/checkpoints/global_step_N TEST.parquet`",
            flush=True,
        )
        return losses
    if final:
        accs = {k: v for k, v in final.items() if "/acc/" in k}
        pretty = ", ".join(f"{k} = {v:.3f}" for k, v in sorted(accs.items()))
        first = final_validation(records, first=True)
        if first["step"] != final["step"] and len(accs) == 1:  # validated before training too: the gain
            ((key, after),) = accs.items()
            if key in first:
                pretty += f"; from {first[key]:.3f} at step {first['step']}: " + gain_line(
                    first[key], after, val_questions(run_dir)
                )
        print(f"[anatomy-r1] final validation accuracy (step {final['step']}): {pretty}", flush=True)
    else:
        print(f"[anatomy-r1] no validation metrics in {run_dir}/metrics.jsonl", flush=True)
    return final
