"""Ed25519 keys and the run directory's signature.

`gameday keygen` writes a key pair (the private key PEM, mode 0600; the public key PEM). A
run is signed when a key is configured (`--sign-key FILE` or GAMEDAY_SIGNING_KEY): the
signature covers the exact bytes of `manifest.sha256`, which lists every other file of the
run with its SHA-256, so one signature covers them all. It is written beside the manifest as
`manifest.sha256.sig` (JSON: the algorithm, the signer's public key and its fingerprint, the
signature), outside the manifest, as a detached signature is.

Checking: with the signer's public key (`gameday verify --pubkey FILE`) a signature proves
who sealed the record. Without one, the signature is checked against the public key the
record carries, which only proves the record is consistent: anyone can reseal with a key of
their own, so `verify` names the fingerprint for the reader to compare.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from gameday.errors import InputError
from gameday.reports import manifest

SIGNATURE = manifest.SIGNATURE
KEY_ENV = "GAMEDAY_SIGNING_KEY"
PUBKEY_ENV = "GAMEDAY_SIGNING_PUBKEY"
ALGORITHM = "ed25519"


def _serialization():  # noqa: ANN202 - the module, imported when keys are used
    from cryptography.hazmat.primitives import serialization

    return serialization


def fingerprint(raw_public: bytes) -> str:
    """SHA-256 of the raw 32-byte public key, as 8 groups of 4 hex digits (the first 16 bytes)."""
    digest = hashlib.sha256(raw_public).hexdigest()[:32]
    return ":".join(digest[i : i + 4] for i in range(0, 32, 4))


def _raw(public_key) -> bytes:  # noqa: ANN001 - an Ed25519PublicKey
    s = _serialization()
    return public_key.public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)


def key_fingerprint(key) -> str:  # noqa: ANN001 - an Ed25519PrivateKey or PublicKey
    return fingerprint(_raw(key.public_key() if hasattr(key, "public_key") else key))


def keygen(directory: Path, name: str = "gameday-signing", force: bool = False) -> tuple[Path, Path, str]:
    """A new key pair in `directory`: (private key, public key, fingerprint). Refuses to
    overwrite an existing key unless `force`."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    s = _serialization()
    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / f"{name}.pem", directory / f"{name}.pub"
    if not force and (private.exists() or public.exists()):
        raise InputError(f"{private if private.exists() else public} exists: keygen does not overwrite a key", hint="choose another --out, or add --force to replace it")
    key = Ed25519PrivateKey.generate()
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))
    return private, public, fingerprint(_raw(key.public_key()))


def load_private(path: Path):  # noqa: ANN201 - an Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = _serialization().load_pem_private_key(Path(path).expanduser().read_bytes(), password=None)
    except OSError as exc:
        raise InputError(f"cannot read the signing key {path}: {exc.strerror or exc}", hint=f"gameday keygen makes one; {KEY_ENV} or --sign-key names it") from None
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path} is not an Ed25519 key", hint="gameday keygen makes one")
    return key


def load_public(path: Path):  # noqa: ANN201 - an Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = _serialization().load_pem_public_key(Path(path).expanduser().read_bytes())
    except OSError as exc:
        raise InputError(f"cannot read the public key {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise InputError(f"{path} is not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"{path} is not an Ed25519 public key")
    return key


def configured_key(given: str | Path | None = None):  # noqa: ANN201 - an Ed25519PrivateKey or None
    """The signing key `--sign-key` or GAMEDAY_SIGNING_KEY names (None: runs are not signed)."""
    path = given or os.environ.get(KEY_ENV, "")
    return load_private(Path(path)) if path else None


def sign(run_dir: Path, key, manifest_name: str) -> Path:  # noqa: ANN001 - an Ed25519PrivateKey
    """Sign the manifest's bytes; write the signature file atomically."""
    data = (run_dir / manifest_name).read_bytes()
    raw = _raw(key.public_key())
    body = {"algorithm": ALGORITHM, "signed": manifest_name, "public_key": base64.b64encode(raw).decode(), "fingerprint": fingerprint(raw),
            "signature": base64.b64encode(key.sign(data)).decode()}  # fmt: skip
    tmp = run_dir / f".{SIGNATURE}.tmp"
    tmp.write_text(json.dumps(body, indent=2) + "\n")
    os.replace(tmp, run_dir / SIGNATURE)
    return run_dir / SIGNATURE


@dataclass(frozen=True)
class SignatureCheck:
    ok: bool
    fingerprint: str  # the key the record names ("" when unreadable)
    detail: str


def check(run_dir: Path, manifest_name: str, public_key=None) -> SignatureCheck:  # noqa: ANN001 - an Ed25519PublicKey or None
    """The signature against the manifest's bytes, with `public_key` (the signer's) or, when
    None, the key the record carries."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        body = json.loads((run_dir / SIGNATURE).read_text())
        carried = base64.b64decode(body["public_key"], validate=True)
        signature = base64.b64decode(body["signature"], validate=True)
        if body.get("algorithm") != ALGORITHM or body.get("signed") != manifest_name:
            return SignatureCheck(False, "", f"{SIGNATURE}: not an {ALGORITHM} signature of {manifest_name}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return SignatureCheck(False, "", f"{SIGNATURE}: unreadable ({type(exc).__name__})")
    fp = fingerprint(carried)
    if public_key is not None and _raw(public_key) != carried:
        return SignatureCheck(False, fp, f"{SIGNATURE}: signed by key {fp}, not by the key given ({fingerprint(_raw(public_key))})")
    try:
        (public_key or Ed25519PublicKey.from_public_bytes(carried)).verify(signature, (run_dir / manifest_name).read_bytes())
    except InvalidSignature:
        return SignatureCheck(False, fp, f"{SIGNATURE}: the signature does not match {manifest_name}")
    except (OSError, ValueError) as exc:
        return SignatureCheck(False, fp, f"{SIGNATURE}: {exc}")
    return SignatureCheck(True, fp, f"signed by key {fp}")
