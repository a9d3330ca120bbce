"""The promotion: runs the DR plan's steps in the region, in order, recording each in the
region's promotion file (one typed record per line, flushed), so a drill, `gameday dr
status` and an auditor read the same account. A step that fails stops the promotion there:
what was done stays done, and the record says which step failed and why.

One promotion per lab: a second (the promoter and an operator at once, or again after one
finished) is refused. An operator's promotion is refused too while the primary region still
serves (two regions taking writes at once), unless forced; a forced one says so in its record."""

from __future__ import annotations

import fcntl
import time
import urllib.request
from typing import Callable

from gameday.clients import redis as redis_client
from gameday.errors import LabError
from gameday.history import PromotionEvent, PromotionPhase, Recorder
from gameday.lab import network
from gameday.lab.dr.plan import OBJECTS, Action, Plan
from gameday.lab.dr.status import promotion_events, promotion_file
from gameday.lab.tiers import LabContext, api, dr
from gameday.lab.tiers.cassandra import DR_NODE, cassandra_node

Say = Callable[[str], None]


HEALTH_TIMEOUT_S = 1.0
API_START_S = 60.0


class AlreadyPromoted(LabError):
    pass


class PrimaryServes(LabError):
    pass


def primary_health_urls(lab) -> dict[str, str]:  # noqa: ANN001
    """The primary region's serving path, instance by instance: the /health URL of each API
    instance behind the global entry point (what the promoter and the guard ask)."""
    from gameday.lab.tiers.api import instance_names

    st = lab.require_state()
    specs = lab.specs_by_name(st)
    urls = {}
    for name, _az in instance_names(lab.context(st)):
        spec = specs[name]
        network.assert_routed_locally(st.topology, spec.address)
        urls[name] = f"http://{spec.address}:{spec.port}/health"
    return urls


def answering(urls: dict[str, str], timeout_s: float = HEALTH_TIMEOUT_S, first_only: bool = False) -> list[str]:
    """The instances whose /health answers 200 (stops at the first when `first_only`)."""
    names = []
    for name, url in urls.items():
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp:
                if resp.status == 200:
                    names.append(name)
                    if first_only:
                        break
        except OSError:
            continue
    return names


def guard_primary_down(lab, force: bool) -> str:  # noqa: ANN001
    """An operator's promotion while the primary region still serves would leave two regions
    taking writes (split brain): refused unless forced. Returns what the record should say
    ("" when the primary was down)."""
    alive = answering(primary_health_urls(lab))
    if not alive:
        return ""
    if not force:
        raise PrimaryServes(f"the primary region still serves: {', '.join(alive)} answer /health; promoting now would run two regions at once",
                            hint="promote when the primary is down (gameday dr status), or add --force to promote anyway (the record says it was forced)")
    return f"forced while the primary still served ({', '.join(alive)} answered /health)"


def promote(lab, plan: Plan, by: str, say: Say, decision_wait_s: float = 0.0, note: str = "") -> bool:  # noqa: ANN001 - gameday.lab.supervisor.Lab
    """Run every step of `plan`; True when all were done. Raises AlreadyPromoted when this
    lab's region was promoted (or is being promoted) already. `note` goes into the
    decision's record (a forced promotion)."""
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
            return _run(lab, plan, by, say, decision_wait_s, recorder, note)
        finally:
            recorder.close()


def _run(lab, plan: Plan, by: str, say: Say, decision_wait_s: float, rec: Recorder, note: str = "") -> bool:  # noqa: ANN001
    st = lab.require_state()
    ctx = lab.context(st)
    steps = ", ".join(map(str, plan.steps))
    rec.add(PromotionEvent(t=time.time(), phase=PromotionPhase.DECIDED, by=by, decision_wait_s=decision_wait_s, plan=f"{plan.source}: {steps}", detail=note,
                           needs=", ".join(serving_needs(ctx.tiers))))
    say(f"promoting the DR region ({by}{'; ' + note if note else ''}): {steps}")
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


def serving_needs(tiers: tuple[str, ...] | list[str]) -> list[str]:
    """The steps without which the region cannot answer a search in this lab: its API, the
    entry point's switch, and with a search tier (the API searches the index) the index."""
    return (["restore index"] if "search" in tiers else []) + ["start api", "switch entry"]


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


def _restore_index(lab, st, ctx: LabContext) -> str:  # noqa: ANN001
    if "search" not in ctx.tiers:
        return "nothing to restore: this lab has no search tier (the region's API lists flights from the store)"
    from gameday.lab.dr import index

    network.assert_routed_locally(ctx.topology, index.http_host(ctx))
    healthy = lab.start_standby(index.NODE)
    return f"{index.NODE} healthy in {healthy:.1f} s; " + index.restore(ctx)


def _start_api(lab, st, ctx: LabContext) -> str:  # noqa: ANN001
    # It answers in seconds when what it needs is there; an API with nothing to search
    # (no index restored) would hold the promotion for the whole start timeout.
    healthy = lab.start_standby(dr.API, timeout_s=API_START_S)
    return f"{dr.API} healthy in {healthy:.1f} s"


def _switch_entry(lab, st, ctx: LabContext) -> str:  # noqa: ANN001
    answer = api.admin_command(ctx, f"set server api/{dr.API} state ready")
    if answer.strip():
        raise LabError(f"HAProxy refused to put {dr.API} in rotation: {answer.strip()}")
    return f"the global entry point ({api.lb_url(ctx)}) sends clients to {dr.API}"


def _resume_stream(lab, st, ctx: LabContext) -> str:  # noqa: ANN001
    from gameday.lab.dr import stream

    return stream.resume(lab, st, ctx)


STEPS: dict[tuple[Action, str], Callable] = {
    (Action.PROMOTE, "cache"): _promote_cache,
    (Action.PROMOTE, "store"): _promote_store,
    (Action.RESTORE, "index"): _restore_index,
    (Action.START, "api"): _start_api,
    (Action.SWITCH, "entry"): _switch_entry,
    (Action.RESUME, "stream"): _resume_stream,
}
# Every step a plan may name has its code (tests/unit/test_dr_plan.py holds them equal).
KNOWN = {(a, w) for a, objects in OBJECTS.items() for w in objects}
