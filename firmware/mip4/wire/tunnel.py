"""MIP tunnel data message for UDP tunnelling, RFC 3519 3.3 (type 4 on UDP 434)."""
from ._struct import pack, unpack_from
from .addr import ip4_pack
from .errors import CodecError, check_bytes, check_int, need
from .icmp import checksum
from .record import Record

TUNNEL_DATA = 4
NEXT_IP = 4
NEXT_GRE = 47
NEXT_MINIMAL = 55


class TunnelData(Record):
    """Type, next header, 16 reserved bits, then the tunnelled packet."""

    type = TUNNEL_DATA
    what = "tunnel data"
    _fields = ("next_header", "reserved", "payload")

    def __init__(self, payload, next_header=NEXT_IP, reserved=0):
        self.next_header = next_header
        self.reserved = reserved
        self.payload = payload

    def encode(self):
        w = self.what
        return pack(">BBH", TUNNEL_DATA, check_int(w, "next_header", self.next_header, 8),
                    check_int(w, "reserved", self.reserved, 16)) + check_bytes(w, "payload", self.payload, 65535)

    @staticmethod
    def decode(data):
        w = "tunnel data"
        need(w, data, 0, 4)
        if data[0] != TUNNEL_DATA:
            raise CodecError(w, "type %d is not 4" % data[0], 0)
        return TunnelData(bytes(data[4:]), data[1], unpack_from(">H", data, 2)[0])


def keepalive(src, dst, seq):
    """RFC 3519 4.9: a keepalive to tunnel, an ICMP Echo Request from `src` (the home address) to
    `dst` (the home agent), sequence `seq`, as a bare IPv4 packet (TTL 64, no options)."""
    seq = check_int("keepalive", "seq", seq, 16)
    icmp = pack(">BBHHH", 8, 0, 0, 0x3519, seq) + b"mip4"
    icmp = icmp[:2] + pack(">H", checksum(icmp)) + icmp[4:]
    header = pack(">BBHHHBBH", 0x45, 0, 20 + len(icmp), seq, 0, 64, 1, 0) \
        + ip4_pack("keepalive", "src", src) + ip4_pack("keepalive", "dst", dst)
    header = header[:10] + pack(">H", checksum(header)) + header[12:]
    return header + icmp


def echo_reply(packet, local):
    """RFC 3519 4.9: the answer to a keepalive, or None when `packet` is not an intact ICMP Echo
    Request to `local`: addresses swapped, type 0, both checksums new (TTL 64, options dropped)."""
    if len(packet) < 28 or packet[0] >> 4 != 4 or packet[9] != 1:
        return None
    ihl = (packet[0] & 15) * 4
    total = unpack_from(">H", packet, 2)[0]
    if ihl < 20 or total > len(packet) or total < ihl + 8 or packet[16:20] != ip4_pack("echo", "local", local):
        return None
    if checksum(packet[:ihl]) != 0 or packet[ihl] != 8 or packet[ihl + 1] != 0 or checksum(packet[ihl:total]) != 0:
        return None
    icmp = b"\x00\x00\x00\x00" + bytes(packet[ihl + 4:total])
    icmp = icmp[:2] + pack(">H", checksum(icmp)) + icmp[4:]
    header = pack(">BBHHHBBH", 0x45, 0, 20 + len(icmp), unpack_from(">H", packet, 4)[0], 0, 64, 1, 0) \
        + bytes(packet[16:20]) + bytes(packet[12:16])
    header = header[:10] + pack(">H", checksum(header)) + header[12:]
    return header + icmp
