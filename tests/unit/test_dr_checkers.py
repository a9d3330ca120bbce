"""The region drill's checkers on made-up histories (the harness's logic in isolation; the
lab test drives a real region loss): RPO from the region audit, RTO in phases, and the
5-minute decision rule, each able to pass, fail and say unknown."""

from __future__ import annotations

from gameday.checkers import run_checkers
from gameday.checkers.verdicts import Verdict
from gameday.faults import Fault
from gameday.history import EntrySearch, FaultEvent, FaultPhase, History, Inventory, PromotionEvent, PromotionPhase, RegionAudit, RegionLakeAudit, RegionStoreAudit, StoreReadBack, StoreWrite
from gameday.monitors.region import store_audit
from gameday.monitors.region_audit import lake_audit, window

T0 = 1_000_000.0
PLAN = "promotion.yaml: promote cache, promote store, start api, switch entry"


def _verdict(records, slo):
    (outcome,) = run_checkers(History.of_records(sorted(records, key=lambda r: r.t)), [slo])
    return outcome


def _loss():
    return [Inventory(t=T0 - 30, role="api", components=("api-a", "api-b", "api-c")),
            FaultEvent(t=T0, phase=FaultPhase.INJECTED, fault=Fault.REGION_LOSS.value, component="primary")]  # fmt: skip


def _promotion(decided_after: float, wait: float, by: str = "promoter", plan: str = PLAN, fail_step: str = "", needs: str = ""):
    d = T0 + decided_after
    out = [PromotionEvent(t=T0 + 1.2, phase=PromotionPhase.PRIMARY_DOWN, by=by, decision_wait_s=wait),
           PromotionEvent(t=d, phase=PromotionPhase.DECIDED, by=by, decision_wait_s=wait, plan=plan, needs=needs)]  # fmt: skip
    if fail_step:
        return out + [PromotionEvent(t=d + 1, phase=PromotionPhase.STEP_STARTED, step=fail_step), PromotionEvent(t=d + 2, phase=PromotionPhase.FAILED, step=fail_step, detail="boom")]
    return out + [PromotionEvent(t=d + 1, phase=PromotionPhase.STEP_STARTED, step="start api"), PromotionEvent(t=d + 9, phase=PromotionPhase.STEP_DONE, step="start api"),
                  PromotionEvent(t=d + 10, phase=PromotionPhase.PROMOTED)]  # fmt: skip


def _searches(until: float, dr_from: float | None):
    out = [EntrySearch(t=T0 - 10 + i, ok=True, instance="api-a", flights=3) for i in range(10)]
    for i in range(int(until)):
        t = T0 + i + 0.5
        served = dr_from is not None and t >= T0 + dr_from
        out.append(EntrySearch(t=t, ok=served, instance="api-dr" if served else "", flights=3 if served else 0, error="" if served else "HTTP 503"))
    return out


def test_rto_passes_with_the_plans_wait_and_names_the_phases():
    o = _verdict(_loss() + _promotion(301.2, 300) + _searches(360, dr_from=312), "dr.rto")
    assert o.verdict is Verdict.PASS and o.measured == 312.5
    assert "detection 1.2 s" in o.detail and "decision 301.2 s (promoter, wait 300 s)" in o.detail and "start api 8.0 s" in o.detail and "served by api-dr" in o.detail


def test_rto_fails_when_the_region_never_serves_and_names_the_missing_step():
    plan = "p.yaml: promote cache, promote store"
    o = _verdict(_loss() + _promotion(301.0, 300, plan=plan) + _searches(1000, dr_from=None), "dr.rto")
    assert o.verdict is Verdict.FAIL and o.measured >= 999
    assert "has no step start api or switch entry" in o.detail


def test_rto_fails_when_a_finished_promotion_leaves_nothing_serving_even_with_a_short_wait():
    plan = "p.yaml: promote cache, promote store, switch entry"
    o = _verdict(_loss() + _promotion(21.0, 20, plan=plan) + _searches(90, dr_from=None), "dr.rto")
    assert o.verdict is Verdict.FAIL and "has no step start api" in o.detail and "would not serve by waiting longer" in o.detail


def test_rto_names_a_missing_index_restore_when_the_deployment_searches_an_index():
    plan = "p.yaml: promote cache, promote store, start api, switch entry"
    o = _verdict(_loss() + _promotion(21.0, 20, plan=plan, needs="restore index, start api, switch entry") + _searches(90, dr_from=None), "dr.rto")
    assert o.verdict is Verdict.FAIL and "has no step restore index:" in o.detail
    without_index = _verdict(_loss() + _promotion(21.0, 20, plan=plan, needs="start api, switch entry") + _searches(90, dr_from=None), "dr.rto")
    assert "has no step" not in without_index.detail  # the plan had what this deployment needs


