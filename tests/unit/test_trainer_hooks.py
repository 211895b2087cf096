"""The trainer mode's hooks, driven with hand-made step samples (the CPU integration tier runs them in verl)."""

import json
import math

import numpy as np
import pytest

from anatomy_r1_verl.ascl.curriculum import CurriculumConfig
from anatomy_r1_verl.ascl.feedback import CurriculumFeedback
from anatomy_r1_verl.gdqa.metrics import group_rewards, invalid_gradient_metrics
from anatomy_r1_verl.gdqa.selection import GDQAConfig, GDQASelection, gdqa_active
from anatomy_r1_verl.hooks import DrawnBatch, StepSamples
from anatomy_r1_verl.schema import GDQA_ACTIVE, SchemaError
from anatomy_r1_verl.trainer.metrics import RewardMetrics, reward_extra_metrics


def samples(groups):
    """StepSamples from ``[(uid, extra_info, [(score, acc), ...]), ...]``: one sample per rollout."""
    keys, fields, infos = [], [], []
    for uid, info, rollouts in groups:
        for s, (score, acc) in enumerate(rollouts):
            keys.append(f"{uid}_{s}_{len(keys)}")
            fields.append({"reward_extra_info": {"score": score, "acc": acc, "format": 1.0, "errors": 0.0}})
            infos.append(info)
    return StepSamples(keys=keys, extra_fields=fields, extra_info=infos)


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
    fields = [
        {"reward_extra_info": {"acc": 1.0, "format": 1.0, "note": "x"}},
        {"reward_extra_info": {"acc": 0.0, "format": 1.0, "note": "y"}},
        {},
    ]
    assert reward_extra_metrics(fields) == {"reward/acc/mean": 0.5, "reward/format/mean": 1.0}


def test_reward_errors_are_logged_as_the_steps_total():
    s = samples([("u1", {"id": "r1"}, [(1.0, 1.0), (0.0, 0.0)])])
    s.extra_fields[0]["reward_extra_info"]["errors"] = 2.0
    m = RewardMetrics().on_step(s)
    assert m["reward/errors"] == 2.0 and m["reward/errors/mean"] == 1.0


def test_gdqa_selection_rule():
    assert gdqa_active("static", None) and gdqa_active("static", False)
    assert not gdqa_active("online", None) and not gdqa_active("online", False)
    assert gdqa_active("online", True)


def test_gdqa_config_rejects_unknown_selection():
    assert GDQAConfig(enable=True).select == "static"
    with pytest.raises(ValueError, match="anatomy_r1.gdqa.select"):
        GDQAConfig(enable=True, select="both")


def test_online_gdqa_hook_marks_the_rows_whose_last_group_had_no_spread():
    hook = GDQASelection(GDQAConfig(enable=True, select="online"))
    step = samples(
        [
            ("u1", {"id": "flat", "answer": "Liver"}, [(1.0, 1.0), (1.0, 1.0)]),
            ("u2", {"id": "spread", "answer": "Gut"}, [(1.0, 1.0), (0.0, 0.0)]),
        ]
    )
    m = hook.on_step(step)
    assert m == {
        "gdqa/invalid_gradient_ratio": 0.5,
        "gdqa/invalid_gradient_ratio/Gut": 0.0,
        "gdqa/invalid_gradient_ratio/Liver": 1.0,
    }
    rows = [{"id": "flat"}, {"id": "spread"}, {"id": "never-drawn"}]
    hook.on_draw(DrawnBatch(step=2, rows=rows))
    assert [r[GDQA_ACTIVE] for r in rows] == [True, False, False]
    restored = GDQASelection(GDQAConfig(enable=True, select="online"))
    restored.load_state_dict(json.loads(json.dumps(hook.state_dict())))  # saved as JSON with the checkpoint
    assert restored.invalid == {"flat": True, "spread": False}
    off = [{"id": "flat"}]
    GDQASelection(GDQAConfig(enable=False)).on_draw(DrawnBatch(step=2, rows=off))
    assert GDQA_ACTIVE not in off[0]


def two_files():
    """Two train files concatenated by verl, both numbered from 0, with distinct ids."""
    return [{"index": i % 4, "id": f"{'ab'[i // 4]}{i % 4}", "s_q": 0.1 * i} for i in range(8)]


