"""Capacity under AZ loss: the step-up capacity with one AZ down as a share of the capacity
with every AZ up (both measured in the same drill, gameday.history.CapacityMeasured)."""

from __future__ import annotations

from gameday.checkers import checker
from gameday.checkers.verdicts import Outcome, judge
from gameday.history import CapacityMeasured, History
from gameday.spec import Slo

ALL, DOWN = "all-azs", "one-az-down"


def _describe(m: CapacityMeasured) -> str:
    rate = f"{m.capacity_rps:g} req/s" if m.capacity_rps >= 0 else f"below {m.first_rate:g} req/s"
    stop = f"the step above missed: {m.stopped_by}" if m.stopped_by else "every step held (a lower bound)"
    lone = f"; lone misses with a held step above: {', '.join(f'{r:g}' for r in m.transients)} req/s" if m.transients else ""
    quiet = f"; started after {m.quiet_after_s:g} s waiting for the AZs to stop being throttled ({m.throttled_at_start_pct:g} % of periods)" if m.quiet_after_s else ""
    return f"{rate} with {', '.join(m.azs_up) or 'no AZ'} up ({stop}{lone}{quiet})"


@checker("capacity.single_az_failure")
def single_az_failure(history: History, slo: Slo) -> Outcome:
    found = {m.label: m for m in history.of(CapacityMeasured)}
    if ALL not in found or DOWN not in found:
        return judge(slo, None, f"Needs a capacity measured with every AZ up and with one AZ down; measured: {', '.join(found) or 'none'}.")
    full, down = found[ALL], found[DOWN]
    text = f"Every AZ up: {_describe(full)}. One AZ down: {_describe(down)}."
    if full.az_cpu_cores <= 0:
        return judge(slo, None, f"{text} The AZs have no CPU cap of their own (lab.az_cpu_cores: 0): on one shared host, losing an AZ loses none of the capacity, so the ratio says nothing.")
    text += f" Each AZ capped at {full.az_cpu_cores:g} cores."
    for m in (full, down):
        if m.generator_limited:
            return judge(slo, None, f"{text} The {m.label} search was stopped by the load generator, not the platform.")
    if full.capacity_rps <= 0:
        return judge(slo, None, f"{text} Even the first step missed the budget with every AZ up: no capacity to compare with.")
    if down.capacity_rps < 0:  # below the first step: the ratio is at most first/full
        bound = 100.0 * down.first_rate / full.capacity_rps
        return judge(slo, bound if not slo.met_by(bound) else None, f"{text} Ratio below {bound:.0f} %.")
    ratio = 100.0 * down.capacity_rps / full.capacity_rps
    resolution = f" Resolution: one step, {full.step:g} req/s."
    if down.capacity_rps > full.capacity_rps + full.step:  # losing an AZ's CPU cannot add capacity
        return judge(slo, None, f"{text} More held with an AZ lost than with every AZ up ({ratio:.0f} %): one search measured the host (a start's compactions, a pause), not the platform.")
    if not full.stopped_by and down.stopped_by and not slo.met_by(ratio):  # only the full capacity is a lower bound: the ratio is at most this
        return judge(slo, ratio, f"{text} Ratio at most {ratio:.0f} %.{resolution}")
    if not full.stopped_by or (not down.stopped_by and not slo.met_by(ratio)):
        return judge(slo, None, f"{text} A search that never missed gives only a bound ({ratio:.0f} %), not the ratio.")
    return judge(slo, ratio, f"{text} Ratio {ratio:.0f} %.{resolution}")
