"""Unit tests of the cluster commands that need no cluster: `anatomy-r1 submit` (environment, entrypoint,
failing before anything is submitted), `anatomy-r1 jobs` argument errors, the watchdog's verdict on
how an actor died, and joining a cluster without the CPU profile's local-only ray.init arguments."""

from types import SimpleNamespace

import pytest

from anatomy_r1_verl.commands import cli, jobs, submit
from anatomy_r1_verl.launch import watchdog


def test_commands_registered():
    assert cli.COMMANDS["submit"] is cli._submit and cli.COMMANDS["jobs"] is cli._jobs
    for cmd in ("jobs", "submit"):  # each dispatches to its own module's argument parser
        with pytest.raises(SystemExit) as e:
            cli.main([cmd, "--help"])
        assert e.value.code == 0
    assert "anatomy-r1 submit RECIPE" in cli.__doc__ and "anatomy-r1 jobs" in cli.__doc__


def test_job_env_forwards_what_the_package_reads(tmp_path):
    env = submit.job_env(
        {
            "ANATOMY_R1_OUTPUT_DIR": str(tmp_path / "x" / ".." / "out"),
            "ANATOMY_R1_TRACE_DIR": "/t",
            "VERL_LOGGING_LEVEL": "INFO",
            "WANDB_MODE": "offline",
            "WANDB_API_KEY": "k",
            "OMP_NUM_THREADS": "2",
            "HOME": "/root",
            "PATH": "/bin",
            "HF_HOME": "/cache",
        }
    )
    assert env["ANATOMY_R1_OUTPUT_DIR"] == str(tmp_path / "out")
    assert env["ANATOMY_R1_TRACE_DIR"] == "/t" and env["VERL_LOGGING_LEVEL"] == "INFO"
    assert env["WANDB_MODE"] == "offline" and env["WANDB_API_KEY"] == "k" and env["OMP_NUM_THREADS"] == "2"
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1"
    assert not {"HOME", "PATH", "HF_HOME"} & set(env)  # the cluster's own, not the submitting shell's
    assert submit.job_env({"ANATOMY_R1_OUTPUT_DIR": "/o", "HF_HUB_OFFLINE": "0"})["HF_HUB_OFFLINE"] == "0"


def test_job_env_needs_a_shared_output_dir():
    with pytest.raises(submit.SubmitError, match="ANATOMY_R1_OUTPUT_DIR"):
        submit.job_env({})


def test_entrypoint_quotes_overrides():
    ep = submit.entrypoint("demo_cpu.yaml", ["trainer.logger=[console,file]", "a.b='x y'"])
    assert ep == "anatomy-r1 train demo_cpu.yaml 'trainer.logger=[console,file]' 'a.b='\"'\"'x y'\"'\"''"


