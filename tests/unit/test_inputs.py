"""Bad input is refused with exit 2 and a message naming the file and field, before anything starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gameday.cli import main
from gameday.drill.experiment import load_experiment
from gameday.errors import InputError
from gameday.profile import load_profile
from gameday.profile.live import plan_changes
from gameday.spec import catalog

REPO = Path(__file__).resolve().parents[2]
EXPERIMENT = REPO / "experiments" / "redis-primary-failover.json"
VALID_SUMMARY = json.dumps({"run_id": "r", "experiment": "e.json", "target": "lab", "started_at": 1.0, "ended_at": 2.0, "exit_code": 0,
                            "status": "carried_out", "reason": "", "verdicts": [], "load": None})  # fmt: skip


def test_every_slo_has_clause_threshold_unit_and_reading():
    spec = catalog()
    assert len(spec.slos) >= 20
    for slo in spec.slos.values():
        assert slo.clause and slo.unit and slo.reading
    assert spec["redis.promotion_time"].threshold == 10
    assert spec["api.p95_latency"].threshold == 40
    assert spec["cache.hit_ratio"].threshold == 70


def test_shipped_experiment_is_valid():
    exp = load_experiment(EXPERIMENT)
    assert exp.runbook_path.is_file()
    assert "redis.promotion_time" in exp.drill.slos


def _write(tmp_path: Path, data: dict) -> Path:
    (tmp_path / "runbook.md").write_text("# runbook\n")
    path = tmp_path / "exp.json"
    path.write_text(json.dumps(data))
    return path


def _experiment() -> dict:
    data = json.loads(EXPERIMENT.read_text())
    data["extensions"][0]["runbook"] = "runbook.md"
    return data


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["extensions"][0].update(slos=["redis.promotion_time", "no.such.slo"]), "no.such.slo"),
        (lambda d: d["extensions"][0].update(tiers=["kafka-typo"]), "field 'tiers'"),
        (lambda d: d["extensions"][0].update(surprise=1), "unknown field(s) surprise"),
        (lambda d: d["extensions"][0].update(runbook="missing.md"), "runbook 'missing.md'"),
        (lambda d: d["extensions"][0]["load"].update(rate="fast"), "field 'rate'"),
        (lambda d: d.pop("method"), "experiment"),
        (lambda d: d.update(controls=[]), "gameday control"),
        (lambda d: d.update(extensions=[]), "no 'gameday' entry"),
        # cases that crashed, or were accepted, before
        (lambda d: d["extensions"][0].update(tiers=[["redis"]]), "field 'tiers' must list tier names"),
        (lambda d: d["extensions"][0].update(slos=[["redis.promotion_time"]]), "field 'slos' must list SLO names"),
        (lambda d: d["controls"][0].update(provider=None), "field 'controls'"),
        (lambda d: d.update(extensions="gameday"), "field 'extensions' must be a list"),
        (lambda d: d["extensions"][0]["load"].update(rate=float("nan")), "load rate must be a finite number"),
        (lambda d: d["extensions"][0]["load"].update(rate=float("inf")), "load rate must be a finite number"),
        (lambda d: d["extensions"][0]["load"].update(rate=1e308), "load rate must be above 0 and at most"),
        (lambda d: d["extensions"][0].update(warmup_s=-5), "field 'warmup_s' must be 0 to"),
        (lambda d: d["extensions"][0].update(baseline_s=-1), "field 'baseline_s' must be 0 to"),
        (lambda d: d["extensions"][0].update(cooldown_s=-1), "field 'cooldown_s' must be 0 to"),
        (lambda d: d["extensions"][0].update(max_duration_s=0), "field 'max_duration_s' must be 1 to"),
        (lambda d: d["extensions"][0]["load"].update(shape="step", shape_params={"step": 0}), "step must be above 0"),
        (lambda d: d["extensions"][0]["load"].update(shape="step", shape_params={"step_s": 0}), "step_s must be above 0"),
        (lambda d: d["extensions"][0]["load"].update(shape_params={"ramp_s": 60}), "must end within warmup_s"),
        (lambda d: d["extensions"][0]["load"].update(shape_params={"hold_s": 5}), "takes only ramp_s"),
        (lambda d: d["extensions"][0].update(slos=["redis.promotion_time", "redis.promotion_time"]), "more than once"),
        (lambda d: d["extensions"][0].update(tiers=[]), "field 'tiers' is empty"),
        (lambda d: d["extensions"][0].update(slos=[]), "field 'slos' is empty"),
        (lambda d: d["extensions"][0].update(runbook="/etc/passwd"), "outside the experiment's tree"),
        (lambda d: d["extensions"][0].update(runbook="../../../../etc/passwd"), "outside the experiment's tree"),
    ],
)
def test_bad_experiment_is_refused_naming_the_field(tmp_path, mutate, message):
    data = _experiment()
    mutate(data)
    with pytest.raises(InputError, match=None) as info:
        load_experiment(_write(tmp_path, data))
    assert message in str(info.value)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'"just a string"', "top level must be a JSON object"),
    ],
)
def test_unreadable_experiment_files_are_refused(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(bad) in err and "internal error" not in err


@pytest.mark.parametrize("args", [["--rate", "nan"], ["--rate", "inf"], ["--rate", "-3"], ["--processes", "0"], ["--processes", "1000"]])
def test_bad_run_flags_are_refused_before_anything_starts(tmp_path, capsys, args):
    assert main(["run", str(EXPERIMENT), "--out", str(tmp_path / "run"), *args]) == 2
    err = capsys.readouterr().err
    assert args[0] in err and "internal error" not in err and "lab is not running" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args", [["--max", "inf"], ["--start", "nan"], ["--step", "0"], ["--step-s", "0"], ["--max", "1e308"]])
def test_bad_capacity_flags_are_refused(tmp_path, capsys, args):
    assert main(["capacity", "--out", str(tmp_path / "cap"), *args]) == 2
    err = capsys.readouterr().err
    assert "capacity:" in err and "internal error" not in err


@pytest.mark.parametrize(
    "files, message",
    [
        ({}, "verdicts.json is missing"),
        ({"verdicts.json": "{", "history.jsonl": "", "journal.json": "{}"}, "not a gameday run summary"),
        ({"verdicts.json": VALID_SUMMARY, "history.jsonl": '{"kind":"no.such.kind","t":1}\n', "journal.json": "{}"}, "line 1"),
        ({"verdicts.json": VALID_SUMMARY, "history.jsonl": '{"kind":"marker","t":1,"name":"x"}\n{"kind":"mar', "journal.json": "{}"}, "line 2"),
        ({"verdicts.json": VALID_SUMMARY, "history.jsonl": "", "journal.json": "[]"}, "not a Chaos Toolkit journal"),
    ],
)
def test_check_refuses_a_broken_run_directory(tmp_path, capsys, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert main(["check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "internal error" not in err


def test_report_refuses_a_missing_or_invalid_summary(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    (tmp_path / "verdicts.json").write_text('{"run_id": 1}')
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "not a gameday run summary" in err and "internal error" not in err


def test_malformed_json_names_line_and_column(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"title": "x",\n  oops}')
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "line 2" in err


def test_unknown_profile_key_is_exit_2_naming_the_key(tmp_path, capsys):
    prof = tmp_path / "p.yaml"
    prof.write_text("redis:\n  sentinel:\n    down_after: 30000\n")
    assert main(["run", str(EXPERIMENT), "--profile", str(prof)]) == 2
    err = capsys.readouterr().err
    assert "redis.sentinel.down_after" in err and str(prof) in err


def test_profile_type_mismatch_is_refused(tmp_path):
    prof = tmp_path / "p.yaml"
    prof.write_text("redis:\n  sentinel:\n    down_after_ms: soon\n")
    with pytest.raises(InputError, match="down_after_ms"):
        load_profile(prof)


def test_profile_overrides_one_key_and_keeps_the_rest(tmp_path):
    prof = tmp_path / "p.yaml"
    prof.write_text("redis:\n  sentinel:\n    down_after_ms: 30000\n")
    p = load_profile(prof)
    assert p.get("redis.sentinel.down_after_ms") == 30000
    assert p.get("redis.sentinel.quorum") == 2


def test_live_tunable_change_is_planned_and_others_are_refused(tmp_path):
    running = load_profile().data
    slow = load_profile(overrides={"redis": {"sentinel": {"down_after_ms": 30000}}})
    assert plan_changes(running, slow) == {"redis.sentinel.down_after_ms": 30000}
    split = load_profile(overrides={"redis": {"min_replicas_to_write": 0, "client_wait_replicas": 0}})
    assert plan_changes(running, split) == {"redis.min_replicas_to_write": 0}  # live; the clients' WAIT is the run's own
    bigger = load_profile(overrides={"cassandra": {"heap_mb": 2048}})
    with pytest.raises(InputError, match="cassandra.heap_mb.*needs `gameday lab up --profile`"):
        plan_changes(running, bigger)


def test_run_without_a_lab_is_exit_2_and_starts_nothing(tmp_path, capsys, monkeypatch):
    prof = tmp_path / "p.yaml"
    prof.write_text(f"lab:\n  home: {tmp_path / 'nolab'}\n")
    assert main(["run", str(EXPERIMENT), "--profile", str(prof), "--out", str(tmp_path / "run")]) == 2
    assert "the lab is not running" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    assert not (tmp_path / "nolab").exists()


def test_an_unforeseen_error_is_exit_2_with_one_line_and_its_traceback_kept(monkeypatch, capsys):
    """The CLI's one error boundary: exit 1 is reserved for a failed SLO, so an exception
    gameday did not foresee is exit 2, one line naming it and where the traceback went."""
    import gameday.drill.experiment as experiment

    def broken(path):
        raise RuntimeError("something nobody foresaw")

    monkeypatch.setattr(experiment, "load_experiment", broken)
    assert main(["validate", str(EXPERIMENT)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gameday: internal error: RuntimeError: something nobody foresaw (traceback in ")
    saved = Path(err[0].rsplit("traceback in ", 1)[1].rstrip(")"))
    text = saved.read_text()
    assert "Traceback" in text and "something nobody foresaw" in text and "broken" in text
    saved.unlink()


def test_lab_setup_errors_are_lab_errors_not_tracebacks():
    """Errors of the lab's own modules (Cassandra's setup among them) are GamedayErrors."""
    from gameday.errors import GamedayError
    from gameday.lab.tiers.cassandra_node import CassandraSetupError

    assert issubclass(CassandraSetupError, GamedayError) and CassandraSetupError("x").exit_code == 2
