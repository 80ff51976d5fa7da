"""A NAPT on the way out of a link: one mapping per inside (source, source port), ports from 10000 up."""
from __future__ import annotations

import dataclasses

from mip4.core.actions import Datagram, Icmp


class Nat:
    def __init__(self, address: str, first_port: int = 10000) -> None:
        self.address = address
        self.next_port = first_port
        self.mappings: dict[tuple[str, int], int] = {}  # (inside source, port) -> outside port
        self.reverse: dict[int, tuple[str, int]] = {}

    def outbound(self, packet: Datagram | Icmp) -> Datagram | Icmp:
        """Rewrite the source of a packet leaving the link (ICMP: the address only)."""
        if isinstance(packet, Icmp):
            return dataclasses.replace(packet, src=self.address)
        key = (packet.src, packet.sport)
        if key not in self.mappings:
            self.mappings[key] = self.next_port
            self.reverse[self.next_port] = key
            self.next_port += 1
        return dataclasses.replace(packet, src=self.address, sport=self.mappings[key])

    def inbound(self, packet: Datagram | Icmp) -> Datagram | None:
        """Translate a datagram to a mapped port back to its inside destination; None if nothing is mapped."""
        if isinstance(packet, Icmp) or packet.dport not in self.reverse:
            return None
        dst, dport = self.reverse[packet.dport]
        return dataclasses.replace(packet, dst=dst, dport=dport)

    def rebind(self) -> None:
        """Forget every mapping (a NAT reboot or timeout); new flows get new ports."""
        self.mappings.clear()
        self.reverse.clear()