def test_address_from_flag_or_env(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(submit.SubmitError, match="--address"):
        submit.resolve_address(None)
    monkeypatch.setenv("RAY_ADDRESS", "head:8265")
    assert submit.resolve_address(None) == "http://head:8265"
    assert submit.resolve_address("https://h:1") == "https://h:1"


def test_submit_fails_before_submitting(tmp_path, monkeypatch, capsys):
    """A recipe that does not compose, a missing output dir and an unreachable head are each an error
    naming what to fix, exit code 2; nothing reaches a cluster."""
    monkeypatch.setenv("ANATOMY_R1_OUTPUT_DIR", str(tmp_path))
    assert submit.main(["demo_cpu", "--address", "http://127.0.0.1:9", "trainer.no_such_key=1"]) == 2
    assert "no_such_key" in capsys.readouterr().err
    assert submit.main(["no_such_recipe", "--address", "http://127.0.0.1:9"]) == 2
    assert "recipe 'no_such_recipe' not found" in capsys.readouterr().err
    assert submit.main(["demo_cpu", "--address", "http://127.0.0.1:9"]) == 2
    assert "no Ray dashboard at http://127.0.0.1:9" in capsys.readouterr().err
    monkeypatch.delenv("ANATOMY_R1_OUTPUT_DIR")
    assert submit.main(["demo_cpu", "--address", "http://127.0.0.1:9"]) == 2
    assert "set ANATOMY_R1_OUTPUT_DIR" in capsys.readouterr().err


def test_submit_eval_checks_the_eval_arguments_first(tmp_path, monkeypatch, capsys):
    """`submit --eval -- ...`: arguments `anatomy-r1 eval` would refuse, a missing model/parquet, or a RECIPE
    given with --eval fail here, exit code 2, before any cluster is contacted."""
    monkeypatch.setenv("ANATOMY_R1_OUTPUT_DIR", str(tmp_path))
    head = ["--eval", "--address", "http://127.0.0.1:9", "--"]
    assert submit.main([*head, "m", "t.parquet", "--engine", "sglang"]) == 2
    assert "not valid for `anatomy-r1 eval`" in capsys.readouterr().err
    assert submit.main([*head, "--engine", "vllm"]) == 2
    assert "-- MODEL PARQUET" in capsys.readouterr().err
    assert submit.main([*head, "m", "t.parquet", "--engine", "vllm"]) == 2
    assert "no Ray dashboard at http://127.0.0.1:9" in capsys.readouterr().err  # valid: reached the client
    with pytest.raises(SystemExit):
        submit.main(["demo_cpu", *head, "m", "t.parquet"])
    assert "not both" in capsys.readouterr().err


def test_jobs_needs_an_id(capsys):
    with pytest.raises(SystemExit):
        jobs.main(["logs"])
    assert "needs a job id" in capsys.readouterr().err


def _actor(cause, **kw):
    return SimpleNamespace(
        death_cause=cause,
        class_name=kw.get("class_name", "HFGenerateServer"),
        name=kw.get("name", "srv"),
        pid=kw.get("pid", 42),
        node_id="ab" * 28,
    )


@pytest.mark.parametrize("reason", ["RAY_KILL", "OUT_OF_SCOPE", "REF_DELETED", "OWNER_DIED"])
def test_watchdog_ignores_intended_ends(reason):
    assert watchdog.failure(_actor({"actor_died_error_context": {"reason": reason}})) is None


def test_watchdog_names_a_dead_worker():
    cause = {"actorDiedErrorContext": {"reason": "WORKER_DIED", "errorMessage": "The actor is dead\nmore"}}
    why = watchdog.failure(_actor(cause))
    assert why == "WORKER_DIED: The actor is dead"
    msg = watchdog.describe(_actor(cause), why)
    assert "HFGenerateServer 'srv' (pid 42, node abababababab) died: WORKER_DIED" in msg
    assert watchdog.failure(_actor({"oom_context": {"error_message": "oom"}})) == "killed by the out-of-memory killer"
    assert watchdog.failure(_actor({"creation_task_failure_context": {}})) == "its constructor raised"


def test_watchdog_thread_reports_the_first_failure():
    got = []
    dog = watchdog.ActorWatchdog("01000000", interval_s=0.01, on_failure=got.append)
    dog.dead_actors = lambda: [
        _actor({"actor_died_error_context": {"reason": "OUT_OF_SCOPE"}}),
        _actor({"actor_died_error_context": {"reason": "NODE_DIED"}}, class_name="WorkerDict"),
    ]
    dog.start()
    dog.join(timeout=5)
    assert len(got) == 1 and "WorkerDict" in got[0] and "NODE_DIED" in got[0]


def test_connect_cluster_drops_local_only_ray_init_args(monkeypatch):
    """The CPU profile's ray_init.num_cpus/num_gpus size a local cluster; Ray refuses them when joining one."""
    import ray

    from anatomy_r1_verl.launch.compose import compose
    from anatomy_r1_verl.launch.run import connect_cluster

    cfg = compose("demo_cpu", [])
    seen = {}
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: seen.update(kw))
    monkeypatch.setenv("ANATOMY_R1_TRACE_DIR", "/t")
    connect_cluster(cfg, "10.0.0.1:6379")
    assert seen["address"] == "10.0.0.1:6379"
    assert "num_cpus" not in seen and "num_gpus" not in seen
    assert seen["runtime_env"]["env_vars"]["ANATOMY_R1_TRACE_DIR"] == "/t"
    assert seen["runtime_env"]["env_vars"].get("TRANSFER_QUEUE_ENABLE") == ("1" if cfg.transfer_queue.enable else None)


def test_resume_refuses_a_torn_tracker_file(tmp_path):
    """An empty latest_checkpointed_iteration.txt (killed while verl rewrote it) is an error saying what to
    do, not verl's int('') traceback; a sound one passes."""
    from anatomy_r1_verl.launch.checks import _check_resume
    from anatomy_r1_verl.launch.compose import RecipeError, compose

    ckpt = tmp_path / "ckpt"
    (ckpt / "global_step_2").mkdir(parents=True)
    cfg = compose("demo_cpu", [f"trainer.default_local_dir={ckpt}", "trainer.resume_mode=auto"])
    _check_resume(cfg)  # no tracker yet: a fresh start
    (ckpt / "latest_checkpointed_iteration.txt").write_text("2")
    _check_resume(cfg)
    (ckpt / "latest_checkpointed_iteration.txt").write_text("")
    with pytest.raises(RecipeError, match=r"reads '', not a saved step .*saved folders: \[2\]"):
        _check_resume(cfg)


def test_watchdog_ignores_workers_force_exited_as_the_job_ends():
    """Ray force-exits a job's other workers once the driver fails; those deaths are not the cause."""
    teardown = {
        "actor_died_error_context": {
            "reason": "WORKER_DIED",
            "error_message": "The actor is dead because its worker process has died. Worker exit type: "
            "INTENDED_USER_EXIT Worker exit detail: Worker force exited because its job has finished",
        }
    }
    assert watchdog.failure(_actor(teardown, class_name="AgentLoopWorkerTQ")) is None
    dog = watchdog.ActorWatchdog("01000000", interval_s=0.01)
    dog.dead_actors = lambda: [
        _actor(teardown, class_name="AgentLoopWorkerTQ", pid=7),
        _actor({"actor_died_error_context": {"reason": "WORKER_DIED", "error_message": "SIGKILL"}}, pid=9),
    ]
    assert "HFGenerateServer 'srv' (pid 9," in dog.check()


def test_watchdog_last_word_waits_for_the_death_to_be_recorded():
    """verl may raise ActorDiedError before Ray's state API lists the actor as DEAD: look again."""
    dog = watchdog.ActorWatchdog("01000000", interval_s=0.01)
    calls = []
    dead = _actor({"actor_died_error_context": {"reason": "WORKER_DIED"}}, pid=5)
    dog.dead_actors = lambda: calls.append(1) or ([dead] if len(calls) >= 3 else [])
    assert "(pid 5," in dog.last_word(wait_s=5)
    assert len(calls) == 3 and dog.stopped.is_set()
    dog.dead_actors = lambda: []
    assert dog.last_word(wait_s=0.05) is None
