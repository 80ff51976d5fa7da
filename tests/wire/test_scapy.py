"""Scapy's Mobile IP (RFC 3344/3519) and ICMP layers read our octets as we meant them.

Scapy knows only the fixed parts of registration and tunnel data messages, so it checks those and
where the extensions (or the tunnelled packet) begin; for agent discovery it checks the ICMP header
and computes the checksum itself.
"""
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP
from scapy.layers.mobileip import MobileIP, MobileIPRRP, MobileIPRRQ, MobileIPTunnelData
from scapy.packet import Raw

from mip4.wire import AgentAdvertisement, AgentSolicitation, RegistrationReply, RegistrationRequest, TunnelData
from tests.wire import pcap
from tests.wire import strategies as S


@given(S.registration_request)
def test_registration_request(m: RegistrationRequest):
    wire = m.encode()
    p = MobileIP(wire)
    assert p.type == 1 and MobileIPRRQ in p
    q = p[MobileIPRRQ]
    assert (q.flags, q.lifetime, q.homeaddr, q.haaddr, q.coaddr, q.id) == (
        m.flags, m.lifetime, m.home_address, m.home_agent, m.care_of_address, m.identification)
    assert bytes(q.payload) == wire[24:]  # extensions begin where scapy's fixed part ends


@given(S.registration_reply)
def test_registration_reply(m: RegistrationReply):
    wire = m.encode()
    p = MobileIP(wire)
    assert p.type == 3 and MobileIPRRP in p
    q = p[MobileIPRRP]
    assert (q.code, q.lifetime, q.homeaddr, q.haaddr, q.id) == (
        m.code, m.lifetime, m.home_address, m.home_agent, m.identification)
    assert bytes(q.payload) == wire[20:]


@given(S.tunnel_data)
def test_tunnel_data(m: TunnelData):
    p = MobileIP(m.encode())
    assert p.type == 4 and MobileIPTunnelData in p
    q = p[MobileIPTunnelData]
    assert (q.nexthdr, q.res) == (m.next_header, m.reserved)
    assert bytes(q.payload) == m.payload


@given(st.one_of(S.registration_request, S.registration_reply, S.tunnel_data), st.sampled_from([49152, 434]))
def test_udp_434_framing(m, port: int):
    """Scapy finds Mobile IP on UDP 434 in our framing, and agrees with tests/wire/pcap.py's IPv4 checksum."""
    wire = m.encode()
    frame = pcap.ipv4("203.0.113.9", "198.51.100.1", pcap.PROTO_UDP, pcap.udp(port, 434, wire))
    p = IP(frame)
    assert bytes(p[MobileIP]) == wire
    del p.chksum
    assert bytes(p) == frame


def icmp_word(m) -> int:
    """The 32 bits after the ICMP checksum: num addrs, entry size and lifetime, or reserved (RFC 1256)."""
    if isinstance(m, AgentSolicitation):
        return m.reserved
    return len(m.router_addresses) << 24 | m.addr_entry_size << 16 | m.lifetime


@given(st.one_of(S.agent_advertisement, S.agent_solicitation))
def test_icmp_header_and_checksum(m: AgentAdvertisement | AgentSolicitation):
    wire = m.encode()
    p = ICMP(wire)
    assert (p.type, p.code, p.chksum, p.unused) == (m.type, m.code, int.from_bytes(wire[2:4], "big"), icmp_word(m))
    assert bytes(p.payload) == wire[8:]
    # scapy computes the checksum of a fresh header over our octets after it
    assert bytes(ICMP(type=m.type, code=m.code, unused=icmp_word(m)) / Raw(wire[8:])) == wire
