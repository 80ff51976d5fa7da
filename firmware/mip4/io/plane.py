"""Core data plane actions (HA and FA) onto a backend (backend.DataPlane): the kernel's, with the
userspace RFC 3519 UDP tunnels composed over it (udp_tunnels.UdpTunnelPlane)."""
from __future__ import annotations

import logging

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
    """Applies the data plane actions of a home agent or foreign agent."""

    def __init__(self, kernel: DataPlane, home_iface: str | None = None) -> None:
        self.kernel = kernel
        self.home_iface = home_iface  # HA: where proxy ARP answers for away home addresses
        self.source_tables: dict[str, int] = {}  # reverse tunnel -> its table
        self.sources: dict[str, str] = {}  # source address -> reverse tunnel

    async def apply(self, action: object) -> bool:
        """True if `action` was a data plane action (done), False if it is not ours."""
        k = self.kernel
        if isinstance(action, TunnelUp):
            await k.tunnel_up(action.tunnel)
            if action.tunnel.visitors_only:
                await k.visitors_only(action.tunnel.name, True)
        elif isinstance(action, TunnelDown):
            await k.visitors_only(action.tunnel.name, False)
            for source in [s for s, dev in self.sources.items() if dev == action.tunnel.name]:
                await self._source_route(source, None)
            await k.tunnel_down(action.tunnel.name)
            self.source_tables.pop(action.tunnel.name, None)
        elif isinstance(action, RouteUp):
            # several devices are simultaneous bindings; the first (oldest) carries the traffic
            await k.route(action.prefix, device=action.devices[0], metric=OUR_METRIC)
            await self._nested_mtu(action.prefix, action.devices[0])
        elif isinstance(action, RouteDown):
            await k.route_down(action.prefix)
        elif isinstance(action, SourceRoute):
            await self._source_route(action.source, action.device)
        elif isinstance(action, ProxyArp):
            if self.home_iface:
                await k.proxy_arp(action.address, self.home_iface, action.enable)
        elif isinstance(action, GratuitousArp):
            try:
                gratuitous_arp(action.address, action.iface, count=2)
            except OSError as e:
                log.warning("gratuitous ARP for %s on %s: %s", action.address, action.iface, e)
        else:
            return False
        return True

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
