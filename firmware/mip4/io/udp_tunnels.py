"""The userspace data plane for RFC 3519 UDP tunnelling: one TUN device per tunnel.

UdpTunnelPlane composes it over the kernel backend (backend.DataPlane): a Tunnel with a udp_port is
a TUN device here, every other call goes to the kernel, so routes, MTUs and policy rules treat both
alike. What the kernel routes into a
TUN device leaves as MIP tunnel data (RFC 3519 3.3) from our UDP port 434, the port the registration
used, so it shares the registration's NAT mapping. Tunnel data arriving on port 434 is written to
the device of the tunnel whose peer address and port, and our address, it came with; anything else
is dropped and counted (fail closed: data never redirects a tunnel, RFC 3519 6.1). A keepalive to
our own address is answered here, back through the tunnel it came by (RFC 3519 4.9): its source
(an FA's private address) need not be routable from us.
"""
from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

from ..core.actions import Datagram, Tunnel
from ..wire.registration import PORT
from ..wire.tunnel import NEXT_IP, TunnelData, echo_reply
from .backend import MAIN
from .kernel import KernelDataPlane, device_mtu

log = logging.getLogger("mip4.udp")

TUNSETIFF = 0x400454CA
SIOCSIFMTU = 0x8922  # linux/sockios.h
IP_MTU = 14  # linux/in.h: a connected socket's path MTU
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
HEADER = TunnelData(b"").encode()  # RFC 3519 3.3: type 4, next header IPv4; the packet follows
MAX_PACKET = 65535


@dataclass
class _Device:
    tunnel: Tunnel
    link: str  # the uplink whose socket sends (MN), or "" for the agent's one socket
    fd: int


class UdpTunnels:
    """TUN devices for UDP tunnels; `send` puts a datagram on the wire from our port 434."""

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Callable[[Datagram], int]) -> None:
        self.loop, self.send = loop, send
        self.devices: dict[str, _Device] = {}
        self.peers: dict[tuple[str, str, int], str] = {}  # (our address, peer, peer port) -> device
        self.counters = {"sent": 0, "received": 0, "dropped": 0, "keepalives_answered": 0, "too_big": 0}

    def open(self, t: Tunnel, link: str | None) -> None:
        """Create TUN device `t.name` (non-persistent: it goes when we close it or die)."""
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", t.name.encode(), IFF_TUN | IFF_NO_PI))
        except OSError:
            os.close(fd)
            raise
        try:  # IP-in-IP carries IPv4 only: no IPv6 router solicitations or MLD reports into the tunnel
            with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % t.name, "w") as f:
                f.write("1")
        except OSError:
            pass
        self.devices[t.name] = _Device(t, link or "", fd)
        self.peers[(t.local, t.remote, t.udp_port)] = t.name
        self.loop.add_reader(fd, self._readable, t.name)
        log.info("udp tunnel %s up: %s:%d -> %s:%d%s", t.name, t.local, PORT, t.remote, t.udp_port,
                 " via %s" % link if link else "")

    def close(self, name: str) -> bool:
        dev = self.devices.pop(name, None)
        if dev is None:
            return False
        t = dev.tunnel
        if self.peers.get((t.local, t.remote, t.udp_port)) == name:
            del self.peers[(t.local, t.remote, t.udp_port)]
        self.loop.remove_reader(dev.fd)
        os.close(dev.fd)
        log.info("udp tunnel %s down", name)
        return True

    def close_all(self) -> None:
        for name in list(self.devices):
            self.close(name)

    def _readable(self, name: str) -> None:
        """Packets the kernel routed into the device: out to the peer as MIP tunnel data."""
        dev = self.devices.get(name)
        if dev is None:
            return
        t = dev.tunnel
        for _ in range(64):  # a burst at most, then let the loop breathe
            try:
                packet = os.read(dev.fd, MAX_PACKET)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                log.warning("udp tunnel %s: read: %s", name, e)
                return
            if not packet or packet[0] >> 4 != 4:
                continue  # RFC 3519 3.3: next header 4, so IPv4 only
            if self.send(Datagram(dev.link, t.local, PORT, t.remote, t.udp_port, HEADER + packet)) == errno.EMSGSIZE:
                self.counters["too_big"] += 1
                self._path_mtu(dev)
                continue
            self.counters["sent"] += 1

    def _path_mtu(self, dev: _Device) -> None:
        """A packet did not fit the path MTU to the peer (DF on every datagram of ours): the device's MTU
        comes down to that path MTU less the tunnel's layer, so the kernel answers the next too-big
        packet routed into it with ICMP "fragmentation needed" to its sender (or fragments it before it
        enters, without DF), as it does for an ipip device (RFC 2003 5.1). Never fragments of MIP
        tunnel data: behind a VPN gateway they would leave it as ESP fragments."""
        t = dev.tunnel
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind((t.local, 0))
            probe.connect((t.remote, t.udp_port))
            path = probe.getsockopt(socket.IPPROTO_IP, IP_MTU)
            now = device_mtu(t.name)
            mtu = path - t.overhead
            if mtu >= 68 and mtu < now:
                fcntl.ioctl(probe, SIOCSIFMTU, struct.pack("16si", t.name.encode(), mtu))
                log.info("udp tunnel %s: path MTU to %s is %d: device MTU %d -> %d (RFC 2003 5.1)", t.name, t.remote,
                         path, now, mtu)
        except OSError as e:
            log.warning("udp tunnel %s: path MTU to %s not applied: %s", t.name, t.remote, e)
        finally:
            probe.close()

    def receive(self, d: Datagram) -> str | None:
        """MIP tunnel data on port 434: the device it went to, or None (not ours: dropped)."""
        name = self.peers.get((d.dst, d.src, d.sport))
        payload = d.payload
        if name is None or len(payload) < 24 or payload[1] != NEXT_IP or payload[4] >> 4 != 4:
            self.counters["dropped"] += 1
            if self.counters["dropped"] & (self.counters["dropped"] - 1) == 0:  # 1, 2, 4, 8, ... in the log
                log.warning("udp tunnel data from %s:%d to %s dropped: %s (%d so far)", d.src, d.sport, d.dst,
                            "no tunnel with that peer" if name is None else "not IPv4 in IP", self.counters["dropped"])
            return None
        dev = self.devices[name]
        answer = echo_reply(payload[4:], dev.tunnel.local)
        if answer is not None:
            self.counters["keepalives_answered"] += 1
            self.send(Datagram(dev.link, d.dst, PORT, d.src, d.sport, HEADER + answer))
            return name
        try:
            os.write(dev.fd, payload[4:])
        except OSError as e:
            log.debug("udp tunnel %s: write: %s", name, e)
            return None
        self.counters["received"] += 1
        return name

    def tunnels(self) -> list[dict]:
        return [{"device": n, "local": d.tunnel.local, "remote": d.tunnel.remote, "port": d.tunnel.udp_port}
                for n, d in sorted(self.devices.items())]


