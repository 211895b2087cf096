"""Warm-start the tiny Qwen2.5-VL by supervised fine-tuning on the synthetic train split.

A random-init model never emits a correct ``<think>..</think><answer>X</answer>`` by chance, so GRPO
would have no reward spread to learn from. This plain Hugging Face loop (verl's SFT trainer needs
torchrun + FSDP, which buys nothing for a 0.8M-parameter model on one CPU) teaches the format and part
of the visual grounding, then stops at partial competence so RL has room to improve it.

Targets: ``<think>The <cell> is <Name>.</think><answer><letter></answer>`` for every question family,
the cell being the answer's grid position found by executing the question's program on the scene graph
(``--think grounded``, the default; ``--think answer`` says "The answer is <Name>." for the relation families,
which leaves the model guessing from the text; ``--think scan`` names the cells in reading order up to and including the answer's cell, so the answer is
the last class written and no look-up of an earlier sentence is needed; with the image after the prompt text
(``prepare synthetic --image-position last``) the default model learns it in about 1,000 steps where the
grounded sentence's look-up stalls, see docs/benchmarks.md, issue 15). ``--answer text`` writes the option's
text instead of its letter (the accuracy reward accepts either), which spares the model the copy from the
option list. Prompts are built from verl's RLHFDataset rows, exactly as the RL rollouts see them. What
mattered (docs/benchmarks.md): lr 1e-3 with 50 warm-up steps and cosine decay, batch 32,
loss on response tokens only, Qwen2.5-VL's 3-D image positions kept (``mm_token_type_ids``),
rope_theta 10, one image token per grid cell.

    anatomy-r1 warmstart --data DATA_DIR --out MODEL_DIR [--steps 2000] [--target-acc 0.5]

Writes the model, ``warmstart.json`` (the full config, the curve and the final evaluation) and
``warmstart.log`` into MODEL_DIR. Same arguments, same machine: same checkpoint.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field

import torch

from anatomy_r1_verl.patches import torchvision_ops

torchvision_ops.apply()


@dataclass
class WarmstartConfig:
    data_dir: str
    out_dir: str
    steps: int = 2000
    batch_size: int = 32
    lr: float = 1e-3
    warmup: int = 50
    min_lr_ratio: float = 0.1
    seed: int = 0
    eval_every: int = 250
    eval_rows: int = 200
    target_acc: float = 0.0  # stop at the first evaluation at or above this greedy val accuracy (0 = never)
    init: str = ""  # continue from this model folder instead of a fresh random-init model
    snapshots: bool = False  # also save the model at every evaluation, under out_dir/snapshots/step_N
    think: str = "grounded"  # SFT target's <think>: grounded (the answer's cell) | answer | scan (cells up to it)
    answer: str = "letter"  # SFT target's <answer>: letter | text (the option's text)
    threads: int = 2
    tiny: dict = field(default_factory=dict)  # TinyConfig overrides


THINK_STYLES = ("grounded", "answer", "scan", "eliminate", "check")
# eliminate, check: classes at least this close in the closeness table form one look-alike group (ClosenessTable.groups)
LOOKALIKE_GROUP = 0.7
ANSWER_FORMS = ("letter", "text")
SCAN_RESPONSE_TOKENS = 128  # a scan target is at most about 80 tokens: the evaluation's budget when think == "scan"
RESPONSE_TOKENS = {
    "scan": SCAN_RESPONSE_TOKENS,
    "eliminate": 160,
    "check": 160,
}  # the evaluation's budget per think style


def scan_text(scene: dict, upto: str) -> str:
    """The anatomy cells of a scene graph in reading order up to and including grid position ``upto``:
    "The top-left is Liver. The top-middle is Gut. ..."."""
    from anatomy_r1_verl.synthetic.questions import POS_PHRASE
    from anatomy_r1_verl.synthetic.scene import POSITIONS

    cls = {o["pos"]: o["class"] for o in scene["objects"] if o["kind"] == "anatomy"}
    cells = POSITIONS[: POSITIONS.index(upto) + 1]
    missing = [p for p in cells if p not in cls]
    if missing:
        raise ValueError(f"scene {scene.get('frame_id', '?')}: no anatomy region at {missing}")
    return " ".join(f"The {POS_PHRASE[p]} is {cls[p]}." for p in cells)


@functools.lru_cache(maxsize=1)
def lookalike_groups() -> tuple[tuple[str, ...], ...]:
    """The closeness table's look-alike groups at :data:`LOOKALIKE_GROUP`, read once (every SFT step writes 32
    targets)."""
    from anatomy_r1_verl.ascl.difficulty import DEFAULT_TABLE, ClosenessTable

    return tuple(tuple(g) for g in ClosenessTable(DEFAULT_TABLE).groups(LOOKALIKE_GROUP))


def _asked_cell(scene: dict, upto: str, answer: str) -> tuple[list[str], str, tuple[str, ...]]:
    """The scan of the cells before ``upto``, the asked cell's phrase and the answer's look-alike group."""
    from anatomy_r1_verl.ascl.difficulty import normalize
    from anatomy_r1_verl.synthetic.questions import POS_PHRASE
    from anatomy_r1_verl.synthetic.scene import POSITIONS

    group = next(g for g in lookalike_groups() if normalize(answer) in map(normalize, g))
    before = POSITIONS.index(upto)
    parts = [scan_text(scene, POSITIONS[before - 1])] if before else []
    return parts, f"The {POS_PHRASE[upto]}", group


def eliminate_text(scene: dict, upto: str, answer: str, options: list[str]) -> str:
    """The scan of the cells before ``upto``, then the asked cell read in two steps: its look-alike group (what a
    coarse look tells apart), the group's classes the options list, and the class. With one group member listed
    the options settle the answer; with two or more the fine cues must. So a model that half-sees the fine cues
    goes wrong where the options list a look-alike of the answer, which is what S(q) measures:
    "... The top-middle is Liver, Gallbladder or Cystic Plate. Listed: Gallbladder, Liver. The top-middle is
    Gallbladder."."""
    from anatomy_r1_verl.ascl.difficulty import normalize

    parts, cell, group = _asked_cell(scene, upto, answer)
    if len(group) > 1:
        members = {normalize(g) for g in group}
        listed = [o for o in options if normalize(o) in members]
        parts.append(f"{cell} is {', '.join(group[:-1])} or {group[-1]}. Listed: {', '.join(listed)}.")
    parts.append(f"{cell} is {answer}.")
    return " ".join(parts)


