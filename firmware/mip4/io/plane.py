"""Core data plane actions (HA and FA) onto a backend (backend.DataPlane): the kernel's, with the
userspace RFC 3519 UDP tunnels composed over it (udp_tunnels.UdpTunnelPlane)."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..core.actions import GratuitousArp, ProxyArp, RouteDown, RouteUp, SourceRoute, TunnelDown, TunnelUp
from ..core.paths import IPIP_HEADER
from .arp import gratuitous_arp
from .backend import DataPlane
from .kernel import OUR_METRIC

log = logging.getLogger("mip4.plane")

SOURCE_TABLE_BASE = 1000  # FA: one table per reverse tunnel, for the source rules (RFC 3024 5.2)
SOURCE_RULE_PRIORITY = 500
# FA: behind each visitor's source rule, one that drops its packets when the tunnel's table gives no
# route (the tunnel not up yet, refused, or gone): never on to the main table and the default route
SOURCE_BLACKHOLE_PRIORITY = SOURCE_RULE_PRIORITY + 1


class AgentPlane:
    """Applies the data plane actions of a home agent or foreign agent: `handlers`, one per action type."""

    def __init__(self, kernel: DataPlane, home_iface: str | None = None) -> None:
        self.kernel = kernel
        self.home_iface = home_iface  # HA: where proxy ARP answers for away home addresses
        self.source_tables: dict[str, int] = {}  # reverse tunnel -> its table
        self.sources: dict[str, str] = {}  # source address -> reverse tunnel
        self.proxied: set[str] = set()  # HA: home addresses away, whose ARP we answer (RFC 5944 4.6)
        self.handlers: dict[type, Callable[[Any], Awaitable[None]]] = {
            TunnelUp: self.tunnel_up, TunnelDown: self.tunnel_down, RouteUp: self.route_up, RouteDown: self.route_down,
            SourceRoute: self.source_route, ProxyArp: self.proxy_arp, GratuitousArp: self.gratuitous_arp}

    async def tunnel_up(self, a: TunnelUp) -> None:
        await self.kernel.tunnel_up(a.tunnel)
        if a.tunnel.visitors_only:
            await self.kernel.visitors_only(a.tunnel.name, True)

    async def tunnel_down(self, a: TunnelDown) -> None:
        await self.kernel.visitors_only(a.tunnel.name, False)
        for source in [s for s, dev in self.sources.items() if dev == a.tunnel.name]:
            await self._source_route(source, None)
        await self.kernel.tunnel_down(a.tunnel.name)
        self.source_tables.pop(a.tunnel.name, None)

    async def route_up(self, a: RouteUp) -> None:
        # several devices are simultaneous bindings; the first (oldest) carries the traffic
        await self.kernel.route(a.prefix, device=a.devices[0], metric=OUR_METRIC)
        await self._nested_mtu(a.prefix, a.devices[0])

    async def route_down(self, a: RouteDown) -> None:
        await self.kernel.route_down(a.prefix)

    async def source_route(self, a: SourceRoute) -> None:
        await self._source_route(a.source, a.device)

    async def proxy_arp(self, a: ProxyArp) -> None:
        if self.home_iface:
            await self.kernel.proxy_arp(a.address, self.home_iface, a.enable)
        (self.proxied.add if a.enable else self.proxied.discard)(a.address)

    async def gratuitous_arp(self, a: GratuitousArp) -> None:
        if a.address not in self.proxied:  # RFC 5944 4.6: our MAC only while we proxy for it
            log.warning("gratuitous ARP for %s not sent: not proxied (the node is home)", a.address)
            return
        try:
            gratuitous_arp(a.address, a.iface, count=2)
        except OSError as e:
            log.warning("gratuitous ARP for %s on %s: %s", a.address, a.iface, e)

    async def _nested_mtu(self, prefix: str, device: str) -> None:
        """A tunnel whose far end is reached through another tunnel (the MR-HA tunnel inside the
        tunnel to an FA, RFC 5177 3.2) gets that tunnel's MTU less its header, so packets are never
        too big twice; path MTU discovery across both layers converges too slowly for TCP."""
        for t in self.kernel.tunnels.values():
            if t.remote + "/32" == prefix and t.name != device:
                await self.kernel.set_mtu(t.name, await self.kernel.mtu(device) - IPIP_HEADER)

    async def _source_route(self, source: str, device: str | None) -> None:
        """RFC 3024 5.2: packets from a visitor's home address enter its reverse tunnel. Fail closed
        (R-2.4-c): the blackhole behind the source rule goes in first and out last, so from before
        the reply that lets the visitor send through us (the core orders it after this) until the
        visitor goes, its packets enter the tunnel or are dropped, even if the tunnel fails."""
        old = self.sources.pop(source, None)
        if old is not None:
            await self.kernel.rule_down(SOURCE_RULE_PRIORITY, self.source_tables[old], src=source + "/32")
        if device is None:
            await self.kernel.rule_down(SOURCE_BLACKHOLE_PRIORITY, 0, src=source + "/32")
            return
        await self.kernel.rule(SOURCE_BLACKHOLE_PRIORITY, 0, src=source + "/32", blackhole=True)
        table = self.source_tables.get(device)
        if table is None:
            table = SOURCE_TABLE_BASE + len(self.source_tables)
            while table in self.source_tables.values():
                table += 1
            self.source_tables[device] = table
            await self.kernel.route("0.0.0.0/0", table=table, device=device)
        await self.kernel.rule(SOURCE_RULE_PRIORITY, table, src=source + "/32")
        self.sources[source] = device
