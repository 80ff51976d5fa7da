"""The kernel data plane (rtnetlink via pyroute2): IP-in-IP tunnels, routes, policy rules, proxy ARP.

Everything it installs is journalled, so close() removes exactly that (no stale tunnel, route or
rule after SIGTERM); sweep() removes what a killed predecessor left. Blocking user data uses
policy routing (`prohibit` routes in mip4's own tables), which behaves the same in the UML lab and
on OpenWrt and stays out of the router's firewall.
"""
from __future__ import annotations

import fcntl
import ipaddress
import logging
import re
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from ..core.actions import Tunnel
from ..core.paths import IPIP_HEADER
from .backend import MAIN
from .rtnl import NTF_PROXY, AsyncIPRoute, NetlinkError, dump

log = logging.getLogger("mip4.kernel")

__all__ = ["IPIP_HEADER", "MAIN", "OUR_METRIC", "OUR_TUNNELS", "KernelDataPlane"]
VISITORS_ONLY_PRIORITY = 400  # FA: rules for what its tunnels decapsulate (RFC 5944 4.2.2)
SIOCGIFMTU = 0x8921  # linux/sockios.h
FR_ACT_BLACKHOLE = 6  # linux/fib_rules.h: a rule that drops
OUR_METRIC = 10  # below static routes an operator may keep for "at home" (e.g. a LAN via the home address)
# names of the tunnels mip4 creates: HA (mip-, mr-, mu-), FA (rt<i>-), MN (mip4-)
OUR_TUNNELS = re.compile(r"^(mip-[0-9a-f]{8}|mr-[0-9a-f]{8}|mu-[0-9a-f]{12}|rt[0-9a-f]+-[0-9a-f]{8}|mip4-.+)$")


def _net(prefix: str) -> tuple[str, int]:
    n = ipaddress.IPv4Network(prefix, strict=False)
    return str(n.network_address), n.prefixlen