def check_text(scene: dict, upto: str, answer: str, options: list[str]) -> str:
    """As :func:`eliminate_text`, but the options are read one group member at a time, in the table's order:
    each step asks whether one class is among the options, a yes/no look-up, where eliminate's "Listed: ..."
    has the model write the listed members in the options' order:
    "... The top-middle is Liver, Gallbladder or Cystic Plate. Liver: listed. Gallbladder: listed. Cystic
    Plate: not listed. The top-middle is Gallbladder."."""
    from anatomy_r1_verl.ascl.difficulty import normalize
    from reward_fns.option_checks import option_check_text

    parts, cell, group = _asked_cell(scene, upto, answer)
    if len(group) > 1:
        listed = {normalize(o) for o in options}
        parts.append(f"{cell} is {', '.join(group[:-1])} or {group[-1]}.")
        parts += [option_check_text(g, normalize(g) in listed) for g in group]
    parts.append(f"{cell} is {answer}.")
    return " ".join(parts)


# the think styles written from the scene graph (cells in reading order), and those that also read the options
SCENE_STYLES = ("scan", "eliminate", "check")
OPTION_READERS = {"eliminate": eliminate_text, "check": check_text}


def check_target_style(think: str, answer_form: str) -> None:
    """The one check of the SFT target's ``--think`` and ``--answer`` values."""
    if think not in THINK_STYLES:
        raise ValueError(f"--think must be one of {THINK_STYLES} (the warm-start think style), got {think!r}")
    if answer_form not in ANSWER_FORMS:
        raise ValueError(f"--answer must be one of {ANSWER_FORMS} (the warm-start answer form), got {answer_form!r}")


