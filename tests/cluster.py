"""A real two-node Ray cluster on the loopback (127.0.0.2 and 127.0.0.3), started with ``ray start`` as a user would (for the cluster
integration tests): a head and a worker node, each with its own ports, temp dir, logical CPUs, one
logical GPU slot (the CPU profile's FSDP rank) and a custom resource naming the node."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))

# run by LocalCluster.state in a child process: argv = address, dashboard, op, args...
_STATE_SCRIPT = r"""
import json, sys, time
address, dashboard, op, *args = sys.argv[1:]
from ray.job_submission import JobSubmissionClient
from ray.util.state import list_actors, list_nodes

def job(name):
    i = JobSubmissionClient(dashboard).get_job_info(name)
    return {"job_id": i.job_id, "status": i.status.value, "message": i.message,
            "driver_pid": int(i.driver_info.pid) if i.driver_info and i.driver_info.pid else None}

if op == "nodes":
    out = [{"node_id": n.node_id, "resources": n.resources_total}
           for n in list_nodes(address=address, filters=[("state", "=", "ALIVE")])]
elif op == "job":
    out = job(args[0])
elif op == "actors":
    out = [{"class_name": a.class_name, "node_id": a.node_id, "pid": a.pid, "state": a.state}
           for a in list_actors(address=address, filters=[("job_id", "=", job(args[0])["job_id"])], detail=True,
                                limit=1000)]
elif op == "wait_job":
    deadline = time.monotonic() + float(args[1])
    while (out := job(args[0]))["status"] not in ("SUCCEEDED", "FAILED", "STOPPED") and time.monotonic() < deadline:
        time.sleep(0.25)
else:
    raise SystemExit(f"unknown op {op}")
