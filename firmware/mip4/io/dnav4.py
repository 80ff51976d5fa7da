"""DNAv4, RFC 4436: on a network the router has attached to before, its remembered lease is used at once,
while DHCP confirms it (io/dhcp.py).

What identifies a network (RFC 4436 2): the default router's IPv4 address and its MAC address, kept with
the lease the host had there. On a new link the reachability test (2.1) sends, for each remembered
network with a valid lease, an ARP Request unicast to the router's MAC, from the remembered address, for
the router's address (2.1.1); a Reply from that address with that MAC says the host is back on that
network, and the remembered address is configured (2.2) while DHCP runs in parallel: an ACK for another
address replaces it, a NAK ends it. No reply proves nothing (the router may be slow): DHCP decides then.

The top half is Sans-IO (the memory, the frames, matching a reply); the bottom half sends and receives
on a packet socket. An ARP reply is unauthenticated, like every hint (RFC 5265 3.5): at worst the router
uses an address of another network as its care-of, and the registrations from it fail; the inside/outside
verdict never rests on it (R-3.2.3-a).
"""
from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from .arp import BROADCAST, ETH_P_ARP, mac_of

ARP_REQUEST, ARP_REPLY = 1, 2
PER_UPLINK = 4  # networks remembered per uplink, the most recent first
TEST_TIMEOUT = 0.3  # RFC 4436 2.1: the reachability test gives up after this long (DHCP goes on anyway)
RETRANSMIT = 0.1  # RFC 4436 2.1: one more Request if no Reply came by then
T = TypeVar("T")


@dataclass(frozen=True)
class Network:
    """A network the router attached to before, and the lease it had there (RFC 4436 2)."""

    iface: str
    address: str
    prefixlen: int
    router: str
    router_mac: bytes | None  # learnt by an ARP exchange once the lease is bound
    expires_at: float  # monotonic: the lease's end; an expired lease is never tested (RFC 4436 2.1)
    server: str | None = None

    def valid(self, now: float) -> bool:
        return self.router_mac is not None and now < self.expires_at


class Memory:
    """The networks each uplink has seen, the most recent first."""

    def __init__(self, per_uplink: int = PER_UPLINK) -> None:
        self.per_uplink = per_uplink
        self.networks: dict[str, list[Network]] = {}

    def remember(self, net: Network) -> Network:
        """A bound (or renewed) lease: kept first; the router's MAC stays known if the router did not change."""
        known = self.networks.setdefault(net.iface, [])
        same = next((n for n in known if (n.router, n.address) == (net.router, net.address)), None)
        if same is not None and net.router_mac is None:
            net = replace(net, router_mac=same.router_mac)
        known[:] = [net] + [n for n in known if n.router != net.router][: self.per_uplink - 1]
        return net

    def learned(self, iface: str, router: str, address: str, mac: bytes) -> None:
        """The router's MAC, from its ARP Reply to us."""
        known = self.networks.get(iface, [])
        known[:] = [replace(n, router_mac=mac) if (n.router, n.address) == (router, address) else n for n in known]

    def forget(self, iface: str, address: str) -> None:
        """A DHCPNAK for it (RFC 4436 2.2): that lease is no good any more."""
        self.networks[iface] = [n for n in self.networks.get(iface, []) if n.address != address]

    def candidates(self, iface: str, now: float) -> list[Network]:
        return [n for n in self.networks.get(iface, []) if n.valid(now)]


def arp_frame(our_mac: bytes, sender_ip: str, target_ip: str, target_mac: bytes | None) -> bytes:
    """An ARP Request in an Ethernet frame: unicast to `target_mac` (RFC 4436 2.1.1), or broadcast."""
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, ARP_REQUEST, our_mac, socket.inet_aton(sender_ip),
                      target_mac or bytes(6), socket.inet_aton(target_ip))
    return (target_mac or BROADCAST) + our_mac + struct.pack("!H", ETH_P_ARP) + arp


def probe(our_mac: bytes, net: Network) -> bytes:
    """RFC 4436 2.1.1: to the router's MAC, from the remembered address, for the router's address."""
    return arp_frame(our_mac, net.address, net.router, net.router_mac)


def arp_reply(frame: bytes) -> tuple[bytes, str, bytes, str] | None:
    """(sender MAC, sender IP, target MAC, target IP) of an Ethernet ARP Reply for IPv4, else None."""
    if len(frame) < 42 or frame[12:14] != struct.pack("!H", ETH_P_ARP):
        return None
    htype, ptype, hlen, plen, op, smac, sip, tmac, tip = struct.unpack("!HHBBH6s4s6s4s", frame[14:42])
    if (htype, ptype, hlen, plen, op) != (1, 0x0800, 6, 4, ARP_REPLY):
        return None
    return smac, socket.inet_ntoa(sip), tmac, socket.inet_ntoa(tip)


def confirms(frame: bytes, net: Network, our_mac: bytes) -> bool:
    """RFC 4436 2.1: a Reply from the remembered router's address with its remembered MAC, to us."""
    got = arp_reply(frame)
    return got is not None and got == (net.router_mac, net.router, our_mac, net.address)


# -- on the wire -------------------------------------------------------------------------------------------


def _socket(iface: str) -> socket.socket:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    s.bind((iface, ETH_P_ARP))
    s.setblocking(False)
    return s


async def _exchange(iface: str, frames: list[bytes], answer: Callable[[bytes], T | None], timeout: float,
                    retransmit: float) -> T | None:
    """Send `frames`, once more after `retransmit`, until `answer(frame)` gives something or `timeout` passes."""
    loop = asyncio.get_running_loop()
    with _socket(iface) as s:
        deadline, resend = loop.time() + timeout, loop.time() + retransmit
        for f in frames:
            s.send(f)
        while (now := loop.time()) < deadline:
            try:
                frame = await asyncio.wait_for(loop.sock_recv(s, 1514), min(deadline, resend if resend > now
                                                                             else deadline) - now)
            except TimeoutError:
                if resend <= loop.time() < deadline:
                    resend = deadline
                    for f in frames:
                        s.send(f)
                continue
            found = answer(frame)
            if found is not None:
                return found
    return None


async def reachability_test(iface: str, nets: list[Network], timeout: float = TEST_TIMEOUT,
                            retransmit: float = RETRANSMIT) -> Network | None:
    """RFC 4436 2.1: the remembered network whose router answers, or None."""
    if not nets:
        return None
    ours = mac_of(iface)
    return await _exchange(iface, [probe(ours, n) for n in nets],
                           lambda f: next((n for n in nets if confirms(f, n, ours)), None), timeout, retransmit)


async def router_mac(iface: str, address: str, router: str, timeout: float = 1.0) -> bytes | None:
    """The MAC of `router`, asked from our new `address` (broadcast Request): what identifies the network."""
    ours = mac_of(iface)

    def answer(frame: bytes) -> bytes | None:
        got = arp_reply(frame)
        return got[0] if got is not None and got[1:] == (router, ours, address) else None

    return await _exchange(iface, [arp_frame(ours, address, router, None)], answer, timeout, timeout / 3)
