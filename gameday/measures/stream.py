"""Stream-job measurements: its output's progress, and processing lag per creation second."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from flightsearch import OUTPUT_TOPIC
from gameday.history import KafkaOffsetsSample, StreamLagSecond
from gameday.measures import nearest_rank


def output_ends(samples: list[KafkaOffsetsSample], topic: str = OUTPUT_TOPIC) -> list[tuple[float, int]]:
    """(t, sum of the job output's end offsets) per tick where every partition answered:
    how far the job has written, which moves only while it makes progress."""
    by_t: dict[float, list[KafkaOffsetsSample]] = defaultdict(list)
    for s in samples:
        if s.topic == topic:
            by_t[s.t].append(s)
    return [(t, sum(s.end for s in tick)) for t, tick in sorted(by_t.items()) if all(s.end >= 0 for s in tick)]


def processing_lag(events: list[dict[str, Any]], since: float, until: float) -> list[StreamLagSecond]:
    """Processing lag per second of creation, from the job's output as it wrote it: from an
    event's creation (`produced_at`) to the first time the job processed it."""
    first: dict[str, tuple[float, float]] = {}
    for e in events:
        try:
            processed = epoch(e["processed_at"])
            produced = float(e["produced_at"])
        except (KeyError, TypeError, ValueError):
            continue
        eid = e.get("event_id", "")
        if eid not in first or processed < first[eid][1]:
            first[eid] = (produced, processed)
    per: dict[int, list[float]] = defaultdict(list)
    until_t: dict[int, float] = {}
    for produced, processed in first.values():
        if since <= produced <= until:
            sec = int(produced)
            per[sec].append(max(0.0, processed - produced))
            until_t[sec] = max(until_t.get(sec, processed), processed)
    return [
        StreamLagSecond(t=float(sec), events=len(lags), p95_s=nearest_rank(lags, 95), max_s=max(lags), processed_until=until_t[sec])
        for sec, lags in sorted(per.items())
    ]


def epoch(value: Any) -> float:
    """Flink's JSON format writes TIMESTAMP_LTZ as 'YYYY-MM-DD HH:MM:SS.sssZ' (UTC)."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).rstrip("Z").replace("T", " ")
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S"  # whole seconds have no fraction
    return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc).timestamp()
