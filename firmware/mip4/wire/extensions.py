"""Registration extensions (RFC 5944 1.9-1.11, 3.5; RFC 2794; RFC 3519 3.1-3.2; RFC 5265 3.4)."""
from ._struct import pack, unpack_from
from .errors import CodecError, check_bytes, check_int, need
from .record import Record

# RFC 5944 1.9: types 0..127 must be understood, 128..255 may be skipped
SKIPPABLE_MIN = 128

MOBILE_HOME_AUTH = 32  # RFC 5944 3.5.2
MOBILE_FOREIGN_AUTH = 33  # RFC 5944 3.5.3
FOREIGN_HOME_AUTH = 34  # RFC 5944 3.5.4
UDP_TUNNEL_REPLY = 44  # RFC 3519 3.2
NAI = 131  # RFC 2794
UDP_TUNNEL_REQUEST = 144  # RFC 3519 3.1
TNC = 149  # RFC 5265 3.4, 7

# RFC 5944 1.10 long format (type, sub-type, 16-bit length): generalized auth (RFC 3012),
# CVSE (RFC 3115), PMIPv4 non-skippable (RFC 5563)
LONG_FORMAT_TYPES = (36, 38, 47)

AUTH_TYPES = (MOBILE_HOME_AUTH, MOBILE_FOREIGN_AUTH, FOREIGN_HOME_AUTH)
AUTH_NAMES = {
    MOBILE_HOME_AUTH: "Mobile-Home Authentication",
    MOBILE_FOREIGN_AUTH: "Mobile-Foreign Authentication",
    FOREIGN_HOME_AUTH: "Foreign-Home Authentication",
}

# RFC 3519 3.1 / 3.2 flag bits
UDP_TUNNEL_REQUEST_FLAGS = (("F", 0x80), ("R", 0x40))
UDP_TUNNEL_REPLY_FLAGS = (("F", 0x8000),)
ENCAP_IP_IN_IP = 4
ENCAP_GRE = 47
ENCAP_MINIMAL = 55
UDP_TUNNEL_ACCEPTED = 0
UDP_TUNNEL_DECLINED = 64


class Extension(Record):
    """Base: every extension knows its type and where the decoder found it."""

    type = None
    offset = None
    name = "extension"

    def skippable(self):
        return self.type >= SKIPPABLE_MIN

    def body(self):
        raise NotImplementedError

    def encode(self):
        body = self.body()
        if len(body) > 255:
            raise CodecError(self.name, "body is %d octets, at most 255 fit" % len(body))
        return bytes((self.type, len(body))) + body


class Authentication(Extension):
    """Mobile-Home (32), Mobile-Foreign (33), Foreign-Home (34), RFC 5944 3.5.2-3.5.4."""

    _fields = ("type", "spi", "authenticator")

    def __init__(self, type, spi, authenticator=b""):
        if type not in AUTH_TYPES:
            raise CodecError("authentication extension", "type must be 32, 33 or 34, got %r" % (type,))
        self.type = type
        self.name = AUTH_NAMES[type]
        self.spi = spi
        self.authenticator = authenticator

    def body(self):
        spi, auth = self.spi, self.authenticator
        if type(spi) is not int or not 0 <= spi <= 0xFFFFFFFF:
            check_int(self.name, "spi", spi, 32)
        if type(auth) is not bytes or len(auth) > 251:
            auth = check_bytes(self.name, "authenticator", auth, 251)
        return pack(">I", spi) + auth


class Nai(Extension):
    """Mobile Node NAI, RFC 2794 2."""

    type = NAI
    name = "Mobile Node NAI"
    _fields = ("nai",)

    def __init__(self, nai):
        self.nai = nai

    def body(self):
        return check_bytes(self.name, "nai", self.nai)


