"""A stand-in for pyroute2's AsyncIPRoute and the RFC 3519 TUN backend, enough for RouterPaths and
KernelDataPlane to compute and set tunnel MTUs without a kernel (the bench's overhead figure).

It keeps links and their MTUs and ignores routes and rules. A new ipip device gets the MTU Linux
gives it: the underlying device's MTU (1500 without one) less the 20-octet outer header
(net/ipv4/ip_tunnel.c, ip_tunnel_bind_dev); a TUN device starts at 1500.
"""
from __future__ import annotations

from mip4.core.actions import Tunnel

IPIP_HLEN = 20


class StandinIPRoute:
    def __init__(self, links: dict[str, int]) -> None:
        self.mtus: dict[int, int] = {}
        self.names: dict[str, int] = {}
        for name, mtu in links.items():
            self.add(name, mtu)

    def add(self, name: str, mtu: int) -> int:
        index = self.names[name] = len(self.names) + 1
        self.mtus[index] = mtu
        return index

    def mtu(self, name: str) -> int:
        return self.mtus[self.names[name]]

    async def link_lookup(self, ifname: str) -> list[int]:
        return [self.names[ifname]] if ifname in self.names else []

    async def link(self, cmd: str, **kw) -> list[dict]:  # noqa: ANN003
        if cmd == "get":
            return [{"mtu": self.mtus[kw["index"]]}]
        if cmd == "add" and kw.get("kind") == "ipip":
            under = self.mtus[kw["ipip_link"]] if "ipip_link" in kw else 1500
            self.add(kw["ifname"], under - IPIP_HLEN)
        elif cmd == "set" and "mtu" in kw:
            self.mtus[kw["index"]] = kw["mtu"]
        elif cmd == "del":
            self.names = {n: i for n, i in self.names.items() if i != kw["index"]}
        return []

    async def route(self, *args, **kw) -> list:  # noqa: ANN002, ANN003
        return []

    async def rule(self, *args, **kw) -> list:  # noqa: ANN002, ANN003
        return []


class StandinTun:
    """The userspace UDP tunnel backend (io/udp_tunnels.py): opening one makes a TUN device."""

    def __init__(self, ipr: StandinIPRoute) -> None:
        self.ipr = ipr

    def open(self, t: Tunnel, link: str | None) -> None:
        self.ipr.add(t.name, 1500)

    def close(self, name: str) -> bool:
        return False
