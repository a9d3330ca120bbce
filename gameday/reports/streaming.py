"""The report's Streaming section: everything its templates show, from one history."""

from __future__ import annotations

from dataclasses import dataclass

from gameday.history import CanaryPath, CanarySample, History, StreamDelivery
from gameday.reports.plot import Plot
from gameday.reports.streaming_plot import build_streaming_plot
from gameday.reports.streaming_series import StreamingSeries, has_streaming, streaming_series
from gameday.reports.streaming_timeline import StreamEvent, Worst, origin, streaming_timeline, worst_values
from gameday.spec import catalog


@dataclass(frozen=True)
class StreamingSection:
    series: StreamingSeries
    plot: Plot | None
    lag_threshold_s: float
    checkpoint_threshold_s: float
    origin: str  # what timeline offsets count from: "fault injection" | "run start"
    timeline: tuple[StreamEvent, ...]
    worst: tuple[Worst, ...]
    delivery: str = ""  # the delivery mode the run measured ("" = not recorded)
    canaries_watched: str = ""  # what of a canary update search was watched for ("" = no canaries)


def streaming_section(history: History, start: float, end: float | None = None) -> StreamingSection | None:
    """None when the run recorded nothing from the streaming tiers (the section is then left out)."""
    if not has_streaming(history):
        return None
    spec = catalog()
    lag_threshold = spec["kafka.consumer_lag_p95"].threshold
    checkpoint_threshold = spec["flink.checkpoint_interval"].threshold
    ss = streaming_series(history, start, end)
    t0, origin_name = origin(history, start)
    return StreamingSection(
        series=ss,
        plot=build_streaming_plot(ss, lag_threshold, checkpoint_threshold),
        lag_threshold_s=lag_threshold,
        checkpoint_threshold_s=checkpoint_threshold,
        origin=origin_name,
        timeline=streaming_timeline(history, ss, t0, spec["consistency.single_leader"].evidence.stale_s),
        worst=worst_values(ss, t0),
        delivery=delivery_text(history),
        canaries_watched=canaries_watched(history),
    )


def delivery_text(history: History) -> str:
    found = history.of(StreamDelivery)
    return found[-1].describe() if found else ""


def canaries_watched(history: History) -> str:
    vias = {c.via for c in history.of(CanarySample) if not c.error}
    if CanaryPath.INDEX in vias:
        return "its flight's seats as the search index lists them (flights[].seats)"
    return "its flight's price (flights[].price)" if vias else ""
