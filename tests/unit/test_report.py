"""`anatomy-r1 report`: the table from eval folders (mean ± sd over seeds, Wilson interval for one seed) and
Figures 1-2 from a run's metrics.jsonl (verl's file-logger format), checked by opening the PNGs."""

import json
import math
import random

import pandas as pd
import pytest
from PIL import Image

from anatomy_r1_verl.commands.report import main
from anatomy_r1_verl.evaluation import results

CLASSES = ["Liver", "Gut", "Omentum"]


def _eval_dir(path, method, seed, correct_every):
    recs = []
    for i in range(30):
        recs.append(
            {
                "benchmark": "synthetic_scene",
                "file": "t.parquet",
                "row": i,
                "answer_class": CLASSES[i % 3],
                "question_type": "zero_hop" if i < 15 else "one_hop",
                "complexity": "",
                "modality": "",
                "acc": float(i % correct_every == 0),
                "format": 1.0,
                "score": 0.0,
            }
        )
    path.mkdir(parents=True)
    results.write_metrics(path, recs, {"method": method, "seed": seed})
    return sum(r["acc"] for r in recs) / 30


def _run_dir(path, steps=25, s_q=True, classes=True, offset=0.0):
    path.mkdir(parents=True)
    rng = random.Random(0)
    with open(path / "metrics.jsonl", "w") as f:
        f.write(json.dumps({"step": 0, "data": {"val-core/synthetic_scene/acc/mean@1": 0.45}}) + "\n")
        for t in range(1, steps + 1):
            d = {"critic/score/mean": 0.8 + offset + 0.02 * t + rng.uniform(-0.05, 0.05), "training/global_step": t}
            if s_q:
                d["curriculum/batch_mean_s_q"] = 0.2 + offset + 0.01 * t
            if classes:
                d["gdqa/invalid_gradient_ratio"] = 0.5
                for c in CLASSES:
                    d[f"gdqa/invalid_gradient_ratio/{c}"] = 0.5 + 0.4 * math.sin(t / 4 + CLASSES.index(c))
            f.write(json.dumps({"step": t, "data": d}) + "\n")
    return path


def test_table_rows_are_methods_with_mean_and_spread_over_seeds(tmp_path, capsys):
    a0 = _eval_dir(tmp_path / "evals" / "grpo" / "seed0", "grpo", 0, 2)
    a1 = _eval_dir(tmp_path / "evals" / "grpo" / "seed1", "grpo", 1, 3)
    b0 = _eval_dir(tmp_path / "evals" / "sft" / "seed0", "sft", 0, 5)
    assert main([str(tmp_path / "evals"), "--out", str(tmp_path / "rep")]) == 0
    md = (tmp_path / "rep" / "table.md").read_text()
    csv = pd.read_csv(tmp_path / "rep" / "table.csv")
    acc = csv[(csv.breakdown == "overall") & (csv.metric == "acc")].set_index("method")
    assert acc.loc["grpo", "mean"] == pytest.approx((a0 + a1) / 2) and acc.loc["grpo", "n_seeds"] == 2
    assert acc.loc["grpo", "spread"] == pytest.approx(abs(a0 - a1) / math.sqrt(2), abs=1e-5)  # rates kept to 6 decimals
    assert acc.loc["sft", "mean"] == pytest.approx(b0) and acc.loc["sft", "lo"] < b0 < acc.loc["sft", "hi"]
    lines = md.splitlines()
    grpo = next(line for line in lines if line.startswith("| grpo |"))
    sft = next(line for line in lines if line.startswith("| sft |"))
    assert f"{100 * (a0 + a1) / 2:.1f} ± {100 * abs(a0 - a1) / math.sqrt(2):.1f}" in grpo
    assert f"{100 * b0:.1f} [" in sft
    assert "acc by answer_class" in md and "Liver (n=10)" in md and "acc by question_type" in md
    per_class = csv[(csv.breakdown == "answer_class") & (csv.metric == "acc")]
    assert set(per_class.group) == set(CLASSES) and set(per_class.method) == {"grpo", "sft"}
    # every seed's own number is printed, not only the mean; a seed a method lacks is a dash
    assert "| method | seed 0 | seed 1 | mean |" in md
    assert f"| grpo | {100 * a0:.1f} | {100 * a1:.1f} | {100 * (a0 + a1) / 2:.1f} |" in md
    assert f"| sft | {100 * b0:.1f} | – | {100 * b0:.1f} |" in md


def test_same_method_and_seed_twice_is_refused(tmp_path, capsys):
    _eval_dir(tmp_path / "a", "grpo", 0, 2)
    _eval_dir(tmp_path / "b", "grpo", 0, 2)
    assert main([str(tmp_path), "--out", str(tmp_path / "rep")]) == 2
    assert "evaluated twice" in capsys.readouterr().err


def _curve_pixels(png, rgb, tol=40):
    img = Image.open(png).convert("RGB")
    return sum(1 for p in img.getdata() if all(abs(a - b) <= tol for a, b in zip(p, rgb)))


def test_figures_are_drawn_from_a_logged_run(tmp_path):
    run_a = _run_dir(tmp_path / "runs" / "grpo")
    run_b = _run_dir(tmp_path / "runs" / "anatomy_r1", offset=0.3)
    assert (
        main(["--no-table", "--runs", str(run_a), str(run_b), "--out", str(tmp_path / "rep"), "--smooth", "0.5"]) == 0
    )
    f1, f2 = tmp_path / "rep" / "figure1.png", tmp_path / "rep" / "figure2.png"
    for png in (f1, f2):
        img = Image.open(png)
        assert img.format == "PNG" and img.size[0] >= 700 and 250 <= img.size[1] <= 400
        assert png.stat().st_size < 200_000
    # matplotlib's first two line colours (C0 blue, C1 orange): both runs' curves were drawn in figure 1,
    # and the classes' curves (C0..C2) in figure 2
    assert _curve_pixels(f1, (31, 119, 180)) > 200 and _curve_pixels(f1, (255, 127, 14)) > 200
    assert all(_curve_pixels(f2, c) > 200 for c in [(31, 119, 180), (255, 127, 14), (44, 160, 44)])
    rows = [line for line in (tmp_path / "rep" / "training.md").read_text().splitlines() if line.startswith("| ")]
    assert rows[2].startswith("| grpo | 0 | 25 |") and rows[3].startswith("| anatomy_r1 | 0 | 25 |")


def test_a_missing_metric_is_a_message_not_an_empty_plot(tmp_path, capsys):
    plain = _run_dir(tmp_path / "runs" / "grpo", s_q=False, classes=False)
    assert main(["--no-table", "--runs", str(plain), "--out", str(tmp_path / "rep")]) == 2
    err = capsys.readouterr()
    assert "has no curriculum/batch_mean_s_q" in err.out
    assert "figure 2: no run has gdqa/invalid_gradient_ratio/<class>" in err.err
    assert not (tmp_path / "rep" / "figure2.png").exists()
    assert Image.open(tmp_path / "rep" / "figure1.png").size[0] < 500  # the reward panel alone
    assert main(["--no-table", "--runs", str(tmp_path / "nowhere"), "--out", str(tmp_path / "rep")]) == 2
    assert "no metrics.jsonl" in capsys.readouterr().err
