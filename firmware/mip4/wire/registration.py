"""Registration Request and Reply (RFC 5944 3.3, 3.4) and their authenticators (3.5.1)."""
from . import auth
from ._struct import pack, unpack_from
from .addr import ip4_pack, ip4_str, remember_packed
from .errors import CodecError, check_int, need
from .extensions import AUTH_TYPES, Authentication, decode_extensions, encode_extensions, unknown_critical
from .record import Record

REGISTRATION_REQUEST = 1
REGISTRATION_REPLY = 3
PORT = 434  # RFC 5944 3.1
REQUEST_FIXED = 24  # RFC 5944 3.3: the octets before a request's extensions

# RFC 5944 3.3 flag bits; r and x are sent as zero and ignored on receipt
FLAG_S = 0x80  # simultaneous bindings
FLAG_B = 0x40  # broadcast datagrams
FLAG_D = 0x20  # decapsulation by mobile node (co-located care-of)
FLAG_M = 0x10  # minimal encapsulation
FLAG_G = 0x08  # GRE encapsulation
FLAG_r = 0x04  # reserved
FLAG_T = 0x02  # reverse tunnelling, RFC 3024
FLAG_x = 0x01  # reserved
REQUEST_FLAGS = (
    ("S", FLAG_S), ("B", FLAG_B), ("D", FLAG_D), ("M", FLAG_M),
    ("G", FLAG_G), ("r", FLAG_r), ("T", FLAG_T), ("x", FLAG_x),
)

LIFETIME_INFINITE = 0xFFFF
SPI_RESERVED_MAX = 255  # RFC 5944 1.6: SPIs 0..255 are reserved, never used in a security association
_AUTH_HEAD = 6  # type, length, SPI: the part of an auth extension that is protected


class _Registration(Record):
    """What requests and replies share: extensions and their authentication."""

    what = "registration message"

    def encode(self):
        return self._fixed() + encode_extensions(self.extensions)[0]

    def _encode(self):
        head = self._fixed()
        body, offsets = encode_extensions(self.extensions)
        return head + body, [len(head) + o for o in offsets]

    def find(self, ext_type, spi=None):
        """Index of the first extension of `ext_type` (and `spi`, for auth), or -1."""
        for i in range(len(self.extensions)):
            e = self.extensions[i]
            if e.type == ext_type and (spi is None or getattr(e, "spi", None) == spi):
                return i
        return -1

    def extension(self, ext_type):
        i = self.find(ext_type)
        return self.extensions[i] if i >= 0 else None

    def unknown_critical(self):
        """Extensions of type < 128 this codec did not interpret (RFC 5944 1.9: discard)."""
        return unknown_critical(self.extensions)

    def protected_extensions(self, ext_type, spi):
        """The extensions the first `ext_type` authenticator with `spi` covers: those before it.

        Use this, not find(), for anything that must be authenticated, e.g. TNC (R-3.4-d):
        an extension after the authenticator is not covered by it. [] when there is none.
        """
        i = self.find(ext_type, spi)
        return self.extensions[:i] if i > 0 else []

    def authenticate(self, ext_type, spi, key):
        """Append an authentication extension over everything before it (RFC 5944 3.5.1)."""
        protected = self._protected(ext_type, spi)
        ext = Authentication(ext_type, spi, auth.hmac_md5(key, protected))
        self.extensions.append(ext)
        return ext

    def encode_authenticated(self, ext_type, spi, key):
        """The octets authenticate() then encode() would give, encoded once; the message itself stays as
        it was (a reply sent at once needs no Authentication object, issue 25)."""
        protected = self._protected(ext_type, spi)
        return protected + auth.hmac_md5(key, protected)

    def _protected(self, ext_type, spi):
        """What an authenticator appended now covers: the message and the extension's type, length, SPI."""
        if ext_type not in AUTH_TYPES:
            raise CodecError(self.what, "authentication type must be 32, 33 or 34, got %r" % (ext_type,))
        if check_int(self.what, "spi", spi, 32) <= SPI_RESERVED_MAX:
            raise CodecError(self.what, "SPI %d is reserved (0..255, RFC 5944 1.6)" % spi)
        return self.encode() + pack(">BBI", ext_type, 4 + auth.AUTHENTICATOR_LEN, spi)

    def verify(self, ext_type, spi, key, octets=None):
        """True when the first `ext_type` extension with `spi` carries a good HMAC-MD5.

        Computed over the message as it stands now, so a field changed after decoding fails
        verification; for a decoded message these are the received octets (decoding is exact).
        `octets`: the octets this message was decoded from, unchanged since (a receiver's fast path:
        no re-encoding; the extensions' `offset` says where the authenticator starts).
        """
        i = self.find(ext_type, spi)
        if i < 0 or spi <= SPI_RESERVED_MAX:
            return False
        ext = self.extensions[i]
        if octets is not None and ext.offset is not None:
            covered = octets[: ext.offset + _AUTH_HEAD]
        else:
            data, offsets = self._encode()
            covered = data[: offsets[i] + _AUTH_HEAD]
        return auth.equal(auth.hmac_md5(key, covered), ext.authenticator)


