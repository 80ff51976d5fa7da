"""mip4 wire codec: Mobile IPv4 messages for RFC 5265, pure and MicroPython-clean."""
from .codec import MAX_REGISTRATION, decode, decode_icmp, decode_registration, decode_udp  # noqa: F401
from .errors import CodecError  # noqa: F401
from .extensions import (  # noqa: F401
    Authentication, Nai, Padding, RawExtension, TrustedNetworksConfigured, UdpTunnelReply, UdpTunnelRequest,
)
from .icmp import AgentAdvertisement, AgentSolicitation, MobilityAgentAdvertisement, PrefixLengths  # noqa: F401
from .registration import RegistrationReply, RegistrationRequest  # noqa: F401
from .tunnel import TunnelData  # noqa: F401
