"""ZooKeeper's quorum, second by second, from the members' own answers.

Every member is asked every 0.5 s whether it leads; it answers `leader` or `follower` only
while it serves in a quorum, and only then is a `LeaderClaim` recorded. A member counts as
serving for `stale_s` after its last claim (its asker waits up to a second on a slow answer).
The consistency verdict reports the totals; the streaming timeline shows when they changed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from gameday.history import History, LeaderClaim
from gameday.target import Role


@dataclass(frozen=True)
class QuorumSecond:
    t: int  # the second (epoch)
    serving: frozenset[str]
    members: int

    @property
    def has_quorum(self) -> bool:
        return len(self.serving) > self.members // 2


def zookeeper_seconds(history: History, stale_s: float) -> tuple[tuple[str, ...], list[QuorumSecond]]:
    """(every member, each second from the first claim to the last); empty without claims."""
    claims = [c for c in history.of(LeaderClaim) if c.tier == "zookeeper"]
    if not claims:
        return (), []
    members = tuple(sorted(set(history.topology(Role.ZOOKEEPER.value) or ()) | {c.node for c in claims}))
    by_second: dict[int, list[LeaderClaim]] = defaultdict(list)
    for c in claims:
        by_second[int(c.t)].append(c)
    last: dict[str, float] = {}
    out = []
    for s in range(int(claims[0].t), int(claims[-1].t) + 1):
        for c in by_second.get(s, ()):
            last[c.node] = c.t
        out.append(QuorumSecond(s, frozenset(m for m in members if m in last and s - last[m] <= stale_s), len(members)))
    return members, out
