"""Agent Advertisement and Agent Solicitation (RFC 5944 2.1, 2.2 over RFC 1256 ICMP)."""
from ._struct import pack, unpack_from
from .addr import ip4_pack, ip4_str
from .errors import CodecError, check_int, need
from .extensions import Extension, decode_extensions, encode_extensions, unknown_critical
from .record import Record

ICMP_ROUTER_ADVERTISEMENT = 9
ICMP_ROUTER_SOLICITATION = 10
CODE_ROUTES = 0  # also a router for common traffic
CODE_MOBILITY_ONLY = 16  # RFC 5944 2.1: does not route common traffic

MOBILITY_AGENT_EXT = 16  # RFC 5944 2.1.1
PREFIX_LENGTHS_EXT = 19  # RFC 5944 2.1.2

# RFC 5944 2.1.1 Mobility Agent Advertisement flags (16 bits)
ADV_R = 0x8000  # registration required
ADV_B = 0x4000  # busy
ADV_H = 0x2000  # home agent
ADV_F = 0x1000  # foreign agent
ADV_M = 0x0800  # minimal encapsulation
ADV_G = 0x0400  # GRE encapsulation
ADV_r = 0x0200  # reserved, sent as zero
ADV_T = 0x0100  # reverse tunnelling, RFC 3024
ADV_U = 0x0080  # UDP tunnelling, RFC 3519
ADV_X = 0x0040  # registration revocation, RFC 3543
ADV_I = 0x0020  # regional registration, RFC 4857
ADVERTISEMENT_FLAGS = (
    ("R", ADV_R), ("B", ADV_B), ("H", ADV_H), ("F", ADV_F), ("M", ADV_M), ("G", ADV_G),
    ("r", ADV_r), ("T", ADV_T), ("U", ADV_U), ("X", ADV_X), ("I", ADV_I),
)


def checksum(data):
    """Internet checksum (RFC 1071) over `data`."""
    total = 0
    n = len(data) - (len(data) & 1)
    for i in range(0, n, 2):
        total += (data[i] << 8) | data[i + 1]
    if len(data) & 1:
        total += data[-1] << 8
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _with_checksum(data, all_ones=False):
    """Fill in the checksum. A computed 0x0000 is sent as 0xFFFF when `all_ones`: both verify
    (ones' complement has two zeros), and a decoded message re-encodes to the octets it came from."""
    data = bytearray(data)
    data[2] = data[3] = 0
    c = checksum(data)
    if c == 0 and all_ones:
        c = 0xFFFF
    data[2] = c >> 8
    data[3] = c & 0xFF
    return bytes(data)


def _check_checksum(what, data):
    """Raise on a bad checksum; True when a zero checksum was sent as 0xFFFF."""
    if checksum(data) != 0:
        got = (data[2] << 8) | data[3]
        expected = checksum(bytes(data[:2]) + b"\x00\x00" + bytes(data[4:]))
        raise CodecError(what, "bad ICMP checksum 0x%04x, expected 0x%04x" % (got, expected), 2)
    return data[2] == 0xFF and data[3] == 0xFF


class MobilityAgentAdvertisement(Extension):
    """RFC 5944 2.1.1: sequence number, registration lifetime, flags, care-of addresses."""

    type = MOBILITY_AGENT_EXT
    name = "Mobility Agent Advertisement"
    _fields = ("sequence_number", "registration_lifetime", "flags", "care_of_addresses")

    def __init__(self, sequence_number, registration_lifetime, flags=0, care_of_addresses=None):
        self.sequence_number = sequence_number
        self.registration_lifetime = registration_lifetime
        self.flags = flags
        self.care_of_addresses = list(care_of_addresses or [])

    def has(self, flag):
        return bool(self.flags & flag)

    def body(self):
        w = self.name
        out = pack(
            ">HHH",
            check_int(w, "sequence_number", self.sequence_number, 16),
            check_int(w, "registration_lifetime", self.registration_lifetime, 16),
            check_int(w, "flags", self.flags, 16),
        )
        for a in self.care_of_addresses:
            out += ip4_pack(w, "care_of_addresses", a)
        return out


class PrefixLengths(Extension):
    """RFC 5944 2.1.2: one prefix length per router address."""

    type = PREFIX_LENGTHS_EXT
    name = "Prefix-Lengths"
    _fields = ("prefix_lengths",)

    def __init__(self, prefix_lengths):
        self.prefix_lengths = list(prefix_lengths)

    def body(self):
        for p in self.prefix_lengths:
            check_int(self.name, "prefix_lengths", p, 8)
        return bytes(self.prefix_lengths)


def _maa(what, t, body, offset):
    if len(body) < 6 or (len(body) - 6) % 4:
        raise CodecError(what, "bad length %d, must be 6 + 4 x care-of addresses" % len(body), offset + 1)
    seq, life, flags = unpack_from(">HHH", body, 0)
    coas = [ip4_str(body, i) for i in range(6, len(body), 4)]
    return MobilityAgentAdvertisement(seq, life, flags, coas)


ADVERTISEMENT_DECODERS = {
    MOBILITY_AGENT_EXT: _maa,
    PREFIX_LENGTHS_EXT: lambda what, t, body, offset: PrefixLengths(list(body)),
}


