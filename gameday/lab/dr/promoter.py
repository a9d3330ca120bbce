"""The automated promoter: the plan's "promoted if primary region down > 5 min", as a
process of the lab (a helper `lab down` ends).

Every second it asks each of the primary region's API instances for /health (the serving
path clients reach through the global entry point) and hands what it saw to the decision
rule (gameday.lab.dr.decision): when none answers, the primary is down from that instant
(recorded as `primary-down`); if one answers again before the decision wait
(dr.decision_wait_s) has passed, the wait starts over (`primary-back`). Once the primary
has been down for the whole wait, it runs the promotion plan and exits. It exits
too when the region was promoted otherwise (`gameday dr promote`).

    python -m gameday.lab.dr.promoter --home LAB_HOME
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from gameday.history import PromotionEvent, PromotionPhase, Recorder
from gameday.lab import state
from gameday.lab.dr import helper
from gameday.lab.dr import plan as dr_plan
from gameday.lab.dr.decision import Act, DecisionClock, Seen
from gameday.lab.dr.promote import AlreadyPromoted, answering, primary_health_urls, promote
from gameday.lab.dr.status import promotion_events, promotion_file

NAME = "dr-promoter"
POLL_S = 1.0


log = helper.logger("promoter")


def watch(home: Path) -> int:
    found = helper.lab_of(home, log)
    if found is None:
        return 0
    lab, _st = found
    profile = lab.profile
    plan = dr_plan.load(profile.get("dr.plan"))
    wait_s = float(profile.get("dr.decision_wait_s"))
    urls = primary_health_urls(lab)
    log(f"watching the primary region's serving path ({len(urls)} API instances); promotes after {wait_s:g} s without an answer: {', '.join(map(str, plan.steps))}")
    clock = DecisionClock(wait_s)
    promotion_file(home).parent.mkdir(parents=True, exist_ok=True)
    rec = Recorder(promotion_file(home))
    try:
        while True:
            if state.load(home) is None:
                log("the lab is gone: stopping")
                return 0
            if any(e.phase is PromotionPhase.DECIDED for e in promotion_events(home)):
                log("the region was promoted otherwise: stopping")
                return 0
            # Decisions on the monotonic clock, records at wall time (the drill's timeline),
            # both taken as the poll starts: a silent poll was silent from then on.
            polled, wall = time.monotonic(), time.time()
            seen = Seen.ANSWERED if answering(urls, first_only=True) else Seen.SILENT
            decision = clock.observe(polled, seen)
            if decision.act is Act.DOWN:
                rec.add(PromotionEvent(t=wall, phase=PromotionPhase.PRIMARY_DOWN, by="promoter", decision_wait_s=wait_s, detail=f"none of {len(urls)} API instances answered /health"))
                log(f"primary region down: promoting in {wait_s:g} s unless it answers")
            elif decision.act is Act.BACK:
                rec.add(PromotionEvent(t=wall, phase=PromotionPhase.PRIMARY_BACK, by="promoter", detail=f"answered again after {decision.down_for_s:.1f} s"))
                log(f"primary answers again after {decision.down_for_s:.1f} s: the wait starts over")
            elif decision.act is Act.PROMOTE:
                log(f"primary down for {decision.down_for_s:.1f} s: promoting")
                try:
                    ok = promote(lab, plan, "promoter", log, decision_wait_s=wait_s)
                except AlreadyPromoted as exc:
                    log(str(exc))
                    return 0
                log("promoted" if ok else "promotion failed: see the promotion record")
                return 0 if ok else 1
            time.sleep(max(0.0, POLL_S - (time.monotonic() - polled)))
    finally:
        rec.close()


def main(argv: list[str] | None = None) -> int:
    return helper.main("python -m gameday.lab.dr.promoter", "promote the lab's DR region once the primary has been down for the decision wait", watch, log, argv)


if __name__ == "__main__":
    sys.exit(main())