def target_response(extra: dict, think: str = "grounded", answer_form: str = "letter") -> str:
    """The SFT target of a synthetic row: ``<think>`` naming the answer's grid cell, then the letter (or the
    option's text: ``answer_form="text"``).

    ``think="grounded"`` (default): "The {cell} is {answer}." for every family, the cell found by
    executing the row's question program on its scene graph, so every example trains the same
    visual look-up (cell -> anatomy). ``think="answer"``: the first shipped model's target (the cell
    for zero-hop questions only, "The answer is {answer}." otherwise). ``think="scan"``: the cells in
    reading order up to and including the answer's cell (:func:`scan_text`)."""
    from anatomy_r1_verl.schema import row_meta
    from anatomy_r1_verl.synthetic.questions import POS_PHRASE, answer_positions

    answer, letter = extra["answer"], extra["answer_letter"]
    meta = row_meta({"extra_info": extra})
    program, scene = meta.get("program", {}), meta.get("scene")
    check_target_style(think, answer_form)
    if think in SCENE_STYLES and not (program and scene):
        raise ValueError(
            f"row {extra.get('id', '?')}: --think {think} needs the synthetic generator's scene graph "
            "and question program in extra_info.meta"
        )
    if program.get("family") == "zero_hop":
        pos = program["pos"]
    elif think in ("grounded", *SCENE_STYLES) and program and scene:
        pos = answer_positions(program, scene)[0]
    else:
        pos = None
    body = f"The {POS_PHRASE.get(pos, pos)} is {answer}." if pos else f"The answer is {answer}."
    if think == "scan":
        body = scan_text(scene, pos)
    elif think in OPTION_READERS:
        from reward_fns.mcq import as_options

        body = OPTION_READERS[think](scene, pos, answer, as_options(extra.get("options")))
    return f"<think>{body}</think><answer>{letter if answer_form == 'letter' else answer}</answer>"


def _lr(cfg: WarmstartConfig, step: int) -> float:
    warm = min(1.0, step / max(cfg.warmup, 1))
    cos = 0.5 * (1 + math.cos(math.pi * min(1.0, step / cfg.steps)))
    return cfg.lr * warm * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cos)


def _previous(init: str) -> dict | None:
    """The record of the stage a continued run started from (its warmstart.json)."""
    path = os.path.join(init, "warmstart.json") if init else ""
    if path and os.path.isfile(path):
        with open(path) as f:
            return json.load(f)
    return None