class AgentAdvertisement(Record):
    """ICMP Router Advertisement carrying mobility agent extensions (RFC 5944 2.1).

    RFC 1256 entries are `addr_entry_size` 32-bit words: address, preference, then words a
    receiver ignores; those are kept per entry in `router_extra` (empty when the size is 2).
    """

    type = ICMP_ROUTER_ADVERTISEMENT
    what = "agent advertisement"
    checksum_all_ones = False
    _fields = ("code", "lifetime", "addr_entry_size", "router_addresses", "router_extra", "extensions")

    def __init__(self, lifetime, router_addresses=None, extensions=None, code=CODE_MOBILITY_ONLY, addr_entry_size=2,
                 router_extra=None):
        self.code = code
        self.lifetime = lifetime
        self.addr_entry_size = addr_entry_size
        self.router_addresses = list(router_addresses or [])  # [(address, preference)]
        self.router_extra = list(router_extra or [])
        self.extensions = list(extensions or [])

    def unknown_critical(self):
        """Extensions of type < 128 this codec did not interpret (RFC 5944 1.9: discard)."""
        return unknown_critical(self.extensions)

    @property
    def mobility(self):
        """The Mobility Agent Advertisement extension, or None (a plain router advertisement)."""
        for e in self.extensions:
            if e.type == MOBILITY_AGENT_EXT:
                return e
        return None

    def encode(self):
        w = self.what
        size = check_int(w, "addr_entry_size", self.addr_entry_size, 8)
        if size < 2:
            raise CodecError(w, "addr_entry_size must be at least 2 (RFC 1256), got %d" % size)
        extra = self.router_extra
        if not extra:
            extra = [bytes(4 * (size - 2))] * len(self.router_addresses)
        if len(extra) != len(self.router_addresses):
            raise CodecError(w, "router_extra has %d entries for %d router addresses" % (
                len(extra), len(self.router_addresses)))
        out = pack(">BBHBBH", ICMP_ROUTER_ADVERTISEMENT, check_int(w, "code", self.code, 8), 0,
                   check_int(w, "num_addrs", len(self.router_addresses), 8), size,
                   check_int(w, "lifetime", self.lifetime, 16))
        for n in range(len(self.router_addresses)):
            entry = self.router_addresses[n]
            if not isinstance(entry, (tuple, list)) or len(entry) != 2:
                raise CodecError(w, "router_addresses entries are (address, preference), got %r" % (entry,))
            out += ip4_pack(w, "router address", entry[0])
            pref = entry[1]
            if isinstance(pref, bool) or not isinstance(pref, int) or not -(1 << 31) <= pref < (1 << 31):
                raise CodecError(w, "preference must be a signed 32-bit integer, got %r" % (pref,))
            out += pack(">I", pref & 0xFFFFFFFF)
            if not isinstance(extra[n], (bytes, bytearray)) or len(extra[n]) != 4 * (size - 2):
                raise CodecError(w, "router_extra entries must be %d octets, got %r" % (4 * (size - 2), extra[n]))
            out += extra[n]
        # advertisement extensions are all short-format (RFC 5944 2.1)
        return _with_checksum(out + encode_extensions(self.extensions, ())[0], self.checksum_all_ones)

    @staticmethod
    def decode(data):
        w = "agent advertisement"
        need(w, data, 0, 8)
        if data[0] != ICMP_ROUTER_ADVERTISEMENT:
            raise CodecError(w, "ICMP type %d is not 9" % data[0], 0)
        all_ones = _check_checksum(w, data)
        num, size, life = unpack_from(">BBH", data, 4)
        if size < 2:  # RFC 1256 5.2: receivers accept sizes of 2 and more
            raise CodecError(w, "address entry size %d, must be at least 2 (RFC 1256)" % size, 5)
        step = 4 * size
        need(w + ": router addresses", data, 8, step * num)
        routers = []
        extra = []
        for i in range(num):
            at = 8 + step * i
            pref = unpack_from(">I", data, at + 4)[0]
            if pref >= 1 << 31:
                pref -= 1 << 32
            routers.append((ip4_str(data, at), pref))
            if size > 2:
                extra.append(bytes(data[at + 8 : at + step]))
        exts = decode_extensions(w, data, 8 + step * num, ADVERTISEMENT_DECODERS, (), padding=True)
        msg = AgentAdvertisement(life, routers, exts, data[1], size, extra)
        msg.checksum_all_ones = all_ones
        return msg


class AgentSolicitation(Record):
    """ICMP Router Solicitation (RFC 5944 2.2); octets after the header are kept as `trailer`."""

    type = ICMP_ROUTER_SOLICITATION
    what = "agent solicitation"
    checksum_all_ones = False
    _fields = ("code", "reserved", "trailer")

    def __init__(self, code=0, reserved=0, trailer=b""):
        self.code = code
        self.reserved = reserved
        self.trailer = trailer

    def encode(self):
        w = self.what
        return _with_checksum(pack(">BBHI", ICMP_ROUTER_SOLICITATION, check_int(w, "code", self.code, 8), 0,
                                   check_int(w, "reserved", self.reserved, 32)) + bytes(self.trailer),
                              self.checksum_all_ones)

    @staticmethod
    def decode(data):
        w = "agent solicitation"
        need(w, data, 0, 8)
        if data[0] != ICMP_ROUTER_SOLICITATION:
            raise CodecError(w, "ICMP type %d is not 10" % data[0], 0)
        msg = AgentSolicitation(data[1], unpack_from(">I", data, 4)[0], bytes(data[8:]))
        msg.checksum_all_ones = _check_checksum(w, data)
        return msg
