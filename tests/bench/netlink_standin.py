"""A data plane backend without a kernel (the third io/backend.py DataPlane, next to the kernel's and
the userspace UDP tunnels'), enough for RouterPaths to compute and set tunnel MTUs (the bench's
overhead figure).

It keeps links and their MTUs and ignores routes and rules. A new tunnel device gets the MTU Linux
gives it: the underlying device's MTU (1500 without one) less the layer's header, as an ipip device
(net/ipv4/ip_tunnel.c, ip_tunnel_bind_dev) and as the userspace backend sets a TUN device.
"""
from __future__ import annotations

from mip4.core.actions import Tunnel
from mip4.io.backend import MAIN

UNDERLAY_DEFAULT = 1500


class StandinPlane:
    def __init__(self, links: dict[str, int]) -> None:
        self.mtus = dict(links)
        self.tunnels: dict[str, Tunnel] = {}

    async def tunnel_up(self, t: Tunnel, link: str | None = None) -> None:
        self.mtus[t.name] = (self.mtus[link] if link else UNDERLAY_DEFAULT) - t.overhead
        self.tunnels[t.name] = t

    async def tunnel_down(self, name: str) -> None:
        self.tunnels.pop(name, None)
        self.mtus.pop(name, None)

    async def mtu(self, iface: str) -> int:
        if iface not in self.mtus:
            raise LookupError("no interface %r" % iface)
        return self.mtus[iface]

    async def set_mtu(self, iface: str, mtu: int) -> None:
        self.mtus[iface] = mtu

    async def route(self, prefix: str, *, table: int = MAIN, device: str | None = None,
                    gateway: str | None = None, kind: str = "unicast", onlink: bool = False,
                    metric: int | None = None) -> None:
        if device is not None and device not in self.mtus:
            raise LookupError("no interface %r" % device)

    async def route_down(self, prefix: str, table: int = MAIN) -> None:
        pass

    async def table_route(self, table: int, prefix: str = "0.0.0.0/0") -> dict | None:
        return None

    async def rule(self, priority: int, table: int, *, src: str | None = None, oif: str | None = None,
                   blackhole: bool = False) -> None:
        pass

    async def rule_down(self, priority: int, table: int, *, src: str | None = None, oif: str | None = None) -> None:
        pass

    async def visitors_only(self, iface: str, enable: bool) -> None:
        pass

    async def proxy_arp(self, address: str, iface: str, enable: bool) -> None:
        pass

    async def address(self, address: str, prefixlen: int, iface: str) -> None:
        pass
