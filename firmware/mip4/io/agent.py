"""The agents' roles in mip4d: a home agent (RFC 5944 3.8) or a foreign agent (3.7), whose data plane
actions (tunnels, routes, source rules, proxy and gratuitous ARP) AgentPlane applies to the backend.
"""
from __future__ import annotations

import logging

from ..core.config import ForeignAgentConfig, HomeAgentConfig
from ..core.foreign_agent import ForeignAgent
from ..core.home_agent import HomeAgent
from .endpoints import IcmpEndpoint
from .plane import SOURCE_BLACKHOLE_PRIORITY, SOURCE_TABLE_BASE, AgentPlane
from .role import Role
from .settings import Settings

ALL_ROUTERS = "224.0.0.2"
log = logging.getLogger("mip4d")


class AgentRole(Role):
    """An agent: its plane performs the data plane actions of its core."""

    # its status file lists every binding or visitor: written every second (at most), never per registration
    # (issue 25: after every drained batch it cost 20 ms at 1k bindings, 167 ms at 10k)
    status_after_batch = False

    def __init__(self, settings: Settings, machine: HomeAgent | ForeignAgent, home_iface: str | None = None) -> None:
        super().__init__(settings, machine)
        self.plane = AgentPlane(self.backend, home_iface=home_iface)
        self.handlers.update(self.plane.handlers)


class HomeAgentRole(AgentRole):
    def __init__(self, settings: Settings) -> None:
        m: HomeAgentConfig = settings.machine  # type: ignore[assignment]
        super().__init__(settings, HomeAgent(m, self.rng(settings)), home_iface=m.home_iface)
        self.machine: HomeAgent
        self.machine.set_wall_clock(self.wall_clock.offset + self.now(), self.now())

    async def start_role(self) -> None:
        await self.backend.kernel.sweep((), local=self.machine.config.address)  # one host may hold both HAs
        # Our own address only: an i-HA and an x-HA may run on one host (RFC 5265 2, R-2-b) on distinct
        # addresses (3.5, R-3.5-b); on the wildcard, the later one's socket took both HAs' requests.
        self.udp[""] = self.endpoint(None, address=self.machine.config.address)

    def set_wall_clock(self, wall: float, now: float) -> list:
        return self.machine.set_wall_clock(wall, now)


class ForeignAgentRole(AgentRole):
    def __init__(self, settings: Settings) -> None:
        self.config: ForeignAgentConfig = settings.machine  # type: ignore[assignment]
        super().__init__(settings, ForeignAgent(self.config, self.rng(settings)))
        self.machine: ForeignAgent

    async def start_role(self) -> None:
        k, m = self.backend.kernel, self.config
        await k.sweep(tuple(range(SOURCE_TABLE_BASE, SOURCE_TABLE_BASE + 64)), visitors_only=True,
                      blackholes=(SOURCE_BLACKHOLE_PRIORITY,))
        try:  # RFC 5944 4.2.2: decapsulate
            await self.ipr.link("set", index=await k.index("tunl0"), state="up")
        except LookupError:  # as an HA's tunnels fail on such a kernel: registrations go on, data cannot
            log.error("no tunl0 (this kernel has no ipip): tunnelled packets for visitors cannot be decapsulated")
        await self.backend.visitors_only("tunl0", True)  # and deliver to visitors only, never route on
        for iface in m.links:
            self.udp[iface] = self.endpoint(iface)
            self.icmp[iface] = IcmpEndpoint(self.loop, iface, self._icmp, groups=(ALL_ROUTERS,))
        self.udp[m.core_iface] = self.endpoint(m.core_iface)
        self.feed(self.machine.start(self.now()))

    def default_iface(self) -> str:
        return self.config.core_iface

    def tunnel_heard(self, iface: str, peer: str, now: float) -> list:
        return self.machine.tunnel_heard(iface, peer, now)
