"""Is a look-alike pair's fine cue in the model's features, and does its answer use it? Linear probes per pair.

    # a split nothing is tuned on (seed 9), its questions that list a look-alike pair with the answer in it,
    # and the model's own greedy answers to them
    anatomy-r1 prepare synthetic --lookalike --out D --seed 9 --train 3000 --val 8 --test 8 --image-position last
    .venv/bin/python benchmarks/probe_lookalike_features.py MODEL D/train.parquet --out OUT
        [--max-new-tokens 160] [--batch-size 32]

For each look-alike pair of the closeness table (each class and its closest partner,
:func:`anatomy_r1_verl.evaluation.sensitivity.pairs`) it measures three things as a ROC AUC, and as the d' that
AUC means under equal-variance Gaussians (sqrt(2) * z(AUC)):

- **the eye**: a logistic-regression probe on the vision tower's output token of one cell (an 84-pixel frame
  gives a 3 x 3 grid of merged tokens, one per cell), over every cell of every frame that shows either class.
  This is what the language model can be given about the cell;
- **the decision point**: a probe on each layer's hidden state at the last token before the model names the
  asked cell's class in its own `<think>` (its own think, teacher-forced up to "The <cell> is");
- **the readout**: the model's own logit of the first class's name minus the second's at that point. This is
  what its answer uses.

Probes are scikit-learn's (standardised features, L2 logistic regression with C = 0.1, decision values by 5-fold
stratified cross-validation, so a probe is scored only on cells or questions it was not fit on). When the eye is
well above the readout, the cue is there and the answer does not use it. Reinforcement learning then has
something to sharpen. When the eye is at the readout, there is nothing to sharpen without new perception.
Writes ``OUT/probe.json`` and ``OUT/probe.md``; the greedy answers in ``OUT/eval`` (reused when present).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

C = 0.1
FOLDS = 5


def auc_d_prime(y, scores) -> tuple[float, float]:
    import numpy as np
    from scipy import stats
    from sklearn.metrics import roc_auc_score

    auc = float(roc_auc_score(y, scores))
    return auc, float(np.sqrt(2) * stats.norm.ppf(min(max(auc, 1e-4), 1 - 1e-4)))


def probe(x, y) -> tuple[float, float]:
    """Cross-validated AUC (and its d') of a linear probe of ``y`` on ``x``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=3000))
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0)
    return auc_d_prime(y, cross_val_predict(clf, x, y, cv=folds, method="decision_function"))


