"""How often a foreign agent answers Agent Solicitations (RFC 5944 2.3; RFC 1256 4.3), Sans-IO.

RFC 5944 2.3: a mobility agent MUST limit the rate at which it sends broadcast or multicast Agent
Advertisements. A solicitation from 0.0.0.0 can only be answered to 224.0.0.1, so without a limit
anyone on an access link turns each packet he sends into one to every host there. Answers to an
addressed solicitor are unicast (RFC 1256 4.3 allows either), limited per solicitor and overall,
as the source address is whatever the sender writes.
"""
from __future__ import annotations

from .ratelimit import SourceLimiter, TokenBucket

# Decision: at most one solicited multicast advertisement a second on a link. A solicitation held back
# is answered when the second is over (or by the periodic advertisement, if that comes first): the
# solicitor waits at most a second, and a flood of any size costs one advertisement a second.
MULTICAST_INTERVAL = 1.0
# Decision: per solicitor, RFC 5944 2.4.1's three initial solicitations at once, then one a second
UNICAST_RATE, UNICAST_BURST = 1.0, 3
# Decision: all unicast answers together (each spoofed source would otherwise get its own bucket)
UNICAST_TOTAL_RATE, UNICAST_TOTAL_BURST = 10.0, 10


class SolicitedAnswers:
    """When a solicitation is answered: now, later (multicast, held back) or not at all (unicast)."""

    def __init__(self) -> None:
        self.last_multicast: dict[str, float] = {}  # access link -> when its last multicast advertisement went
        self.deferred: dict[str, float] = {}  # access link -> when its held-back multicast answer is due
        self.per_source = SourceLimiter(UNICAST_RATE, UNICAST_BURST)
        self.total = TokenBucket(UNICAST_TOTAL_RATE, UNICAST_TOTAL_BURST, UNICAST_TOTAL_BURST, 0.0)

    def multicast_sent(self, iface: str, now: float) -> None:
        """A multicast advertisement left on `iface` (periodic or solicited): it answers any held back."""
        self.last_multicast[iface] = now
        self.deferred.pop(iface, None)

    def multicast(self, iface: str, now: float) -> bool:
        """True: answer to 224.0.0.1 now. False: held back; an answer is due at `deferred[iface]`."""
        last = self.last_multicast.get(iface)
        if iface not in self.deferred and (last is None or now - last >= MULTICAST_INTERVAL):
            return True
        self.deferred.setdefault(iface, (last or now) + MULTICAST_INTERVAL)
        return False

    def unicast(self, source: str, now: float) -> bool:
        """True: answer `source` now; False: dropped (it solicits again, RFC 5944 2.4.1)."""
        return self.per_source.allow(source, now) and self.total.take(now)

    def next_due(self) -> float | None:
        return min(self.deferred.values(), default=None)

    def due(self, now: float) -> list[str]:
        """The links whose held-back answer is due now (each is sent, and counts as multicast_sent)."""
        return [iface for iface, at in self.deferred.items() if at <= now]
