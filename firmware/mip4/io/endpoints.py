"""UDP 434 and ICMP router discovery sockets on an asyncio loop.

A socket bound to one interface (SO_BINDTODEVICE) sends on-link even where the routing table
knows no route (the kernel then assumes the destination is on that link): that is how an FA
answers a visitor's home address and how an MN reaches an FA before it has an address.
"""
from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
import struct
import time
from collections.abc import Callable

from ..core.actions import Datagram, Icmp

SO_BINDTODEVICE = 25
SO_RCVBUFFORCE = 33  # Linux
RECEIVE_BUFFER = 1 << 20  # octets
IP_PKTINFO = 8  # Linux; struct in_pktinfo {int ifindex; in_addr spec_dst; in_addr addr;}
_PKTINFO = struct.Struct("=i4s4s")
IP_XFRM_POLICY = 17  # Linux; a per-socket IPsec policy (struct xfrm_userpolicy_info)
_XFRM_USERPOLICY_INFO = 168  # sizeof on Linux (selector 56, lifetimes 96, priority, index, dir, action, ...)
_XFRM_DIR, _XFRM_ACTION, _XFRM_FAMILY = 160, 161, 40  # offsets; action 0 = allow
ICMP_ROUTER_ADVERTISEMENT, ICMP_ROUTER_SOLICITATION = 9, 10  # RFC 1256, RFC 5944 2.1
ETH_P_IP = 0x0800
BURST = 64  # datagrams read per wake-up; the socket stays readable for the rest
log = logging.getLogger("mip4.io")


def _bind_device(sock: socket.socket, iface: str) -> None:
    sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, iface.encode())


def _receive_buffer(sock: socket.socket) -> None:
    """Room for a burst (a restarted FA's visitors all registering, a flood being counted) rather than
    the kernel's default of about 200 KiB, which a few large datagrams fill; past rmem_max as root."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)


def bypass_ipsec(sock: socket.socket) -> None:
    """Per-socket "allow" policies in and out, as charon sets on its IKE sockets: registrations on an
    uplink are plaintext by design (RFC 5265 3.3) and must pass the leak guard's block policies."""
    for direction in (0, 1):  # XFRM_POLICY_IN, XFRM_POLICY_OUT
        info = bytearray(_XFRM_USERPOLICY_INFO)
        struct.pack_into("=H", info, _XFRM_FAMILY, socket.AF_INET)
        info[_XFRM_DIR], info[_XFRM_ACTION] = direction, 0
        sock.setsockopt(socket.IPPROTO_IP, IP_XFRM_POLICY, bytes(info))


IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)  # linux/in.h
IP_MTU_DISCOVER, IP_PMTUDISC_DO = 10, 2  # linux/in.h


class UdpEndpoint:
    """UDP `port` on one interface, or on all (iface None: IP_PKTINFO names the receiving one).

    `address` binds one local address instead (the VPN-TIA: i-MIP through the IPsec tunnel, whose
    datagrams are reported as received on `label`); `freebind` binds it before the address is on this
    machine (IP_FREEBIND: a redundant pair's standby home agent, whose address keepalived moves here
    later); `bypass` exempts the socket from IPsec policies."""

    def __init__(self, loop: asyncio.AbstractEventLoop, port: int, iface: str | None,
                 on_datagram: Callable[[Datagram], None], *, address: str = "0.0.0.0", label: str | None = None,
                 bypass: bool = False, freebind: bool = False) -> None:
        self.loop, self.iface, self.port, self.on_datagram = loop, iface, port, on_datagram
        self.label = label
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        _receive_buffer(self.sock)
        if iface is not None:
            _bind_device(self.sock, iface)
        if bypass:
            bypass_ipsec(self.sock)
        if freebind:
            self.sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
        # DF on everything we send, never fragmented here: a datagram over the path MTU fails with EMSGSIZE
        # (send() says so), and the UDP tunnels lower their device's MTU as the kernel's ipip does
        # (RFC 2003 5.1); fragments of MIP tunnel data would leave the VPN gateway as ESP fragments
        self.sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
        self.sock.bind((address, port))
        self.sock.setblocking(False)
        # per datagram, what is the same for most (issue 25): the receiving interface and address by the
        # IP_PKTINFO octets (forgotten every NAME_TTL seconds, as _if_name's names), the IP_PKTINFO to send
        # from a source address
        self._arrivals: dict[bytes, tuple[str, str]] = {}
        self._arrivals_since = time.monotonic()
        self._pktinfo: dict[str, list] = {}
        self._cmsg_space = socket.CMSG_SPACE(_PKTINFO.size)
        loop.add_reader(self.sock.fileno(), self._readable)

    def _readable(self) -> None:
        if time.monotonic() - self._arrivals_since >= NAME_TTL:
            self._arrivals.clear()
            self._arrivals_since = time.monotonic()
        recvmsg, space, arrivals, on_datagram, port = (self.sock.recvmsg, self._cmsg_space, self._arrivals,
                                                       self.on_datagram, self.port)
        for _ in range(BURST):  # then back to the loop: timers and the action worker run during a flood
            try:
                data, anc, _flags, (src, sport) = recvmsg(65535, space)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # e.g. ICMP port unreachable reported on the socket
                log.debug("udp %s: %s", self.iface or "*", e)
                continue
            iface, dst = self.label or self.iface or "", "0.0.0.0"
            for level, kind, value in anc:
                if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                    known = arrivals.get(value)
                    if known is None:
                        known = self._arrival(value)
                    dst = known[1]
                    if not iface:
                        iface = known[0]
            on_datagram(Datagram(iface, src, sport, dst, port, data))

    def _arrival(self, pktinfo: bytes) -> tuple[str, str]:
        """(interface name, local address) of an IP_PKTINFO, remembered (bounded)."""
        index, _spec, addr = _PKTINFO.unpack(pktinfo[: _PKTINFO.size])
        if len(self._arrivals) >= 256:
            self._arrivals.clear()
        known = self._arrivals[pktinfo] = (_if_name(index), socket.inet_ntoa(addr))
        return known

    def send(self, d: Datagram) -> int:
        """From `d.src` (when not 0.0.0.0) to d.dst:d.dport; our port is the bound one. 0, or the errno
        of a failed send (EMSGSIZE: over the path MTU the kernel knows, not logged here)."""
        ancillary = self._pktinfo.get(d.src)
        if ancillary is None:
            ancillary = self._source(d.src)
        try:
            self.sock.sendmsg([d.payload], ancillary, 0, (d.dst, d.dport))
        except OSError as e:
            if e.errno != errno.EMSGSIZE:
                log.warning("udp send %s -> %s:%d on %s failed: %s", d.src or "0.0.0.0", d.dst, d.dport,
                            d.iface or "*", e)
            return e.errno or -1
        return 0

    def _source(self, source: str) -> list:
        """sendmsg's ancillary data to send from `source` (remembered: an agent sends from one or two)."""
        src = source if source and source != "0.0.0.0" else "0.0.0.0"
        ancillary = [(socket.IPPROTO_IP, IP_PKTINFO, _PKTINFO.pack(0, socket.inet_aton(src), bytes(4)))]
        if len(self._pktinfo) >= 64:
            self._pktinfo.clear()
        self._pktinfo[source] = ancillary
        return ancillary

    def close(self) -> None:
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()