print(json.dumps(out))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalCluster:
    """``ray start --head`` + ``ray start --address`` on 127.0.0.1; :meth:`stop` always ends both (bounded)."""

    def __init__(self, env: dict, num_cpus: int = 16, object_store_mb: int = 300):
        self.env = dict(env)
        # the job's entrypoint (`anatomy-r1 train`) and Ray's workers find this interpreter's tools first
        self.env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{self.env.get('PATH', '')}"
        self.env.pop("RAY_ADDRESS", None)
        # Ray's token authentication with a token of this cluster's own; its clients (the state API,
        # `anatomy-r1 submit`) need the same two variables
        self.client_env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self.env.update(self.client_env)
        self.env.pop("RAY_AUTH_TOKEN_PATH", None)
        # short: Ray's unix sockets live under it (path length limit)
        self.root = Path(tempfile.mkdtemp(prefix="ar1c", dir="/tmp"))
        self.num_cpus, self.object_store = num_cpus, object_store_mb * 1024 * 1024
        self.gcs_port, self.dashboard_port = free_port(), free_port()
        # each node its own loopback address (Ray would replace 127.0.0.1 itself by the routable address)
        self.ips = {"head": "127.0.0.2", "worker": "127.0.0.3"}
        self.address = f"{self.ips['head']}:{self.gcs_port}"
        self.dashboard = f"http://{self.ips['head']}:{self.dashboard_port}"
        self.start_s: float | None = None
        self.procs: dict[str, subprocess.Popen] = {}

    def _start(self, name: str, *args: str) -> None:
        """``ray start --block`` in its own session: the node's processes (GCS, raylet, dashboard, workers)
        are ours by session id, so teardown ends exactly them (a plain ``ray stop`` would end every Ray
        on this shared machine)."""
        cmd = [
            RAY,
            "start",
            "--block",
            f"--temp-dir={self.root / name}",
            f"--node-ip-address={self.ips[name]}",
            f"--num-cpus={self.num_cpus}",
            "--num-gpus=1",
            f"--resources={json.dumps({f'node_{name}': 1})}",
            f"--object-store-memory={self.object_store}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--metrics-export-port={free_port()}",
            "--disable-usage-stats",
            *args,
        ]
        log = open(self.root / f"{name}.log", "w")
        self.procs[name] = subprocess.Popen(
            cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start(self, attempts: int = 2) -> LocalCluster:
        """Head, then worker. A head that does not register within the wait (seen once in a fresh-clone CI run on
        a loaded machine: no error, no node for 120 s) is stopped and started again on new ports, once."""
        t0 = time.monotonic()
        for attempt in range(attempts):
            self._start(
                "head",
                "--head",
                f"--port={self.gcs_port}",
                f"--dashboard-port={self.dashboard_port}",
                f"--dashboard-host={self.ips['head']}",
                "--include-dashboard=true",
                f"--ray-client-server-port={free_port()}",
            )
            try:
                self.wait_nodes(1)
                break
            except TimeoutError as e:
                if attempt == attempts - 1:
                    raise
                print(f"[cluster] {e}; starting the head again on new ports", flush=True)
                self.stop_processes()
                self.gcs_port, self.dashboard_port = free_port(), free_port()
                self.address = f"{self.ips['head']}:{self.gcs_port}"
                self.dashboard = f"http://{self.ips['head']}:{self.dashboard_port}"
        self._start("worker", f"--address={self.address}")
        self.wait_nodes(2)
        self.start_s = time.monotonic() - t0
        return self

    def state(self, op: str, *args, timeout: float = 120):
        """Ask the cluster (Ray's state API, its job client) from a child process with this cluster's environment.

        Never from the test process: Ray reads its authentication settings once per process, and a test process
        that imported Ray before this cluster existed (earlier tests) keeps ``RAY_AUTH_MODE`` disabled, so its
        clients are refused by a token cluster (``AuthenticationError: InvalidAuthToken``; seen in full CI runs).
        ``op``: ``nodes`` | ``job JOB`` | ``actors JOB`` | ``wait_job JOB TIMEOUT_S``; returns the JSON it prints."""
        proc = subprocess.run(
            [sys.executable, "-c", _STATE_SCRIPT, self.address, self.dashboard, op, *map(str, args)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"cluster state query {op} {args} failed (rc {proc.returncode}): {proc.stderr[-3000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def nodes(self) -> list[dict]:
        """Alive nodes: ``{"node_id", "resources"}`` (from the GCS, through Ray's state API)."""
        return self.state("nodes", timeout=60)

    def node_id(self, name: str) -> str:
        return next(n["node_id"] for n in self.nodes() if f"node_{name}" in n["resources"])

    def wait_nodes(self, n: int, timeout: float = 120) -> None:
        deadline, last = time.monotonic() + timeout, "not polled"
        while time.monotonic() < deadline:
            dead = {k: p.returncode for k, p in self.procs.items() if p.poll() is not None}
            if dead:
                logs = "\n".join((self.root / f"{k}.log").read_text()[-3000:] for k in dead)
                raise RuntimeError(f"ray start exited {dead}:\n{logs}")
            try:
                if len(self.nodes()) >= n:
                    return
                last = "no error; fewer nodes alive"
            except Exception as e:  # the GCS still starting
                last = f"{type(e).__name__}: {e}"
            time.sleep(0.5)
        head = (self.root / "head.log").read_text()[-2000:] if (self.root / "head.log").is_file() else ""
        raise TimeoutError(
            f"the cluster at {self.address} did not reach {n} nodes in {timeout} s (last: {last}); head log:\n{head}"
        )

    def session_pids(self) -> list[int]:
        """Every live process of this cluster's nodes (same session id as a node's ``ray start``)."""
        sids = {p.pid for p in self.procs.values()}
        out = subprocess.run(["ps", "-e", "-o", "pid=,sid="], capture_output=True, text=True).stdout
        return [int(pid) for pid, sid in (ln.split() for ln in out.splitlines()) if int(sid) in sids]

    def stop_processes(self, timeout: float = 5) -> None:
        """SIGTERM every process of the nodes' sessions, SIGKILL what is left after ``timeout`` s."""
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
            for pid in self.session_pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and self.session_pids():
                time.sleep(0.2)
        for p in self.procs.values():
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.procs = {}

    def stop(self, timeout: float = 5) -> None:
        """Stop this cluster's processes (by pid, bounded in time) and remove the temp dir."""
        self.stop_processes(timeout)
        shutil.rmtree(self.root, ignore_errors=True)
