"""What a run was made with and by whom, recorded in the run directory when it starts
(`provenance.json`): the code's version (the git commit of the checkout, marked dirty when
it has uncommitted changes, or the installed package's version), the SHA-256 of the spec
catalog the verdicts were judged against and of the run's profile, the host, and the
operator (`--operator`, GAMEDAY_OPERATOR, or the login name) and who approved the drill
(`--approver`)."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from importlib import metadata, resources
from pathlib import Path

FILE = "provenance.json"
OPERATOR_ENV = "GAMEDAY_OPERATOR"


@dataclass(frozen=True)
class Provenance:
    code_version: str  # "git:<commit>[-dirty]" or "package:<version>"
    catalog_sha256: str
    profile_sha256: str
    host: str
    operator: str
    recorded_at: float
    approver: str = ""  # who approved the drill (--approver), for the dossier's sign-off

    def write(self, run_dir: Path) -> Path:
        path = run_dir / FILE
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def read(cls, run_dir: Path) -> "Provenance | None":
        try:
            return cls(**json.loads((run_dir / FILE).read_text()))
        except (OSError, ValueError, TypeError):
            return None


def code_version(repo: Path | None = None) -> str:
    """The checkout's commit when gameday runs from one, else the installed version."""
    repo = repo or Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if commit.returncode == 0 and commit.stdout.strip():
            dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=10)
            return f"git:{commit.stdout.strip()}" + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"package:{metadata.version('gameday')}"
    except metadata.PackageNotFoundError:
        return "unknown"


def catalog_sha256() -> str:
    return hashlib.sha256(resources.files("gameday.spec").joinpath("catalog.yaml").read_bytes()).hexdigest()


def operator(given: str = "") -> str:
    if given.strip():
        return given.strip()
    if os.environ.get(OPERATOR_ENV, "").strip():
        return os.environ[OPERATOR_ENV].strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def record(run_dir: Path, profile_file: Path, given_operator: str = "", approver: str = "") -> Provenance:
    """Write the run's provenance (its profile file written already)."""
    prov = Provenance(code_version=code_version(), catalog_sha256=catalog_sha256(), profile_sha256=hashlib.sha256(profile_file.read_bytes()).hexdigest(),
                      host=socket.getfqdn(), operator=operator(given_operator), recorded_at=time.time(), approver=approver.strip())  # fmt: skip
    prov.write(run_dir)
    return prov
