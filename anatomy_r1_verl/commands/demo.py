"""``anatomy-r1 demo [--classic] [key=value ...]``: the CPU demo, from nothing to a GRPO-trained and validated model
in minutes.

On the look-alike benchmark (``recipes/demo_cpu.yaml``), or with ``--classic`` on the classic frames
(``recipes/demo_cpu_classic.yaml``). Generates the demo's synthetic questions when they are missing (deterministic, offline; a different
seed from the warm-start data, so validation frames were never trained on; the image where the shipped
model reads it, ``anatomy_r1.demo.image_position``), then runs ``anatomy-r1 train recipes/demo_cpu.yaml``
with any extra overrides, and prints the final validation accuracy and its gain over the accuracy
before training, with one standard error.
"""

from __future__ import annotations

from omegaconf import DictConfig

from anatomy_r1_verl.config.anatomy_r1 import anatomy_r1_config
from anatomy_r1_verl.launch.compose import RecipeError
from anatomy_r1_verl.launch.recipes import DEMO_RECIPES
from anatomy_r1_verl.launch.run import run_recipe
from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate
from anatomy_r1_verl.synthetic.manifest import ManifestError, stale_reason

DEMO_RECIPE = DEMO_RECIPES["lookalike"]


def demo_data_config(cfg: DictConfig) -> SyntheticConfig:
    demo = anatomy_r1_config(cfg).demo
    if demo is None:
        raise RecipeError(
            "the demo needs an anatomy_r1.demo block (data_dir, seed, image_position, questions; look, options, "
            "family_weights)"
        )
    q = demo.questions
    return SyntheticConfig(
        out_dir=str(demo.data_dir),
        seed=demo.seed,
        train=q.train,
        val=q.val,
        test=q.test,
        image_position=demo.image_position,
        look=demo.look,
        options=demo.options,
        family_weights=demo.question_mix(),
    )


def ensure_assets(cfg: DictConfig) -> None:
    want = demo_data_config(cfg)
    try:
        reason = stale_reason(want.out_dir, want, setting="anatomy_r1.demo.data_dir")
    except ManifestError as e:
        raise RecipeError(str(e)) from e
    if reason:
        print(f"[anatomy-r1] generating the demo questions into {want.out_dir} ({reason})", flush=True)
        generate(want)


def main(argv: list[str] | None = None) -> int:
    argv = list(argv or [])
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    recipe = DEMO_RECIPE
    if "--classic" in argv:
        argv.remove("--classic")
        recipe = DEMO_RECIPES["classic"]
    return run_recipe(recipe, argv, before_train=ensure_assets)
