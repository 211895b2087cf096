"""The environment of a run's processes: the driver's, inherited by a local Ray cluster, and forwarded to the
workers of a running cluster through the runtime environment."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig

from anatomy_r1_verl.config.anatomy_r1 import anatomy_r1_config
from anatomy_r1_verl.cpu import ENGINE_THREADS_ENV
from anatomy_r1_verl.cpu.threads import ADAPTIVE_THREADS_ENV


def run_env(cfg: DictConfig) -> dict:
    """Environment for the driver and (inherited by) the local Ray cluster's processes."""
    settings = anatomy_r1_config(cfg)
    run_dir = Path(settings.run_dir)
    env = {
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"),
        "TRANSFORMERS_OFFLINE": os.environ.get("TRANSFORMERS_OFFLINE", "1"),
        "VERL_FILE_LOGGER_PATH": os.environ.get("VERL_FILE_LOGGER_PATH", str(run_dir / "metrics.jsonl")),
        # verl's tensorboard logger and wandb write under the working directory by default, which on a
        # cluster is the job's temporary folder: keep them with the run's metrics
        "TENSORBOARD_DIR": os.environ.get("TENSORBOARD_DIR", str(run_dir / "tensorboard")),
        "WANDB_DIR": os.environ.get("WANDB_DIR", str(run_dir)),
    }
    if "wandb" not in list(cfg.trainer.logger):
        env.setdefault("WANDB_MODE", os.environ.get("WANDB_MODE", "disabled"))
    if cfg.trainer.device == "cpu":
        env["VERL_PLATFORM"] = "cpu"
        env.setdefault("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
        if settings.engine_threads is not None:
            env[ENGINE_THREADS_ENV] = str(settings.engine_threads)
        # inherited by the local Ray cluster's raylet (worker niceness) and by every process (OpenMP's spin);
        # a variable the user exported wins
        rt = settings.cpu_runtime
        if rt.worker_niceness is not None:
            env["RAY_worker_niceness"] = os.environ.get("RAY_worker_niceness", str(rt.worker_niceness))  # noqa: SIM112 (Ray's spelling)
        if rt.omp_spincount is not None:
            env["GOMP_SPINCOUNT"] = os.environ.get("GOMP_SPINCOUNT", str(rt.omp_spincount))
        if rt.adaptive_threads:
            env[ADAPTIVE_THREADS_ENV] = "1"
    return env


# variables of the launching shell that every Ray process of a run needs (on a cluster they do not inherit
# the driver's environment: they get them through the runtime environment, see connect_cluster)
FORWARD_PREFIXES = ("ANATOMY_R1_", "VERL_", "WANDB_")


FORWARD_KEYS = (
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "TOKENIZERS_PARALLELISM",
    "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "GOMP_SPINCOUNT",
    "TENSORBOARD_DIR",
)


def forwarded_env(environ=None) -> dict[str, str]:
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items() if k.startswith(FORWARD_PREFIXES) or k in FORWARD_KEYS}
