"""One profile per run: what a run's profile may change on a running lab, and how the run's
one profile is made from the lab's and the run's file. No lab needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.errors import InputError
from gameday.profile import flatten, load_profile, rules
from gameday.profile.live import LIVE, per_run, plan_changes


def _other(key: str, value, tmp_path: Path):
    """A different value of the same type that the profile's rules accept."""
    if isinstance(value, bool):
        return not value
    if key in rules.CHOICES:
        return next(c for c in rules.CHOICES[key] if c != value)
    if isinstance(value, (int, float)):
        low, high = rules.COUNTS.get(key, (0, 65535 if key.endswith("port") else 10**9))
        if key == "kafka.min_insync_replicas":
            return value - 1
        return value + 1 if value + 1 <= high else value - 1
    plan = tmp_path / "plan.yaml"
    plan.write_text("steps:\n  - promote: cache\n")
    special = {"lab.bridge": "gd-other0", "lab.subnet": "10.99.0.0/24", "lab.dr_subnet": "10.98.0.0/24", "dr.plan": str(plan), "lab.home": str(tmp_path / "home"), "timetable.start": "2027-01-01", "ingest.kafka_debug": "broker,eos"}
    return special.get(key, str(value) + "-x")


@pytest.mark.parametrize("key", sorted(flatten(load_profile().data)))
def test_every_profile_key_takes_effect_per_run_or_is_refused_by_name(key, tmp_path: Path):
    """Each key of defaults.yaml, changed in a run's profile: a per-run key applies as is, a
    live key becomes a live change, anything else is refused naming the key and the way."""
    lab = load_profile().data
    value = _other(key, flatten(lab)[key], tmp_path)
    *parents, last = key.split(".")
    nested: dict = {last: value}
    for part in reversed(parents):
        nested = {part: nested}
    run = load_profile(overrides=nested)
    assert run.overrides == {key: value}
    if per_run(key):
        assert plan_changes(lab, run) == {}
    elif key in LIVE:
        assert plan_changes(lab, run) == {key: value}
    else:
        with pytest.raises(InputError, match=rf"'{key}' .*needs `gameday lab up --profile`"):
            plan_changes(lab, run)


def test_a_key_equal_to_the_labs_is_no_change():
    lab = load_profile(overrides={"zookeeper": {"session_timeout_ms": 60000}}).data
    same = load_profile(overrides={"zookeeper": {"session_timeout_ms": 60000}})
    assert plan_changes(lab, same) == {}


def test_the_runs_profile_is_the_labs_with_the_runs_keys_over_it(tmp_path: Path):
    """A lab started with a 60 s ZooKeeper session and a run asking only for a slow Sentinel
    and two generator processes: the run's one profile has all three, and the lab's values
    for everything the run's file does not name (not the defaults)."""
    lab = load_profile(overrides={"zookeeper": {"session_timeout_ms": 60000}}).data
    file = tmp_path / "run.yaml"
    file.write_text("redis:\n  sentinel:\n    down_after_ms: 30000\nload:\n  processes: 2\n")
    requested = load_profile(file)
    assert requested.overrides == {"redis.sentinel.down_after_ms": 30000, "load.processes": 2}
    run = requested.over(lab, requested.source)
    assert run.get("zookeeper.session_timeout_ms") == 60000
    assert run.get("redis.sentinel.down_after_ms") == 30000
    assert run.get("load.processes") == 2
    assert run.get("kafka.partitions") == load_profile().get("kafka.partitions")
    assert plan_changes(lab, requested) == {"redis.sentinel.down_after_ms": 30000}


def test_a_profile_written_for_the_probes_reads_back_as_the_same_run_profile(tmp_path: Path):
    """The runner writes the run's profile into the run directory; the probes load it."""
    import yaml

    lab = load_profile(overrides={"kafka": {"acks": "1"}}).data
    run = load_profile(overrides={"host": {"settle_max_wait_s": 0}}).over(lab, "run")
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(run.data))
    again = load_profile(path).over(lab, str(path))
    assert again.data == run.data


@pytest.mark.parametrize(
    "yaml_text, key",
    [
        ("lab:\n  bridge: docker0\n", "lab.bridge"),
        ("lab:\n  subnet: 8.8.8.0/24\n", "lab.subnet"),
        ("lab:\n  subnet: not-a-cidr\n", "lab.subnet"),
        ("redis:\n  port: 70000\n", "redis.port"),
        ("kafka:\n  partitions: 0\n", "kafka.partitions"),
        ("kafka:\n  replication_factor: -1\n", "kafka.replication_factor"),
        ("kafka:\n  min_insync_replicas: 3\n  replication_factor: 2\n", "kafka.min_insync_replicas"),
        ("flink:\n  checkpoint_interval_s: .nan\n", "flink.checkpoint_interval_s"),
        ("ingest:\n  rate_per_supplier: .inf\n", "ingest.rate_per_supplier"),
        ("host:\n  settle_pressure_pct: 150\n", "host.settle_pressure_pct"),
        ("lab:\n  home: /tmp\n", "lab.home"),
        ("timetable:\n  start: tomorrow\n", "timetable.start"),
        ("stream:\n  delivery: exactly-once\n", "stream.delivery"),
        ("ingest:\n  kafka_debug: broker,verbose\n", "ingest.kafka_debug"),
    ],
)
def test_a_value_out_of_range_is_refused_naming_the_key(yaml_text, key, tmp_path: Path):
    file = tmp_path / "p.yaml"
    file.write_text(yaml_text)
    with pytest.raises(InputError, match=rf"{file}: '{key}' "):
        load_profile(file)


def test_the_delivery_mode_is_fixed_at_lab_up_a_run_asking_another_is_refused_by_name():
    lab = load_profile(overrides={"stream": {"delivery": "at_least_once"}}).data
    assert load_profile().get("stream.delivery") == "exactly_once"  # the plan's main text
    with pytest.raises(InputError, match=r"'stream.delivery' is 'exactly_once' but the running lab has 'at_least_once'; it needs `gameday lab up --profile`"):
        plan_changes(lab, load_profile(overrides={"stream": {"delivery": "exactly_once"}}))
    assert plan_changes(lab, load_profile(overrides={"stream": {"delivery": "at_least_once"}})) == {}
