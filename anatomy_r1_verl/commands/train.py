"""Compose a recipe into verl's config, check it, and run verl's own ``main_ppo`` on it (or, for a recipe with
``anatomy_r1.trainer: sft``, verl's own SFT trainer ``verl.trainer.sft_trainer`` under torchrun).

``anatomy-r1 train RECIPE [hydra overrides...]`` is exactly ``python -m verl.trainer.main_ppo
--config-path=<recipe dir> --config-name=<recipe>`` plus what a user would otherwise find out an hour
into a cluster job: missing files, a processor that silently drops images, a reward key verl ignores.
Any verl key can be overridden as usual (``actor_rollout_ref.rollout.n=16``, ``profile=gpu``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from anatomy_r1_verl.cpu import ENGINE_THREADS_ENV
from anatomy_r1_verl.tiny import assets  # noqa: F401  (registers the ${ar1_asset:NAME} resolver)

PACKAGE_DIR = Path(__file__).resolve().parents[1]
CONFIG_DIR = PACKAGE_DIR / "config"


class RecipeError(ValueError):
    """A recipe or override that cannot run; the message names the config key and what to do."""


def recipes_dir() -> Path:
    """The shipped recipes: ``anatomy_r1_verl/recipes`` of an installed package, else the checkout's ``recipes/``
    (an editable install)."""
    for cand in (PACKAGE_DIR / "recipes", PACKAGE_DIR.parent / "recipes"):
        if cand.is_dir():
            return cand
    raise RecipeError(f"no recipes folder next to {PACKAGE_DIR}: reinstall the package (pip install .)")


def list_recipes() -> list[tuple[str, str]]:
    """``(name, first comment line)`` of every shipped recipe."""
    out = []
    for path in sorted(recipes_dir().glob("*.yaml")):
        first = next((ln.lstrip("# ").strip() for ln in path.read_text().splitlines() if ln.startswith("#")), "")
        out.append((path.stem, first))
    return out


def resolve_recipe(recipe: str) -> Path:
    """A recipe path, or the bare name of a shipped recipe (``anatomy-r1 train --list``)."""
    p = Path(recipe)
    shipped = recipes_dir()
    for cand in (p, p.with_suffix(".yaml"), shipped / p.name, shipped / f"{p.name}.yaml"):
        if cand.is_file():
            return cand.resolve()
    raise RecipeError(
        f"recipe {recipe!r} not found (looked in . and {shipped}); pass the path of a recipe YAML "
        "or one of `anatomy-r1 train --list`"
    )


def compose(recipe: str, overrides: list[str] | None = None) -> DictConfig:
    """The full verl config of a recipe with command-line overrides (no Ray, no model loading)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException

    path = resolve_recipe(recipe)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(path.parent), version_base=None):
            cfg = hydra_compose(config_name=path.stem, overrides=list(overrides or []))
    except HydraException as e:
        cause = f" ({e.__cause__})" if e.__cause__ else ""
        raise RecipeError(
            f"{path}: {e}{cause}. A key that verl's config does not have needs a leading '+' (+section.key=value)"
        ) from e
    with open_dict(cfg):
        cfg.anatomy_r1.recipe = str(path)
        cfg.anatomy_r1.output_dir = os.path.abspath(os.path.expanduser(cfg.anatomy_r1.output_dir))
    return cfg


def _check_reward(cfg: DictConfig) -> None:
    if OmegaConf.select(cfg, "custom_reward_function.path", default=None):
        raise RecipeError(
            "top-level `custom_reward_function.*` is silently ignored by verl 0.9.1: "
            "use `reward.custom_reward_function.{path,name,reward_kwargs}`"
        )
    path = OmegaConf.select(cfg, "reward.custom_reward_function.path", default=None)
    if path and not str(path).startswith("pkg://") and not os.path.isfile(path):
        raise RecipeError(f"reward.custom_reward_function.path: no such file {path!r}")
    if path == "pkg://reward_fns.combine":
        # resolve every weighted component now, not in a Ray reward worker an hour into the job
        from reward_fns.registry import components

        kwargs = "reward.custom_reward_function.reward_kwargs"
        try:
            components(
                OmegaConf.select(cfg, f"{kwargs}.weights", default=None),
                OmegaConf.select(cfg, f"{kwargs}.components", default=None),
            )
        except ValueError as e:
            raise RecipeError(str(e)) from e


def trainer_kind(cfg: DictConfig) -> str:
    """``ppo`` (verl's main_ppo: every RL recipe) or ``sft`` (verl's SFT trainer), from ``anatomy_r1.trainer``."""
    kind = OmegaConf.select(cfg, "anatomy_r1.trainer", default="ppo")
    if kind not in ("ppo", "sft"):
        raise RecipeError(
            f"anatomy_r1.trainer: {kind!r} is not a trainer; use ppo (verl's main_ppo) or sft "
            "(verl.trainer.sft_trainer)"
        )
    return kind


def model_key(cfg: DictConfig) -> str:
    return "model.path" if trainer_kind(cfg) == "sft" else "actor_rollout_ref.model.path"


