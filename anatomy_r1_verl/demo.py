"""``anatomy-r1 demo``: the CPU demo, from nothing to a trained and validated model in minutes.

Builds what the demo recipe points at when it is missing (the synthetic questions and the tiny model,
both deterministic and offline), then runs ``anatomy-r1 train recipes/demo_cpu.yaml`` with any extra
overrides, and prints the final validation accuracy.
"""

from __future__ import annotations

import os

from omegaconf import DictConfig

DEMO_RECIPE = "demo_cpu"


def ensure_assets(cfg: DictConfig) -> None:
    demo = cfg.anatomy_r1.demo
    data_dir = str(demo.data_dir)
    if not all(os.path.isfile(os.path.join(data_dir, f"{s}.parquet")) for s in ("train", "val")):
        from data_prep.synthetic import SyntheticConfig, generate

        q = demo.questions
        print(f"[anatomy-r1] generating the demo questions into {data_dir}", flush=True)
        generate(SyntheticConfig(out_dir=data_dir, train=int(q.train), val=int(q.val), test=int(q.test)))
    model_dir = str(demo.model_dir)
    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        from .tiny_model import build

        print(f"[anatomy-r1] building the tiny Qwen2.5-VL into {model_dir}", flush=True)
        build(out_dir=model_dir)


def main(argv: list[str] | None = None) -> int:
    from .launcher import run_recipe

    argv = list(argv or [])
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    return run_recipe(DEMO_RECIPE, argv, before_train=ensure_assets)
