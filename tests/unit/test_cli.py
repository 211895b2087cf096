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
