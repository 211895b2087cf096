"""The simulated annotator (label noise between similar anatomy) and the headroom probe's arithmetic."""

import math
import os

import numpy as np
import pyarrow.parquet as pq
import pytest

from anatomy_r1_verl.evaluation import headroom
from anatomy_r1_verl.schema import row_meta
from anatomy_r1_verl.synthetic.annotator import AnnotatorConfig, annotate, closest_pairs
from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate
from anatomy_r1_verl.synthetic.questions import execute
from anatomy_r1_verl.synthetic.scene import sample_layout
from data_prep.synthetic import main as prepare_main

PAIRS = {"Gallbladder": "Cystic Plate", "Cystic Plate": "Gallbladder", "Gut": "Omentum", "Omentum": "Gut"}


def test_default_pairs_are_the_closest_disjoint_pairs_of_asc_l_table():
    # anatomy_similarity.yaml: Gallbladder~Cystic Plate 0.9, then Gut~Omentum 0.7 (Liver~Gallbladder 0.7 shares
    # Gallbladder with the first pair)
    assert closest_pairs() == (("Gallbladder", "Cystic Plate"), ("Gut", "Omentum"))
    assert AnnotatorConfig(rate=0.5).partner() == PAIRS


def test_annotate_swaps_only_confused_classes_and_keeps_what_the_frame_shows():
    scene = sample_layout(np.random.default_rng(0))
    every = annotate(scene, AnnotatorConfig(rate=1.0), np.random.default_rng(1))
    none = annotate(scene, AnnotatorConfig(rate=0.0), np.random.default_rng(1))
    swapped = 0
    for before, after, kept in zip(scene["objects"], every["objects"], none["objects"]):
        assert kept["class"] == before["class"] and "true_class" not in kept
        assert (after["pos"], after["colour"], after["kind"]) == (before["pos"], before["colour"], before["kind"])
        if before["kind"] == "anatomy" and before["class"] in PAIRS:
            assert after["class"] == PAIRS[before["class"]] and after["true_class"] == before["class"]
            swapped += 1
        else:
            assert after["class"] == before["class"] and "true_class" not in after
    assert every["annotator"]["relabelled"] == swapped > 0
    assert every["relations"] == scene["relations"]


def test_annotate_rate_is_the_swap_frequency():
    rng = np.random.default_rng(0)
    confused = swapped = 0
    for _ in range(300):
        scene = annotate(sample_layout(rng), AnnotatorConfig(rate=0.7), rng)
        for o in scene["objects"]:
            if o["kind"] == "anatomy" and (o.get("true_class") or o["class"]) in PAIRS:
                confused += 1
                swapped += "true_class" in o
    assert confused > 1000
    assert abs(swapped / confused - 0.7) < 4 * math.sqrt(0.21 / confused)


@pytest.mark.parametrize(
    "bad",
    [
        dict(rate=1.5),
        dict(rate=0.5, pairs=[["Gut", "Gut"]]),
        dict(rate=0.5, pairs=[["Gut", "Spleen"]]),
        dict(rate=0.5, pairs=[["Gut", "Omentum"], ["Gut", "Liver"]]),
    ],
)
def test_bad_annotator_settings_are_refused(bad):
    with pytest.raises(ValueError, match="annotator"):
        AnnotatorConfig(**bad).validate()


def test_annotated_benchmark_shows_true_frames_and_asks_on_the_annotators_labels(tmp_path):
    small = dict(train=24, val=0, test=0, questions_per_frame=4, seed=5)
    generate(SyntheticConfig(out_dir=str(tmp_path / "clean"), **small), progress=False)
    prepare_main(
        [
            "--out",
            str(tmp_path / "noisy"),
            "--seed",
            "5",
            "--train",
            "24",
            "--val",
            "0",
            "--test",
            "0",
            "--annotator-rate",
            "1",
            "--no-progress",
        ]
    )
    for f in sorted(os.listdir(tmp_path / "clean" / "images" / "train")):  # same frames, byte for byte
        assert (tmp_path / "clean/images/train" / f).read_bytes() == (tmp_path / "noisy/images/train" / f).read_bytes()
    rows = pq.read_table(tmp_path / "noisy" / "train.parquet").to_pylist()
    assert len(rows) == 24
    relabelled_answers = 0
    for row in rows:
        meta = row_meta(row)
        scene, program = meta["scene"], meta["program"]
        assert scene["annotator"]["rate"] == 1.0
        assert execute(program, scene) == [row["extra_info"]["answer"]]  # answered on the annotated graph
        truth = {**scene, "objects": [{**o, "class": o.get("true_class", o["class"])} for o in scene["objects"]]}
        true_answers = execute(program, truth)
        if true_answers != [row["extra_info"]["answer"]]:
            relabelled_answers += 1
            assert (true_answers and PAIRS.get(true_answers[0]) == row["extra_info"]["answer"]) or len(
                true_answers
            ) != 1
    assert relabelled_answers > 0


def _records(rows):
    """rows: (greedy acc, [sampled accs], family, class) -> (greedy records, sampled records)."""
    greedy, sampled = [], []
    for i, (g, samples, fam, cls) in enumerate(rows):
        base = {"file": "f", "row": i, "question_type": fam, "answer_class": cls}
        greedy.append({**base, "acc": g})
        sampled += [{**base, "acc": a, "sample": k} for k, a in enumerate(samples)]
    return greedy, sampled


def test_headroom_summary_on_known_questions():
    g, s = _records(
        [
            (1.0, [1, 1, 0, 0], "zero_hop", "Gut"),  # right greedily, p 0.5
            (0.0, [1, 1, 1, 0], "zero_hop", "Gut"),  # wrong greedily, p 0.75: sharpenable
            (0.0, [1, 0, 0, 0], "one_hop", "Liver"),  # wrong, p 0.25: reachable only
            (0.0, [0, 0, 0, 0], "one_hop", "Liver"),
        ]
    )  # wrong, never right
    out = headroom.summarize(g, s)
    o = out["overall"]
    assert out["samples"] == 4 and o["n"] == 4
    assert o["greedy"] == 0.25 and o["mean@4"] == pytest.approx(1.5 / 4) and o["pass@4"] == 0.75
    assert o["p_right_if_greedy_wrong"] == pytest.approx((0.75 + 0.25 + 0) / 3)
    assert o["p_right_if_greedy_right"] == 0.5
    assert o["sharpenable"] == 0.25 and o["reachable"] == 0.5
    assert o["p_hist"] == [1, 1, 1, 1, 0]
    assert o["greedy_se"] == pytest.approx(math.sqrt(0.25 * 0.75 / 4))
    assert out["by"]["question_type"]["zero_hop"]["sharpenable"] == 0.5
    assert out["by"]["answer_class"]["Liver"]["pass@4"] == 0.5
    assert "overall" in headroom.format_table(out)


def test_headroom_refuses_mismatched_records():
    g, s = _records([(1.0, [1, 0], "a", "b"), (0.0, [0, 0], "a", "b")])
    with pytest.raises(ValueError, match="different questions"):
        headroom.summarize(g[:1], s)
    with pytest.raises(ValueError, match="numbers of samples"):
        headroom.summarize(g, s[:3])
