"""``anatomy-r1 demo``'s data: made when missing, made again when the recipe asks for other settings, refused
when a folder holds parquet files the demo cannot account for."""

import json
import os

import pyarrow.parquet as pq
import pytest

from anatomy_r1_verl.commands.demo import ensure_assets
from anatomy_r1_verl.launch.compose import RecipeError, compose


def _cfg(tmp_path, *extra, recipe="demo_cpu"):
    return compose(
        recipe,
        [
            f"anatomy_r1.output_dir={tmp_path}",
            "anatomy_r1.demo.questions.train=8",
            "anatomy_r1.demo.questions.val=4",
            "anatomy_r1.demo.questions.test=0",
            *extra,
        ],
    )


def _manifest(cfg):
    with open(os.path.join(cfg.anatomy_r1.demo.data_dir, "manifest.json")) as fh:
        return json.load(fh)["config"]


def test_demo_data_follows_the_recipe(tmp_path, capsys):
    cfg = _cfg(tmp_path)
    assert cfg.actor_rollout_ref.model.path.endswith("tiny-qwen25vl-lookalike-check")  # it reads the image last
    ensure_assets(cfg)
    assert "(missing)" in capsys.readouterr().out
    made = _manifest(cfg)
    assert (made["image_position"], made["seed"], made["look"], made["options"]) == ("last", 1, "lookalike", "spread")
    assert made["family_weights"] == {"zero_hop": 1.0, "one_hop": 0.0, "attribute_relation": 0.0, "single_and": 0.0}
    val = pq.read_table(os.path.join(cfg.anatomy_r1.demo.data_dir, "val.parquet")).to_pylist()
    assert len(val) == 4 and all(r["prompt"][0]["content"].endswith("<image>") for r in val)
    stamp = os.path.getmtime(os.path.join(cfg.anatomy_r1.demo.data_dir, "train.parquet"))
    ensure_assets(cfg)  # what the recipe asks for is there: kept
    assert capsys.readouterr().out == ""
    assert os.path.getmtime(os.path.join(cfg.anatomy_r1.demo.data_dir, "train.parquet")) == stamp

    # an earlier demo's data (image first, as before the annotated model), or other counts: made again
    first = _cfg(tmp_path, "anatomy_r1.demo.image_position=first", "anatomy_r1.demo.questions.val=6")
    ensure_assets(first)
    out = capsys.readouterr().out
    assert "made with other settings (val 4 -> 6, image_position last -> first)" in out, out
    assert _manifest(first)["image_position"] == "first"
    assert pq.read_table(os.path.join(cfg.anatomy_r1.demo.data_dir, "val.parquet")).num_rows == 6
    ensure_assets(cfg)
    assert "image_position first -> last" in capsys.readouterr().out


def test_demo_data_without_a_manifest_is_refused(tmp_path):
    cfg = _cfg(tmp_path)
    ensure_assets(cfg)
    os.remove(os.path.join(cfg.anatomy_r1.demo.data_dir, "manifest.json"))
    with pytest.raises(RecipeError, match="no manifest.json.*anatomy_r1.demo.data_dir"):
        ensure_assets(cfg)


def test_the_classic_demo_keeps_its_own_model_data_and_run(tmp_path):
    """``anatomy-r1 demo --classic``: the annotated model on the classic frames, in folders of its own, so that
    switching between the two demos does not remake either's questions."""
    classic, lookalike = _cfg(tmp_path, recipe="demo_cpu_classic"), _cfg(tmp_path)
    assert classic.actor_rollout_ref.model.path.endswith("tiny-qwen25vl-annotated")
    assert (classic.anatomy_r1.demo.look, classic.anatomy_r1.demo.options) == ("classic", "uniform")
    assert classic.anatomy_r1.demo.data_dir != lookalike.anatomy_r1.demo.data_dir
    assert classic.trainer.experiment_name != lookalike.trainer.experiment_name
    assert classic.data.max_response_length == 128 and lookalike.data.max_response_length == 160
