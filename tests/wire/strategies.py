"""Hypothesis strategies for every message and extension of the wire codec."""
from hypothesis import strategies as st

from mip4.wire import (
    AgentAdvertisement,
    AgentSolicitation,
    Authentication,
    MobilityAgentAdvertisement,
    Nai,
    Padding,
    PrefixLengths,
    RawExtension,
    RegistrationReply,
    RegistrationRequest,
    TrustedNetworksConfigured,
    TunnelData,
    UdpTunnelReply,
    UdpTunnelRequest,
)
from mip4.wire.extensions import LONG_FORMAT_TYPES, REGISTRATION_DECODERS

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, (1 << 64) - 1)
s32 = st.integers(-(1 << 31), (1 << 31) - 1)
ip4 = u32.map(lambda n: f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}")

authentication = st.builds(Authentication, st.sampled_from([32, 33, 34]), u32, st.binary(max_size=40))
nai = st.builds(Nai, st.binary(max_size=72))
udp_tunnel_request = st.builds(UdpTunnelRequest, st.sampled_from([4, 47, 55]) | u8, u8, u8, u16)
udp_tunnel_reply = st.builds(UdpTunnelReply, st.sampled_from([0, 64]) | u8, u16, u16)
# 144 / 44 bodies that are not sub-type 0 of length 6 stay raw (RFC 3519 defines no others)
not_udp_tunnel = st.builds(
    RawExtension, st.sampled_from([44, 144]),
    st.binary(max_size=12).filter(lambda b: not (len(b) == 6 and b[0] == 0)))
tnc = st.builds(TrustedNetworksConfigured, u8)
# type 149 that is not TNC (R-3.4-c, R-7-b): other sub-types or lengths
not_tnc = st.binary(max_size=12).filter(lambda b: not (len(b) == 2 and b[0] == 0)).map(lambda b: RawExtension(149, b))


def raw_short(types=None, min_size=0):
    if types is None:
        types = [t for t in range(256) if t not in REGISTRATION_DECODERS and t not in LONG_FORMAT_TYPES]
    return st.builds(RawExtension, st.sampled_from(types), st.binary(min_size=min_size, max_size=40))


def raw_long(min_size=0):
    return st.builds(RawExtension, st.sampled_from(list(LONG_FORMAT_TYPES)), st.binary(min_size=min_size, max_size=300),
                     u8)


registration_extension = st.one_of(
    authentication, nai, udp_tunnel_request, udp_tunnel_reply, tnc, not_tnc, not_udp_tunnel, raw_short(), raw_long())
registration_extensions = st.lists(registration_extension, max_size=6)

registration_request = st.builds(RegistrationRequest, ip4, ip4, ip4, u64, u16, u8, registration_extensions)
registration_reply = st.builds(RegistrationReply, u8, ip4, ip4, u64, u16, registration_extensions)
tunnel_data = st.builds(TunnelData, st.binary(max_size=100), u8, u16)

mobility_agent_advertisement = st.builds(
    MobilityAgentAdvertisement, u16, u16, u16, st.lists(ip4, max_size=8))
prefix_lengths = st.builds(PrefixLengths, st.lists(st.integers(0, 32), max_size=8))
advertisement_extension = st.one_of(
    mobility_agent_advertisement, prefix_lengths, st.just(Padding()),
    raw_short([t for t in range(1, 256) if t not in (16, 19)]))


@st.composite
def agent_advertisement(draw):
    """Mostly RFC 1256 entries of 2 words; sometimes wider ones with extra words (5.2)."""
    routers = draw(st.lists(st.tuples(ip4, s32), max_size=6))
    size = draw(st.just(2) | st.integers(2, 5))
    extra = [draw(st.binary(min_size=4 * (size - 2), max_size=4 * (size - 2))) for _ in routers] if size > 2 else []
    return AgentAdvertisement(draw(u16), routers, draw(st.lists(advertisement_extension, max_size=5)),
                              draw(st.sampled_from([0, 16]) | u8), size, extra)


agent_advertisement = agent_advertisement()
agent_solicitation = st.builds(AgentSolicitation, u8, u32, st.binary(max_size=16))

message = st.one_of(registration_request, registration_reply, tunnel_data, agent_advertisement, agent_solicitation)
