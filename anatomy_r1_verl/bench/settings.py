"""What the start model needs from every row of a grid, in one place: the model itself, the response length (the
RL rows' rollouts and every evaluation alike), where the image sits in a question, the RL rows' learning rate,
and the frames' look, distractor draw and question mix.

They come from a demo recipe (``recipes/demo_cpu.yaml``, the look-alike benchmark; ``demo_cpu_classic.yaml`` with
``--classic``), which states them for its start model, composed with the bench's ``anatomy_r1.demo.*`` overrides; a flag (``--model``, ``--max-new-tokens``,
``--image-position``) or a ``key=value`` the RL rows get (:data:`ROW_KEYS`) changes one. Each setting keeps
where it came from, and the report prints them (``OUT/report/settings.md``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from anatomy_r1_verl.launch.recipes import DEMO_RECIPES
from data_prep import sft

SOURCE_RECIPE = DEMO_RECIPES["lookalike"]  # `anatomy-r1 bench --classic`: DEMO_RECIPES["classic"]
# setting -> the key of the demo recipe that states it
RECIPE_KEYS = {
    "model": "actor_rollout_ref.model.path",
    "response_length": "data.max_response_length",
    "image_position": "anatomy_r1.demo.image_position",
    "lr": "actor_rollout_ref.actor.optim.lr",
    "look": "anatomy_r1.demo.look",
    "options": "anatomy_r1.demo.options",
    "families": "anatomy_r1.demo.family_weights",
}
# RL-row overrides that change a setting, so that the evaluation and the data follow what the rows train with
ROW_KEYS = {
    "actor_rollout_ref.model.path": "model",
    "data.max_response_length": "response_length",
    "actor_rollout_ref.rollout.response_length": "response_length",
    "actor_rollout_ref.actor.optim.lr": "lr",
}
# the start model's warm-start think style (its warmstart.json) -> the SFT think rows' target: data_prep.sft's map,
# read the other way
MODEL_STYLES = {style: target for target, style in sft.THINK_STYLE.items()}
SFT_NOTE = (
    "The SFT rows keep the learning rates and epochs of `bench.grid.SFT_SETTINGS`, chosen on the val split for "
    "tiny-qwen25vl-warm (image first, 64 tokens); with another start model they were not chosen for it. The think "
    "rows write the start model's own think style and answer form (think, answer above)."
)
# overrides that only set the bench's data (the paper-table recipes have no demo block)
DEMO_PREFIX = "anatomy_r1.demo."


@dataclass(frozen=True)
class BenchSettings:
    model: str  # the start model's folder (every row starts from it; the start row evaluates it)
    response_length: int  # max new tokens of the RL rows' rollouts and of every row's evaluation
    image_position: str  # first | last: where the bench's questions put the image
    lr: float  # the RL rows' actor learning rate (the SFT rows keep grid.SFT_SETTINGS)
    look: str = "classic"  # the frames' look (synthetic.scene.LOOKS)
    options: str = "uniform"  # the distractor draw (synthetic.options.OPTION_DRAWS)
    families: dict = field(default_factory=dict)  # the question mix, family -> weight (empty: the default mix)
    think: str = "think"  # the SFT think rows' target (data_prep.sft: think | scan): the start model's own style
    answer: str = "letter"  # ... and its answer form (letter | text)
    sources: dict[str, str] = field(default_factory=dict, compare=False)  # setting -> where it came from

    def __post_init__(self):
        from anatomy_r1_verl.grammar import family_mix
        from anatomy_r1_verl.schema import check_image_position
        from anatomy_r1_verl.synthetic.options import OPTION_DRAWS
        from anatomy_r1_verl.synthetic.scene import check_look

        if int(self.response_length) < 1:
            raise ValueError(f"bench settings: response_length must be >= 1, got {self.response_length}")
        if not float(self.lr) > 0:
            raise ValueError(f"bench settings: the learning rate must be > 0, got {self.lr}")
        check_image_position(self.image_position)
        check_look(self.look)
        if self.options not in OPTION_DRAWS:
            raise ValueError(f"bench settings: unknown option draw {self.options!r}; known: {sorted(OPTION_DRAWS)}")
        try:
            family_mix(self.families)
        except ValueError as e:
            raise ValueError(f"bench settings: {e}") from e
        if self.think not in MODEL_STYLES.values() or self.answer not in ("letter", "text"):
            raise ValueError(f"bench settings: the SFT think target {self.think!r} / {self.answer!r} is not supported")

    def rl_args(self) -> tuple[str, ...]:
        """What every RL row is given, before the user's overrides."""
        return (
            f"actor_rollout_ref.model.path={self.model}",
            f"data.max_response_length={self.response_length}",
            f"actor_rollout_ref.actor.optim.lr={self.lr}",
        )

    def data_fields(self) -> dict:
        """The bench data's fields (bench.data.DataSpec) these settings decide."""
        from anatomy_r1_verl.grammar import family_mix

        return {
            "image_position": self.image_position,
            "look": self.look,
            "options": self.options,
            "family_weights": family_mix(self.families),
        }

    def as_dict(self) -> dict:
        d = asdict(self)
        d["sources"] = dict(self.sources)
        return d

    def markdown(self) -> str:
        lines = ["## Settings", "", "| setting | value | from |", "| --- | --- | --- |"]
        for name in (*RECIPE_KEYS, "think", "answer"):
            lines.append(f"| {name} | {getattr(self, name)} | {self.sources.get(name, '')} |")
        lines += ["", SFT_NOTE]
        return "\n".join(lines) + "\n"

    def write(self, report_dir: Path) -> None:
        report_dir = Path(report_dir)
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "settings.json").write_text(json.dumps(self.as_dict(), indent=1) + "\n")
        (report_dir / "settings.md").write_text(self.markdown())


