"""Sealing a run directory (its manifest, then the signature when a key is configured) and
checking one: every file against the manifest, the signature against the manifest's bytes.

A record is resealed only on request (`gameday report --reseal`), and then it says so: the
line appended to `seal-history.jsonl` names who resealed it, when, and what no longer
matched the previous manifest. Re-rendering an intact record (new templates) is recorded
there too, as re-rendered."""

from __future__ import annotations

import enum
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from gameday.errors import InputError
from gameday.evidence import signing
from gameday.reports import manifest

HISTORY = "seal-history.jsonl"


class Finding(str, enum.Enum):
    CHANGED = "changed"
    MISSING = "missing"
    EXTRA = "extra"  # a file the manifest does not list
    SIGNATURE = "signature"


@dataclass(frozen=True)
class Problem:
    kind: Finding
    path: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.path}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class Verification:
    files: int  # files the manifest lists
    problems: list[Problem] = field(default_factory=list)
    signature: signing.SignatureCheck | None = None  # None: the record is not signed
    authenticated: bool = False  # the signature was checked against a key the reader gave

    @property
    def intact(self) -> bool:
        return not self.problems


def verify(run_dir: Path, public_key=None) -> Verification:  # noqa: ANN001 - an Ed25519PublicKey or None
    """Check `run_dir`. InputError when there is nothing to check it against (not a
    directory; neither a manifest nor a signature)."""
    if not run_dir.is_dir():
        raise InputError(f"{run_dir} is not a run directory")
    has_manifest, has_signature = (run_dir / manifest.MANIFEST).exists(), (run_dir / signing.SIGNATURE).exists()
    if not has_manifest and not has_signature:
        raise InputError(f"{run_dir} has no {manifest.MANIFEST}: nothing to check it against", hint="a run directory gets one when the run ends (gameday report writes it for an older run)")
    problems: list[Problem] = []
    if not has_manifest:
        return Verification(0, [Problem(Finding.MISSING, manifest.MANIFEST, f"the record is signed ({signing.SIGNATURE}) but its manifest is gone")])
    try:
        listed = manifest.read_manifest(run_dir)
    except ValueError as exc:
        listed = {}
        problems.append(Problem(Finding.CHANGED, manifest.MANIFEST, str(exc)))
    present = set(manifest.run_files(run_dir))
    for rel, digest in sorted(listed.items()):
        if rel not in present:
            problems.append(Problem(Finding.MISSING, rel))
        elif manifest.sha256_file(run_dir / rel) != digest:
            problems.append(Problem(Finding.CHANGED, rel))
    problems += [Problem(Finding.EXTRA, rel, "not in the manifest") for rel in sorted(present - listed.keys())]
    sig = None
    if has_signature:
        sig = signing.check(run_dir, manifest.MANIFEST, public_key)
        if not sig.ok:
            problems.append(Problem(Finding.SIGNATURE, signing.SIGNATURE, sig.detail.split(": ", 1)[-1]))
    elif public_key is not None:
        problems.append(Problem(Finding.MISSING, signing.SIGNATURE, "a key was given but the record is not signed"))
    return Verification(len(listed), problems, sig, authenticated=public_key is not None and sig is not None and sig.ok)


def seal(run_dir: Path, key=None) -> Path | None:  # noqa: ANN001 - an Ed25519PrivateKey or None
    """Write the manifest over every file, then sign it when `key` is given (a signature left
    from an earlier seal is removed: it would not match). The signature's path, or None."""
    manifest.write_manifest(run_dir)
    if key is None:
        (run_dir / signing.SIGNATURE).unlink(missing_ok=True)
        return None
    return signing.sign(run_dir, key, manifest.MANIFEST)


def record_reseal(run_dir: Path, operator: str, problems: list[Problem], signed: bool) -> dict:
    """Append what this reseal found and who did it; the line is then sealed with the rest."""
    previous = run_dir / manifest.MANIFEST
    entry = {
        "t": time.time(), "operator": operator, "action": "resealed" if problems else "re-rendered",
        "problems": [str(p) for p in problems], "previous_manifest_sha256": hashlib.sha256(previous.read_bytes()).hexdigest() if previous.exists() else "",
        "signed": signed,
    }  # fmt: skip
    with (run_dir / HISTORY).open("a") as fh:
        fh.write(json.dumps(entry) + "\n")
    return entry


def seal_history(run_dir: Path) -> list[dict]:
    path = run_dir / HISTORY
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out
