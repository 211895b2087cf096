"""The typed ``anatomy_r1:`` block of every recipe: one dataclass per block, each default stated here once.

The dataclasses are registered with Hydra's ConfigStore as the schema of the ``anatomy_r1`` node, which the base
configs (``anatomy_r1.yaml``, ``sft/anatomy_r1_sft.yaml``) put first in their defaults list. So Hydra types every
value when a recipe is composed (``anatomy_r1.engine_threads=two`` fails there) and refuses a misspelled key in a
recipe file or a plain override. :func:`anatomy_r1_config` then turns the node into these objects, refusing any
key a ``+`` override added and checking ranges and choices; the launcher calls it when it composes a run, and the
verl extensions call it on the config verl hands them (the same function, so the same result in every process).

verl's own ``verl/workers/config`` is the model: a dataclass per component, validated once in ``__post_init__``.
The method's own blocks live with the method (:class:`~anatomy_r1_verl.ascl.curriculum.CurriculumConfig`,
:class:`~anatomy_r1_verl.gdqa.selection.GDQAConfig`); this module assembles them with the launcher's and the
trainer's settings.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf

from anatomy_r1_verl.ascl.curriculum import CurriculumConfig
from anatomy_r1_verl.gdqa.selection import GDQAConfig
from anatomy_r1_verl.grammar import DEFAULT_FAMILY_WEIGHTS, family_mix

SCHEMA_GROUP = "anatomy_r1_schema"
TRAINERS = ("ppo", "sft")
DEFAULT_HOOKS = ["reward_metrics", "curriculum", "gdqa"]


class ConfigError(ValueError):
    """An ``anatomy_r1`` setting that cannot be used; the message names the key and what to do."""


@dataclass
class WatchdogConfig:
    """On a cluster, how often the launcher polls the job's actors and fails the job when one died; 0: off."""

    interval_s: float = 2.0

    def __post_init__(self):
        if self.interval_s < 0:
            raise ConfigError(f"anatomy_r1.watchdog.interval_s must be >= 0 (0: off), got {self.interval_s}")


@dataclass
class RolloutGuardConfig:
    """Stop the run when the rollout engine samples another policy than the actor trains (a broken weight sync).

    Thresholds on verl's rollout-vs-actor probability difference; null: that one is not checked. Measured on CPU:
    ~4e-7 mean with a correct sync, 0.11 with the wrong vLLM policy (docs/design.md)."""

    enable: bool = True
    max_probs_diff_mean: float | None = 0.05
    max_probs_diff_max: float | None = None

    def __post_init__(self):
        for name in ("max_probs_diff_mean", "max_probs_diff_max"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"anatomy_r1.rollout_guard.{name} must be a positive number or null (got {value})")


@dataclass
class CPURuntimeConfig:
    """How a CPU run's processes share the cores with whatever else runs on the machine (docs/benchmarks.md,
    "Training beside other work"). Set as environment variables by the launcher for every process of the run;
    null leaves the library default (Ray: workers at nice 15; libgomp: its own spin count)."""

    # Ray starts its workers at nice 15: beside any busy process at nice 0 in the same scheduling group they get a
    # few % of a core, and an OpenMP team waits on its starved thread. 0: the workers compete as equals.
    worker_niceness: int | None = None
    # how long an idle OpenMP thread spins before it sleeps (libgomp's GOMP_SPINCOUNT): a spinning waiter holds the
    # core its starved teammate needs; a short spin keeps the idle speed and yields the core under load
    omp_spincount: int | None = None
    # size each torch process's threads to the cores free now (cpu/threads.py): two threads on two cores wait on
    # the one that shares its core with another program; one thread then is faster. null/false: a fixed count
    adaptive_threads: bool | None = None

    def __post_init__(self):
        if self.worker_niceness is not None and not 0 <= self.worker_niceness <= 19:
            raise ConfigError(
                f"anatomy_r1.cpu_runtime.worker_niceness must be 0..19 or null, got {self.worker_niceness}"
            )
        if self.omp_spincount is not None and self.omp_spincount < 0:
            raise ConfigError(f"anatomy_r1.cpu_runtime.omp_spincount must be >= 0 or null, got {self.omp_spincount}")


@dataclass
class DemoQuestions:
    train: int = MISSING
    val: int = MISSING
    test: int = MISSING


@dataclass
class DemoConfig:
    """What ``anatomy-r1 demo`` makes its synthetic questions from (the demo recipe states every value)."""

    data_dir: str = MISSING
    seed: int = MISSING
    image_position: str = MISSING
    questions: DemoQuestions = field(default_factory=DemoQuestions)
    look: str = "classic"  # the frames' look: classic | lookalike (synthetic/appearance.py)
    options: str = "uniform"  # the distractor draw: uniform | spread (synthetic/options.py)
    # the question mix, family -> weight (0 leaves a family out): anatomy_r1.demo.family_weights.one_hop=0
    family_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_FAMILY_WEIGHTS))

    def __post_init__(self):
        try:
            self.question_mix()
        except ValueError as e:
            raise ConfigError(f"anatomy_r1.demo.family_weights: {e}") from e

    def question_mix(self) -> dict[str, float]:
        """The generator's family weights these settings ask for."""
        return family_mix(self.family_weights)


