"""Which runs a comparison is made of, and the ``anatomy-r1`` command line of each (pure: nothing runs here).

Every RL row is its shipped recipe (``recipes/ssgvqa_<row>.yaml``) composed for CPU (``profile=cpu model=tiny
benchmark=synthetic``) from the start model with the response length and learning rate it needs
(:class:`.settings.BenchSettings`: the demo recipe's unless given), on the same train file (scored and augmented: the rows that do not use S(q) or the
variants ignore them), with one budget: steps x prompts per step x rollouts per prompt, and the seed in
``data.seed`` (draw order) and ``actor_rollout_ref.rollout.seed`` (sampling). The SFT row is verl's SFT trainer
on as many labelled questions as the RL rows see prompts (prompts x steps; ``Budget.sft_examples`` changes it),
each with its true answer, for the epochs and at the learning rate chosen on the validation split
(:data:`SFT_SETTINGS`); ``sft`` answers only (the paper's row), ``sft_think`` thinks first (the scene as its
think block, in the start model's own think style and answer form) and is scored on the RL rows' test split. Every row is
evaluated with the settings' response length. Its seed orders the train file
(:class:`.data.SFTFile`), the only thing verl 0.9.1's SFT trainer lets it change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from anatomy_r1_verl.bench.data import SFTFile
from anatomy_r1_verl.bench.settings import BenchSettings

# row name -> recipe (the paper's table order)
RL_METHODS = {
    "grpo": "ssgvqa_grpo",
    "dr_grpo": "ssgvqa_dr_grpo",
    "dapo": "ssgvqa_dapo",
    "gpg": "ssgvqa_gpg",
    "grpo_ascl": "ssgvqa_grpo_ascl",
    "grpo_ascl_shuffled": "ssgvqa_grpo_ascl",
    "grpo_gdqa": "ssgvqa_grpo_gdqa",
    "grpo_gdqa_keep": "ssgvqa_grpo_gdqa",
    "anatomy_r1": "ssgvqa_anatomy_r1",
    "grpo_checks": "ssgvqa_grpo",
}
# control and exploratory rows: a recipe with settings of their own
ROW_ARGS = {
    # ASCL's pacing with S(q) permuted over the rows: separates the information in S(q) from the schedule
    "grpo_ascl_shuffled": ("anatomy_r1.curriculum.shuffle_s_q=true",),
    # not the paper's: GRPO whose reward also scores the think's option checks (reward_fns/option_checks.py), at
    # the format reward's weight
    "grpo_checks": ("reward.custom_reward_function.reward_kwargs.weights.checks=0.5",),
}
# the train file of each RL row (the default: scored and augmented with varied instructions)
ROW_TRAIN_FILE = {"grpo_gdqa_keep": "train_augmented_keep.parquet"}
SFT_METHODS = {"sft": "ssgvqa_sft", "sft_think": "ssgvqa_sft", "sft_ceiling": "ssgvqa_sft"}
# answer-only, or think-then-answer in the start model's own style (BenchSettings.think / .answer)
SFT_TARGETS = {"sft": "answer", "sft_think": "think", "sft_ceiling": "think"}
# sft_ceiling is a reference, not a method: every train question with its true label, for the epochs after which
# the val accuracy stopped rising (the budget does not apply)
SFT_ALL_EXAMPLES = {"sft_ceiling"}
# (learning rate, epochs) of each SFT row, chosen on the val split by benchmarks/sweep_sft.py (docs/benchmarks.md,
# "The SFT baseline"), for tiny-qwen25vl-warm (image first, 64 tokens) and the bench's budget of labelled examples;
# another start model keeps them (settings.md says so)
SFT_SETTINGS = {"sft": (1e-4, 10), "sft_think": (1e-4, 1), "sft_ceiling": (1e-4, 3)}
METHODS = {**RL_METHODS, **SFT_METHODS}
START = "start"  # the row of the start model itself, evaluated once (no training)
CURVE_DIR = "curve"  # OUT/curve/<row>/seed<N>/step<K>: the evaluations of the mid-run checkpoints

CPU_VARIANT = ("profile=cpu", "model=tiny", "benchmark=synthetic")


@dataclass(frozen=True)
class Budget:
    steps: int = 16
    prompts: int = 8  # questions per step (data.train_batch_size)
    rollouts: int = 8  # rollouts per question (actor_rollout_ref.rollout.n)
    save_every: int = 8  # checkpoint interval: an interrupted run resumes from here
    sft_examples: int | None = None  # labelled questions of an SFT run (None: prompts x steps, what RL sees)

    def __post_init__(self):
        for name in ("steps", "prompts", "rollouts", "save_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"bench budget: {name} must be >= 1, got {getattr(self, name)}")
        if self.sft_examples is not None and self.sft_examples < self.prompts:
            raise ValueError(f"bench budget: sft_examples must be >= prompts ({self.prompts}), got {self.sft_examples}")

    @property
    def sft_questions(self) -> int:
        return self.sft_examples if self.sft_examples is not None else self.prompts * self.steps

    def sft_steps(self, epochs: int, questions: int | None = None) -> int:
        """verl's SFT trainer drops the last partial batch of each epoch."""
        return ((questions or self.sft_questions) // self.prompts) * epochs


@dataclass(frozen=True)
class Run:
    method: str
    seed: int
    recipe: str
    train_args: tuple[str, ...]  # anatomy-r1 train RECIPE ARGS
    run_dir: Path  # where the trainer writes metrics.jsonl and checkpoints
    checkpoint: Path  # the final checkpoint, evaluated
    test_file: Path
    eval_dir: Path
    max_new_tokens: int = 64  # the evaluation's response length (the grid's settings, the RL rows' rollouts')
    sft_file: SFTFile | None = None  # the SFT train file this run needs (made by bench.data.ensure)
    # the learning curve's mid-run points (RL rows): (step, its checkpoint, where its evaluation goes)
    curve: tuple[tuple[int, Path, Path], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.method}/seed{self.seed}"

    def eval_args(self) -> tuple[str, ...]:
        return (
            str(self.checkpoint),
            str(self.test_file),
            "--out",
            str(self.eval_dir),
            "--method",
            self.method,
            "--seed",
            str(self.seed),
            "--no-progress",
            "--max-new-tokens",
            str(self.max_new_tokens),
        )


def parse_methods(names: list[str] | None) -> list[str]:
    if not names:
        return list(METHODS)
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise ValueError(f"bench --methods: unknown {unknown}; known: {', '.join(METHODS)}")
    return list(dict.fromkeys(names))


def experiment(method: str, seed: int) -> str:
    return f"bench_{method}_seed{seed}"


def plan(
    methods: list[str],
    seeds: list[int],
    budget: Budget,
    data_dir: Path,
    out_dir: Path,
    settings: BenchSettings,
    overrides: tuple[str, ...] = (),
    train_questions: int = 1024,
) -> list[Run]:
    """The runs, seed-major (every method's seed 0 first: a partial grid already compares the methods).
    ``settings``: the start model and what it needs (:mod:`.settings`). ``overrides`` (hydra ``key=value``) go to
    every RL run, after the budget's and the settings'. ``train_questions``: the rows of the train split (the
    ceiling row's examples)."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    runs = []
    for seed in seeds:
        for method in parse_methods(methods):
            name = experiment(method, seed)
            run_dir = out_dir / "runs" / name
            common = (
                *CPU_VARIANT,
                f"anatomy_r1.data_dir={data_dir}",
                f"trainer.experiment_name={name}",
                f"trainer.total_training_steps={budget.steps}",
                f"trainer.save_freq={budget.save_every}",
                "trainer.resume_mode=auto",
            )
            if method in RL_METHODS:
                args = (
                    *common,
                    f"data.train_files={data_dir / ROW_TRAIN_FILE.get(method, 'train_augmented.parquet')}",
                    f"data.val_files={data_dir / 'val.parquet'}",
                    "trainer.val_before_train=False",
                    "trainer.test_freq=-1",
                    f"data.train_batch_size={budget.prompts}",
                    f"actor_rollout_ref.actor.ppo_mini_batch_size={budget.prompts}",
                    f"actor_rollout_ref.rollout.n={budget.rollouts}",
                    f"data.seed={seed}",
                    f"actor_rollout_ref.rollout.seed={seed}",
                    *settings.rl_args(),
                    *ROW_ARGS.get(method, ()),
                )
                test_file = data_dir / "test_scored.parquet"
            else:
                lr, epochs = SFT_SETTINGS[method]
                questions = train_questions if method in SFT_ALL_EXAMPLES else budget.sft_questions
                answer_only = SFT_TARGETS[method] == "answer"
                target, answer = ("answer", "letter") if answer_only else (settings.think, settings.answer)
                sft_file = SFTFile(seed, target, None if method in SFT_ALL_EXAMPLES else questions, answer)
                sft_steps = budget.sft_steps(epochs, questions)
                args = (
                    *CPU_VARIANT,
                    f"anatomy_r1.data_dir={data_dir}",
                    f"trainer.experiment_name={name}",
                    f"trainer.total_epochs={epochs}",
                    f"trainer.save_freq={min(budget.save_every, sft_steps)}",
                    "trainer.resume_mode=auto",
                    f"data.train_files={sft_file.path(data_dir)}",
                    f"data.train_batch_size={budget.prompts}",
                    # one micro-batch per step: verl's SFT trainer needs the batch divisible by the micro-batch
                    f"data.micro_batch_size_per_gpu={budget.prompts}",
                    f"optim.lr={lr}",
                    f"trainer.seed={seed}",
                    f"model.path={settings.model}",
                )
                test_file = data_dir / ("sft_test.parquet" if answer_only else "test_scored.parquet")
            runs.append(
                Run(
                    method=method,
                    seed=seed,
                    recipe=METHODS[method],
                    train_args=(*args, *(overrides if method in RL_METHODS else ())),
                    run_dir=run_dir,
                    checkpoint=run_dir
                    / "checkpoints"
                    / f"global_step_{sft_steps if method in SFT_METHODS else budget.steps}",
                    test_file=test_file,
                    eval_dir=out_dir / "evals" / method / f"seed{seed}",
                    max_new_tokens=settings.response_length,
                    sft_file=sft_file if method in SFT_METHODS else None,
                    curve=tuple(
                        (
                            k,
                            run_dir / "checkpoints" / f"global_step_{k}",
                            out_dir / CURVE_DIR / method / f"seed{seed}" / f"step{k}",
                        )
                        for k in range(budget.save_every, budget.steps, budget.save_every)
                    )
                    if method in RL_METHODS
                    else (),
                )
            )
    return runs