class UdpTunnelPlane:
    """backend.DataPlane: RFC 3519 tunnels (a udp_port) are TUN devices of `udp`, the rest is `kernel`'s.
    A TUN device starts at the uplink's MTU less the layer, as an ipip device does in the kernel."""

    def __init__(self, kernel: KernelDataPlane, udp: UdpTunnels) -> None:
        self.kernel, self.udp = kernel, udp

    @property
    def tunnels(self) -> dict[str, Tunnel]:
        return self.kernel.tunnels

    async def tunnel_up(self, t: Tunnel, link: str | None = None) -> None:
        old = self.kernel.tunnels.get(t.name)
        if old == t:
            return
        if old is not None and not old.udp_port and not t.udp_port:  # ipip to ipip: the kernel changes it in place
            await self.kernel.tunnel_up(t, link)
            return
        await self.tunnel_down(t.name)  # the same name may change kind
        if not t.udp_port:
            await self.kernel.tunnel_up(t, link)
            return
        self.udp.open(t, link)
        await self.kernel.adopt(t, (await self.kernel.mtu(link) if link else 1500) - t.overhead)

    async def tunnel_down(self, name: str) -> None:
        if self.udp.close(name):  # closing the TUN device removed it
            self.kernel.forget(name)
        else:
            await self.kernel.tunnel_down(name)

    async def close(self) -> None:
        await self.kernel.close(self.tunnel_down)
        self.udp.close_all()

    async def mtu(self, iface: str) -> int:
        return await self.kernel.mtu(iface)

    async def set_mtu(self, iface: str, mtu: int) -> None:
        await self.kernel.set_mtu(iface, mtu)

    async def route(self, prefix: str, *, table: int = MAIN, device: str | None = None,
                    gateway: str | None = None, kind: str = "unicast", onlink: bool = False,
                    metric: int | None = None) -> None:
        await self.kernel.route(prefix, table=table, device=device, gateway=gateway, kind=kind, onlink=onlink,
                                metric=metric)

    async def route_down(self, prefix: str, table: int = MAIN) -> None:
        await self.kernel.route_down(prefix, table)

    async def table_route(self, table: int, prefix: str = "0.0.0.0/0") -> dict | None:
        return await self.kernel.table_route(table, prefix)

    async def rule(self, priority: int, table: int, *, src: str | None = None, oif: str | None = None,
                   blackhole: bool = False) -> None:
        await self.kernel.rule(priority, table, src=src, oif=oif, blackhole=blackhole)

    async def rule_down(self, priority: int, table: int, *, src: str | None = None, oif: str | None = None) -> None:
        await self.kernel.rule_down(priority, table, src=src, oif=oif)

    async def visitors_only(self, iface: str, enable: bool) -> None:
        await self.kernel.visitors_only(iface, enable)

    async def proxy_arp(self, address: str, iface: str, enable: bool) -> None:
        await self.kernel.proxy_arp(address, iface, enable)

    async def address(self, address: str, prefixlen: int, iface: str) -> None:
        await self.kernel.address(address, prefixlen, iface)
