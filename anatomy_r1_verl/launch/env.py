"""The environment of a run's processes: the driver's, inherited by a local Ray cluster, and forwarded to the
workers of a running cluster through the runtime environment."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig

from anatomy_r1_verl.config.anatomy_r1 import anatomy_r1_config
from anatomy_r1_verl.cpu import ENGINE_THREADS_ENV


def run_env(cfg: DictConfig) -> dict:
    """Environment for the driver and (inherited by) the local Ray cluster's processes."""
    run_dir = Path(cfg.anatomy_r1.run_dir)
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
        threads = anatomy_r1_config(cfg).engine_threads
        if threads is not None:
            env[ENGINE_THREADS_ENV] = str(threads)
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
    "TENSORBOARD_DIR",
)


def forwarded_env(environ=None) -> dict[str, str]:
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items() if k.startswith(FORWARD_PREFIXES) or k in FORWARD_KEYS}
