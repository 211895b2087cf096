"""``anatomy-r1 demo``'s data: made when missing, made again when the recipe asks for other settings, refused
when a folder holds parquet files the demo cannot account for."""

import json
import os

import pyarrow.parquet as pq
import pytest

from anatomy_r1_verl.commands.demo import ensure_assets
from anatomy_r1_verl.launch.compose import RecipeError, compose


def _cfg(tmp_path, *extra):
    return compose(
        "demo_cpu",
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
    assert cfg.actor_rollout_ref.model.path.endswith("tiny-qwen25vl-annotated")  # it reads the image last
    ensure_assets(cfg)
    assert "(missing)" in capsys.readouterr().out
    assert _manifest(cfg)["image_position"] == "last" and _manifest(cfg)["seed"] == 1
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
