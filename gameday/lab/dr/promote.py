"""The promotion: runs the DR plan's steps in the region, in order, recording each in the
region's promotion file (one typed record per line, flushed), so a drill, `gameday dr
status` and an auditor read the same account. A step that fails stops the promotion there:
what was done stays done, and the record says which step failed and why.

One promotion per lab: a second (the promoter and an operator at once, or again after one
finished) is refused."""

from __future__ import annotations

import fcntl
import time
from typing import Callable

from gameday.clients import redis as redis_client
from gameday.errors import LabError
from gameday.history import PromotionEvent, PromotionPhase, Recorder
from gameday.lab.dr.plan import OBJECTS, Action, Plan
from gameday.lab.dr.status import promotion_events, promotion_file
from gameday.lab.tiers import LabContext, api, dr
from gameday.lab.tiers.cassandra import DR_NODE, cassandra_node

Say = Callable[[str], None]


class AlreadyPromoted(LabError):
    pass


def promote(lab, plan: Plan, by: str, say: Say, decision_wait_s: float = 0.0) -> bool:  # noqa: ANN001 - gameday.lab.supervisor.Lab
    """Run every step of `plan`; True when all were done. Raises AlreadyPromoted when this
    lab's region was promoted (or is being promoted) already."""
    path = promotion_file(lab.home)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyPromoted("a promotion of the DR region is running now") from None
        done = [e for e in promotion_events(lab.home) if e.phase is PromotionPhase.DECIDED]
        if done:
            raise AlreadyPromoted(f"the DR region was promoted already (by the {done[0].by}, at {time.strftime('%H:%M:%S', time.localtime(done[0].t))})",
                                  hint="one promotion per lab: `gameday lab down` and `lab up` for another drill")
        recorder = Recorder(path)
        try:
            return _run(lab, plan, by, say, decision_wait_s, recorder)
        finally:
            recorder.close()


def _run(lab, plan: Plan, by: str, say: Say, decision_wait_s: float, rec: Recorder) -> bool:  # noqa: ANN001
    st = lab.require_state()
    ctx = lab.context(st)
    steps = ", ".join(map(str, plan.steps))
    rec.add(PromotionEvent(t=time.time(), phase=PromotionPhase.DECIDED, by=by, decision_wait_s=decision_wait_s, plan=f"{plan.source}: {steps}"))
    say(f"promoting the DR region ({by}): {steps}")
    for step in plan.steps:
        began = time.time()
        rec.add(PromotionEvent(t=began, phase=PromotionPhase.STEP_STARTED, step=str(step), by=by))
        try:
            detail = STEPS[(step.action, step.what)](lab, st, ctx)
        except Exception as exc:  # any failure is the step's outcome, recorded
            why = f"{type(exc).__name__}: {exc}"[:400]
            rec.add(PromotionEvent(t=time.time(), phase=PromotionPhase.STEP_FAILED, step=str(step), by=by, detail=why))
            rec.add(PromotionEvent(t=time.time(), phase=PromotionPhase.FAILED, step=str(step), by=by, detail=why))
            say(f"  {step}: FAILED after {time.time() - began:.1f} s: {why}")
            return False
        rec.add(PromotionEvent(t=time.time(), phase=PromotionPhase.STEP_DONE, step=str(step), by=by, detail=detail))
        say(f"  {step}: done in {time.time() - began:.1f} s ({detail})")
    rec.add(PromotionEvent(t=time.time(), phase=PromotionPhase.PROMOTED, by=by))
    return True


def _promote_cache(lab, st, ctx: LabContext) -> str:  # noqa: ANN001
    host, port = dr.address(ctx), ctx.profile.get("redis.port")
    client = redis_client.client(host, port, 2.0)
    info = client.info("replication")
    was = f"was a replica of {info.get('master_host')} (link {info.get('master_link_status')}, offset {info.get('slave_repl_offset')})" if info.get("role") == "slave" else "was already a primary"
    client.execute_command("REPLICAOF", "NO", "ONE")
    if client.info("replication").get("role") != "master":
        raise LabError(f"{dr.CACHE} still reports a replica role after REPLICAOF NO ONE")
    healthy = lab.start_standby(dr.SENTINEL)
    return f"{dr.CACHE} {was}, now the primary; {dr.SENTINEL} watches it (healthy in {healthy:.1f} s)"


def _promote_store(lab, st, ctx: LabContext) -> str:  # noqa: ANN001
    host, port = ctx.topology.address(st.components[DR_NODE].az), ctx.profile.get("cassandra.native_port")
    if not st.components[DR_NODE].alive():
        raise LabError(f"{DR_NODE} is not running")
    waited = cassandra_node.wait_ready(host, port, timeout_s=30)
    return f"{DR_NODE} answers CQL ({waited:.1f} s); reads at {ctx.profile.get('cassandra.read_consistency')} in datacenter {ctx.profile.get('dr.datacenter')}"


def _start_api(lab, st, ctx: LabContext) -> str:  # noqa: ANN001
    healthy = lab.start_standby(dr.API)
    return f"{dr.API} healthy in {healthy:.1f} s"


def _switch_entry(lab, st, ctx: LabContext) -> str:  # noqa: ANN001
    answer = api.admin_command(ctx, f"set server api/{dr.API} state ready")
    if answer.strip():
        raise LabError(f"HAProxy refused to put {dr.API} in rotation: {answer.strip()}")
    return f"the global entry point ({api.lb_url(ctx)}) sends clients to {dr.API}"


STEPS: dict[tuple[Action, str], Callable] = {
    (Action.PROMOTE, "cache"): _promote_cache,
    (Action.PROMOTE, "store"): _promote_store,
    (Action.START, "api"): _start_api,
    (Action.SWITCH, "entry"): _switch_entry,
}
# Every step a plan may name has its code (tests/unit/test_dr_plan.py holds them equal).
KNOWN = {(a, w) for a, objects in OBJECTS.items() for w in objects}