def test_rto_of_a_shortened_wait_is_not_comparable():
    o = _verdict(_loss() + _promotion(31.0, 30) + _searches(80, dr_from=42), "dr.rto")
    assert o.verdict is Verdict.UNKNOWN and "not comparable" in o.detail and "42.5 s" in o.detail


def test_rto_without_a_region_loss_is_unknown():
    o = _verdict(_searches(10, dr_from=None), "dr.rto")
    assert o.verdict is Verdict.UNKNOWN


def test_the_decision_rule_passes_at_five_minutes_and_fails_early_or_late():
    assert _verdict(_loss() + _promotion(301.0, 300), "dr.promote_after").verdict is Verdict.PASS
    early = _verdict(_loss() + _promotion(120.0, 300), "dr.promote_after")  # a promoter that did not wait its 300 s
    assert early.verdict is Verdict.FAIL and early.measured == 120.0
    late = _verdict(_loss() + _promotion(400.0, 300), "dr.promote_after")
    assert late.verdict is Verdict.FAIL and "More than 30 s after" in late.detail


def test_the_decision_rule_by_an_operator_or_a_shortened_wait_is_unknown():
    assert _verdict(_loss() + _promotion(60.0, 0, by="operator"), "dr.promote_after").verdict is Verdict.UNKNOWN
    assert _verdict(_loss() + _promotion(31.0, 30), "dr.promote_after").verdict is Verdict.UNKNOWN


def test_no_promotion_long_after_the_wait_fails_and_before_it_is_unknown():
    assert _verdict(_loss() + _searches(400, None), "dr.promote_after").verdict is Verdict.FAIL
    assert _verdict(_loss() + _searches(100, None), "dr.promote_after").verdict is Verdict.UNKNOWN


def _audit(missing: int, window_s: float, acknowledged: int = 500, error: str = ""):
    return RegionAudit(t=T0 + 500, lost_at=T0, acknowledged=acknowledged, missing_in_log=missing, window_s=window_s, newest_ack_before_loss=T0 - 0.1,
                       missing_sample=("sup-01-000042",) if missing else (), error=error)  # fmt: skip


def _store(missing: int, window_s: float, acknowledged: int = 400, failed: int = 0, error: str = ""):
    return RegionStoreAudit(t=T0 + 501, lost_at=T0, node="cassandra-dr", consistency="LOCAL_ONE", acknowledged=acknowledged, missing=missing, failed=failed,
                            window_s=window_s, missing_sample=("gameday-write-x-000007",) if missing else (), error=error)  # fmt: skip


def test_rpo_passes_under_five_seconds_and_fails_over():
    ok = _verdict(_loss() + [_audit(3, 0.8), _store(0, 0.0)], "dr.rpo")
    assert ok.verdict is Verdict.PASS and "3 missing" in ok.detail and "0 missing from cassandra-dr" in ok.detail
    bad = _verdict(_loss() + [_audit(180, 14.6)], "dr.rpo")
    assert bad.verdict is Verdict.FAIL and bad.measured == 14.6


def test_rpo_without_a_finished_audit_or_enough_events_is_unknown():
    assert _verdict(_loss() + [RegionAudit(t=T0 + 5, lost_at=T0, error="TimeoutError: x")], "dr.rpo").verdict is Verdict.UNKNOWN
    assert _verdict(_loss() + [_audit(0, 0.0, acknowledged=20)], "dr.rpo").verdict is Verdict.UNKNOWN
    assert _verdict(_loss(), "dr.rpo").verdict is Verdict.UNKNOWN


def test_rpo_is_the_worse_of_the_log_and_the_store():
    worse = _verdict(_loss() + [_audit(3, 0.8), _store(12, 7.25)], "dr.rpo")
    assert worse.verdict is Verdict.FAIL and worse.measured == 7.25 and "12 missing from cassandra-dr" in worse.detail
    assert _verdict(_loss() + [_audit(3, 4.2), _store(1, 0.4)], "dr.rpo").measured == 4.2


def test_rpo_with_a_copy_unmeasured_is_unknown_unless_a_measured_one_already_misses():
    for store in ([], [_store(0, 0.0, error="NoHostAvailable: x")], [_store(0, 0.0, acknowledged=30)], [_store(0, 0.0, failed=4)]):
        out = _verdict(_loss() + [_audit(0, 0.0)] + store, "dr.rpo")
        assert out.verdict is Verdict.UNKNOWN, (store, out)
    log_missed = _verdict(_loss() + [_audit(180, 14.6)], "dr.rpo")
    assert log_missed.verdict is Verdict.FAIL and log_missed.measured == 14.6 and "no store audit" in log_missed.detail
    store_missed = _verdict(_loss() + [_store(9, 6.0, failed=2)], "dr.rpo")
    assert store_missed.verdict is Verdict.FAIL and store_missed.measured == 6.0 and "2 could not be read" in store_missed.detail


