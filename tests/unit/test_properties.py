"""Property-based tests that try to make the checkers lie and the commands crash (hypothesis,
fabricated histories and files: no lab).

- No checker passes below its evidence minimum (from the catalog).
- Moving a measured value across its threshold flips the verdict, both ways.
- No generated experiment, profile or run directory makes a command end in a traceback:
  every refusal is exit 2 with a message, never "internal error".
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gameday.checkers.verdicts import Verdict
from gameday.cli import main
from gameday.history import (
    CacheCounters,
    CanarySample,
    FaultEvent,
    FaultPhase,
    IngestSecond,
    IntegrityAudit,
    Inventory,
    LoadSecond,
    Marker,
    RedisRoleSample,
    SentinelSample,
    StreamLagSecond,
    WriteSample,
)
from gameday.profile import flatten, load_profile
from gameday.spec import catalog

REPO = Path(__file__).resolve().parents[2]
EXPERIMENT = REPO / "experiments" / "redis-primary-failover.json"


from tests.unit.histories import check_one, hist_of

T0 = 1_800_000_000.0
SPEC = catalog()
CHECKS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INPUTS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def fault_window(start: float, end: float, name: str = "redis.kill_primary") -> list:
    return [FaultEvent(t=start, phase=FaultPhase.INJECTED, fault=name, component="x"), FaultEvent(t=end, phase=FaultPhase.REVERTED, fault=name, component="x")]


# --- below the evidence minimum, never a pass --------------------------------------------------

per_second = st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12), st.floats(0.1, 500)), min_size=1, max_size=8)


@CHECKS
@given(seconds=per_second, in_fault=st.booleans())
def test_latency_and_errors_never_pass_on_too_few_requests(seconds, in_fault):
    """At most 8 seconds of at most 12 requests: below every latency and error minimum."""
    start = T0 + (100 if in_fault else 0)
    load = [LoadSecond(t=start + i, worker="w", requests=n, failures=min(f, n), hist=hist_of(ms, n), offered=n) for i, (n, f, ms) in enumerate(seconds)]
    records = [Marker(t=T0, name="warmup.end"), *fault_window(T0 + 100, T0 + 120), *load]
    assert sum(s.requests for s in load) < SPEC["api.error_rate"].evidence.min_requests
    for slo in ("api.p95_latency", "api.p95_latency_peak", "api.p95_latency_during_fault", "api.error_rate"):
        assert check_one(slo, records).verdict is not Verdict.PASS, slo


@CHECKS
@given(hits=st.lists(st.floats(0, 10), min_size=2, max_size=8))
def test_hit_ratio_never_passes_on_too_few_lookups(hits):
    total = 0.0
    records = [Marker(t=T0, name="warmup.end")]
    for i, h in enumerate(hits):
        total += h
        records.append(CacheCounters(t=T0 + i, instance="a", hits=total, misses=0.0, errors=0.0))
    assert check_one("cache.hit_ratio", records).verdict is not Verdict.PASS


@CHECKS
@given(lags=st.lists(st.floats(0, 4), max_size=9))
def test_processing_lag_never_passes_on_too_few_seconds(lags):
    records = [Marker(t=T0, name="warmup.end")] + [StreamLagSecond(t=T0 + i, events=10, p95_s=x, max_s=x, processed_until=T0 + i + x) for i, x in enumerate(lags)]
    assert check_one("kafka.consumer_lag_p95", records).verdict is not Verdict.PASS


@CHECKS
@given(acked=st.lists(st.integers(0, 12), min_size=1, max_size=8), failed=st.lists(st.integers(0, 5000), min_size=1, max_size=8))
def test_ingest_lag_never_passes_on_too_few_acknowledged_events(acked, failed):
    records = [Marker(t=T0, name="warmup.end")] + [IngestSecond(t=T0 + i, acked=a, failed=f, max_ack_latency_s=0.1, failed_lag_floor_s=30.0) for i, (a, f) in enumerate(zip(acked, failed))]
    assert check_one("ingest.lag", records).verdict is not Verdict.PASS


@CHECKS
@given(acknowledged=st.integers(0, 99), lost=st.integers(0, 5))
def test_the_audit_never_passes_on_too_few_events(acknowledged, lost):
    audit = IntegrityAudit(t=T0, cutoff=T0, acknowledged=acknowledged, lost_in_topic=0, duplicated_in_topic=0, lost_in_output=lost,
                           duplicated_in_output=0, lost_in_archive=0, duplicated_in_archive=0)  # fmt: skip
    for slo in ("data.events_lost", "data.events_duplicated"):
        assert check_one(slo, [audit]).verdict is not Verdict.PASS


@CHECKS
@given(delays=st.lists(st.floats(0, 0.9), max_size=9))
def test_freshness_never_passes_on_too_few_canaries(delays):
    records = [Marker(t=T0, name="warmup.end")] + [CanarySample(t=T0 + 3 * i, flight_id="f", amount_pence=i, seen_at=T0 + 3 * i + d) for i, d in enumerate(delays)]
    assert check_one("freshness.searchable", records).verdict is not Verdict.PASS


@CHECKS
@given(oks=st.lists(st.booleans(), min_size=1, max_size=60))
def test_write_recovery_never_passes_without_a_lasting_run_of_successes(oks):
    kill = FaultEvent(t=T0, phase=FaultPhase.INJECTED, fault="redis.kill_primary", component="redis-a")
    writes = [WriteSample(t=T0 + 0.1 + 0.2 * i, ok=ok, latency_ms=1.0) for i, ok in enumerate(oks)]
    out = check_one("redis.client_write_recovery", [kill, *writes])
    final_run = len(oks) - next((i for i in range(len(oks) - 1, -1, -1) if not oks[i]), -1) - 1
    if final_run < SPEC["redis.client_write_recovery"].evidence.min_writes:
        assert out.verdict is not Verdict.PASS


@CHECKS
@given(sampled=st.sets(st.sampled_from(["sentinel-a", "sentinel-b", "sentinel-c"]), max_size=2), promote_s=st.floats(0.5, 9))
def test_promotion_never_passes_unless_every_sentinel_of_the_topology_was_sampled(sampled, promote_s):
    records = [Inventory(t=T0 - 1, role="sentinel", components=("sentinel-a", "sentinel-b", "sentinel-c")),
               FaultEvent(t=T0, phase=FaultPhase.INJECTED, fault="redis.kill_primary", component="redis-a")]  # fmt: skip
    for i in range(60):
        t = T0 + 0.2 * i
        primary = "redis-b" if t >= T0 + promote_s else "redis-a"
        records += [SentinelSample(t=t, sentinel=s, primary=primary) for s in sampled]
        records.append(RedisRoleSample(t=t, node="redis-b", role="master" if primary == "redis-b" else "slave"))
    assert check_one("redis.promotion_time", records).verdict is not Verdict.PASS


# --- across the threshold, the verdict flips ------------------------------------------------------


@CHECKS
@given(worst=st.floats(0.0, 100.0))
def test_ingest_lag_flips_at_its_threshold(worst):
    records = [Marker(t=T0, name="warmup.end")] + [IngestSecond(t=T0 + i, acked=50, failed=0, max_ack_latency_s=worst if i == 3 else 0.1) for i in range(10)]
    out = check_one("ingest.lag", records)
    slo = SPEC["ingest.lag"]
    assert out.verdict is (Verdict.PASS if slo.met_by(max(worst, 0.1)) else Verdict.FAIL)


@CHECKS
@given(lag=st.floats(0.0, 20.0))
def test_processing_lag_flips_at_its_threshold(lag):
    records = [Marker(t=T0, name="warmup.end")] + [StreamLagSecond(t=T0 + i, events=10, p95_s=lag, max_s=lag, processed_until=T0 + i + lag) for i in range(30)]
    out = check_one("kafka.consumer_lag_p95", records)
    assert out.verdict is (Verdict.PASS if SPEC["kafka.consumer_lag_p95"].met_by(lag) else Verdict.FAIL)


@CHECKS
@given(lost=st.integers(0, 3), duplicated=st.integers(0, 3))
def test_integrity_flips_at_zero(lost, duplicated):
    audit = IntegrityAudit(t=T0, cutoff=T0, acknowledged=500, lost_in_topic=0, duplicated_in_topic=0, lost_in_output=lost,
                           duplicated_in_output=duplicated, lost_in_archive=0, duplicated_in_archive=0)  # fmt: skip
    assert check_one("data.events_lost", [audit]).verdict is (Verdict.PASS if lost == 0 else Verdict.FAIL)
    assert check_one("data.events_duplicated", [audit]).verdict is (Verdict.PASS if duplicated == 0 else Verdict.FAIL)


@CHECKS
@given(delay=st.floats(0.01, 5.0))
def test_freshness_flips_at_its_threshold(delay):
    records = [Marker(t=T0, name="warmup.end")] + [CanarySample(t=T0 + 3 * i, flight_id="f", amount_pence=i, seen_at=T0 + 3 * i + (delay if i == 4 else 0.2)) for i in range(12)]
    out = check_one("freshness.searchable", records)
    assert out.verdict is (Verdict.PASS if SPEC["freshness.searchable"].met_by(max(delay, 0.2)) else Verdict.FAIL)


@CHECKS
@given(failed_per_second=st.integers(0, 5))
def test_error_rate_flips_at_its_threshold(failed_per_second):
    """1,000 requests a second for 60 s, `failed_per_second` of them failing throughout."""
    records = [Marker(t=T0, name="warmup.end"), *fault_window(T0 + 20, T0 + 40)]
    records += [LoadSecond(t=T0 + i, worker="w", requests=1000, failures=failed_per_second, hist=hist_of(5.0, 1), offered=1000) for i in range(60)]
    out = check_one("api.error_rate", records)
    pct = 100.0 * failed_per_second / 1000
    assert out.verdict is (Verdict.PASS if SPEC["api.error_rate"].met_by(pct) else Verdict.FAIL)


@CHECKS
@given(promote_s=st.floats(0.5, 25.0))
def test_promotion_flips_at_its_threshold(promote_s):
    sentinels = ("sentinel-a", "sentinel-b", "sentinel-c")
    records = [Inventory(t=T0 - 1, role="sentinel", components=sentinels), FaultEvent(t=T0, phase=FaultPhase.INJECTED, fault="redis.kill_primary", component="redis-a")]
    for i in range(200):  # 40 s watched, 200 ms apart
        t = T0 + 0.2 * i
        primary = "redis-b" if t >= T0 + promote_s else "redis-a"
        records += [SentinelSample(t=t, sentinel=s, primary=primary) for s in sentinels]
        records.append(RedisRoleSample(t=t, node="redis-b", role="master" if primary == "redis-b" else "slave"))
    out = check_one("redis.promotion_time", records)
    assert out.verdict is (Verdict.PASS if SPEC["redis.promotion_time"].met_by(out.measured) else Verdict.FAIL)
    assert out.measured - promote_s < 0.2 + 1e-6  # measured at the first sample that shows it


# --- generated input: a clean refusal, never a traceback ---------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
EXPERIMENT_DATA = json.loads(EXPERIMENT.read_text())
EXT_KEYS = ["runbook", "tiers", "slos", "load", "warmup_s", "baseline_s", "cooldown_s", "max_duration_s", "steady_state_only", "surprise"]
TOP_KEYS = ["title", "description", "method", "rollbacks", "controls", "extensions", "configuration", "steady-state-hypothesis"]


def _no_traceback(capsys, code: int, allowed=(0, 1, 2)) -> None:
    err = capsys.readouterr().err
    assert code in allowed, err
    assert "internal error" not in err and "Traceback" not in err, err


@INPUTS
@given(where=st.sampled_from(["top", "extension", "load"]), key=st.sampled_from(EXT_KEYS + TOP_KEYS + ["rate", "shape", "shape_params"]), value=json_values)
def test_no_generated_experiment_ends_in_a_traceback(capsys, where, key, value):
    data = json.loads(json.dumps(EXPERIMENT_DATA))
    ext = next(e for e in data["extensions"] if e.get("name") == "gameday")
    target = {"top": data, "extension": ext, "load": ext["load"]}[where]
    target[key] = value
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "experiments" / "x.json"
        path.parent.mkdir()
        (Path(tmp) / "runbooks").mkdir()
        (Path(tmp) / "runbooks" / "redis-primary-failover.md").write_text("# r\n")
        path.write_text(json.dumps(data, allow_nan=True))
        _no_traceback(capsys, main(["validate", str(path)]), allowed=(0, 2))


FLAT = flatten(load_profile().data)


@INPUTS
@given(key=st.sampled_from(sorted(FLAT) + ["no.such.key", "lab"]), value=json_values)
def test_no_generated_profile_ends_in_a_traceback(capsys, key, value):
    """A profile with one generated key, for a run against a lab home that holds no lab:
    refused naming the key, or valid and then refused because no lab runs there."""
    with tempfile.TemporaryDirectory() as tmp:
        profile = Path(tmp) / "p.yaml"
        nested: dict = {}
        node = nested
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
        if key != "lab.home" and isinstance(nested.setdefault("lab", {}), dict):
            nested["lab"]["home"] = str(Path(tmp) / "no-lab-here")
        profile.write_text(yaml.safe_dump(nested, allow_unicode=True))
        code = main(["run", str(EXPERIMENT), "--profile", str(profile), "--out", str(Path(tmp) / "run")])
        _no_traceback(capsys, code, allowed=(2,))
        assert not (Path(tmp) / "run").exists()


run_files = st.fixed_dictionaries({}, optional={
    "verdicts.json": json_values.map(lambda v: json.dumps(v)) | st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    "history.jsonl": st.lists(json_values.map(lambda v: json.dumps(v)) | st.text(max_size=30), max_size=5).map("\n".join),
    "journal.json": json_values.map(lambda v: json.dumps(v)),
})  # fmt: skip


@INPUTS
@given(files=run_files, command=st.sampled_from(["check", "report"]))
def test_no_generated_run_directory_ends_in_a_traceback(capsys, files, command):
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files.items():
            (Path(tmp) / name).write_text(text)
        _no_traceback(capsys, main([command, tmp]))

