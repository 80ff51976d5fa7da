"""Topology: nodes, links, the interfaces attaching them, static routes and the zone firewall."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from mip4.core.actions import SetPath

from .nat import Nat

INTRANET, EXTERNAL = "intranet", "external"


@lru_cache(maxsize=1024)
def is_broadcast(address: str) -> bool:
    """255.255.255.255 and multicast (224.0.0.1, 224.0.0.2, ...) reach every other endpoint on the link."""
    return address == "255.255.255.255" or ipaddress.IPv4Address(address).is_multicast


@dataclass(eq=False)
class Node:
    """A machine in the network, with what the simulator tracks for it."""

    name: str
    machine: Any
    ifaces: dict[str, Endpoint] = field(default_factory=dict)
    gate: dict[str, str | None] = field(default_factory=dict)  # iface -> path of the latest Gate action
    paths: dict[str, SetPath] = field(default_factory=dict)  # iface -> latest SetPath action
    timer_at: float | None = None  # the live timer
    timer_gen: int = 0  # bumped on every re-arm: queued timers of older generations are stale

    def __repr__(self) -> str:
        return "Node(%r)" % self.name


@dataclass(eq=False)
class Link:
    """A broadcast segment in a firewall zone, with its impairments and an optional NAT towards the rest."""

    name: str
    zone: str
    loss: float = 0.0
    delay: float = 0.001
    jitter: float = 0.0
    duplicate: float = 0.0
    nat: Nat | None = None
    endpoints: list[Endpoint] = field(default_factory=list)  # in attach order

    def __repr__(self) -> str:
        return "Link(%r, %r)" % (self.name, self.zone)


@dataclass(eq=False)
class Endpoint:
    """One interface of a node on a link and the addresses it answers to there."""

    node: Node
    iface: str
    link: Link
    addresses: list[str]
    lease: str | None = None  # the address `Simulator.lease` gave it

    @property
    def attached(self) -> bool:
        return self.node.ifaces.get(self.iface) is self

    def __repr__(self) -> str:
        return "Endpoint(%s.%s on %s %s)" % (self.node.name, self.iface, self.link.name, self.addresses)


class Firewall:
    """Zone-to-zone policy: everything passes except the blocked (source zone, destination zone) pairs.

    Stateful like the enterprise firewall of RFC 5265 3.1: a reply to a flow that was let through the
    other way (same addresses and ports, reversed) passes even a blocked pair.
    """

    def __init__(self) -> None:
        self.blocked: set[tuple[str, str]] = {(EXTERNAL, INTRANET)}
        self.flows: set[tuple] = set()

    def __call__(self, src_zone: str, dst_zone: str, packet=None) -> bool:
        key = _flow(packet)
        if (src_zone, dst_zone) in self.blocked:
            return key is not None and (key[2], key[3], key[0], key[1]) in self.flows
        if key is not None and src_zone != dst_zone:
            self.flows.add(key)
        return True

    def block(self, src_zone: str, dst_zone: str) -> None:
        self.blocked.add((src_zone, dst_zone))

    def allow(self, src_zone: str, dst_zone: str) -> None:
        self.blocked.discard((src_zone, dst_zone))


class Topology:
    """Links in creation order, static routes, and the address lookups routing needs."""

    def __init__(self) -> None:
        self.links: dict[str, Link] = {}
        self.routes: list[tuple[ipaddress.IPv4Network, Node, str]] = []

    def on_link(self, link: Link, dst: str, exclude: Endpoint | None) -> list[Endpoint]:
        """Receivers on `link` itself: every other endpoint for broadcast, else the owners of `dst`."""
        if is_broadcast(dst):
            return [e for e in link.endpoints if e is not exclude]
        return [e for e in link.endpoints if e is not exclude and dst in e.addresses]

    def owner(self, dst: str) -> Endpoint | None:
        """The first endpoint (link creation, then attach order) owning `dst`; hosts behind a NAT are hidden."""
        for link in self.links.values():
            if link.nat is None:
                for e in link.endpoints:
                    if dst in e.addresses:
                        return e
        return None

    def nat_link(self, dst: str) -> Link | None:
        return next((link for link in self.links.values() if link.nat and link.nat.address == dst), None)

    def route(self, dst: str) -> tuple[Node, str] | None:
        """Longest-prefix static route for `dst`."""
        a = ipaddress.IPv4Address(dst)
        best = max((r for r in self.routes if a in r[0]), key=lambda r: r[0].prefixlen, default=None)
        return (best[1], best[2]) if best else None


def _flow(packet) -> tuple | None:
    if packet is None or not hasattr(packet, "sport"):
        return None
    return (packet.src, packet.sport, packet.dst, packet.dport)
