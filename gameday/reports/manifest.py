"""SHA-256 manifest of a run directory, in the exact `sha256sum` format.

An auditor must be able to check the evidence with nothing but coreutils:
`cd runs/<id> && sha256sum -c manifest.sha256`. So the file is written in the
format `sha256sum` itself emits (`<hex>  <relpath>`, text mode), including its
escaping of awkward names, and paths are relative to the run directory.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

MANIFEST = "manifest.sha256"
SIGNATURE = MANIFEST + ".sig"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def run_files(run_dir: Path) -> list[str]:
    """Every file under run_dir (recursively), as sorted POSIX relative paths, minus the
    manifest and its signature (gameday.evidence.signing: detached, over the manifest)."""
    found = []
    for path in run_dir.rglob("*"):
        # is_file() follows symlinks, as sha256sum does when it reads them.
        if path.is_file():
            rel = path.relative_to(run_dir).as_posix()
            if rel not in (MANIFEST, SIGNATURE):
                found.append(rel)
    return sorted(found)


def _line(digest: str, rel: str) -> str:
    # GNU sha256sum escapes names holding a backslash or newline and flags the
    # line with a leading backslash; without this, such a file breaks `-c`.
    if "\\" in rel or "\n" in rel or "\r" in rel:
        escaped = rel.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        return f"\\{digest}  {escaped}\n"
    return f"{digest}  {rel}\n"


def _unescape(name: str) -> str:
    out, i = [], 0
    while i < len(name):
        if name[i] == "\\" and i + 1 < len(name):
            out.append({"\\": "\\", "n": "\n", "r": "\r"}.get(name[i + 1], name[i + 1]))
            i += 2
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


def write_manifest(run_dir: Path) -> Path:
    """Hash every file of the run directory into run_dir/manifest.sha256 and return its path.

    Write it last: anything written into the run directory afterwards is
    reported by verify_manifest as unlisted.
    """
    lines = [_line(sha256_file(run_dir / rel), rel) for rel in run_files(run_dir)]
    target = run_dir / MANIFEST
    tmp = run_dir / f".{MANIFEST}.tmp"
    tmp.write_text("".join(lines), encoding="utf-8", newline="\n")
    os.replace(tmp, target)  # atomic: a reader never sees half a manifest
    return target


def read_manifest(run_dir: Path) -> dict[str, str]:
    """relpath -> hex digest from run_dir/manifest.sha256 ({} when absent). Raises ValueError on a bad line."""
    path = run_dir / MANIFEST
    if not path.exists():
        return {}
    entries: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        escaped = raw.startswith("\\")
        body = raw[1:] if escaped else raw
        digest, sep, name = body.partition("  ")
        if not sep:  # binary-mode lines ("<hex> *name") are also valid sha256sum output
            digest, sep, name = body.partition(" *")
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
            raise ValueError(f"{MANIFEST} line {number} is not in sha256sum format: {raw!r}")
        entries[_unescape(name) if escaped else name] = digest.lower()
    return entries


def verify_manifest(run_dir: Path) -> list[str]:
    """Problems found checking run_dir against its manifest; [] means every file is intact and listed."""
    try:
        listed = read_manifest(run_dir)
    except ValueError as exc:
        return [str(exc)]
    if not (run_dir / MANIFEST).exists():
        return [f"no {MANIFEST} in {run_dir}"]
    present = set(run_files(run_dir))
    problems = []
    for rel, digest in sorted(listed.items()):
        if rel not in present:
            problems.append(f"missing: {rel}")
        elif sha256_file(run_dir / rel) != digest:
            problems.append(f"changed: {rel}")
    problems += [f"unlisted: {rel}" for rel in sorted(present - listed.keys())]
    return problems