@dataclass
class AnatomyR1Config:
    """The ``anatomy_r1:`` block: the project's settings beside verl's own config."""

    # where `anatomy-r1` puts run outputs (metrics.jsonl, trace/, checkpoints) and demo assets
    output_dir: str = "${oc.env:ANATOMY_R1_OUTPUT_DIR,outputs}"
    run_dir: str = "${anatomy_r1.output_dir}/runs/${oc.select:trainer.experiment_name,default}"
    # the selected data preset's folder (benchmark/*.yaml set it); recipes name their files relative to it
    data_dir: str = "${oc.env:ANATOMY_R1_DATA,data}"
    recipe: str | None = None  # the recipe file, filled in by the launcher
    trainer: str = "ppo"  # ppo: verl's main_ppo | sft: verl's SFT trainer under torchrun
    # seconds between verl's TransferQueue polls for finished rollout groups (verl's fixed default: 2.0)
    replay_poll_interval: float = 2.0
    # the agent loop prepares each distinct prompt once and shares it with the rollout.n sessions (same tokens)
    prompt_cache: bool = True
    engine_threads: int | None = None  # torch threads of the FSDP actor/ref processes on CPU (null: OMP_NUM_THREADS)
    cpu_runtime: CPURuntimeConfig = field(default_factory=CPURuntimeConfig)
    # the method hooks the trainer calls, in order: registered names or "module:Class" / "/file.py:Class"
    # (anatomy_r1_verl.hooks); a hook whose method is switched off in its own block does nothing
    hooks: list[str] = field(default_factory=lambda: list(DEFAULT_HOOKS))
    watchdog: WatchdogConfig = field(default_factory=WatchdogConfig)
    rollout_guard: RolloutGuardConfig = field(default_factory=RolloutGuardConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    gdqa: GDQAConfig = field(default_factory=GDQAConfig)
    demo: DemoConfig | None = None

    def __post_init__(self):
        if self.trainer not in TRAINERS:
            raise ConfigError(
                f"anatomy_r1.trainer: {self.trainer!r} is not a trainer; use ppo (verl's main_ppo) or sft "
                "(verl.trainer.sft_trainer)"
            )
        if self.replay_poll_interval <= 0:
            raise ConfigError(f"anatomy_r1.replay_poll_interval must be > 0 seconds, got {self.replay_poll_interval}")
        if self.engine_threads is not None and not self.engine_threads > 0:
            raise ConfigError(
                f"anatomy_r1.engine_threads must be a positive integer or null (got {self.engine_threads})"
            )
        if not self.hooks or len(set(self.hooks)) != len(self.hooks):
            raise ConfigError(f"anatomy_r1.hooks must list each hook once, got {list(self.hooks)}")


def register_schema() -> None:
    """Make :class:`AnatomyR1Config` the schema of the ``anatomy_r1`` node for the base configs' defaults list."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(group=SCHEMA_GROUP, name="anatomy_r1", node=AnatomyR1Config, package="anatomy_r1")


def _dataclass_of(annotation: Any) -> type | None:
    """The dataclass an annotation names (``X`` or ``X | None``), None for a plain value."""
    candidates = typing.get_args(annotation) or (annotation,)
    return next((c for c in candidates if dataclasses.is_dataclass(c)), None)


def _unknown_keys(node: Any, schema: type, prefix: str) -> None:
    """Refuse keys the schema does not have (a ``+`` override adds them past Hydra's check), naming the known."""
    if not isinstance(node, DictConfig) or node._is_none() or node._is_missing() or node._is_interpolation():
        return
    hints = typing.get_type_hints(schema)
    unknown = sorted(set(node.keys()) - set(hints))
    if unknown:
        raise ConfigError(f"{prefix}: unknown key(s) {unknown}; known: {sorted(hints)}")
    for name, annotation in hints.items():
        sub = _dataclass_of(annotation)
        if sub is not None and name in node and not OmegaConf.is_missing(node, name):
            _unknown_keys(node._get_node(name), sub, f"{prefix}.{name}")


# the sections the block's interpolations may point into (run_dir: trainer.experiment_name; curriculum: data.seed)
_CONTEXT = ["anatomy_r1", "trainer", "data"]
_CACHE: list[tuple[Any, AnatomyR1Config]] = []


def anatomy_r1_config(cfg: DictConfig) -> AnatomyR1Config:
    """The typed, checked ``anatomy_r1`` block of a composed (or saved) run config.

    Keys are checked against the dataclasses, then the block is merged over the schema (so a saved plain config, or
    one built by hand, gets the same types and defaults) and built, which runs each dataclass's checks. Cached per
    config object: verl's agent loop is built once per sample over the same config."""
    for seen, typed in _CACHE:
        if seen is cfg:
            return typed
    node = OmegaConf.select(cfg, "anatomy_r1", default=None)
    if node is not None:
        _unknown_keys(node, AnatomyR1Config, "anatomy_r1")
    try:
        context = OmegaConf.masked_copy(cfg, [k for k in _CONTEXT if k in cfg]) if node is not None else {}
        root = OmegaConf.merge({"anatomy_r1": OmegaConf.structured(AnatomyR1Config)}, context)
        typed = OmegaConf.to_object(root.anatomy_r1)
        typed.curriculum.validate()
    except ConfigError:
        raise
    except Exception as e:  # a block's own check or omegaconf's validation: the message names the full key
        message = str(e).split("\n    full_key:")[0]
        raise ConfigError(message if message.startswith("anatomy_r1") else f"anatomy_r1: {message}") from e
    _CACHE[:] = [*_CACHE[-7:], (cfg, typed)]
    return typed
