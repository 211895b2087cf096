"""Unit tests of tests/helpers.py (running the command line in a child process)."""


def test_child_command_and_env(tmp_path, monkeypatch):
    from tests.helpers import child_command, child_env

    assert child_command("demo", "a=1")[1:] == ["-m", "anatomy_r1_verl", "demo", "a=1"]
    monkeypatch.setenv("VERL_FILE_LOGGER_PATH", "/elsewhere.jsonl")
    monkeypatch.setenv("ANATOMY_R1_TRACE_DIR", "/inherited")
    env = child_env(tmp_path)
    assert env["ANATOMY_R1_OUTPUT_DIR"] == str(tmp_path)
    assert "VERL_FILE_LOGGER_PATH" not in env and "ANATOMY_R1_TRACE_DIR" not in env
    assert child_env(tmp_path, tmp_path / "t")["ANATOMY_R1_TRACE_DIR"] == str(tmp_path / "t")


def test_final_line_states_the_gain_and_its_standard_error(tmp_path, capsys):
    import json as _json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from anatomy_r1_verl.launch.run import report_final

    val = tmp_path / "val.parquet"
    pq.write_table(pa.table({"x": list(range(400))}), val)
    (tmp_path / "config.yaml").write_text(f"data:\n  val_files: {val}\n")
    key = "val-core/synthetic_scene/acc/mean@1"
    recs = [
        {"step": 0, "data": {key: 0.40}},
        {"step": 1, "data": {"actor/pg_loss": 0.1}},
        {"step": 30, "data": {key: 0.50}},
    ]
    (tmp_path / "metrics.jsonl").write_text("\n".join(_json.dumps(r) for r in recs) + "\n")
    final = report_final(tmp_path)
    line = capsys.readouterr().out
    assert final["step"] == 30
    # se = 100 * sqrt((0.4*0.6 + 0.5*0.5) / 400) = 3.50
    assert (
        "= 0.500; from 0.400 at step 0: +10.00 points (one standard error 3.50, n 400: beyond one standard error)"
        in line
    )
    recs[-1]["data"][key] = 0.42
    (tmp_path / "metrics.jsonl").write_text("\n".join(_json.dumps(r) for r in recs) + "\n")
    report_final(tmp_path)
    assert "+2.00 points (one standard error 3.48, n 400: within one standard error)" in capsys.readouterr().out
