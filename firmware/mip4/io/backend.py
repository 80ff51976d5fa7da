"""The data plane interface: what RouterPaths (MN) and AgentPlane (HA, FA) ask of a backend.

Implementations: the kernel one (kernel.py: IP-in-IP, routes, rules over rtnetlink), the userspace
RFC 3519 UDP tunnels composed over it (udp_tunnels.py: UdpTunnelPlane), and the bench's stand-in
(tests/bench/netlink_standin.py). The leak guard (guard.py, XFRM) is the `Guard` half.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ..core.actions import Tunnel

MAIN = 254  # the kernel's main routing table


class DataPlane(Protocol):
    """Tunnels, routes, policy rules and MTUs of one network namespace, journalled by the backend
    so that close() removes exactly what was installed."""

    @property
    def tunnels(self) -> Mapping[str, Tunnel]: ...

    async def tunnel_up(self, t: Tunnel, link: str | None = None) -> None: ...

    async def tunnel_down(self, name: str) -> None: ...

    async def mtu(self, iface: str) -> int: ...

    async def set_mtu(self, iface: str, mtu: int) -> None: ...

    async def route(self, prefix: str, *, table: int = MAIN, device: str | None = None,
                    gateway: str | None = None, kind: str = "unicast", onlink: bool = False,
                    metric: int | None = None) -> None: ...

    async def route_down(self, prefix: str, table: int = MAIN) -> None: ...

    async def table_route(self, table: int, prefix: str = "0.0.0.0/0") -> dict | None: ...

    async def rule(self, priority: int, table: int, *, src: str | None = None, oif: str | None = None,
                   blackhole: bool = False) -> None: ...

    async def rule_down(self, priority: int, table: int, *, src: str | None = None,
                        oif: str | None = None) -> None: ...

    async def visitors_only(self, iface: str, enable: bool) -> None: ...

    async def proxy_arp(self, address: str, iface: str, enable: bool) -> None: ...

    async def address(self, address: str, prefixlen: int, iface: str) -> None: ...


class Guard(Protocol):
    """RFC 5265 1.1: outside, nothing of the enterprise leaves an uplink in clear."""

    async def shut(self, iface: str) -> None: ...

    async def lift(self, iface: str) -> None: ...

    async def only_through_ipsec(self, address: str) -> None: ...