class IcmpEndpoint:
    """ICMP router discovery on one interface (raw socket): agent advertisements and solicitations."""

    def __init__(self, loop: asyncio.AbstractEventLoop, iface: str, on_icmp: Callable[[Icmp], None],
                 groups: tuple[str, ...] = (), bypass: bool = False) -> None:
        self.loop, self.iface, self.on_icmp = loop, iface, on_icmp
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        _bind_device(self.sock, iface)
        if bypass:  # XFRM judges the route's source (any address of ours), not the header's 0.0.0.0
            bypass_ipsec(self.sock)
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        index = socket.if_nametoindex(iface)
        for group in groups:  # e.g. 224.0.0.2 on an FA's access link, for solicitations
            mreqn = struct.pack("=4s4si", socket.inet_aton(group), bytes(4), index)
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        self.sock.setblocking(False)
        loop.add_reader(self.sock.fileno(), self._readable)

    def _readable(self) -> None:
        for _ in range(BURST):
            try:
                packet = self.sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                log.debug("icmp %s: %s", self.iface, e)
                continue
            ihl = (packet[0] & 0x0F) * 4
            if len(packet) <= ihl or packet[ihl] not in (ICMP_ROUTER_ADVERTISEMENT, ICMP_ROUTER_SOLICITATION):
                continue
            src, dst = socket.inet_ntoa(packet[12:16]), socket.inet_ntoa(packet[16:20])
            self.on_icmp(Icmp(self.iface, src, dst, packet[ihl:]))

    def send(self, m: Icmp) -> None:
        """IP_HDRINCL so that the source is exactly m.src; TTL 1 (RFC 5944 2.3.1, 2.4.2). The kernel
        fills in length, ID and checksum. An unspecified source (a solicitation before any address,
        RFC 1256) goes out as a link-layer frame: given 0.0.0.0, the kernel would put in an address
        of its own choosing, and that may be the i-HoA, which must never show outside."""
        if not m.src or m.src == "0.0.0.0":
            self._send_unnumbered(m)
            return
        dst = ipaddress.IPv4Address(m.dst)
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0, 1, socket.IPPROTO_ICMP, 0,
                             socket.inet_aton(m.src or "0.0.0.0"), dst.packed)
        try:
            self.sock.sendto(header + m.payload, (m.dst, 0))
        except OSError as e:
            log.warning("icmp send %s -> %s on %s failed: %s", m.src, m.dst, self.iface, e)

    def _send_unnumbered(self, m: Icmp) -> None:
        dst = ipaddress.IPv4Address(m.dst)
        if dst.is_multicast:  # RFC 1112 6.4: 01:00:5e and the low 23 bits of the group
            mac = b"\x01\x00\x5e" + (int(dst) & 0x7FFFFF).to_bytes(3, "big")
        else:
            mac = b"\xff" * 6
        header = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(m.payload), 0, 0, 1, socket.IPPROTO_ICMP,
                                       0, bytes(4), dst.packed))
        struct.pack_into("!H", header, 10, _checksum(bytes(header)))
        try:
            with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
                s.bind((self.iface, ETH_P_IP))
                s.send(mac + s.getsockname()[4] + struct.pack("!H", ETH_P_IP) + bytes(header) + m.payload)
        except OSError as e:
            log.warning("icmp send 0.0.0.0 -> %s on %s failed: %s", m.dst, self.iface, e)

    def close(self) -> None:
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of an even-length header."""
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


_NAMES: dict[int, tuple[str, float]] = {}  # ifindex -> (name, when looked up)
NAME_TTL = 10.0  # seconds a looked-up name is used for (a wildcard socket asks for every datagram)


def _if_name(index: int) -> str:
    now = time.monotonic()
    hit = _NAMES.get(index)
    if hit is not None and now - hit[1] < NAME_TTL:
        return hit[0]
    try:
        name = socket.if_indextoname(index)
    except OSError:
        name = ""
    if len(_NAMES) > 256:
        _NAMES.clear()
    _NAMES[index] = (name, now)
    return name
