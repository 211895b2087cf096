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
