"""The one reader of verl's ``metrics.jsonl`` (anatomy_r1_verl/report/runlog.py): records in order, the metrics
of each record, the first and last validation, a bad line named."""

import json

import pytest

from anatomy_r1_verl.report import runlog

RECORDS = [
    {"step": 0, "data": {"val-core/synthetic_scene/acc/mean@1": 0.25, "val-aux/x": 1.0}},
    {"step": 1, "data": {"critic/score/mean": 0.5}},
    {"step": 2, "data": {"critic/score/mean": 0.75, "val-core/synthetic_scene/acc/mean@1": 0.5}},
    {"step": 3, "data": {"critic/score/mean": 0.8}},
]


def _write(path, records, extra=""):
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + extra)
    return path


def test_reads_a_run_folder_or_its_file(tmp_path):
    f = _write(tmp_path / "metrics.jsonl", RECORDS, extra="\n")  # a blank line is skipped
    assert runlog.metrics_path(tmp_path) == f and runlog.metrics_path(f) == f
    assert runlog.read_metrics(tmp_path) == RECORDS == runlog.read_metrics(f)
    assert runlog.read_metrics(tmp_path / "none") == []  # no file yet: nothing logged


def test_records_are_the_metrics_with_their_step(tmp_path):
    _write(tmp_path / "metrics.jsonl", RECORDS)
    recs = runlog.read_records(tmp_path)
    assert [r["step"] for r in recs] == [0, 1, 2, 3]
    assert recs[1] == {"critic/score/mean": 0.5, "step": 1}


def test_first_and_last_validation(tmp_path):
    _write(tmp_path / "metrics.jsonl", RECORDS)
    for records in (runlog.read_metrics(tmp_path), runlog.read_records(tmp_path)):
        assert runlog.final_validation(records) == {"step": 2, "val-core/synthetic_scene/acc/mean@1": 0.5}
        assert runlog.final_validation(records, first=True) == {
            "step": 0,
            "val-core/synthetic_scene/acc/mean@1": 0.25,
        }
    assert runlog.final_validation(RECORDS[1:2]) == {}


def test_a_broken_line_is_named(tmp_path):
    _write(tmp_path / "metrics.jsonl", RECORDS[:1], extra='{"step": 1, "data": \n')
    with pytest.raises(runlog.RunLogError, match=r"metrics.jsonl: line 2 is not JSON"):
        runlog.read_metrics(tmp_path)
