"""Suite files: every mistake is refused before anything starts, naming the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.cli import main
from gameday.errors import InputError
from gameday.suite.spec import Action, Outcome, Policy, load_suite
from gameday.suite.state import Attempt, DrillRecord, DrillStatus, SuiteState

REPO = Path(__file__).resolve().parents[2]
EXP = REPO / "experiments"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(InputError) as err:
        load_suite(write(tmp_path, text))
    return str(err.value)


def test_the_shipped_suites_load_and_group_their_drills_by_lab():
    q = load_suite(REPO / "suites" / "quarterly.yaml")
    assert len(q.drills) == len(list(EXP.glob("*.json"))), "the quarterly game day runs every drill"
    assert q.drills[-1].experiment.path.name == "region-failover.json" and q.drills[-1].lab == "region"
    assert q.labs["capped"].profile == (REPO / "profiles" / "az-capacity.yaml").resolve()
    n = load_suite(REPO / "suites" / "nightly.yaml")
    assert n.policy == Policy(fail=Action.CONTINUE, unknown=Action.CONTINUE, halt=Action.STOP)
    assert [d.key for d in n.drills][:2] == ["01-redis-primary-failover", "02-api-instance-loss"]


def test_one_lab_with_every_tier_when_the_suite_names_none(tmp_path):
    s = load_suite(write(tmp_path, f"drills:\n  - {EXP}/redis-primary-failover.json\n  - experiment: {EXP}/kafka-broker-loss.json\n    rate: 50\n"))
    assert list(s.labs) == ["lab"] and {"redis", "metrics", "kafka", "flink"} <= set(s.labs["lab"].tiers)
    assert s.drills[1].rate == 50 and s.name == "s"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("drills: []\n", "drills: expected a non-empty list"),
        ("drill: []\n", "unknown field(s) drill"),
        ("drills:\n  - experiment: nope.json\n", "drills[1].experiment: nope.json is not a file"),
        ("drills:\n  - experiment: {exp}\n    rate: -1\n", "drills[1].rate: expected a number >= 1"),
        ("drills:\n  - experiment: {exp}\n    shape: wavy\n", "drills[1].shape: expected one of"),
        ("drills:\n  - experiment: {exp}\n    colour: red\n", "drills[1]: unknown field(s) colour"),
        ("policy:\n  fail: shrug\ndrills:\n  - {exp}\n", "policy.fail: expected one of stop, continue"),
        ("policy:\n  pass: stop\ndrills:\n  - {exp}\n", "policy: unknown field(s) pass"),
        ("labs:\n  a: {{tiers: [redis]}}\n  b: {{tiers: [redis]}}\ndrills:\n  - {exp}\n", "drills[1]: missing field 'lab' (the suite has 2 labs"),
        ("labs:\n  a: {{tiers: [redis, cassandra]}}\ndrills:\n  - {exp}\n", "needs tier(s) api, metrics that lab 'a' does not start"),
        ("labs:\n  a: {{tiers: [redis, teapot]}}\ndrills:\n  - {exp}\n", "labs.a.tiers: unknown tier(s) teapot"),
        ("labs:\n  a: {{tiers: [redis, cassandra, api, metrics]}}\n  b: {{tiers: [redis]}}\ndrills:\n  - {{experiment: {exp}, lab: a}}\n", "labs: b named by no drill"),
        ("manage_lab: false\nlabs:\n  a: {{tiers: [redis]}}\ndrills:\n  - {exp}\n", "labs: given, but manage_lab is false"),
        ("manage_lab: maybe\ndrills:\n  - {exp}\n", "manage_lab: expected true or false"),
        ("drills:\n  - experiment: {exp}\n    profile: missing.yaml\n", "drills[1].profile: missing.yaml is not a file"),
        ("drills: [\n", "not valid YAML"),
    ],
)
def test_a_bad_suite_file_is_refused_naming_the_field(tmp_path, text, names):
    message = refused(tmp_path, text.format(exp=EXP / "redis-primary-failover.json"))
    assert names in message and "s.yaml" in message, message


def test_a_bad_profile_in_a_suite_names_the_drill_and_the_key(tmp_path):
    (tmp_path / "p.yaml").write_text("redis:\n  sentinel:\n    down_after: 1\n")
    message = refused(tmp_path, f"drills:\n  - experiment: {EXP}/redis-primary-failover.json\n    profile: p.yaml\n")
    assert "drills[1].profile" in message and "down_after" in message, message


def test_the_cli_refuses_a_bad_suite_with_exit_2_and_starts_nothing(tmp_path, capsys):
    path = write(tmp_path, "drills:\n  - experiment: nope.json\n")
    assert main(["suite", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "drills[1].experiment" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["suite", str(path), "--resume", str(tmp_path), "--out", str(tmp_path / "o")]) == 2


def test_policy_and_the_aggregated_exit_code():
    p = Policy(fail=Action.STOP)
    assert p.after(Outcome.FAIL) is Action.STOP and p.after(Outcome.PASS) is Action.CONTINUE and p.after(Outcome.HALT) is Action.STOP

    def state(*outcomes):
        drills = [DrillRecord(f"{i:02d}-x", "x.json", "lab", DrillStatus.DONE if o else DrillStatus.NOT_RUN, o,
                              [Attempt("r", 0, 1, 0, "carried_out", "")] if o else []) for i, o in enumerate(outcomes, 1)]  # fmt: skip
        return SuiteState("s", "s.yaml", "0", 0.0, drills)

    assert state(Outcome.PASS, Outcome.PASS).exit_code() == 0
    assert state(Outcome.PASS, Outcome.UNKNOWN).exit_code() == 2
    assert state(Outcome.UNKNOWN, Outcome.FAIL).exit_code() == 1, "a definite failure outranks an unknown"
    assert state(Outcome.HALT).exit_code() == 1
    assert state(Outcome.PASS, None).exit_code() == 2, "a drill never run is not a pass"
