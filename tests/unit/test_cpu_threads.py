"""The thread governor: torch threads follow the cores other programs leave free, changed between passes."""

import subprocess
import sys
import time

import pytest
import torch

from anatomy_r1_verl.cpu import threads


@pytest.fixture
def restore_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def test_wanted_threads_are_the_free_cores_within_the_configured_count():
    g = threads.ThreadGovernor(2, "test", cores=2)
    assert [g.wanted(k) for k in (0, 1, 2, 5)] == [2, 1, 1, 1]
    g4 = threads.ThreadGovernor(3, "test", cores=8)
    assert [g4.wanted(k) for k in (0, 5, 6)] == [3, 3, 2]


def test_a_change_needs_two_checks_that_agree(monkeypatch, restore_threads):
    torch.set_num_threads(2)
    others = iter([1, 0, 1, 1, 0, 0])
    monkeypatch.setattr(threads, "others_running", lambda: next(others))
    g = threads.ThreadGovernor(2, "test", interval=0.5, cores=2)
    seen = [g.check(now=t) for t in (1.0, 1.1, 2.0, 3.0, 4.0, 5.0, 6.0)]
    # 1.0: busy once (pending); 1.1: within the interval; 2.0: idle again (no change); 3.0, 4.0: busy twice -> 1;
    # 5.0, 6.0: idle twice -> 2
    assert seen == [2, 2, 2, 2, 1, 1, 2]
    assert g.changes == 2


def test_a_busy_process_is_seen_and_own_threads_are_not():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        assert threads.others_running() >= 1
        assert threads.own_running() >= 1  # the thread reading
    finally:
        busy.kill()
        busy.wait()
    assert threads.usable_cores() >= 1


def test_install_only_when_asked(monkeypatch):
    monkeypatch.delenv(threads.ADAPTIVE_THREADS_ENV, raising=False)
    assert threads.install(2, "test") is None
