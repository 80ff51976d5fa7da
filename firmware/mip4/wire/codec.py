"""Entry points: octets in, a message object out, or CodecError."""
from .errors import CodecError
from .icmp import ICMP_ROUTER_ADVERTISEMENT, ICMP_ROUTER_SOLICITATION, AgentAdvertisement, AgentSolicitation
from .registration import REGISTRATION_REPLY, REGISTRATION_REQUEST, RegistrationReply, RegistrationRequest
from .tunnel import TUNNEL_DATA, TunnelData

UDP_MESSAGES = {
    REGISTRATION_REQUEST: RegistrationRequest.decode,
    REGISTRATION_REPLY: RegistrationReply.decode,
    TUNNEL_DATA: TunnelData.decode,
}
ICMP_MESSAGES = {
    ICMP_ROUTER_ADVERTISEMENT: AgentAdvertisement.decode,
    ICMP_ROUTER_SOLICITATION: AgentSolicitation.decode,
}


def _decode(what, table, data):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecError(what, "expected bytes, got %s" % type(data).__name__)
    data = bytes(data)
    if not data:
        raise CodecError(what, "empty packet", 0)
    dec = table.get(data[0])
    if dec is None:
        raise CodecError(what, "unknown message type %d" % data[0], 0)
    return dec(data)


def decode_udp(data):
    """A UDP port 434 payload: registration request/reply or tunnel data."""
    return _decode("mobile IP message", UDP_MESSAGES, data)


# Decision: the largest registration message decoded. Decoding costs time with the number of extensions
# (a 64 KiB request of 2-octet extensions takes a tenth of a second); the largest request RFC 5944, 3519
# and 5265 describe (NAI, MN-HA, MN-FA and FA-HA authenticators, UDP Tunnel Requests) is under 400
# octets, so one Ethernet frame's UDP payload leaves room for any other extension.
MAX_REGISTRATION = 1472


def decode_registration(data):
    """A UDP port 434 payload as decode_udp, but one longer than MAX_REGISTRATION is a CodecError
    before any of it is decoded (RFC 5944 1.9: discarded, or answered from its fixed part)."""
    if len(data) > MAX_REGISTRATION:
        raise CodecError("mobile IP message", "%d octets, more than the %d we decode" % (len(data), MAX_REGISTRATION))
    return decode_udp(data)


def decode_icmp(data):
    """An ICMP message: agent advertisement or solicitation."""
    return _decode("ICMP message", ICMP_MESSAGES, data)


_ALL = {}
_ALL.update(UDP_MESSAGES)
_ALL.update(ICMP_MESSAGES)


def decode(data):
    """Any message of this codec; the type octets of UDP 434 and ICMP messages do not overlap."""
    return _decode("message", _ALL, data)
