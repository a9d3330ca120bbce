"""Geometry of the streaming plot: StreamingSeries in, pixel coordinates out.

Same frame as the load plot (gameday.reports.plot): shared time axis, fault marks and
shaded window; only the panels differ.
"""

from __future__ import annotations

from gameday.reports.plot import GAP, Dot, Line, Panel, Plot, TimeAxis, _segments, frame, time_axis, value_scale
from gameday.reports.streaming_series import StreamingSeries

LAG_HEIGHT, CHECKPOINT_HEIGHT = 210, 140
FLOOR_S = 0.01  # a log axis in seconds resolves down to 10 ms


def _present(values) -> list[float]:
    return [v for v in values if v is not None]


def _lag_panel(ss: StreamingSeries, axis: TimeAxis, threshold_s: float, top: float) -> Panel | None:
    """Processing lag and ingest ack latency per second, canary freshness per canary."""
    lag, ack = ss.lag_max_s, ss.ack_latency_max_s
    seen = [c for c in ss.canaries if c.freshness_s is not None]
    # An unseen canary is drawn at how long it was looked for: a lower bound of its freshness.
    unseen = [c for c in ss.canaries if c.freshness_s is None]
    values = _present(lag.values) + _present(ack.values) + [c.freshness_s for c in seen] + [c.gave_up_after_s for c in unseen]
    if not values:
        return None
    fy, ticks, label = value_scale(values, threshold_s, top, top + LAG_HEIGHT, "lag, s", floor=FLOOR_S)
    fx = axis.fx
    dots = tuple(Dot(fx(c.offset), fy(c.freshness_s), "canary") for c in seen if c.freshness_s is not None)
    dots += tuple(Dot(fx(c.offset), fy(c.gave_up_after_s), "canary-lost") for c in unseen)
    return Panel(
        top=top,
        height=LAG_HEIGHT,
        y_label=label,
        lines=(
            Line("processing lag, max", "lag", _segments(lag.offsets, lag.values, fx, fy)),
            Line("ingest ack latency, max", "ack", _segments(ack.offsets, ack.values, fx, fy)),
        ),
        ticks=ticks,
        threshold_y=fy(threshold_s),
        threshold_label=f"p95 lag SLO {threshold_s:g} s",
        dots=dots,
    )


def _checkpoint_panel(ss: StreamingSeries, axis: TimeAxis, threshold_s: float, top: float) -> Panel | None:
    age = ss.checkpoint_age_s
    values = _present(age.values)
    if not values:
        return None
    fy, ticks, label = value_scale(values, threshold_s, top, top + CHECKPOINT_HEIGHT, "checkpoint age, s", floor=FLOOR_S)
    return Panel(
        top=top,
        height=CHECKPOINT_HEIGHT,
        y_label=label,
        lines=(Line("checkpoint age", "ckpt", _segments(age.offsets, age.values, axis.fx, fy)),),
        ticks=ticks,
        threshold_y=fy(threshold_s),
        threshold_label=f"checkpoint interval {threshold_s:g} s",
    )


def build_streaming_plot(ss: StreamingSeries, lag_threshold_s: float, checkpoint_threshold_s: float) -> Plot | None:
    """Lag panel above a checkpoint-age panel; a panel without data is left out, None if both are."""
    offsets = ss.lag_max_s.offsets + ss.ack_latency_max_s.offsets + ss.checkpoint_age_s.offsets + tuple(c.offset for c in ss.canaries)
    axis = time_axis(offsets, ss.faults, ss.window, ss.end_offset)
    panels: list[Panel] = []
    lag = _lag_panel(ss, axis, lag_threshold_s, axis.panels_top)
    if lag is not None:
        panels.append(lag)
    top = panels[-1].bottom + GAP if panels else axis.panels_top
    checkpoint = _checkpoint_panel(ss, axis, checkpoint_threshold_s, top)
    if checkpoint is not None:
        panels.append(checkpoint)
    return frame(axis, tuple(panels)) if panels else None