class UdpTunnelRequest(Extension):
    """UDP Tunnel Request, RFC 3519 3.1 (sub-type 0; other sub-types stay RawExtension)."""

    type = UDP_TUNNEL_REQUEST
    name = "UDP Tunnel Request"
    _fields = ("reserved1", "flags", "encapsulation", "reserved3")

    def __init__(self, encapsulation=ENCAP_IP_IN_IP, flags=0, reserved1=0, reserved3=0):
        self.reserved1 = reserved1
        self.flags = flags
        self.encapsulation = encapsulation
        self.reserved3 = reserved3

    def body(self):
        w = self.name
        return pack(
            ">BBBBH",
            0,
            check_int(w, "reserved1", self.reserved1, 8),
            check_int(w, "flags", self.flags, 8),
            check_int(w, "encapsulation", self.encapsulation, 8),
            check_int(w, "reserved3", self.reserved3, 16),
        )


class UdpTunnelReply(Extension):
    """UDP Tunnel Reply, RFC 3519 3.2 (type 44: must be understood; sub-type 0)."""

    type = UDP_TUNNEL_REPLY
    name = "UDP Tunnel Reply"
    _fields = ("code", "flags", "keepalive")

    def __init__(self, code=UDP_TUNNEL_ACCEPTED, keepalive=0, flags=0):
        self.code = code
        self.flags = flags
        self.keepalive = keepalive

    def body(self):
        code, flags, keepalive = self.code, self.flags, self.keepalive
        if (type(code) is int and type(flags) is int and type(keepalive) is int and 0 <= code <= 0xFF
                and 0 <= flags <= 0xFFFF and 0 <= keepalive <= 0xFFFF):  # an HA's every reply to a request for it
            return pack(">BBHH", 0, code, flags, keepalive)
        w = self.name
        return pack(
            ">BBHH",
            0,
            check_int(w, "code", self.code, 8),
            check_int(w, "flags", self.flags, 16),
            check_int(w, "keepalive", self.keepalive, 16),
        )


class TrustedNetworksConfigured(Extension):
    """TNC, RFC 5265 3.4: 95 02 00 00; reserved zero on send, ignored on receipt (R-3.4-a)."""

    type = TNC
    name = "Trusted Networks Configured"
    _fields = ("reserved",)

    def __init__(self, reserved=0):
        self.reserved = reserved

    def body(self):
        if self.reserved == 0 and type(self.reserved) is int:  # R-3.4-a: what an i-HA sends
            return b"\x00\x00"
        return bytes((0, check_int(self.name, "reserved", self.reserved, 8)))


class RawExtension(Extension):
    """An extension this codec does not interpret, kept byte for byte (RFC 5944 1.9).

    `sub_type` is set only for the long format (RFC 5944 1.10).
    """

    _fields = ("type", "sub_type", "data")

    def __init__(self, type, data, sub_type=None):
        self.type = type
        self.data = data
        self.sub_type = sub_type
        self.name = "extension %r" % (type,)

    def encode(self):
        check_int("extension", "type", self.type, 8)
        if self.sub_type is None:
            data = check_bytes(self.name, "data", self.data)
            return bytes((self.type, len(data))) + data
        data = check_bytes(self.name, "data", self.data, 0xFFFF)
        return pack(">BBH", self.type, check_int(self.name, "sub_type", self.sub_type, 8), len(data)) + data


class Padding(Extension):
    """One-octet Padding extension of agent advertisements (RFC 5944 2.1.3)."""

    type = 0
    name = "Padding"
    _fields = ()

    def encode(self):
        return b"\x00"


def _auth(what, t, body, offset):
    if len(body) < 4:  # `what` names the message only: the extension is named here, when it is wrong
        raise CodecError(_ext_what(what, t), "bad length %d, must be at least 4 (SPI)" % len(body), offset + 1)
    return Authentication(t, unpack_from(">I", body, 0)[0], bytes(body[4:]))


def _defined(body, size):
    """Sub-type 0 of this exact length: the only form RFC 3519 3.1-3.2 and RFC 5265 3.4 define.

    Anything else is kept raw, like an unknown extension: skipped when the type is skippable
    (144, 149), reported by unknown_critical() when it is not (44), RFC 5944 1.9.
    """
    return len(body) == size and body[0] == 0


def _udp_req(what, t, body, offset):
    if len(body) != 6 or body[0] != 0:  # not _defined(body, 6), written out: in every request to an HA
        return RawExtension(t, bytes(body))
    _, r1, fl, enc, r3 = unpack_from(">BBBBH", body, 0)
    return UdpTunnelRequest(enc, fl, r1, r3)


