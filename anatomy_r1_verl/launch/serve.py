"""Start verl's rollout replicas for ``anatomy-r1 eval --engine vllm|hfcpu``: compose the serving config, start or
join Ray, size the replicas, hand back a :class:`~anatomy_r1_verl.evaluation.replicas.ReplicaEngine`.

The serving settings come from a recipe, as in training: ``--recipe``, else the recipe of the run a checkpoint
belongs to, else ``ssgvqa_grpo`` where there are GPUs and ``demo_cpu`` where there are none. Its model preset
gives the tensor-parallel size; on a CPU the engine's profile (``cpu`` for hfcpu, ``cpu_vllm`` for vLLM) replaces
the recipe's. ``--set KEY=VALUE`` overrides any key, as on the ``train`` command line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from omegaconf import DictConfig, OmegaConf

from anatomy_r1_verl.evaluation.generate import GenerationConfig
from anatomy_r1_verl.launch.compose import compose, trainer_kind
from anatomy_r1_verl.launch.env import run_env
from anatomy_r1_verl.launch.recipes import RecipeError
from anatomy_r1_verl.launch.run import cluster_address, connect_cluster

REPLICA_ENGINES = ("hfcpu", "vllm")  # verl rollout backends the evaluation can serve from
CPU_PROFILE = {"hfcpu": "cpu", "vllm": "cpu_vllm"}


@dataclass
class ServeSettings:
    """How ``anatomy-r1 eval`` serves the model from verl's rollout replicas."""

    engine: str
    replicas: int | None = None  # None: the cluster's GPUs // tensor-parallel size (1 on a CPU)
    recipe: str | None = None
    overrides: list[str] = field(default_factory=list)
    in_flight: int = 64  # requests outstanding per replica
    run_recipe: str | None = None  # the recipe of the run a checkpoint belongs to

    def validate(self) -> None:
        if self.engine not in REPLICA_ENGINES:
            raise ValueError(f"--engine {self.engine}: the replica engines are {list(REPLICA_ENGINES)} (or hf)")
        if self.replicas is not None and self.replicas < 1:
            raise ValueError(f"--replicas must be >= 1, got {self.replicas}")
        if self.in_flight < 1:
            raise ValueError(f"--in-flight must be >= 1, got {self.in_flight}")
        bad = [o for o in self.overrides if "=" not in o]
        if bad:
            raise ValueError(f"--set takes KEY=VALUE (a verl or anatomy_r1 config key), got {bad}")


def has_gpus() -> bool:
    """Real GPUs for the replicas: on the Ray cluster named by ``RAY_ADDRESS`` (a node Ray found a GPU on carries
    an ``accelerator_type:*`` resource; the CPU profile's logical GPU slots do not), else CUDA here."""
    address = os.environ.get("RAY_ADDRESS")
    if not address:
        import torch

        return torch.cuda.is_available()
    import ray

    if ray.is_initialized():
        return any(k.startswith("accelerator_type:") for k in ray.cluster_resources())
    ray.init(address=address, logging_level="ERROR")  # a look at the cluster, before the configured connection
    try:
        return any(k.startswith("accelerator_type:") for k in ray.cluster_resources())
    finally:
        ray.shutdown()


def serving_recipe(s: ServeSettings, gpus: bool) -> tuple[str, list[str]]:
    """The recipe and overrides the replicas are configured from (see the module docstring)."""
    recipe = s.recipe or s.run_recipe or ("ssgvqa_grpo" if gpus else "demo_cpu")
    overrides = [] if gpus else [f"profile={CPU_PROFILE[s.engine]}"]
    return recipe, [*overrides, f"actor_rollout_ref.rollout.name={s.engine}", *s.overrides]


def compose_serving(s: ServeSettings, gpus: bool) -> tuple[str, DictConfig]:
    """The serving recipe's composed, resolved config. A checkpoint of an SFT run (whose recipe composes verl's
    SFT trainer, which has no rollout) is served with the default recipe instead."""
    recipe, overrides = serving_recipe(s, gpus)
    if trainer_kind(compose(recipe)) == "sft":
        if s.recipe:
            raise RecipeError(
                f"--recipe {recipe}: an SFT recipe has no rollout section; give an RL recipe (ssgvqa_grpo)"
            )
        recipe, overrides = serving_recipe(ServeSettings(s.engine, overrides=s.overrides), gpus)
        print(f"[anatomy-r1 eval] the run's recipe is an SFT recipe: serving with {recipe}", flush=True)
    cfg = compose(recipe, overrides)
    OmegaConf.resolve(cfg)
    return recipe, cfg


def tensor_parallel(cfg: DictConfig) -> int:
    r = cfg.actor_rollout_ref.rollout
    return int(r.tensor_model_parallel_size) * int(r.data_parallel_size) * int(r.pipeline_model_parallel_size)


def start_engine(s: ServeSettings, model_dir, gen: GenerationConfig):
    """Compose, start or join Ray, start the replicas; the engine's ``close`` also ends a local Ray."""
    import ray

    from anatomy_r1_verl.evaluation.replicas import ReplicaEngine, serving_config

    s.validate()
    recipe, cfg = compose_serving(s, has_gpus())
    tp = tensor_parallel(cfg)
    os.environ.update(run_env(cfg))
    address = cluster_address(cfg)
    local = not ray.is_initialized() and not address
    if address:
        connect_cluster(cfg, address)
    elif local:
        init = OmegaConf.to_container(cfg.ray_kwargs.get("ray_init", {}), resolve=True) or {}
        init = {k: v for k, v in init.items() if v is not None}
        if cfg.trainer.device == "cpu":  # logical GPU slots for the replicas' resource pools (the cpu profile)
            init["num_gpus"] = (s.replicas or 1) * tp
        ray.init(**init)
    replicas = s.replicas
    if replicas is None:
        free = int(ray.cluster_resources().get("GPU", 0))
        replicas = max(1, free // tp)
    if cfg.trainer.device == "cpu" and s.engine == "hfcpu":
        # a replica's torch threads: the machine's cores shared among the replicas (the cpu profile's 1 is for
        # training, where the FSDP process needs the other core); --set ...engine_kwargs.hfcpu.threads=N wins
        key = "actor_rollout_ref.rollout.engine_kwargs.hfcpu.threads"
        if not any(o.startswith(key + "=") for o in s.overrides):
            OmegaConf.update(cfg, key, max(1, (os.cpu_count() or 1) // replicas), force_add=True)
    print(
        f"[anatomy-r1 eval] serving {model_dir} from {replicas} {s.engine} replica(s), tensor parallel {tp} "
        f"(recipe {recipe}; {'Ray cluster ' + address if address else 'local Ray'})",
        flush=True,
    )
    engine = ReplicaEngine(serving_config(cfg, str(model_dir), replicas, gen), in_flight=s.in_flight)
    if local:
        engine.on_close.append(ray.shutdown)
    return engine