def _check_files(cfg: DictConfig) -> None:
    for key in ("data.train_files", "data.val_files"):
        val = OmegaConf.select(cfg, key, default=None)
        files = [val] if isinstance(val, str) else list(val or [])
        for f in files:
            if "://" not in str(f) and not os.path.isfile(os.path.expanduser(str(f))):
                raise RecipeError(
                    f"{key}: no such file {f!r}; build it with `anatomy-r1 prepare ...` or override the key"
                )
    key = model_key(cfg)
    model = OmegaConf.select(cfg, key)
    local = os.path.expanduser(str(model))
    if (os.path.isabs(local) or os.path.exists(local)) and not os.path.isfile(os.path.join(local, "config.json")):
        raise RecipeError(f"{key}: no model at {model!r} (no config.json)")


def check_processor(model_path: str) -> None:
    """A multimodal model must get a processor from verl, or training silently becomes text-only."""
    from transformers import AutoConfig
    from verl.utils import hf_processor

    if not hasattr(AutoConfig.from_pretrained(model_path), "vision_config"):
        return
    if hf_processor(model_path) is None:
        raise RecipeError(
            f"verl's hf_processor({model_path!r}) returned None: images would be dropped and "
            "training would be text-only. Run `anatomy-r1 doctor` (torchvision?)"
        )


def _check_resume(cfg: DictConfig) -> None:
    """verl rewrites ``latest_checkpointed_iteration.txt`` in place after each complete save; a kill in that
    instant leaves it empty, and verl's resume would stop on ``int('')``. Say what to do instead."""
    if OmegaConf.select(cfg, "trainer.resume_mode", default="auto") != "auto":
        return
    ckpt_dir = str(OmegaConf.select(cfg, "trainer.default_local_dir", default="") or "")
    tracker = os.path.join(ckpt_dir, "latest_checkpointed_iteration.txt")
    if not os.path.isfile(tracker):
        return
    text = Path(tracker).read_text().strip()
    if not text.isdigit() or not os.path.isdir(os.path.join(ckpt_dir, f"global_step_{text}")):
        done = sorted(
            (
                int(d.name.split("_")[-1])
                for d in Path(ckpt_dir).glob("global_step_*")
                if d.name.split("_")[-1].isdigit()
            ),
            reverse=True,
        )
        raise RecipeError(
            f"{tracker} reads {text!r}, not a saved step (a kill while verl wrote it?). Write the "
            f"last complete step into it (saved folders: {done or 'none'}; a folder is complete "
            "when it has data.pt) or delete it to start from scratch"
        )


def preflight(cfg: DictConfig) -> None:
    from anatomy_r1_verl.plugin import self_check

    self_check()
    _check_reward(cfg)
    _check_files(cfg)
    _check_resume(cfg)
    model = os.path.expanduser(str(OmegaConf.select(cfg, model_key(cfg))))
    if os.path.isdir(model):
        check_processor(model)


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
        threads = OmegaConf.select(cfg, "anatomy_r1.engine_threads", default=None)
        if threads is not None:
            if isinstance(threads, bool) or not (isinstance(threads, int) and threads > 0):
                raise ValueError(f"anatomy_r1.engine_threads must be a positive integer or null (got {threads!r})")
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
    run_dir = Path(cfg.anatomy_r1.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    env = run_env(cfg)
    os.environ.update(env)
    preflight(cfg)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
    print(f"[anatomy-r1] recipe {cfg.anatomy_r1.recipe} -> run dir {run_dir}", flush=True)
    if trainer_kind(cfg) == "sft":
        return train_sft(cfg, run_dir)

    address = cluster_address(cfg)
    dog = None
    if address:
        from anatomy_r1_verl.commands import watchdog

        connect_cluster(cfg, address)
        dog = watchdog.start(float(OmegaConf.select(cfg, "anatomy_r1.watchdog.interval_s", default=2.0)))

    from verl.trainer.main_ppo import main as verl_main

    verl_main(cfg)  # hydra.main passes a given config straight to verl's task function
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


def read_metrics(run_dir: Path | str) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def final_validation(records: list[dict], first: bool = False) -> dict:
    """The last (``first``: the first) logged validation metrics ``val-core/*`` (accuracy per data source) and
    their step."""
    for rec in records if first else reversed(records):
        data = rec.get("data", rec)
        val = {k: v for k, v in data.items() if k.startswith("val-core/")}
        if val:
            return {"step": rec.get("step"), **val}
    return {}


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


def main_train(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        print(
            "usage: anatomy-r1 train RECIPE [key=value ...]   (--cfg: print the composed config and exit)\n"
            "       anatomy-r1 train --list                    (the shipped recipes)"
        )
        return 0 if argv else 2
    if argv[0] == "--list":
        rows = list_recipes()
        width = max(len(n) for n, _ in rows)
        for name, about in rows:
            print(f"{name:<{width}}  {about}")
        print(f"({recipes_dir()})")
        return 0
    recipe, rest = argv[0], argv[1:]
    if "--cfg" in rest:
        try:
            print(OmegaConf.to_yaml(compose(recipe, [a for a in rest if a != "--cfg"])))
        except RecipeError as e:
            print(f"anatomy-r1: {e}", file=sys.stderr)
            return 2
        return 0
    return run_recipe(recipe, rest)


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