def _lake(missing: int, window_s: float, acknowledged: int = 500, twice: int = 0, error: str = ""):
    return RegionLakeAudit(t=T0 + 620, lost_at=T0, acknowledged=acknowledged, missing=missing, window_s=window_s, twice=twice, files=40, waited_s=35,
                           missing_sample=("sup-02-000100",) if missing else (), error=error)  # fmt: skip


def test_rpo_without_a_stream_job_says_the_lake_is_not_judged_and_judges_log_and_store():
    out = _verdict(_loss() + [_audit(0, 0.0), _store(0, 0.0)], "dr.rpo")
    assert out.verdict is Verdict.PASS and "Raw events lake: not judged" in out.detail


def test_rpo_with_a_stream_job_judges_the_lake_too():
    ok = _verdict(_loss() + [_audit(0, 0.0), _store(0, 0.0), _lake(0, 0.0, twice=12)], "dr.rpo")
    assert ok.verdict is Verdict.PASS and "0 of the 500 missing from the DR region's lake" in ok.detail and "12 of them are there twice" in ok.detail
    missed = _verdict(_loss() + [_audit(0, 0.0), _store(0, 0.0), _lake(60, 31.5)], "dr.rpo")
    assert missed.verdict is Verdict.FAIL and missed.measured == 31.5 and "sup-02-000100" in missed.detail
    crashed = _verdict(_loss() + [_audit(0, 0.0), _store(0, 0.0), _lake(0, 0.0, error="the region audit recorded no lake audit")], "dr.rpo")
    assert crashed.verdict is Verdict.UNKNOWN and "did not finish" in crashed.detail
    assert _verdict(_loss() + [_audit(0, 0.0), _store(0, 0.0), _lake(0, 0.0, acknowledged=10)], "dr.rpo").verdict is Verdict.UNKNOWN


def test_the_lake_audit_counts_the_missing_the_repeated_and_the_oldest_missing_acknowledgement():
    acked = {("s", 1): T0 - 40.0, ("s", 2): T0 - 12.5, ("s", 3): T0 - 0.5}
    a = lake_audit(acked, {("s", 1): 2, ("s", 3): 1, ("t", 9): 1}, T0, files=3, waited_s=7.0)
    assert (a.acknowledged, a.missing, a.window_s, a.twice, a.files, a.missing_sample) == (3, 1, 12.5, 1, 3, ("s-000002",))
    assert lake_audit(acked, {}, T0, 0, 0.0).window_s == 40.0


def test_the_store_audit_judges_only_writes_acknowledged_before_the_loss():
    def w(key: str, began: float, latency_ms: float, ok: bool = True):
        return StoreWrite(t=began, key=key, value=1, ok=ok, latency_ms=latency_ms, consistency="LOCAL_QUORUM")

    writes = [w("old", T0 - 9.0, 5), w("mid", T0 - 2.0, 500), w("late", T0 - 0.05, 80), w("failed", T0 - 3.0, 2000, ok=False), w("after", T0 + 1, 3)]
    read = StoreReadBack(t=T0 + 400, node="cassandra-dr", consistency="LOCAL_ONE", checked=3, missing=("mid", "late", "after"), failed=("old",))
    a = store_audit(writes, read, T0)
    # "late" was acknowledged 30 ms after the loss began: not acknowledged before it
    assert (a.acknowledged, a.missing, a.failed, a.window_s) == (2, 1, 1, 1.5) and a.missing_sample == ("mid",)
    crashed = store_audit(writes, StoreReadBack(t=T0 + 400, node="cassandra-dr", consistency="LOCAL_ONE", checked=0, error="NoHostAvailable"), T0)
    assert crashed.error and crashed.missing == -1


def test_the_window_is_the_age_of_the_oldest_missing_acknowledgement_at_the_loss():
    acked = {("s", 1): T0 - 9.0, ("s", 2): T0 - 3.5, ("s", 3): T0 - 0.2}
    assert window(acked, {("s", 2), ("s", 3)}, T0) == 3.5
    assert window(acked, set(), T0) == 0.0


def test_the_region_search_wait_gives_up_only_when_an_ended_promotion_left_out_a_needed_step():
    from probes.dr import missing_steps

    needs = "restore index, start api, switch entry"
    decided = lambda plan: PromotionEvent(t=T0 + 21, phase=PromotionPhase.DECIDED, by="promoter", plan=plan, needs=needs)  # noqa: E731
    done = PromotionEvent(t=T0 + 22, phase=PromotionPhase.PROMOTED, by="promoter")
    without_index = decided("/tmp/no-index.yaml: promote cache, promote store, start api, switch entry")
    assert missing_steps([without_index, done]) == ["restore index"]
    assert missing_steps([without_index]) == []  # still promoting: keep waiting
    assert missing_steps([decided(PLAN.replace("start api", "restore index, start api")), done]) == []
    assert missing_steps([done]) == []
