"""Gratuitous ARP (RFC 5944 4.6): tell a link that `address` now lives at our MAC address."""
from __future__ import annotations

import socket
import struct

ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6


def mac_of(iface: str) -> bytes:
    """From a packet socket (not /sys, which may show another network namespace)."""
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((iface, ETH_P_ARP))
        return s.getsockname()[4]


def gratuitous_arp(address: str, iface: str, count: int = 1) -> None:
    """An ARP request with sender and target both `address`, broadcast on `iface`."""
    mac, ip = mac_of(iface), socket.inet_aton(address)
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, ip, bytes(6), ip)
    frame = BROADCAST + mac + struct.pack("!H", ETH_P_ARP) + arp
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((iface, ETH_P_ARP))
        for _ in range(count):
            s.send(frame)
