"""Fail a run within seconds when one of its Ray actors dies, naming the actor.

verl 0.9.1 does not always notice a dead worker: a rollout server killed mid-step makes the agent loop
log ``ActorDiedError`` for each request and the trainer draw batch after batch, never finishing a step
(measured on the two-node loopback cluster of tests/integration/test_cluster_cpu.py). The launcher
(``anatomy-r1 train`` joined to a cluster) therefore watches the job's actors through Ray's public state
API (``ray.util.state.list_actors``) and, when one has died for a reason other than an intended exit
(its process died or was killed, its node died, the OOM killer, a failing constructor), prints which one
and ends the driver; Ray then tears the job's other actors down and the job is FAILED with that message
in its log. Nothing is checkpointed on the way out, so the last complete checkpoint stays the latest
(verl writes ``latest_checkpointed_iteration.txt`` only after a save has completed):
``trainer.resume_mode=auto`` continues from it.

``anatomy_r1.watchdog.interval_s`` (default 2; 0 turns it off) sets the polling period.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

log = logging.getLogger(__name__)

EXIT_CODE = 75  # the driver's exit status when a worker died (EX_TEMPFAIL: resume and retry)
# ActorDiedErrorContext reasons that are an intended end of an actor, not a failure
INTENDED = {"RAY_KILL", "OUT_OF_SCOPE", "REF_DELETED", "OWNER_DIED"}
# a worker Ray force-exits as its job ends reads WORKER_DIED with this exit type: teardown, not the cause
TEARDOWN = "INTENDED_USER_EXIT"


def _find(d, key):
    """The first value of ``key`` (or its camelCase form) anywhere in a nested dict."""
    camel = key.split("_")[0] + "".join(w.title() for w in key.split("_")[1:])
    if isinstance(d, dict):
        for k, v in d.items():
            if k in (key, camel):
                return v
            found = _find(v, key)
            if found is not None:
                return found
    return None


def failure(actor) -> str | None:
    """Why a DEAD actor counts as a failure of the run (None: it ended on purpose)."""
    cause = actor.death_cause or {}
    if _find(cause, "oom_context") is not None:
        return "killed by the out-of-memory killer"
    if _find(cause, "creation_task_failure_context") is not None:
        return "its constructor raised"
    ctx = _find(cause, "actor_died_error_context")
    reason = str(_find(ctx, "reason") or "UNSPECIFIED") if ctx is not None else "UNSPECIFIED"
    if reason in INTENDED:
        return None
    detail = _find(ctx, "error_message") if ctx is not None else None
    if detail and TEARDOWN in str(detail):
        return None
    return f"{reason}" + (f": {str(detail).splitlines()[0]}" if detail else "")


def describe(actor, why: str) -> str:
    name = f" {actor.name!r}" if actor.name else ""
    return (
        f"actor {actor.class_name}{name} (pid {actor.pid}, node {actor.node_id[:12] if actor.node_id else '?'}) "
        f"died: {why}"
    )


class ActorWatchdog(threading.Thread):
    """Polls the DEAD actors of one Ray job; on the first failure calls ``on_failure(message)``."""

    def __init__(self, job_id: str, interval_s: float = 2.0, on_failure=None):
        super().__init__(name="anatomy-r1-watchdog", daemon=True)
        self.job_id, self.interval_s = job_id, interval_s
        self.on_failure = on_failure or fail_driver
        self.stopped = threading.Event()

    def dead_actors(self) -> list:
        from ray.util.state import list_actors

        return list_actors(
            filters=[("job_id", "=", self.job_id), ("state", "=", "DEAD")],
            detail=True,
            limit=10000,
            raise_on_missing_output=False,
        )

    def check(self) -> str | None:
        """The message for the first failed actor, or None."""
        for actor in self.dead_actors():
            why = failure(actor)
            if why is not None:
                return describe(actor, why)
        return None

    def run(self) -> None:
        errors = 0
        while not self.stopped.wait(self.interval_s):
            try:
                message = self.check()
                errors = 0
            except Exception as e:  # the dashboard busy or restarting: keep trying, say so once in a while
                errors += 1
                if errors in (3, 30):
                    log.warning("anatomy-r1 watchdog: cannot list the job's actors (%s); still trying", e)
                continue
            if message:
                self.on_failure(message)
                return

    def last_word(self, wait_s: float = 6.0) -> str | None:
        """After the driver itself failed: the dead actor behind it, if one shows up within ``wait_s``.

        verl sometimes raises ``ActorDiedError`` before this thread's next poll; the state API can take a
        moment to record the death, so look a few times before giving up.
        """
        self.stopped.set()
        deadline = time.monotonic() + wait_s
        while True:
            try:
                message = self.check()
            except Exception:
                message = None
            if message or time.monotonic() >= deadline:
                return message
            time.sleep(min(1.0, self.interval_s))


def announce(message: str) -> None:
    """The line that names the dead worker, and how to resume."""
    print(
        f"[anatomy-r1] a worker of this run died, failing the job: {message}\n"
        "[anatomy-r1] resume from the last complete checkpoint: the same command with trainer.resume_mode=auto",
        file=sys.stderr,
        flush=True,
    )
    sys.stdout.flush()


def fail_driver(message: str) -> None:
    announce(message)
    os._exit(EXIT_CODE)


def start(interval_s: float = 2.0) -> ActorWatchdog | None:
    """Watch the actors of the current Ray job (call after ``ray.init``); None when turned off."""
    import ray

    if interval_s <= 0:
        return None
    dog = ActorWatchdog(ray.get_runtime_context().get_job_id(), interval_s)
    dog.start()
    print(f"[anatomy-r1] watching the job's actors every {interval_s:g} s (anatomy_r1.watchdog.interval_s)", flush=True)
    return dog
