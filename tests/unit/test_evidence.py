"""Evidence that can be verified (gameday keygen / verify / report), on made-up run
directories: a signed run verifies; changing, removing or adding any byte of it (a verdict,
the history, the report, the manifest, the signature) makes `gameday verify` exit 1 naming
the file; `gameday report` refuses to re-bless changed evidence unless told to reseal, and
a resealed record says so in its files, its report and `verify`."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from gameday.cli import main
from gameday.drill.runner import finish
from gameday.drill.summary import RunSummary
from gameday.evidence import provenance, seal, signing
from gameday.reports.manifest import MANIFEST, SIGNATURE
from tests.unit.test_reports import make_run


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private, public, _ = signing.keygen(tmp_path / "keys")
    return private, public


def _signed_run(tmp_path: Path, private: Path) -> Path:
    run = make_run(tmp_path / "run")
    profile = run / "profile.yaml"
    profile.write_text("lab:\n  home: /x\n")
    provenance.record(run, profile, "alice")
    finish(run, RunSummary.read(run / "verdicts.json"), signing.load_private(private))
    return run


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(tmp_path):
    private, public, fp = signing.keygen(tmp_path / "k")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600 and public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert len(fp.split(":")) == 8
    assert main(["keygen", "--out", str(tmp_path / "k")]) == 2  # exists: refused
    assert main(["keygen", "--out", str(tmp_path / "k"), "--force"]) == 0


def test_a_signed_run_verifies_with_its_key_and_names_the_key_without_one(tmp_path, keys, capsys):
    private, public = keys
    run = _signed_run(tmp_path, private)
    assert (run / SIGNATURE).exists() and SIGNATURE not in (run / MANIFEST).read_text() and "provenance.json" in (run / MANIFEST).read_text()
    assert main(["verify", str(run), "--pubkey", str(public)]) == 0
    assert "the key given" in capsys.readouterr().out
    assert main(["verify", str(run)]) == 0
    assert f"signed by key {signing.key_fingerprint(signing.load_public(public))}" in capsys.readouterr().out
    html = (run / "report.html").read_text()
    assert "alice" in html and provenance.catalog_sha256() in html


@pytest.mark.parametrize("target, change", [
    ("verdicts.json", lambda p: p.write_text(p.read_text().replace('"fail"', '"pass"'))),
    ("history.jsonl", lambda p: p.write_bytes(p.read_bytes()[:-2] + b"\n")),
    ("report.html", lambda p: p.write_text(p.read_text().replace("fail", "pass"))),
    ("logs/redis-a.log", lambda p: p.unlink()),
])
def test_changing_or_removing_any_file_of_a_signed_run_is_named(tmp_path, keys, capsys, target, change):
    private, public = keys
    run = _signed_run(tmp_path, private)
    change(run / target)
    assert main(["verify", str(run), "--pubkey", str(public)]) == 1
    assert target in capsys.readouterr().out


def test_a_changed_manifest_a_changed_signature_an_added_file_and_another_key_are_named(tmp_path, keys, capsys):
    private, public = keys
    run = _signed_run(tmp_path, private)
    manifest = run / MANIFEST
    original = manifest.read_bytes()
    manifest.write_bytes(original.replace(b"  journal.json", b"  journal.json\n" + b"0" * 64 + b"  forged.txt", 1))
    assert main(["verify", str(run), "--pubkey", str(public)]) == 1
    assert SIGNATURE in capsys.readouterr().out  # the manifest no longer matches its signature
    manifest.write_bytes(original)
    sig = json.loads((run / SIGNATURE).read_text())
    sig["signature"] = sig["signature"][:-4] + ("AAA=" if not sig["signature"].endswith("AAA=") else "BBB=")
    (run / SIGNATURE).write_text(json.dumps(sig))
    assert main(["verify", str(run)]) == 1
    assert "does not match" in capsys.readouterr().out
    run2 = _signed_run(tmp_path / "second", private)
    (run2 / "notes.txt").write_text("added later")
    assert main(["verify", str(run2)]) == 1
    assert "extra: notes.txt" in capsys.readouterr().out
    (run2 / "notes.txt").unlink()
    _, other, _ = signing.keygen(tmp_path / "other")
    assert main(["verify", str(run2), "--pubkey", str(other)]) == 1
    assert "not by the key given" in capsys.readouterr().out


def test_the_old_attack_change_a_verdict_delete_the_seal_and_rerender_is_caught_with_the_key(tmp_path, keys, capsys):
    private, public = keys
    run = _signed_run(tmp_path, private)
    verdicts = run / "verdicts.json"
    verdicts.write_text(verdicts.read_text().replace('"fail"', '"pass"'))
    assert main(["report", str(run)]) == 2  # changed evidence is not re-blessed
    assert "verdicts.json" in capsys.readouterr().err
    (run / MANIFEST).unlink()
    assert main(["report", str(run)]) == 2  # the signature still says it was sealed
    (run / SIGNATURE).unlink()
    assert main(["report", str(run)]) == 0  # nothing left to say it was sealed ...
    assert main(["verify", str(run), "--pubkey", str(public)]) == 1  # ... but its signer's key says it is not signed
    assert f"missing: {SIGNATURE}" in capsys.readouterr().out


def test_a_resealed_record_says_so_in_its_history_its_report_and_verify(tmp_path, keys, capsys, monkeypatch):
    private, public = keys
    run = _signed_run(tmp_path, private)
    (run / "runbook.md").write_text("# edited after the run\n")
    monkeypatch.setenv(signing.KEY_ENV, str(private))
    assert main(["report", str(run), "--reseal", "--operator", "bob"]) == 0
    assert "RESEALED by bob" in capsys.readouterr().err
    (entry,) = seal.seal_history(run)
    assert entry["action"] == "resealed" and entry["problems"] == ["changed: runbook.md"] and entry["signed"]
    assert "RESEALED" in (run / "report.html").read_text() and "RESEALED" in (run / "report.md").read_text()
    assert main(["verify", str(run), "--pubkey", str(public)]) == 0
    assert "RESEALED 1 time(s)" in capsys.readouterr().out


def test_an_intact_signed_run_is_rendered_again_only_with_its_key(tmp_path, keys, capsys, monkeypatch):
    private, public = keys
    run = _signed_run(tmp_path, private)
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    assert main(["report", str(run)]) == 2
    assert "is signed" in capsys.readouterr().err
    assert main(["report", str(run), "--sign-key", str(private)]) == 0
    assert [h["action"] for h in seal.seal_history(run)] == ["re-rendered"]
    assert main(["verify", str(run), "--pubkey", str(public)]) == 0


def test_verify_exits_2_when_it_cannot_check(tmp_path, keys, capsys):
    assert main(["verify", str(tmp_path / "nowhere")]) == 2
    run = make_run(tmp_path / "unsealed")
    assert main(["verify", str(run)]) == 2
    assert "nothing to check it against" in capsys.readouterr().err
    (tmp_path / "bad.pub").write_text("not a key")
    finish(run, RunSummary.read(run / "verdicts.json"))
    assert main(["verify", str(run), "--pubkey", str(tmp_path / "bad.pub")]) == 2
    assert main(["verify", str(run)]) == 0  # sealed, unsigned: the files match
    assert "not signed" in capsys.readouterr().out


def test_a_bad_signing_key_is_refused_before_a_run_starts(tmp_path, capsys):
    key = tmp_path / "k.pem"
    key.write_text("nope")
    assert main(["run", "experiments/redis-primary-failover.json", "--sign-key", str(key), "--out", str(tmp_path / "r")]) == 2
    assert "not an unencrypted PEM private key" in capsys.readouterr().err and not (tmp_path / "r").exists()


def test_provenance_names_the_code_the_catalog_the_profile_and_the_operator(tmp_path, monkeypatch):
    profile = tmp_path / "profile.yaml"
    profile.write_text("x: 1\n")
    monkeypatch.setenv(provenance.OPERATOR_ENV, "carol")
    prov = provenance.record(tmp_path, profile)
    assert prov.operator == "carol" and prov.code_version.startswith(("git:", "package:")) and len(prov.catalog_sha256) == 64
    assert provenance.Provenance.read(tmp_path) == prov
    assert provenance.operator("dave") == "dave"
