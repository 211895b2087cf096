"""``anatomy-r1 train RECIPE [key=value ...]``: compose a recipe, check it, and run verl's own ``main_ppo`` on it (or,
for a recipe with ``anatomy_r1.trainer: sft``, verl's own SFT trainer ``verl.trainer.sft_trainer`` under torchrun).

It is exactly ``python -m verl.trainer.main_ppo --config-path=<recipe dir> --config-name=<recipe>`` plus what a user
would otherwise find out an hour into a cluster job: missing files, a processor that silently drops images, a
reward key verl ignores, a misspelled ``anatomy_r1`` key. Any verl key can be overridden as usual
(``actor_rollout_ref.rollout.n=16``, ``profile=gpu``). The work is done by :mod:`anatomy_r1_verl.launch`.
"""

from __future__ import annotations

import sys

from omegaconf import OmegaConf

from anatomy_r1_verl.launch.compose import RecipeError, compose
from anatomy_r1_verl.launch.recipes import list_recipes, recipes_dir
from anatomy_r1_verl.launch.run import run_recipe


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
