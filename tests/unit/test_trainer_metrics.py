"""The trainer mode's per-step computations, as pure functions (the CPU integration tier runs them in verl)."""

import pytest

from anatomy_r1_verl.trainer import (gdqa_active, gdqa_config, group_rewards, invalid_gradient_metrics,
                                     reward_extra_metrics)


def test_group_rewards_from_transfer_queue_keys():
    keys = ["u-1_0_0", "u-1_1_0", "u-2_0_0", "u-2_1_0", "u-2_2_0"]
    assert group_rewards(keys, [1, 0, 0.5, 0.5, 0.5]) == {"u-1": [1.0, 0.0], "u-2": [0.5, 0.5, 0.5]}


def test_invalid_gradient_metrics_overall_and_per_class():
    groups = {"a": [1, 1, 1], "b": [0, 1, 0], "c": [0, 0, 0], "d": [1, 0, 1]}
    classes = {"a": "Liver", "b": "Liver", "c": "Gut", "d": "Gut"}
    m = invalid_gradient_metrics(groups, classes)
    assert m["gdqa/invalid_gradient_ratio"] == 0.5
    assert m["gdqa/invalid_gradient_ratio/Liver"] == 0.5 and m["gdqa/invalid_gradient_ratio/Gut"] == 0.5


def test_reward_extra_metrics_means_numeric_components_only():
    fields = [{"reward_extra_info": {"acc": 1.0, "format": 1.0, "note": "x"}},
              {"reward_extra_info": {"acc": 0.0, "format": 1.0, "note": "y"}}, {}]
    assert reward_extra_metrics(fields) == {"reward/acc/mean": 0.5, "reward/format/mean": 1.0}


def test_gdqa_selection():
    assert gdqa_active("static", None) and gdqa_active("static", False)
    assert not gdqa_active("online", None) and not gdqa_active("online", False)
    assert gdqa_active("online", True)


def test_gdqa_config_rejects_unknown_selection():
    from omegaconf import OmegaConf

    assert gdqa_config(OmegaConf.create({"anatomy_r1": {"gdqa": {"enable": True}}}))["select"] == "static"
    with pytest.raises(ValueError, match="anatomy_r1.gdqa.select"):
        gdqa_config(OmegaConf.create({"anatomy_r1": {"gdqa": {"enable": True, "select": "both"}}}))


def test_method_state_round_trips_next_to_verls_checkpoint(tmp_path):
    import json

    from anatomy_r1_verl.trainer import METHOD_STATE_FILE, read_method_state, write_method_state

    folder = tmp_path / "global_step_3"
    assert read_method_state(str(folder)) is None  # an older checkpoint: no file
    memory = {"ssg-VID01-000010-q2": True, 17: False, "row-b": True}
    path = write_method_state(str(folder), memory)
    assert path.endswith(METHOD_STATE_FILE) and not (folder / (METHOD_STATE_FILE + ".tmp")).exists()
    assert read_method_state(str(folder)) == {"gdqa_invalid": memory}
    (folder / METHOD_STATE_FILE).write_text(json.dumps({"version": 9, "gdqa_invalid": []}))
    with pytest.raises(ValueError, match="version 9"):
        read_method_state(str(folder))
