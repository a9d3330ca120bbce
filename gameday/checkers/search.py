"""Search index: how the cluster's health held while a node was gone."""

from __future__ import annotations

import bisect
from collections import defaultdict

from gameday.checkers import checker
from gameday.checkers.verdicts import Outcome, judge
from gameday.faults import SEARCH_FAULTS, first
from gameday.history import FaultPhase, History, SearchHealthSample
from gameday.spec import Slo

RANK = {"green": 0, "yellow": 1, "red": 2}
# A node that knows of no elected cluster manager answers 503 and "red" while the election
# runs: its shards' copies are all still there and it serves searches (OpenSearch blocks
# only writes then), so that is its own state, reported, and not red.
NO_MANAGER = "no cluster manager"


def health_bins(samples: list[SearchHealthSample], since: float, without: str, bin_s: float, stale_s: float) -> list[tuple[float, str]]:
    """(start, status) per `bin_s` (the samplers' interval) from `since`: the worst status any
    answering node other than `without` reported in it with a cluster manager elected;
    NO_MANAGER when every answering node knew of none; "red" when none answered (nothing
    could serve a search). A node with no sample in an interval counts with its last answer
    of the `stale_s` before it: each node has a sampler of its own, and one whose request
    times out (2 s) skips the intervals meanwhile; an interval then held only another node's
    "down" and was judged red while the other nodes answered green just before and after it
    (two runs of 2026-12-01: 1 s and 0.5 s of false red)."""
    by_bin: dict[int, list[SearchHealthSample]] = defaultdict(list)
    by_node: dict[str, list[SearchHealthSample]] = defaultdict(list)
    for s in sorted(samples, key=lambda s: s.t):
        if s.t >= since - stale_s and s.node != without:
            by_node[s.node].append(s)
            if s.t >= since:
                by_bin[int((s.t - since) // bin_s)].append(s)
    out = []
    for b in sorted(by_bin):
        begins = since + b * bin_s
        sampled = {s.node for s in by_bin[b]}
        carried = [last for node, ss in by_node.items() if node not in sampled and (last := _last_before(ss, begins)) is not None]
        seen = by_bin[b] + [last for last in carried if begins - last.t <= stale_s]
        answered = [s for s in seen if s.status in RANK]
        managed = [s.status for s in answered if s.cluster_manager]
        if managed:
            status = max(managed, key=RANK.__getitem__)
        else:
            status = NO_MANAGER if answered else "red"
        out.append((begins, status))
    return out


def _last_before(samples: list[SearchHealthSample], t: float) -> SearchHealthSample | None:
    """The last of time-ordered `samples` before `t`."""
    i = bisect.bisect_left(samples, t, key=lambda s: s.t)
    return samples[i - 1] if i else None


@checker("search.green_on_az_failure")
def cluster_health(history: History, slo: Slo) -> Outcome:
    fault = first(history.faults(), SEARCH_FAULTS)
    if fault is None:
        return judge(slo, None, "No search node loss in the history.")
    bin_s = slo.evidence.resolution_s
    bins = health_bins(history.of(SearchHealthSample), fault.t, fault.component, bin_s, slo.evidence.stale_s)
    if len(bins) < slo.evidence.min_samples:
        return judge(slo, None, f"Only {len(bins)} intervals of {bin_s:g} s of search-index health sampled after {fault.component} was killed; at least {slo.evidence.min_samples} are needed.")
    seconds = {status: bin_s * sum(1 for _, s in bins if s == status) for status in (*RANK, NO_MANAGER)}
    revert = first(history.faults(), SEARCH_FAULTS, FaultPhase.REVERTED)
    back = next((t for t, s in bins if revert and t >= revert.t and s == "green"), None)
    if revert is None:
        again = " It was not restored in the run."
    elif back is None:
        again = f" Not green again in the {bins[-1][0] + bin_s - revert.t:.0f} s watched after it was restored."
    else:
        again = f" Green again {back - revert.t:.1f} s after it was restored."
    watched = bins[-1][0] + bin_s - fault.t
    text = (f"Over {watched:.0f} s from killing {fault.component} ({fault.az}), as the other nodes reported it: "
            f"red {seconds['red']:g} s, yellow {seconds['yellow']:g} s, green {seconds['green']:g} s"
            + (f", no cluster manager elected {seconds[NO_MANAGER]:g} s (searches served, writes blocked)" if seconds[NO_MANAGER] else "")
            + f".{again}")
    return judge(slo, seconds["red"], text)
