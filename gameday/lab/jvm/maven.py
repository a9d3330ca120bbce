"""Jars from Maven Central for the lab's JVM services (Cassandra, Kafka, ZooKeeper, the
Flink Kafka connector), cached.

Each service has a resolver-only pom shipped as package data (`poms/<name>/pom.xml`),
handed to `mvn dependency:copy-dependencies`. The jars land in a temporary sibling
directory that is renamed into place with a marker holding the pom's SHA-256, so a later
call returns at once, an edited pom re-resolves, and an interrupted run never leaves a
directory that looks usable.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from gameday.errors import LabError

_MARKER = ".complete"


def cache_dir() -> Path:
    return Path.home() / ".cache" / "gameday"


def pom_path(name: str) -> Path:
    """The pom of one service, from the installed package (a real file: Maven reads it)."""
    return Path(str(resources.files(__package__).joinpath("poms", name, "pom.xml")))


def ensure_jars(name: str, probe_glob: str, *, cache: Path | None = None, pom: Path | None = None, timeout_s: float = 1800.0) -> Path:
    """Resolve `poms/<name>/pom.xml` into `<cache>/<name>-jars`; return that directory.

    `probe_glob` names a jar that must be there afterwards (e.g. "kafka_2.13-*.jar").
    """
    cache = cache or cache_dir()
    pom = (pom or pom_path(name)).resolve()
    if not pom.is_file():
        raise LabError(f"missing {pom}", hint="reinstall gameday: the poms are package data")
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    jars = cache / f"{name}-jars"
    marker = jars / _MARKER
    if marker.is_file() and marker.read_text().strip() == digest:
        return jars
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LabError("mvn not found on PATH", hint="scripts/bootstrap installs Maven (apt-get install maven)")
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f"{name}-jars.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [mvn, "-B", "-q", "-f", str(pom), "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={tmp}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        shutil.rmtree(tmp, ignore_errors=True)
        raise LabError(f"Maven timed out after {timeout_s:.0f} s: {' '.join(cmd)}") from None
    if proc.returncode != 0 or not any(tmp.glob(probe_glob)):
        shutil.rmtree(tmp, ignore_errors=True)
        text = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)  # Maven 3.8 emits ANSI resets even with -B
        tail = "\n".join(text.strip().splitlines()[-20:])
        raise LabError(f"Maven failed to resolve {name}'s jars (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    (tmp / _MARKER).write_text(digest + "\n")
    shutil.rmtree(jars, ignore_errors=True)
    tmp.rename(jars)
    return jars