def _udp_rep(what, t, body, offset):
    if not _defined(body, 6):
        return RawExtension(t, bytes(body))
    _, code, fl, ka = unpack_from(">BBHH", body, 0)
    return UdpTunnelReply(code, ka, fl)


def _tnc(what, t, body, offset):
    # RFC 5265 3.4, R-3.4-c: only sub-type 0 with length 2 is TNC; anything else stays raw
    if _defined(body, 2):
        return TrustedNetworksConfigured(body[1])
    return RawExtension(t, bytes(body))


REGISTRATION_DECODERS = {
    MOBILE_HOME_AUTH: _auth,
    MOBILE_FOREIGN_AUTH: _auth,
    FOREIGN_HOME_AUTH: _auth,
    NAI: lambda what, t, body, offset: Nai(bytes(body)),
    UDP_TUNNEL_REQUEST: _udp_req,
    UDP_TUNNEL_REPLY: _udp_rep,
    TNC: _tnc,
}


def _ext_what(what, t):
    return "%s: extension type %d" % (what, t)


def decode_extensions(what, data, offset, decoders=None, long_types=LONG_FORMAT_TYPES, padding=False):
    """Extensions from `offset` to the end of `data`; each gets `.offset` set.

    Types in `long_types` use the long format (RFC 5944 1.10); `padding` admits the one-octet
    Padding extension (type 0) of agent advertisements.
    """
    if decoders is None:
        decoders = REGISTRATION_DECODERS
    out = []
    end = len(data)
    while offset < end:
        t = data[offset]
        if padding and t == 0:
            ext = Padding()
            ext.offset = offset
            out.append(ext)
            offset += 1
            continue
        if t in long_types:  # type, sub-type, 16-bit length
            head, length_at = 4, offset + 2
        else:  # type, 8-bit length
            head, length_at = 2, offset + 1
        if end - offset < head:
            need(_ext_what(what, t), data, offset, head)
        length = unpack_from(">H", data, length_at)[0] if head == 4 else data[length_at]
        stop = offset + head + length
        if stop > end:
            raise CodecError(_ext_what(what, t), "length %d overruns the packet, %d octets left"
                             % (length, end - offset - head), length_at)
        body = data[offset + head : stop]
        dec = decoders.get(t)
        if head == 4:
            ext = RawExtension(t, bytes(body), data[offset + 1])
        elif dec is None:
            ext = RawExtension(t, bytes(body))
        else:
            # registration decoders name the extension themselves when they raise (most never do)
            ext = dec(what if decoders is REGISTRATION_DECODERS else _ext_what(what, t), t, body, offset)
        ext.offset = offset
        out.append(ext)
        offset = stop
    return out


_INTERPRETED = (Authentication, Nai, UdpTunnelRequest, UdpTunnelReply, TrustedNetworksConfigured)


def unknown_critical(extensions):
    """Extensions of type < 128 this codec did not interpret: RFC 5944 1.9 says to discard
    the whole message (registrations and agent advertisements alike)."""
    out = []
    for e in extensions:
        if isinstance(e, RawExtension) and not e.skippable():
            out.append(e)
    return out


def encode_extensions(extensions, long_types=LONG_FORMAT_TYPES):
    """Concatenated extensions and the offset of each, relative to the first.

    A raw extension is long-format (has a sub_type) exactly when its type is in `long_types`,
    so that the decoder reads back what was written.
    """
    parts = []
    offsets = []
    pos = 0
    for ext in extensions:
        if type(ext) in _INTERPRETED:  # the usual: no raw extension to check against long_types
            pass
        elif not isinstance(ext, Extension):
            raise CodecError("extensions", "not an extension: %r" % (ext,))
        elif isinstance(ext, RawExtension) and (ext.sub_type is None) == (ext.type in long_types):
            if ext.sub_type is None:
                raise CodecError(ext.name, "long-format type needs a sub_type")
            raise CodecError(ext.name, "sub_type given, but type %d is not long-format here" % ext.type)
        b = ext.encode()
        offsets.append(pos)
        parts.append(b)
        pos += len(b)
    return b"".join(parts), offsets