def model_style(model: Path) -> tuple[str, str, str]:
    """The SFT think rows' target and answer form in the start model's own style, from the ``warmstart.json`` the
    project's warm-start builds write; ``("think", "letter")`` for a model without one. Returns them and where
    they came from."""
    path = Path(model) / "warmstart.json"
    if not path.is_file():
        return "think", "letter", f"default (no {path.name} in the model)"
    cfg = json.loads(path.read_text()).get("warmstart_config") or {}
    style, answer = cfg.get("think") or "grounded", cfg.get("answer") or "letter"
    if style not in MODEL_STYLES:
        raise ValueError(
            f"bench settings: {path}: think style {style!r} has no SFT target; known: {sorted(MODEL_STYLES)}"
        )
    return MODEL_STYLES[style], answer, f"{path} (think {style}, answer {answer})"


def split_overrides(overrides: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(demo overrides, row overrides)``: ``anatomy_r1.demo.*`` keys set the bench's data, the rest go to the
    RL rows."""
    demo = tuple(o for o in overrides if o.split("=", 1)[0].lstrip("+").startswith(DEMO_PREFIX))
    return demo, tuple(o for o in overrides if o not in demo)


def resolve(
    model: str | None = None,
    max_new_tokens: int | None = None,
    image_position: str | None = None,
    overrides: tuple[str, ...] = (),
    recipe: str = SOURCE_RECIPE,
) -> BenchSettings:
    """The grid's settings: the demo recipe's (with its ``anatomy_r1.demo.*`` overrides), then the RL rows'
    ``key=value`` overrides of :data:`ROW_KEYS`, then the flags; the last one given wins."""
    from omegaconf import OmegaConf

    from anatomy_r1_verl.launch.compose import compose

    demo_overrides, row_overrides = split_overrides(tuple(overrides))
    cfg = compose(recipe, list(demo_overrides))
    values, sources = {}, {}
    for name, key in RECIPE_KEYS.items():
        value = OmegaConf.select(cfg, key)
        values[name] = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
        given = [o for o in demo_overrides if (o.split("=", 1)[0].lstrip("+") + ".").startswith(key + ".")]
        sources[name] = f"{' '.join(given)} (given)" if given else f"{recipe} recipe, {key}"
    for o in row_overrides:
        key, value = o.split("=", 1)
        if key in ROW_KEYS:
            values[ROW_KEYS[key]], sources[ROW_KEYS[key]] = value, f"{o} (given)"
    for name, value, flag in (
        ("model", model, "--model"),
        ("response_length", max_new_tokens, "--max-new-tokens"),
        ("image_position", image_position, "--image-position"),
    ):
        if value is not None:
            values[name], sources[name] = value, f"{flag} {value}"
    values["families"] = values.get("families") or {}
    values["model"] = str(Path(str(values["model"])).expanduser().resolve())
    if not Path(values["model"]).is_dir():
        raise ValueError(f"bench settings: the start model {values['model']} is not a folder (from {sources['model']})")
    values["think"], values["answer"], where = model_style(Path(values["model"]))
    sources["think"] = sources["answer"] = where
    try:
        values["response_length"], values["lr"] = int(values["response_length"]), float(values["lr"])
    except ValueError as e:
        raise ValueError(f"bench settings: {e} (from {sources['response_length']} / {sources['lr']})") from e
    return BenchSettings(**values, sources=sources)
