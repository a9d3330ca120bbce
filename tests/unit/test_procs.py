"""Ending processes by PID safely: tracked ones only while they are the same process, strays
of a lab namespace only while they are in it (through a pidfd). Real child processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gameday import procs

HERE = Path("/proc/self/ns/net")  # this process's network namespace: where the children live


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_a_stray_in_the_namespace_is_ended():
    child = _sleeper()
    assert procs.end_in_namespace(child.pid, HERE, grace_s=5)
    assert child.wait(timeout=5) is not None


def test_a_pid_outside_the_namespace_is_never_signalled(tmp_path):
    child = _sleeper()
    try:
        elsewhere = tmp_path / "not-this-namespace"
        elsewhere.write_text("")
        assert not procs.end_in_namespace(child.pid, elsewhere, grace_s=1)
        assert child.poll() is None, "a process that is not the lab's must survive"
    finally:
        child.kill()
        child.wait()


def test_a_gone_pid_is_not_an_error():
    child = _sleeper()
    child.kill()
    child.wait()
    assert not procs.end_in_namespace(child.pid, HERE, grace_s=1)


def test_a_tracked_process_whose_pid_was_reused_is_not_signalled():
    child = _sleeper()
    try:
        t = procs.Tracked(name="x", pid=child.pid, ticks=(procs.start_ticks(child.pid) or 0) + 1, argv=[], log="")
        assert not t.alive() and not t.signal(procs.signal.SIGKILL)
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()