def test_adaptive_feedback_lands_on_the_row_that_was_answered_with_two_train_files():
    rows = two_files()
    cfg = CurriculumConfig(enable=True, mode="adaptive", c0=1.0)
    hook = CurriculumFeedback.from_dataset(cfg, None, rows, batch_size=4, total_steps=10)
    hook.on_step(
        samples(
            [
                ("u1", rows[5], [(1.0, 1.0), (1.0, 1.0)]),  # b1 answered right twice
                ("u2", rows[0], [(0.0, 0.0), (1.0, 1.0)]),
            ]
        )
    )  # a0 half right
    acc = hook.sampler().acc
    assert acc[5] == 1.0 and acc[0] == 0.5
    assert np.isnan(acc[[1, 2, 3, 4, 6, 7]]).all()  # index 1 of file a got nothing of b1's feedback


def test_adaptive_curriculum_refuses_rows_that_share_an_identity():
    rows = [{"index": i % 4, "s_q": 0.1 * i} for i in range(8)]  # two files numbered from 0, no ids
    cfg = CurriculumConfig(enable=True, mode="adaptive")
    with pytest.raises(SchemaError, match=r"rows 0 and 4 share the identity 0"):
        CurriculumFeedback.from_dataset(cfg, None, rows, batch_size=4, total_steps=10)
    static = CurriculumFeedback.from_dataset(CurriculumConfig(enable=True), None, rows, batch_size=4, total_steps=10)
    assert len(static.sampler()) == 8  # static order needs no identity


def test_curriculum_hook_metrics_follow_the_draw():
    rows = two_files()
    cfg = CurriculumConfig(enable=True, c0=0.5, ramp=4, pacing="linear")
    hook = CurriculumFeedback.from_dataset(cfg, None, rows, batch_size=2, total_steps=8)
    it = iter(hook.sampler())
    drawn = [rows[next(it)] for _ in range(2)]
    hook.on_draw(DrawnBatch(step=1, rows=drawn))
    m = hook.on_step(samples([("u1", drawn[0], [(1.0, 1.0)]), ("u2", drawn[1], [(0.0, 0.0)])]))
    assert m["curriculum/competence"] == 0.5 and m["curriculum/pool_size"] == 4.0
    assert m["curriculum/batch_mean_s_q"] == pytest.approx(np.mean([d["s_q"] for d in drawn]))
    assert all(d["s_q"] < 0.4 for d in drawn)  # only the easiest half may be drawn at t=0
    by_bucket = {}
    for d, acc in zip(drawn, (1.0, 0.0)):
        lo = math.floor(round(d["s_q"] / 0.2, 9)) * 0.2
        by_bucket.setdefault(f"curriculum/acc_s_q_{lo:.1f}-{lo + 0.2:.1f}", []).append(acc)
    assert {k: v for k, v in m.items() if "acc_s_q" in k} == {k: np.mean(v) for k, v in by_bucket.items()}


def test_method_state_round_trips_next_to_verls_checkpoint(tmp_path):
    import json

    from anatomy_r1_verl.trainer.state import METHOD_STATE_FILE, read_method_state, write_method_state

    folder = tmp_path / "global_step_3"
    assert read_method_state(str(folder)) is None  # an older checkpoint: no file
    gdqa = GDQASelection(GDQAConfig(enable=True, select="online"))
    gdqa.invalid = {"ssg-VID01-000010-q2": True, 17: False, "row-b": True}
    path = write_method_state(str(folder), {"gdqa": gdqa.state_dict(), "curriculum": {}})
    assert path.endswith(METHOD_STATE_FILE) and not (folder / (METHOD_STATE_FILE + ".tmp")).exists()
    saved = read_method_state(str(folder))
    assert saved["curriculum"] == {}
    restored = GDQASelection(GDQAConfig(enable=True, select="online"))
    restored.load_state_dict(saved["gdqa"])
    assert restored.invalid == gdqa.invalid  # int and str row keys both survive JSON
    # a checkpoint of the previous format (one GDQA memory) still resumes
    (folder / METHOD_STATE_FILE).write_text(json.dumps({"version": 1, "gdqa_invalid": [["row-b", True], [3, False]]}))
    restored.load_state_dict(read_method_state(str(folder))["gdqa"])
    assert restored.invalid == {"row-b": True, 3: False}
    (folder / METHOD_STATE_FILE).write_text(json.dumps({"version": 9, "hooks": {}}))
    with pytest.raises(ValueError, match="version 9"):
        read_method_state(str(folder))
