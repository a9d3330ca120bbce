"""Search index: how the cluster's health held while a node was gone."""

from __future__ import annotations

from collections import defaultdict

from gameday.checkers import checker
from gameday.checkers.verdicts import Outcome, judge
from gameday.faults import SEARCH_FAULTS, first
from gameday.history import FaultPhase, History, SearchHealthSample
from gameday.spec import Slo

RANK = {"green": 0, "yellow": 1, "red": 2}


def health_bins(samples: list[SearchHealthSample], since: float, without: str, bin_s: float) -> list[tuple[float, str]]:
    """(start, status) per `bin_s` (the samplers' interval) from `since`: the worst status any
    answering node other than `without` reported in it; "red" when none answered (nothing
    could serve a search)."""
    by_bin: dict[int, list[str]] = defaultdict(list)
    for s in samples:
        if s.t >= since and s.node != without:
            by_bin[int((s.t - since) // bin_s)].append(s.status)
    out = []
    for b in sorted(by_bin):
        answered = [st for st in by_bin[b] if st in RANK]
        out.append((since + b * bin_s, max(answered, key=RANK.__getitem__) if answered else "red"))
    return out


@checker("search.green_on_az_failure")
def cluster_health(history: History, slo: Slo) -> Outcome:
    fault = first(history.faults(), SEARCH_FAULTS)
    if fault is None:
        return judge(slo, None, "No search node loss in the history.")
    bin_s = slo.evidence.resolution_s
    bins = health_bins(history.of(SearchHealthSample), fault.t, fault.component, bin_s)
    if len(bins) < slo.evidence.min_samples:
        return judge(slo, None, f"Only {len(bins)} intervals of {bin_s:g} s of search-index health sampled after {fault.component} was killed; at least {slo.evidence.min_samples} are needed.")
    seconds = {status: bin_s * sum(1 for _, s in bins if s == status) for status in RANK}
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
            f"red {seconds['red']:g} s, yellow {seconds['yellow']:g} s, green {seconds['green']:g} s.{again}")
    return judge(slo, seconds["red"], text)
