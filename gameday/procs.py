"""Starting, signalling and ending tracked processes by PID, safely: the lab's components
and the helpers a drill starts (load generators, monitors, the audit).

A PID is only signalled while /proc says it is the same process we started
(its start time matches), so a recycled PID is never hit.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22, counted after the parenthesised command name (which may hold spaces).
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def state_letter(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


@dataclass
class Tracked:
    """One process the lab started, as the state file records it."""

    name: str
    pid: int
    ticks: int
    argv: list[str]
    log: str
    az: str = ""
    tier: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    role: str = ""  # gameday.target.Role value, for lab components

    def alive(self) -> bool:
        """Ours and not a zombie."""
        return start_ticks(self.pid) == self.ticks and state_letter(self.pid) not in (None, "Z", "X")

    def frozen(self) -> bool:
        return self.alive() and state_letter(self.pid) == "T"

    def signal(self, sig: signal.Signals) -> bool:
        if not self.alive():
            return False
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def wait_gone(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            _reap(self.pid)
            if not self.alive():
                return True
            time.sleep(0.05)
        return not self.alive()

    def end(self, grace_s: float) -> None:
        """SIGTERM, then SIGKILL after the grace period. Frozen processes are thawed first."""
        if not self.alive():
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        if not self.wait_gone(grace_s):
            self.signal(signal.SIGKILL)
            self.wait_gone(5)


def end_in_namespace(pid: int, netns: Path, grace_s: float) -> bool:
    """End a process found inside a lab network namespace (one a killed harness left), by a
    pidfd: the process is pinned first, then checked to be in that namespace, then
    signalled through the pidfd, so a PID reused meanwhile is never hit. True if it ended."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return False  # already gone
    try:
        try:
            if os.stat(f"/proc/{pid}/ns/net").st_ino != os.stat(netns).st_ino:
                return False  # not (or no longer) the lab's
        except OSError:
            return False
        for sig in (signal.SIGCONT, signal.SIGTERM):
            _pidfd_signal(fd, sig)
        if not _pidfd_wait(fd, grace_s):
            _pidfd_signal(fd, signal.SIGKILL)
            _pidfd_wait(fd, 5)
        _reap(pid)
        return True
    finally:
        os.close(fd)


def _pidfd_signal(fd: int, sig: signal.Signals) -> None:
    try:
        signal.pidfd_send_signal(fd, sig)
    except ProcessLookupError:
        pass


def _pidfd_wait(fd: int, timeout_s: float) -> bool:
    """A pidfd becomes readable when its process has exited."""
    ready, _, _ = select.select([fd], [], [], timeout_s)
    return bool(ready)


def _reap(pid: int) -> None:
    """Collect our own exited children so they do not linger as zombies."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def renice_threads(pid: int, nice: int) -> bool:
    """Every thread of the process to this nice level (Linux nice is per thread, and a JVM
    has dozens), and its session's autogroup with it (see `set_autogroup_nice`); False if
    not permitted (raising priority needs root)."""
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return False
    try:
        for tid in tids:
            try:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
            except ProcessLookupError:
                pass  # the thread ended meanwhile
    except PermissionError:
        return False
    return set_autogroup_nice(pid, nice)


def set_autogroup_nice(pid: int, nice: int) -> bool:
    """The nice level of the process's autogroup. With `kernel.sched_autogroup_enabled` (the
    default on most distributions) the scheduler first shares the CPU between autogroups,
    one per session, and a thread's own nice only weighs inside its autogroup. Every
    component runs in a session of its own (`spawn`), so `nice -n 10` alone left a restarting
    JVM an equal share beside the search nodes: its autogroup's nice is what ranks it. True
    where there is no autogroup to set (autogrouping off or not built, or the process is in
    the root one: thread nice rules)."""
    path = Path(f"/proc/{pid}/autogroup")
    try:
        own = path.read_text().strip()
    except FileNotFoundError:
        return Path(f"/proc/{pid}").exists()  # a kernel without autogroups: nothing to set
    except OSError:
        return False
    if not own:
        # The root autogroup (a process whose ancestors never started a session, such as a
        # CI runner's children) shows nothing and refuses a nice level with EINVAL.
        return True
    try:
        path.write_text(str(nice))
    except OSError:  # not permitted (raising priority needs root), or the process is gone
        return False
    return True


# Debian keeps daemons (haproxy) and network tools in /usr/sbin, which an ordinary user's PATH
# lacks: the lab finds them there whoever runs it (issue 15: haproxy "not found" as nobody).
SYSTEM_DIRS = ("/usr/sbin", "/sbin")


def system_path(path: str) -> str:
    """PATH with the system directories appended when missing."""
    parts = [p for p in path.split(os.pathsep) if p]
    return os.pathsep.join(parts + [d for d in SYSTEM_DIRS if d not in parts])


def spawn(name: str, argv: list[str], log: Path, *, cwd: Path | None = None, env: dict[str, str] | None = None, az: str = "", tier: str = "", role: str = "", nice: int = 0) -> Tracked:
    """Start a process in its own session, so a Ctrl-C to the harness does not reach the lab.
    `nice`: its threads' nice level (`nice -n`, which execs: the PID stays the process's) and
    its session's autogroup's (see `set_autogroup_nice`): both, or the level does nothing."""
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = (["nice", "-n", str(nice)] if nice else []) + argv
    full_env = {**os.environ, **(env or {})}
    full_env["PATH"] = system_path(full_env.get("PATH", os.defpath))
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=full_env,
            start_new_session=True,
        )
    ticks = start_ticks(proc.pid)
    if ticks is None:
        raise OSError(f"{name} exited at once; see {log}")
    if nice:
        set_autogroup_nice(proc.pid, nice)  # best effort: the threads' level still holds inside a cpu cgroup
    return Tracked(name=name, pid=proc.pid, ticks=ticks, argv=argv, log=str(log), az=az, tier=tier, role=role)
