"""Minimal IPv4/UDP framing and classic pcap writing (LINKTYPE_RAW) for feeding tshark."""
import struct
from collections.abc import Iterable
from ipaddress import IPv4Address
from pathlib import Path

from mip4.wire.icmp import checksum

LINKTYPE_RAW = 101  # each record is a bare IPv4 (or IPv6) packet
PROTO_ICMP = 1
PROTO_UDP = 17


def ipv4(src: str, dst: str, proto: int, payload: bytes, ttl: int = 64, ident: int = 0) -> bytes:
    """An IPv4 header without options (checksum filled in) followed by `payload`."""
    head = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0, ttl, proto, 0,
                       IPv4Address(src).packed, IPv4Address(dst).packed)
    return head[:10] + struct.pack(">H", checksum(head)) + head[12:] + payload


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    """A UDP header (checksum 0: not computed, RFC 768) followed by `payload`."""
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def write_pcap(path: Path, packets: Iterable[bytes]) -> None:
    """Classic little-endian pcap, microsecond timestamps one second apart."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_RAW)]
    for i, p in enumerate(packets):
        out.append(struct.pack("<IIII", i, 0, len(p), len(p)) + p)
    Path(path).write_bytes(b"".join(out))
