"""``anatomy-r1 demo``: the CPU demo, from nothing to a GRPO-trained and validated model in minutes.

Generates the demo's synthetic questions when they are missing (deterministic, offline; a different
seed from the warm-start data, so validation frames were never trained on), then runs
``anatomy-r1 train recipes/demo_cpu.yaml`` with any extra overrides from the shipped warm-started tiny
Qwen2.5-VL, and prints the final validation accuracy.
"""

from __future__ import annotations

import os

from omegaconf import DictConfig

DEMO_RECIPE = "demo_cpu"


def ensure_assets(cfg: DictConfig) -> None:
    demo = cfg.anatomy_r1.demo
    data_dir = str(demo.data_dir)
    if not all(os.path.isfile(os.path.join(data_dir, f"{s}.parquet")) for s in ("train", "val")):
        from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate

        q = demo.questions
        print(f"[anatomy-r1] generating the demo questions into {data_dir}", flush=True)
        generate(SyntheticConfig(out_dir=data_dir, seed=int(demo.seed), train=int(q.train), val=int(q.val),
                                 test=int(q.test)))


def main(argv: list[str] | None = None) -> int:
    from anatomy_r1_verl.commands.train import run_recipe

    argv = list(argv or [])
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    return run_recipe(DEMO_RECIPE, argv, before_train=ensure_assets)
