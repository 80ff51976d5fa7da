"""The foreign agent's RFC 3519 UDP tunnels: keepalives and a lost NAT mapping (RFC 3519 4.9, 4.10),
Sans-IO. One UDP tunnel per home agent (RFC 3519 4.5) and one Keepalive for each.
"""
from __future__ import annotations

from collections.abc import Callable

from ..wire.extensions import UdpTunnelReply
from ..wire.registration import PORT
from .actions import Datagram, SendUdp
from .config import ForeignAgentConfig
from .events import Events
from .fa_discovery import Advertiser
from .keepalive import Keepalive, interval
from .visitors import VisitorList


class UdpKeepalives:
    """Keepalives of our UDP tunnels, by home agent."""

    def __init__(self, config: ForeignAgentConfig, events: Events) -> None:
        self.config = config
        self.events = events
        self.keepalives: dict[str, Keepalive] = {}  # home agent -> our UDP tunnel's keepalives (RFC 3519 4.9)
        self.restarted: set[str] = set()  # home agents whose visitors we asked to register again

    def accepted(self, home_agent: str, answer: UdpTunnelReply, now: float) -> None:
        """The home agent accepted a UDP tunnel (RFC 3519 3.2): keepalives at its interval, or ours if
        shorter (4.9); the visitors of a home agent we made register again did."""
        every = interval(answer.keepalive, self.config.udp_keepalive)
        ka = self.keepalives.get(home_agent)
        if ka is None or ka.every != every:
            self.keepalives[home_agent] = Keepalive.start(self.config.address, home_agent, every, now)
        else:  # the reply came through the same NAT mapping as the tunnel data (our port 434)
            ka.heard(now)
        self.restarted.discard(home_agent)

    def heard(self, home_agent: str, now: float) -> None:
        """UDP tunnel data from `home_agent` arrived: our NAT mapping works."""
        ka = self.keepalives.get(home_agent)
        if ka is not None:
            ka.heard(now)

    def next_due(self) -> list[float | None]:
        return [k.due_at for k in self.keepalives.values()]

    def due(self, now: float, visitors: VisitorList, advertiser: Advertiser) -> list:
        actions: list = []
        for ka in list(self.keepalives.values()):
            if ka.due_at is not None and now >= ka.due_at:
                actions += self._keepalive(ka, now, visitors, advertiser)
        return actions

    def keep_only(self, tunnelled: Callable[[str], bool]) -> None:
        """Forget the keepalives of the home agents whose UDP tunnel is gone."""
        for ha in [ha for ha in self.keepalives if not tunnelled(ha)]:
            del self.keepalives[ha]
            self.restarted.discard(ha)

    def status(self, now: float | None) -> dict:
        return {ha: {"every": k.every, "sent": k.seq, "silent_for": None if now is None else
                     max(0.0, now - k.heard_at)} for ha, k in self.keepalives.items()}

    def _keepalive(self, ka: Keepalive, now: float, visitors: VisitorList, advertiser: Advertiser) -> list:
        """RFC 3519 4.9; 4.10: after a silent spell the NAT has lost our mapping, and only a new
        registration makes a new one. We cannot register for our visitors, so we make them: our
        advertisements on their links start again at sequence 0, as after a reboot (RFC 5944 2.3.2),
        which RFC 5944 2.4.2 tells a mobile node to answer by registering. A second silent spell with
        no registration in between: the visitors have gone (or cannot be reached), so they go."""
        silent_for = ka.silent_for(now)
        if not ka.lost(now):  # from our port 434 to the home agent's, as the tunnel data
            self.events.count("keepalive")
            return [SendUdp(Datagram(self.config.core_iface, self.config.address, PORT, ka.home_agent, PORT,
                                     ka.packet(now)))]
        ka.due_at = now + ka.every
        ha = ka.home_agent
        udp_visitors = [v for v in visitors if v.udp_tunnel and v.home_agent == ha]
        if ha in self.restarted:
            for v in udp_visitors:
                visitors.remove(v.key)
            return [self.events.event("warning", "udp-visitors-dropped", "still nothing from home agent %s through "
                                      "the UDP tunnel (%.1f s) and no visitor registered again: %d visitor(s) of it "
                                      "removed" % (ha, silent_for, len(udp_visitors)), ha=ha)]
        self.restarted.add(ha)
        links = sorted({v.iface for v in udp_visitors})
        actions: list = [self.events.event("warning", "nat-mapping-lost", "nothing from home agent %s through the "
                                           "UDP tunnel for %.1f s; advertising as restarted on %s so that its "
                                           "visitors register again" % (ha, silent_for, ", ".join(links) or "no link"),
                                           ha=ha)]
        return actions + [advertiser.restart(iface, now) for iface in links]