class RegistrationRequest(_Registration):
    """RFC 5944 3.3."""

    type = REGISTRATION_REQUEST
    what = "registration request"
    _fields = ("flags", "lifetime", "home_address", "home_agent", "care_of_address", "identification", "extensions")

    def __init__(self, home_address, home_agent, care_of_address, identification, lifetime=0, flags=0, extensions=None):
        self.flags = flags
        self.lifetime = lifetime
        self.home_address = home_address
        self.home_agent = home_agent
        self.care_of_address = care_of_address
        self.identification = identification
        self.extensions = list(extensions or [])

    def has(self, flag):
        return bool(self.flags & flag)

    def _fixed(self):
        w = self.what
        return pack(">BBH4s4s4sQ", REGISTRATION_REQUEST, check_int(w, "flags", self.flags, 8),
                    check_int(w, "lifetime", self.lifetime, 16), ip4_pack(w, "home_address", self.home_address),
                    ip4_pack(w, "home_agent", self.home_agent), ip4_pack(w, "care_of_address", self.care_of_address),
                    check_int(w, "identification", self.identification, 64))

    @staticmethod
    def decode(data):
        w = "registration request"
        need(w, data, 0, REQUEST_FIXED)
        if data[0] != REGISTRATION_REQUEST:
            raise CodecError(w, "type %d is not 1" % data[0], 0)
        return RegistrationRequest(
            ip4_str(data, 4), ip4_str(data, 8), ip4_str(data, 12), unpack_from(">Q", data, 16)[0],
            unpack_from(">H", data, 2)[0], data[1], decode_extensions(w, data, REQUEST_FIXED),
        )


class RegistrationReply(_Registration):
    """RFC 5944 3.4."""

    type = REGISTRATION_REPLY
    what = "registration reply"
    _fields = ("code", "lifetime", "home_address", "home_agent", "identification", "extensions")

    def __init__(self, code, home_address, home_agent, identification, lifetime=0, extensions=None):
        self.code = code
        self.lifetime = lifetime
        self.home_address = home_address
        self.home_agent = home_agent
        self.identification = identification
        self.extensions = list(extensions or [])

    def _fixed(self):
        w = self.what
        code, lifetime, identification = self.code, self.lifetime, self.identification
        if (type(code) is int and type(lifetime) is int and type(identification) is int and 0 <= code <= 0xFF
                and 0 <= lifetime <= 0xFFFF and 0 <= identification <= 0xFFFFFFFFFFFFFFFF):  # every reply sent
            return pack(">BBH4s4sQ", REGISTRATION_REPLY, code, lifetime, ip4_pack(w, "home_address", self.home_address),
                        ip4_pack(w, "home_agent", self.home_agent), identification)
        return pack(">BBH4s4sQ", REGISTRATION_REPLY, check_int(w, "code", self.code, 8),
                    check_int(w, "lifetime", self.lifetime, 16), ip4_pack(w, "home_address", self.home_address),
                    ip4_pack(w, "home_agent", self.home_agent),
                    check_int(w, "identification", self.identification, 64))

    @staticmethod
    def decode(data):
        w = "registration reply"
        need(w, data, 0, 20)
        if data[0] != REGISTRATION_REPLY:
            raise CodecError(w, "type %d is not 3" % data[0], 0)
        return RegistrationReply(
            data[1], ip4_str(data, 4), ip4_str(data, 8), unpack_from(">Q", data, 12)[0],
            unpack_from(">H", data, 2)[0], decode_extensions(w, data, 20),
        )


def request_extensions(header, data):
    """Complete `header` (request_header's, of the same `data`) with the extensions after the fixed
    part, as RegistrationRequest.decode would (CodecError likewise), without decoding the fixed part twice."""
    header.extensions = decode_extensions("registration request", data, REQUEST_FIXED)
    return header


def request_header(data):
    """The fixed part of a registration request, without its extensions, or None when `data` is not
    even that (shorter, or another type): what an agent can still answer when the extensions do not
    decode (RFC 5944 3.4 code 134, 3.7.2.1 code 70)."""
    if len(data) < REQUEST_FIXED or data[0] != REGISTRATION_REQUEST:
        return None
    _, flags, lifetime, identification = unpack_from(">BBH12xQ", data, 0)
    home_address = ip4_str(data, 4)
    remember_packed(home_address, data[4:8])  # the reply carries it back
    return RegistrationRequest(home_address, ip4_str(data, 8), ip4_str(data, 12), identification, lifetime, flags)
