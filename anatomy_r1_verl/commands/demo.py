"""``anatomy-r1 demo``: the CPU demo, from nothing to a GRPO-trained and validated model in minutes.

Generates the demo's synthetic questions when they are missing (deterministic, offline; a different
seed from the warm-start data, so validation frames were never trained on; the image where the shipped
model reads it, ``anatomy_r1.demo.image_position``), then runs ``anatomy-r1 train recipes/demo_cpu.yaml``
with any extra overrides, and prints the final validation accuracy and its gain over the accuracy
before training, with one standard error.
"""

from __future__ import annotations

import json
import os

from omegaconf import DictConfig

DEMO_RECIPE = "demo_cpu"
# what the demo's questions are made from; existing demo data made otherwise is made again
DEMO_KEYS = ("seed", "train", "val", "test", "image_position")


def demo_data_config(cfg: DictConfig):
    from anatomy_r1_verl.synthetic.generator import SyntheticConfig

    demo = cfg.anatomy_r1.demo
    q = demo.questions
    return SyntheticConfig(
        out_dir=str(demo.data_dir),
        seed=int(demo.seed),
        train=int(q.train),
        val=int(q.val),
        test=int(q.test),
        image_position=str(demo.image_position),
    )


def stale_reason(data_dir: str, want) -> str | None:
    """Why the demo data in ``data_dir`` must be made (again), None when it is what ``want`` asks for."""
    if not all(os.path.isfile(os.path.join(data_dir, f"{s}.parquet")) for s in ("train", "val")):
        return "missing"
    path = os.path.join(data_dir, "manifest.json")
    if not os.path.isfile(path):
        from anatomy_r1_verl.commands.train import RecipeError

        raise RecipeError(
            f"{data_dir} holds parquet files but no manifest.json, so the demo cannot tell how they "
            "were made: delete the folder (the demo makes it again) or set anatomy_r1.demo.data_dir "
            "to another folder"
        )
    with open(path) as fh:
        have = {"image_position": "first", **json.load(fh).get("config", {})}  # older manifests: image first
    diff = [f"{k} {have.get(k)} -> {getattr(want, k)}" for k in DEMO_KEYS if have.get(k) != getattr(want, k)]
    return f"made with other settings ({', '.join(diff)})" if diff else None


def ensure_assets(cfg: DictConfig) -> None:
    from anatomy_r1_verl.synthetic.generator import generate

    want = demo_data_config(cfg)
    reason = stale_reason(want.out_dir, want)
    if reason:
        print(f"[anatomy-r1] generating the demo questions into {want.out_dir} ({reason})", flush=True)
        generate(want)


def main(argv: list[str] | None = None) -> int:
    from anatomy_r1_verl.commands.train import run_recipe

    argv = list(argv or [])
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    return run_recipe(DEMO_RECIPE, argv, before_train=ensure_assets)
