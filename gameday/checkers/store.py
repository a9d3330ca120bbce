"""The durable store under a node's loss: writes kept being acknowledged, and none of the
acknowledged ones was lost or hidden from any node after the restore."""

from __future__ import annotations

from gameday.checkers import checker
from gameday.checkers.verdicts import Outcome, judge
from gameday.history import History, StoreReadBack, StoreWrite
from gameday.spec import Slo


def _writes(history: History) -> list[StoreWrite]:
    return [w for w in history.of(StoreWrite) if w.key]  # a keyless record: the writer never connected


def _errors(failed: list[StoreWrite]) -> str:
    kinds: dict[str, int] = {}
    for w in failed:
        kind = w.error.split(":", 1)[0] or "?"
        kinds[kind] = kinds.get(kind, 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1])[:3])


@checker("store.write_availability")
def write_availability(history: History, slo: Slo) -> Outcome:
    """Failed writes in the fault window, as a share of the writes made in it."""
    writes = _writes(history)
    if not writes:
        connect = next((w.error for w in history.of(StoreWrite) if w.error), "")
        return judge(slo, None, "The drill's store writer made no write" + (f" ({connect})." if connect else "."))
    window = history.fault_window()
    if window is None:
        return judge(slo, None, f"No fault in the history ({len(writes)} writes made).")
    during = [w for w in writes if window[0] <= w.t < window[1]]
    need = slo.evidence.min_writes
    if len(during) < need:
        return judge(slo, None, f"Only {len(during)} writes inside the fault window; at least {need} are needed.")
    failed = [w for w in during if not w.ok]
    acked = sorted(w.latency_ms for w in during if w.ok)
    p95 = f"; acknowledged in p95 {acked[int(0.95 * (len(acked) - 1))]:.0f} ms" if acked else ""
    text = (f"{len(failed)} of {len(during)} writes at {during[0].consistency} failed inside the fault window "
            f"({window[1] - window[0]:.0f} s){': ' + _errors(failed) if failed else ''}{p95}; "
            f"{sum(1 for w in writes if not w.ok)} of {len(writes)} over the whole run.")
    return judge(slo, 100.0 * len(failed) / len(during), text)


@checker("store.acknowledged_writes_readable")
def acknowledged_readable(history: History, slo: Slo) -> Outcome:
    """Acknowledged writes some node did not return at the read consistency after the restore."""
    acked = {w.key: w.value for w in _writes(history) if w.ok}
    every = history.of(StoreReadBack)
    backs = [r for r in every if r.judged]
    if not acked:
        return judge(slo, None, "No store write was acknowledged in the run: nothing to read back.")
    if not backs:
        return judge(slo, None, f"{len(acked)} writes were acknowledged but never read back (the run stopped before).")
    topology = history.topology("store") or ()
    unasked = [r.node for r in backs if r.error] + [n for n in topology if n not in {r.node for r in backs}]
    failed = {k for r in backs for k in r.failed}
    short = [r.node for r in backs if not r.error and r.checked < len(acked)]
    if unasked or failed or short:
        why = "; ".join(x for x in (
            f"could not read through {', '.join(unasked)}" if unasked else "",
            f"{len(failed)} reads failed" if failed else "",
            f"{', '.join(short)} checked fewer than the {len(acked)} acknowledged" if short else "",
        ) if x)  # fmt: skip
        return judge(slo, None, f"The read-back is incomplete: {why}.")
    missing = sorted({k for r in backs for k in r.missing})
    per_node = ", ".join(f"{r.node} {r.checked - len(r.missing)}/{r.checked}" + (
        f" ({r.missing_first} not at the first read, all {r.settled_after_s:g} s later)" if r.missing_first and r.settled_after_s >= 0 else "")
        for r in backs)  # fmt: skip
    sample = f" (e.g. {', '.join(missing[:5])})" if missing else ""
    text = (f"{len(acked)} acknowledged writes read back after the restore through every node at "
            f"{backs[0].consistency}: {per_node}; {len(missing)} not readable from some node{sample}.")
    stale = [r for r in every if not r.judged and not r.error and r.missing_first]
    if stale:
        text += (" Read first at the search path's " + stale[0].consistency + ", before those reads repaired them: "
                 + ", ".join(f"{r.node} did not return {r.missing_first}" for r in stale)
                 + " (writes the killed replica missed while down or lost with it: its commit log is marked every 100 ms"
                 " and replayed up to the last mark, and hints cover only writes it never acknowledged; a quorum read"
                 " or a repair makes it whole).")
    return judge(slo, float(len(missing)), text)
