"""Agent discovery at the foreign agent (RFC 5944 2.1, 2.3), Sans-IO: advertisements, periodic and
solicited, with their sequence numbers, and the rate limit on answers to solicitations.
"""
from __future__ import annotations

from collections.abc import Callable

from ..wire import AgentAdvertisement, MobilityAgentAdvertisement
from ..wire.icmp import ADV_B, ADV_F, ADV_R, ADV_T, ADV_U, CODE_MOBILITY_ONLY, CODE_ROUTES
from .actions import Icmp, SendIcmp
from .config import ForeignAgentConfig
from .events import Events
from .fa_messages import UNSPECIFIED, unicast
from .solicitations import MULTICAST_INTERVAL, UNICAST_RATE, SolicitedAnswers
from .timers import earliest

ALL_SYSTEMS = "224.0.0.1"  # RFC 5944 2.3.1: where advertisements go
SEQUENCE_MAX = 0xFFFF
SEQUENCE_WRAP = 256  # RFC 5944 2.3.2: after 0xffff the sequence number goes to 256, never back to 0


class Advertiser:
    """Advertisements on every access link of `config.links`; `busy()` says whether to set B."""

    def __init__(self, config: ForeignAgentConfig, events: Events, busy: Callable[[], bool]) -> None:
        self.config = config
        self.events = events
        self.busy = busy
        self.sequence: dict[str, int] = {iface: 0 for iface in config.links}  # RFC 5944 2.3.2
        self.next_at: float | None = None  # the next periodic advertisement
        self.solicited = SolicitedAnswers()  # RFC 5944 2.3: answers to solicitations, rate limited

    def start(self, now: float) -> list:
        """First advertisement on every access link (RFC 5944 2.3.1), then one every interval."""
        self.next_at = now + self.config.advertisement_interval
        return self._all(now)

    def next_due(self) -> float | None:
        return earliest(self.next_at, self.solicited.next_due())

    def due(self, now: float) -> list:
        """The periodic advertisements, and answers held back, whose time has come."""
        actions: list = []
        if self.next_at is not None and now >= self.next_at:
            step = self.config.advertisement_interval
            self.next_at += step
            if self.next_at <= now:  # woken late: no burst of catch-up advertisements
                self.next_at = now + step
            actions += self._all(now)
        for iface in self.solicited.due(now):  # RFC 5944 2.3: a held-back answer to a solicitation
            actions += [self.multicast(iface, now)] + self.events.limited(
                now, "info", "solicited", "held-back solicitation(s) on %s answered to %s" % (iface, ALL_SYSTEMS))
        return actions

    def solicitation(self, msg: Icmp, now: float) -> list:
        """RFC 5944 2.3, RFC 1256 4.3: answer at once, unicast when the solicitor has an address, else
        to all systems; both rate limited (solicitations.py), what is held back or dropped is counted."""
        # RFC 1122 3.2.1.3: no datagram comes from a multicast or broadcast address; an answer "to the
        # solicitor" would go to all of them, past the multicast limit
        if msg.src != UNSPECIFIED and not unicast(msg.src):
            return self.events.limited(now, "warning", "bad-source", "solicitation from %s on %s dropped: not a "
                                       "unicast source" % (msg.src, msg.iface), src=msg.src)
        if msg.src != UNSPECIFIED:
            if self.solicited.unicast(msg.src, now):
                return [self.advertisement(msg.iface, msg.src)] + self.events.limited(
                    now, "info", "solicited", "solicitation from %s on %s answered" % (msg.src, msg.iface))
            why = "dropped: more than %g a second from it, or too many from all (RFC 5944 2.4.1: it solicits " \
                "again)" % UNICAST_RATE
        elif self.solicited.multicast(msg.iface, now):
            return [self.multicast(msg.iface, now)] + self.events.limited(
                now, "info", "solicited", "solicitation from %s on %s answered to %s" % (msg.src, msg.iface,
                                                                                   ALL_SYSTEMS))
        else:
            why = "held back: answered to %s in %.1f s (one solicited multicast advertisement a %g s at most)" % (
                ALL_SYSTEMS, self.solicited.deferred[msg.iface] - now, MULTICAST_INTERVAL)
        return self.events.limited(now, "warning", "solicitation-rate-limited", "solicitation from %s on %s %s"
                                   % (msg.src, msg.iface, why), src=msg.src)

    def restart(self, iface: str, now: float) -> SendIcmp:
        """An advertisement as after a reboot (RFC 5944 2.3.2: sequence 0), which RFC 5944 2.4.2 tells
        a mobile node to answer by registering again."""
        self.sequence[iface] = 0
        return self.multicast(iface, now)

    def multicast(self, iface: str, now: float) -> SendIcmp:
        """An advertisement to all systems on `iface` (RFC 5944 2.3.1); it answers any solicitation held back."""
        self.solicited.multicast_sent(iface, now)
        return self.advertisement(iface, ALL_SYSTEMS)

    def advertisement(self, iface: str, dst: str) -> SendIcmp:
        """RFC 5944 2.1, 2.3.1: router address and care-of address are our address on the link."""
        c = self.config
        coa = c.links[iface]
        flags = ADV_F
        if c.nat_traversal:  # RFC 3519 3.4: we can use UDP tunnelling
            flags |= ADV_U
        if c.registration_required:
            flags |= ADV_R
        if c.reverse_tunnel:  # RFC 3024, R-2.4-c
            flags |= ADV_T
        if self.busy():  # RFC 5944 2.1.1: no registrations from additional MNs
            flags |= ADV_B
        ext = MobilityAgentAdvertisement(self._next_sequence(iface), c.registration_lifetime, flags, [coa])
        adv = AgentAdvertisement(c.advertisement_lifetime, [(coa, 0)], [ext],
                                 CODE_ROUTES if c.routes_common_traffic else CODE_MOBILITY_ONLY)
        return SendIcmp(Icmp(iface, coa, dst, adv.encode()))

    def _all(self, now: float) -> list:
        actions: list = [self.multicast(iface, now) for iface in self.config.links]
        actions.append(self.events.event("debug", "advertised", "agent advertisement on %s"
                                         % ", ".join(self.config.links)))
        return actions

    def _next_sequence(self, iface: str) -> int:
        """RFC 5944 2.3.2: 0 first, then +1 per advertisement; 0xffff is followed by 256."""
        seq = self.sequence[iface]
        self.sequence[iface] = seq + 1 if seq < SEQUENCE_MAX else SEQUENCE_WRAP
        return seq
