"""Ending processes by PID safely: tracked ones only while they are the same process, strays
of a lab namespace only while they are in it (through a pidfd). Real child processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


def test_a_restarted_process_gets_every_thread_back_to_normal_priority(tmp_path):
    """A real multi-threaded process started at nice 10 (the lab's restarts) is reniced to 0
    thread by thread: Linux nice is per thread, and a JVM's threads inherit it."""
    code = "import threading, time\n[threading.Thread(target=time.sleep, args=(30,), daemon=True).start() for _ in range(3)]\nprint('up', flush=True)\ntime.sleep(30)\n"
    proc = subprocess.Popen(["nice", "-n", "10", sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "up"
        tids = [int(t) for t in Path(f"/proc/{proc.pid}/task").iterdir() for t in [t.name]]
        started = min(19, os.nice(0) + 10)  # `nice -n 10` adds to the caller's own level
        assert len(tids) >= 4 and all(_nice(proc.pid, t) == started for t in tids)
        assert procs.renice_threads(proc.pid, 0)
        assert all(_nice(proc.pid, t) == 0 for t in tids)
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(not Path("/proc/1/autogroup").exists() or Path("/proc/1/autogroup").read_text().strip() != "", reason="PID 1 is not in the root autogroup here")
def test_a_process_in_the_root_autogroup_has_no_autogroup_level_to_set():
    """PID 1 of a container or sandbox sits in the root autogroup, as do children that never
    started a session (CI's pytest and its children): the kernel shows nothing there and
    refuses a nice level with EINVAL. Thread nice rules alone, so nothing to set is success."""
    assert procs.set_autogroup_nice(1, 0)


def _nice(pid: int, tid: int) -> int:
    stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])  # field 19 (nice), counted after the comm


AUTOGROUPS = Path("/proc/self/autogroup").exists()
BURN = "import time\nend = time.time() + 4\nwhile time.time() < end: pass\n"


def _autogroup_nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/autogroup").read_text().split()[-1])


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not AUTOGROUPS or os.geteuid() != 0, reason="needs the kernel's autogroups, and root to lower a nice level")
def test_a_spawned_component_s_session_gets_its_nice_level_and_a_renice_restores_it(tmp_path):
    """Real processes: each component has a session, so an autogroup, of its own; `spawn`
    sets that autogroup's nice, and `renice_threads` puts it back with the threads'."""
    tracked = procs.spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(30)"], tmp_path / "s.log", nice=10)
    try:
        assert _autogroup_nice(tracked.pid) == 10
        assert procs.renice_threads(tracked.pid, 0)
        assert _autogroup_nice(tracked.pid) == 0
    finally:
        tracked.end(1)


@pytest.mark.skipif(not AUTOGROUPS or os.geteuid() != 0 or os.cpu_count() is None, reason="needs the kernel's autogroups and root")
def test_a_niced_component_yields_the_cpu_to_one_at_normal_priority(tmp_path):
    """Two real busy processes on one core, each in a session of its own as the lab starts
    them, one at the restart nice level (10): it gets a small share of the core. Before the
    autogroup was set, `nice -n 10` alone gave each half (the scheduler shares between
    autogroups first)."""
    core = sorted(os.sched_getaffinity(0))[-1]
    pinned = ["taskset", "-c", str(core)]
    busy = procs.spawn("busy", pinned + [sys.executable, "-c", BURN], tmp_path / "b.log")
    niced = procs.spawn("niced", pinned + [sys.executable, "-c", BURN], tmp_path / "n.log", nice=10)
    try:
        time.sleep(3)
        normal, low = _cpu_s(busy.pid), _cpu_s(niced.pid)
    finally:
        busy.end(1)
        niced.end(1)
    # weights 1024 and 110: about 9 % of the core for the niced one when nothing else runs
    assert low < 0.3 * (normal + low), f"niced {low:.2f} s of CPU beside {normal:.2f} s"


def test_a_component_finds_system_binaries_whoever_starts_it(tmp_path, monkeypatch):
    """haproxy lives in /usr/sbin, not on an ordinary user's PATH (issue 15)."""
    from gameday.procs import spawn, system_path

    assert system_path("/usr/bin:/bin") == "/usr/bin:/bin:/usr/sbin:/sbin"
    assert system_path("/usr/sbin:/usr/bin") == "/usr/sbin:/usr/bin:/sbin"
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    log = tmp_path / "p.log"
    t = spawn("probe", ["sh", "-c", "echo $PATH; sleep 1"], log)
    deadline = time.monotonic() + 10
    while "sbin" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log.read_text().strip() == "/usr/bin:/bin:/usr/sbin:/sbin"
    os.kill(t.pid, 9)