def pair_of(extra: dict, pairs: list[tuple[str, str]]) -> tuple[str, str] | None:
    return next((p for p in pairs if extra["answer"] in p and set(p) <= set(extra["options"])), None)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a Hugging Face model folder")
    p.add_argument("parquet", help="look-alike questions (`anatomy-r1 prepare synthetic --lookalike`)")
    p.add_argument("--out", required=True)
    p.add_argument("--max-new-tokens", type=int, default=160)
    p.add_argument("--batch-size", type=int, default=32)
    a = p.parse_args(argv)

    from anatomy_r1_verl.patches import torchvision_ops

    torchvision_ops.apply()  # before transformers imports torchvision
    import numpy as np
    import pyarrow.parquet as pq
    import torch
    from qwen_vl_utils import process_vision_info
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    from anatomy_r1_verl.ascl.difficulty import DEFAULT_TABLE, ClosenessTable
    from anatomy_r1_verl.evaluation import prompts
    from anatomy_r1_verl.evaluation.evaluate import run_eval
    from anatomy_r1_verl.evaluation.generate import GenerationConfig
    from anatomy_r1_verl.evaluation.results import read_responses
    from anatomy_r1_verl.evaluation.sensitivity import pairs as look_alike_pairs
    from anatomy_r1_verl.synthetic.scene import POSITIONS

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    table = ClosenessTable(DEFAULT_TABLE)
    pairs = look_alike_pairs(table)
    source = pq.read_table(a.parquet)
    keep = [i for i, r in enumerate(source.column("extra_info").to_pylist()) if pair_of(r, pairs)]
    if not keep:
        print(f"{a.parquet}: no question lists both classes of a look-alike pair", file=sys.stderr)
        return 2
    pair_file = out / "pair_questions.parquet"
    pq.write_table(source.take(keep), pair_file)
    rows = pq.read_table(pair_file).to_pylist()
    print(f"[probe] {len(rows)} of {source.num_rows} questions list a look-alike pair with the answer in it")
    if not (out / "eval" / "metrics.json").is_file():
        run_eval(a.model, [str(pair_file)], str(out / "eval"), cfg=GenerationConfig(max_new_tokens=a.max_new_tokens))
    responses = {r["row"]: r for r in read_responses(out / "eval")}

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(a.model).eval()
    proc = AutoProcessor.from_pretrained(a.model)
    name_token = {c: proc.tokenizer.encode(" " + c, add_special_tokens=False)[0] for c in table.classes}
    dataset, _ = prompts.load_rows(str(pair_file), a.model)

    # the eye: every cell of every frame
    frames: dict[str, tuple[int, list]] = {}
    for i, r in enumerate(rows):
        meta = json.loads(r["extra_info"]["meta"])
        frames.setdefault(meta["frame_id"], (i, meta["scene"]["objects"]))
    cell_x, cell_class = [], []
    with torch.no_grad():
        for i, objects in frames.values():
            images, _ = process_vision_info(dataset[i]["raw_prompt"])
            enc = proc.image_processor(images=images, return_tensors="pt")
            feats = model.get_image_features(pixel_values=enc["pixel_values"], image_grid_thw=enc["image_grid_thw"])
            f = feats.pooler_output if hasattr(feats, "pooler_output") else feats
            f = (f[0] if isinstance(f, (list, tuple)) else f).reshape(-1, model.config.text_config.hidden_size)
            if f.shape[0] != len(POSITIONS):
                raise SystemExit(f"{a.parquet}: a frame gives {f.shape[0]} visual tokens, not one per cell (84 px)")
            at = {o["pos"]: o["class"] for o in objects if o["kind"] == "anatomy"}
            for k, pos in enumerate(POSITIONS):
                if pos in at:
                    cell_x.append(f[k].numpy())
                    cell_class.append(at[pos])
    cell_x, cell_class = np.array(cell_x), np.array(cell_class)

    # the decision point and the readout: the model's own think up to "The <cell> is"
    decisions: dict[tuple[str, str], list] = defaultdict(list)
    batch: list = []

    def forward(batch):
        texts, images = [], []
        for _, messages, prefix, _ in batch:
            texts.append(proc.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + prefix)
            images += list(process_vision_info(messages)[0] or [])
        enc = proc(text=texts, images=images, return_tensors="pt", padding=True)  # left-padded
        with torch.no_grad():
            res = model(**enc, output_hidden_states=True)
        for j, (pair, _, _, y) in enumerate(batch):
            logits = res.logits[j, -1]
            readout = float(logits[name_token[pair[0]]] - logits[name_token[pair[1]]])
            decisions[pair].append((y, [h[j, -1].numpy() for h in res.hidden_states], readout))

    skipped = 0
    for row, r in sorted(responses.items()):
        extra = r["extra_info"]
        pair = pair_of(extra, pairs)
        think = str(r["response"]).split("</think>")[0]
        cut = think.rfind(" is ")
        if cut < 0:
            skipped += 1
            continue
        batch.append((pair, dataset[row]["raw_prompt"], think[: cut + 3], int(extra["answer"] == pair[0])))
        if len(batch) == a.batch_size:
            forward(batch)
            batch = []
    if batch:
        forward(batch)

    results = []
    for first, second in pairs:
        seen = np.isin(cell_class, [first, second])
        found = decisions.get((first, second), [])
        y = np.array([d[0] for d in found])
        if seen.sum() < 2 * FOLDS or len(set(y.tolist())) < 2 or min(np.bincount(y)) < FOLDS:
            continue
        layers = [probe(np.array([d[1][k] for d in found]), y) for k in range(len(found[0][1]))]
        results.append(
            {
                "pair": f"{first} / {second}",
                "cells": int(seen.sum()),
                "eye": probe(cell_x[seen], (cell_class[seen] == first).astype(int)),
                "questions": len(y),
                "decision_layers": layers,
                "readout": auc_d_prime(y, np.array([d[2] for d in found])),
            }
        )
    head = "| pair | eye: AUC (d'), cells | decision point by layer: AUC (d') | readout: AUC (d'), questions |"
    lines = [head, "| --- | --- | --- | --- |"]
    for r in results:
        layers = ", ".join(f"L{k} {x[0]:.3f} ({x[1]:.2f})" for k, x in enumerate(r["decision_layers"]))
        lines.append(
            f"| {r['pair']} | {r['eye'][0]:.3f} ({r['eye'][1]:.2f}), {r['cells']} | {layers} | "
            f"{r['readout'][0]:.3f} ({r['readout'][1]:.2f}), {r['questions']} |"
        )
    md = "\n".join(lines) + "\n"
    if skipped:
        md += f"\n{skipped} responses had no ' is ' in their think and were left out.\n"
    (out / "probe.md").write_text(md)
    (out / "probe.json").write_text(json.dumps({"model": a.model, "parquet": a.parquet, "pairs": results}, indent=1))
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