def train(cfg: WarmstartConfig, log=print) -> dict:
    from anatomy_r1_verl.evaluation.evaluate import evaluate
    from anatomy_r1_verl.evaluation.prompts import encode_prompts, load_rows
    from anatomy_r1_verl.tiny.model import TinyConfig, build, save

    check_target_style(cfg.think, cfg.answer)  # before building anything
    torch.set_num_threads(cfg.threads)
    tiny = TinyConfig(seed=cfg.seed, **cfg.tiny)
    meta = {"tiny_config": asdict(tiny), "warmstart": True}  # anatomy_r1_model.json of every saved model
    model, processor = build(tiny)
    if cfg.init:  # a later stage: same architecture and processor, trained weights
        from transformers import AutoModelForImageTextToText

        model = AutoModelForImageTextToText.from_pretrained(cfg.init, dtype=torch.float32)
        log(f"continuing from {cfg.init}")
    os.makedirs(cfg.out_dir, exist_ok=True)
    save(model, processor, cfg.out_dir)  # the processor files, so verl's dataset can load from out_dir
    train_set, processor = load_rows(os.path.join(cfg.data_dir, "train.parquet"), cfg.out_dir)
    val_set, _ = load_rows(os.path.join(cfg.data_dir, "val.parquet"), cfg.out_dir, cfg.eval_rows)
    tok = processor.tokenizer
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0, betas=(0.9, 0.98))
    curve, t0, step, result = [], time.time(), 0, None
    model.train()
    while step < cfg.steps:
        step += 1
        rows = [train_set[rng.randrange(len(train_set))] for _ in range(cfg.batch_size)]
        responses = [target_response(r["extra_info"], cfg.think, cfg.answer) for r in rows]
        enc = encode_prompts(processor, [r["raw_prompt"] for r in rows], responses)
        labels = torch.full_like(enc["input_ids"], -100)
        for i, resp in enumerate(responses):  # left padding: the response is the tail of each row
            n = len(tok(resp + "<|im_end|>")["input_ids"])
            labels[i, -n:] = enc["input_ids"][i, -n:]
        for g in opt.param_groups:
            g["lr"] = _lr(cfg, step)
        loss = model(**enc, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        if step % 25 == 0:
            log(f"step {step} loss {loss.item():.4f} lr {_lr(cfg, step):.2e} t={time.time() - t0:.0f}s")
        if step % cfg.eval_every == 0 or step == cfg.steps:
            result = evaluate(
                model,
                processor,
                val_set,
                progress=False,
                max_new_tokens=RESPONSE_TOKENS.get(cfg.think, 64),
            )
            model.train()
            curve.append(
                {
                    "step": step,
                    "seconds": round(time.time() - t0),
                    "val_acc": result["acc"],
                    "val_format": result["format"],
                    "loss": round(loss.item(), 4),
                }
            )
            log(
                f"step {step} val acc {result['acc']:.3f} format {result['format']:.3f} "
                f"by type {json.dumps({k: round(v, 3) for k, v in result['acc_by_type'].items()})}"
            )
            if cfg.snapshots:
                save(model, processor, os.path.join(cfg.out_dir, "snapshots", f"step_{step}"), meta)
            if cfg.target_acc and result["acc"] >= cfg.target_acc:
                log(f"reached target accuracy {cfg.target_acc} at step {step}")
                break
    info = {
        "warmstart_config": asdict(cfg),
        "previous_stage": _previous(cfg.init),
        "tiny_config": meta["tiny_config"],
        "steps_run": step,
        "train_seconds": round(time.time() - t0),
        "curve": curve,
        "final_eval": result,
        "torch": torch.__version__,
    }
    save(model, processor, cfg.out_dir, meta)
    with open(os.path.join(cfg.out_dir, "warmstart.json"), "w") as f:
        json.dump(info, f, indent=2, sort_keys=True)
    return info


def main(argv: list[str] | None = None) -> int:
    d = WarmstartConfig(data_dir="", out_dir="")
    p = argparse.ArgumentParser(
        prog="anatomy-r1 warmstart", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", required=True, help="synthetic benchmark folder (train.parquet, val.parquet)")
    p.add_argument("--out", required=True, help="model folder to write")
    for name in (
        "steps",
        "batch_size",
        "lr",
        "warmup",
        "seed",
        "eval_every",
        "eval_rows",
        "target_acc",
        "threads",
        "init",
        "think",
        "answer",
        "min_lr_ratio",
    ):
        p.add_argument(f"--{name.replace('_', '-')}", type=type(getattr(d, name)), default=getattr(d, name))
    p.add_argument("--snapshots", action="store_true", help="save the model at every evaluation too")
    p.add_argument("--tiny", type=json.loads, default={}, help="TinyConfig overrides as JSON")
    a = vars(p.parse_args(argv))
    cfg = WarmstartConfig(data_dir=a.pop("data"), out_dir=a.pop("out"), **a)
    os.makedirs(cfg.out_dir, exist_ok=True)
    with open(os.path.join(cfg.out_dir, "warmstart.log"), "w") as logf:

        def log(msg):
            print(msg, flush=True)
            logf.write(msg + "\n")
            logf.flush()

        info = train(cfg, log)
        log(f"done: {info['steps_run']} steps in {info['train_seconds']} s, val acc {info['final_eval']['acc']:.3f}")
    return 0
