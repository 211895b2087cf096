"""The shipped warm-started tiny Qwen2.5-VL and the synthetic rows, through verl's own dataset class."""

import json
import os

import pytest

from anatomy_r1_verl.tiny.assets import DEFAULT_MODEL, asset_path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate

    out = tmp_path_factory.mktemp("synthetic")
    generate(SyntheticConfig(out_dir=str(out), seed=1, train=8, val=24, test=4), progress=False)
    return out


def test_shipped_model_has_its_training_record():
    d = asset_path(DEFAULT_MODEL)
    info = json.load(open(os.path.join(d, "warmstart.json")))
    assert info["steps_run"] > 0 and 0.25 < info["final_eval"]["acc"] < 0.9
    assert os.path.isfile(os.path.join(d, "warmstart.log"))
    assert os.path.getsize(os.path.join(d, "model.safetensors")) < 8 << 20


def test_synthetic_rows_load_through_verl_rlhfdataset_with_images(data):
    from anatomy_r1_verl.evaluation.prompts import encode_prompts, load_rows

    ds, proc = load_rows(str(data / "val.parquet"), asset_path(DEFAULT_MODEL))
    assert len(ds) == 24
    row = ds[0]
    kinds = [c["type"] for c in row["raw_prompt"][0]["content"]]
    assert kinds[0] == "image" and "text" in kinds
    enc = encode_prompts(proc, [row["raw_prompt"]])
    assert enc["pixel_values"].shape[0] == 36 and enc["image_grid_thw"].tolist() == [[1, 6, 6]]


def test_shipped_model_loads_offline_and_answers_in_format(data):
    from anatomy_r1_verl.evaluation.evaluate import evaluate_dir

    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    result = evaluate_dir(asset_path(DEFAULT_MODEL), str(data / "val.parquet"), batch_size=24)
    assert result["n"] == 24
    assert result["format"] >= 0.9, result["samples"]
    assert result["samples"][0].startswith("<think>") and "</answer>" in result["samples"][0]


def test_headroom_measure_keeps_the_response_budget(tmp_path):
    """A scan <think> is longer than the default 64 tokens: the probe's budget reaches both generations. (Here, not
    in test_annotator.py: torch's thread pool in the pytest process must not precede the fork in
    test_data_prep_real.py's RLHFDataset filter, which then hangs.)"""
    from anatomy_r1_verl.evaluation import headroom
    from anatomy_r1_verl.evaluation.evaluate import load_model
    from anatomy_r1_verl.evaluation.prompts import load_rows
    from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate

    generate(SyntheticConfig(out_dir=str(tmp_path), seed=2, train=0, val=2, test=0), progress=False)
    model_dir = asset_path(DEFAULT_MODEL)
    ds, proc = load_rows(str(tmp_path / "val.parquet"), model_dir)
    model = load_model(model_dir)
    summary, greedy, sampled = headroom.measure(
        model, proc, ds, samples=2, batch_size=4, progress=False, max_new_tokens=3
    )
    assert len(greedy) == 2 and len(sampled) == 4 and summary["overall"]["n"] == 2
    for rec in greedy + sampled:  # 3 tokens cannot hold <think>..</think><answer>X</answer>
        assert len(proc.tokenizer(rec["response"])["input_ids"]) <= 3 and rec["format"] == 0
    _, full, _ = headroom.measure(model, proc, ds, samples=1, temperature=1.0, progress=False)
    assert all(rec["format"] == 1 for rec in full)  # the shipped model's answers fit the default budget


# ---------------------------------------------------------------- the RL benchmark's warm start (issue 15)

HEADROOM_MODEL = "tiny-qwen25vl-annotated"


def test_headroom_model_has_its_training_record():
    d = asset_path(HEADROOM_MODEL)
    info = json.load(open(os.path.join(d, "warmstart.json")))
    cfg = info["warmstart_config"]
    assert cfg["think"] == "scan" and cfg["answer"] == "text" and info["steps_run"] == cfg["steps"]
    previous = info["previous_stage"]  # stage 4 (true labels), itself continued from the default model
    assert previous["warmstart_config"]["think"] == "scan" and previous["steps_run"] > 0
    assert os.path.isfile(os.path.join(d, "warmstart-stage4.log"))
    assert os.path.getsize(os.path.join(d, "model.safetensors")) < 8 << 20


def test_headroom_model_scans_the_grid_and_answers_with_an_option(tmp_path):
    import re

    from anatomy_r1_verl.evaluation.evaluate import load_model, response_records
    from anatomy_r1_verl.evaluation.generate import GenerationConfig
    from anatomy_r1_verl.evaluation.prompts import load_rows
    from anatomy_r1_verl.schema import ANATOMY_CLASSES
    from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate
    from anatomy_r1_verl.tiny.warmstart import SCAN_RESPONSE_TOKENS

    generate(
        SyntheticConfig(out_dir=str(tmp_path), seed=1, train=0, val=24, test=0, image_position="last"), progress=False
    )
    d = asset_path(HEADROOM_MODEL)
    ds, proc = load_rows(str(tmp_path / "val.parquet"), d)
    recs = response_records(
        load_model(d), proc, ds, GenerationConfig(max_new_tokens=SCAN_RESPONSE_TOKENS), progress=False
    )
    assert len(recs) == 24 and sum(r["format"] for r in recs) >= 22
    for rec in (r for r in recs if r["format"]):
        m = re.fullmatch(r"<think>(The top-left is .+)</think><answer>(.+)</answer>", rec["response"])
        assert m, rec["response"]
        # a class name, not a letter (the class it scanned last; when that is not among the options, reward 0)
        assert m.group(2) in ANATOMY_CLASSES and m.group(1).endswith(f" is {m.group(2)}."), rec["response"]