def device_mtu(iface: str) -> int:
    """The device's MTU by SIOCGIFMTU (OSError if there is none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        got = fcntl.ioctl(s, SIOCGIFMTU, struct.pack("16si", iface.encode(), 0))
    return struct.unpack_from("16si", got)[1]


class KernelDataPlane:
    """One network namespace's forwarding state as mip4 wants it (backend.DataPlane): IP-in-IP
    tunnels in the kernel; RFC 3519 UDP tunnels are udp_tunnels.UdpTunnelPlane's, composed over this."""

    def __init__(self, ipr: AsyncIPRoute) -> None:
        self.ipr = ipr
        self.tunnels: dict[str, Tunnel] = {}
        self.links: dict[str, str | None] = {}  # tunnel -> the link its outer packets leave by
        self.mtus: dict[str, int] = {}  # tunnel -> the MTU set_mtu gave it
        self.routes: dict[tuple[int, str], dict] = {}  # (table, prefix) -> the route as installed
        self.rules: dict[tuple, dict] = {}  # key -> rule kwargs
        self.visitors_only_on: set[str] = set()  # FA tunnels whose inner packets only reach host routes
        self.proxies: set[tuple[str, str]] = set()  # (address, iface)
        self.addresses: set[tuple[str, int, str]] = set()  # (address, prefixlen, iface)

    # -- tunnels ---------------------------------------------------------------------------------

    async def tunnel_up(self, t: Tunnel, link: str | None = None) -> None:
        """An ipip device `t.name` from t.local to t.remote (outer packets leave by `link` if given).
        An ipip device of ours by that name and link with other endpoints is changed in place (one
        RTM_NEWLINK: the device, its MTU and the routes into it stay), not deleted and made again."""
        old = self.tunnels.get(t.name)
        if old == t and self.links.get(t.name) == link:
            return
        if t.udp_port:  # fail closed: never an ipip device where the HA expects RFC 3519 UDP
            await self.tunnel_down(t.name)
            raise LookupError("tunnel %s: UDP tunnelling needs the userspace backend" % t.name)
        spec = dict(kind="ipip", ipip_local=t.local, ipip_remote=t.remote, ipip_ttl=64)
        if link:
            spec["ipip_link"] = await self.index(link)
        if old is not None and not old.udp_port and self.links.get(t.name) == link:
            try:
                mtu = {"mtu": self.mtus[t.name]} if t.name in self.mtus else {}  # kept as set_mtu gave it
                await self.ipr.link("set", index=await self.index(t.name), **spec, **mtu)
            except (NetlinkError, LookupError) as e:  # gone meanwhile, or refused: made anew below
                log.warning("tunnel %s not changed in place (%s): making it again", t.name, e)
            else:
                self.tunnels[t.name] = t
                log.info("tunnel %s changed: %s -> %s%s (was %s -> %s)", t.name, t.local, t.remote,
                         " via %s" % link if link else "", old.local, old.remote)
                return
        await self.tunnel_down(t.name)
        await self.ipr.link("add", ifname=t.name, state="up", **spec)  # up as made: one request, not two
        self.tunnels[t.name], self.links[t.name] = t, link
        log.info("tunnel %s up: %s -> %s%s", t.name, t.local, t.remote, " via %s" % link if link else "")

    async def adopt(self, t: Tunnel, mtu: int) -> None:
        """A device another backend made for `t` (a TUN device): up with `mtu`, journalled as a tunnel."""
        await self.ipr.link("set", index=await self.index(t.name), state="up", mtu=mtu)
        self.tunnels[t.name], self.mtus[t.name] = t, mtu

    def forget(self, name: str) -> Tunnel | None:
        """The device `name` is gone or going: so are the routes into it (the kernel removes them)."""
        for key in [k for k, r in self.routes.items() if r.get("device") == name]:
            self.routes.pop(key)
        self.links.pop(name, None)
        self.mtus.pop(name, None)
        return self.tunnels.pop(name, None)

    async def mtu(self, iface: str) -> int:
        """The device's MTU (SIOCGIFMTU: no netlink request, see index())."""
        await self.index(iface)  # LookupError for a missing device, as before
        return device_mtu(iface)

    async def set_mtu(self, iface: str, mtu: int) -> None:
        """A tunnel of ours keeps the MTU it was given (a tunnel changed in place too): asked again, nothing."""
        if iface in self.tunnels and self.mtus.get(iface) == mtu:
            return
        await self.ipr.link("set", index=await self.index(iface), mtu=mtu)
        if iface in self.tunnels:
            self.mtus[iface] = mtu
        log.info("%s: mtu %d", iface, mtu)

    async def tunnel_down(self, name: str) -> None:
        known = self.forget(name)
        try:
            await self.ipr.link("del", index=await self.index(name))
        except (NetlinkError, LookupError):
            return
        if known:
            log.info("tunnel %s down", name)

    # -- routes ----------------------------------------------------------------------------------

    async def route(self, prefix: str, *, table: int = MAIN, device: str | None = None,
                    gateway: str | None = None, kind: str = "unicast", onlink: bool = False,
                    metric: int | None = None) -> None:
        """Install or replace a route of ours: into `device` (optionally via `gateway`), or prohibit."""
        dst, plen = _net(prefix)
        spec: dict = dict(dst=dst, dst_len=plen, table=table, type=kind)
        if metric is not None:
            spec["priority"] = metric
        if device is not None:
            spec["oif"] = await self.index(device)
        if gateway is not None:
            spec["gateway"] = gateway
        if onlink:
            spec["flags"] = 4  # RTNH_F_ONLINK
        old = self.routes.get((table, prefix))
        if old == dict(spec, device=device):
            return
        if old is not None and old.get("priority") != spec.get("priority"):
            await self._route_del(old)
        await self.ipr.route("replace", **spec)
        self.routes[(table, prefix)] = dict(spec, device=device)

    async def route_down(self, prefix: str, table: int = MAIN) -> None:
        spec = self.routes.pop((table, prefix), None)
        if spec is not None:
            await self._route_del(spec)

    async def _route_del(self, spec: dict) -> None:
        spec = {k: v for k, v in spec.items() if k not in ("device", "flags")}
        try:
            await self.ipr.route("del", **spec)
        except NetlinkError as e:
            if e.code != 3:  # ESRCH: already gone (its device went away)
                raise

    async def table_route(self, table: int, prefix: str = "0.0.0.0/0") -> dict | None:
        """The kernel's route for `prefix` in `table`, whoever installed it (e.g. udhcpc's default)."""
        dst, plen = _net(prefix)
        for r in await dump(self.ipr, "route", "dump", table=table):
            if r.get("dst_len") == plen and (r.get("dst") or "0.0.0.0") == dst:
                return {"gateway": r.get("gateway"), "oif": r.get("oif"), "type": r.get("type")}
        return None

    # -- policy rules ----------------------------------------------------------------------------

    async def rule(self, priority: int, table: int, *, src: str | None = None, oif: str | None = None,
                   blackhole: bool = False) -> None:
        """A rule to look up `table`, or (`blackhole`, table 0) one that drops what reaches it."""
        key = (priority, table, src, oif)
        if key in self.rules:
            return
        spec: dict = dict(priority=priority, action="blackhole") if blackhole else dict(priority=priority, table=table)
        if src is not None:
            spec["src"], spec["src_len"] = _net(src)
        if oif is not None:
            spec["oifname"] = oif
        try:
            await self.ipr.rule("add", **spec)
        except NetlinkError as e:
            if e.code != 17:  # EEXIST: left by a predecessor; it is ours now
                raise
        self.rules[key] = spec

    async def rule_down(self, priority: int, table: int, *, src: str | None = None, oif: str | None = None) -> None:
        spec = self.rules.pop((priority, table, src, oif), None)
        if spec is not None:
            try:
                await self.ipr.rule("del", **spec)
            except NetlinkError as e:
                log.warning("rule %s: %s", spec, e)

    def _visitors_only_rules(self, iface: str) -> list[dict]:
        """RFC 5944 4.2.2: a packet decapsulated on `iface` may take a host route (a visitor's /32),
        never a wider one (the default route would carry it onto another link in the clear); else dropped."""
        return [dict(priority=VISITORS_ONLY_PRIORITY, iifname=iface, table=MAIN, FRA_SUPPRESS_PREFIXLEN=31),
                dict(priority=VISITORS_ONLY_PRIORITY + 1, iifname=iface, action="blackhole")]

    async def visitors_only(self, iface: str, enable: bool) -> None:
        if enable == (iface in self.visitors_only_on):
            return
        for spec in self._visitors_only_rules(iface):
            try:
                await self.ipr.rule("add" if enable else "del", **spec)
            except NetlinkError as e:
                if e.code not in (17, 2):  # EEXIST: a predecessor's, ours now; ENOENT: gone already
                    raise
        (self.visitors_only_on.add if enable else self.visitors_only_on.discard)(iface)
        log.info("%s: decapsulated packets %s", iface, "go only to visitors" if enable else "routed as usual")

    # -- neighbours and addresses ----------------------------------------------------------------

    async def proxy_arp(self, address: str, iface: str, enable: bool) -> None:
        """RFC 5944 4.6: answer ARP for `address` on `iface` while it is away."""
        key = (address, iface)
        if enable == (key in self.proxies):
            return
        spec = dict(dst=address, ifindex=await self.index(iface), flags=NTF_PROXY)
        try:
            await self.ipr.neigh("add" if enable else "del", **spec)
        except NetlinkError as e:
            if e.code not in (17, 2):
                raise
        (self.proxies.add if enable else self.proxies.discard)(key)

    async def sweep_proxies(self, addresses: list[str], iface: str) -> int:
        """Remove the proxy ARP entries a killed predecessor left on `iface` for these addresses (a standby
        of a redundant pair must not answer ARP for home addresses the active one serves); how many."""
        index, removed = await self.index(iface), 0
        for address in addresses:
            try:
                await self.ipr.neigh("del", dst=address, ifindex=index, flags=NTF_PROXY)
                removed += 1
            except NetlinkError as e:
                if e.code != 2:  # ENOENT: none there, the usual case
                    raise
        if removed:
            log.warning("%s: removed %d stale proxy ARP entries", iface, removed)
        return removed

    async def flush_addresses(self, iface: str) -> None:
        """Every IPv4 address off `iface`, whoever put it there (udhcpc's lease of a network left behind)."""
        try:
            await self.ipr.flush_addr(index=await self.index(iface), family=socket.AF_INET)
        except (NetlinkError, LookupError) as e:
            log.warning("%s: addresses not flushed: %s", iface, e)

    async def address(self, address: str, prefixlen: int, iface: str) -> None:
        key = (address, prefixlen, iface)
        if key in self.addresses:
            return
        try:
            await self.ipr.addr("add", index=await self.index(iface), address=address, prefixlen=prefixlen)
        except NetlinkError as e:
            if e.code != 17:
                raise
        self.addresses.add(key)

    # -- lifecycle -------------------------------------------------------------------------------

    async def index(self, iface: str) -> int:
        """The device's index, from if_nametoindex(): pyroute2 0.9.7's link_lookup() / link("get") leave
        the kernel's ACK in the socket's root queue, which nothing reads (1.7 to 3.2 KB per call, 6 to 12
        per move: the mobile router grew without bound, issue 25)."""
        try:
            return socket.if_nametoindex(iface)
        except OSError:
            raise LookupError("no interface %r" % iface) from None

    async def sweep(self, tables: tuple[int, ...], visitors_only: bool = False,
                    blackholes: tuple[int, ...] = (), local: str | None = None) -> None:
        """Remove what a killed predecessor left: our tunnels, and every rule and route of our tables
        (and, for an FA, its visitors-only rules and its blackhole rules of priority `blackholes`).
        `local`: only the ipip tunnels from that address are ours (an HA's: an i-HA and an x-HA may
        share a host, RFC 5265 2, R-2-b; a TUN device dies with its process and is never stale)."""
        for link in await dump(self.ipr, "get_links"):
            name = link.get("ifname") or ""
            if OUR_TUNNELS.match(name) and local is not None and _tunnel_local(link) != local:
                log.info("tunnel %s is not from %s: another agent's on this host, left alone", name, local)
            elif OUR_TUNNELS.match(name):
                log.warning("removing stale tunnel %s", name)
                await self.ipr.link("del", index=link["index"])
        for r in await dump(self.ipr, "get_rules", family=2):
            iif, priority = r.get("FRA_IIFNAME"), r.get("FRA_PRIORITY", 0)
            if visitors_only and iif and priority in (VISITORS_ONLY_PRIORITY, VISITORS_ONLY_PRIORITY + 1):
                await self._quietly_rule_del(self._visitors_only_rules(iif)[priority - VISITORS_ONLY_PRIORITY])
            elif priority in blackholes and r.get("action") == FR_ACT_BLACKHOLE:
                src = r.get("FRA_SRC")
                await self._quietly_rule_del(dict(priority=priority, action="blackhole", src=src,
                                                  src_len=r.get("src_len")) if src else
                                             dict(priority=priority, action="blackhole"))
            elif r.get("table") in tables or r.get("FRA_TABLE") in tables:
                await self._quietly_rule_del(dict(priority=priority, table=r.get("FRA_TABLE") or r.get("table")))
        for table in tables:
            for r in await dump(self.ipr, "route", "dump", table=table):
                try:
                    await self.ipr.route("del", table=table, dst=r.get("dst") or "0.0.0.0", dst_len=r["dst_len"])
                except NetlinkError:
                    pass

    async def _quietly_rule_del(self, spec: dict) -> None:
        """sweep(): a predecessor's rule removed, or already gone."""
        try:
            await self.ipr.rule("del", **spec)
            log.warning("removed stale rule %s", spec)
        except NetlinkError:
            pass

    async def close(self, tunnel_down: Callable[[str], Awaitable[None]] | None = None) -> None:
        """Remove everything we installed, newest kind first; tunnels by `tunnel_down` (a composing
        backend's, for the devices it made)."""
        for (table, prefix) in list(self.routes):
            await self._quietly(self.route_down(prefix, table))
        for key in list(self.rules):
            await self._quietly(self.rule_down(*key[:2], src=key[2], oif=key[3]))
        for iface in list(self.visitors_only_on):
            await self._quietly(self.visitors_only(iface, False))
        for name in list(self.tunnels):
            await self._quietly((tunnel_down or self.tunnel_down)(name))
        for address, iface in list(self.proxies):
            await self._quietly(self.proxy_arp(address, iface, False))
        for address, plen, iface in list(self.addresses):
            try:
                await self.ipr.addr("del", index=await self.index(iface), address=address, prefixlen=plen)
            except (NetlinkError, LookupError) as e:
                log.warning("address %s/%d on %s: %s", address, plen, iface, e)
        self.addresses.clear()

    async def _quietly(self, coro) -> None:  # noqa: ANN001
        try:
            await coro
        except (NetlinkError, LookupError) as e:
            log.warning("cleanup: %s", e)


def _tunnel_local(link: Any) -> str | None:  # noqa: ANN401  (a pyroute2 link message)
    """The local address of an ipip device (the kernel's IFLA_IPTUN_LOCAL, pyroute2's IFLA_IPIP_LOCAL), or None
    for any other kind."""
    info = link.get_attr("IFLA_LINKINFO")
    data = info.get_attr("IFLA_INFO_DATA") if info else None
    return data.get_attr("IFLA_IPIP_LOCAL") if data and hasattr(data, "get_attr") else None
