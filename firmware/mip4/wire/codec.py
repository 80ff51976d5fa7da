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


def decode_icmp(data):
    """An ICMP message: agent advertisement or solicitation."""
    return _decode("ICMP message", ICMP_MESSAGES, data)


_ALL = {}
_ALL.update(UDP_MESSAGES)
_ALL.update(ICMP_MESSAGES)


def decode(data):
    """Any message of this codec; the type octets of UDP 434 and ICMP messages do not overlap."""
    return _decode("message", _ALL, data)
