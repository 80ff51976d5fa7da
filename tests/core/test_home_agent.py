"""The home agent alone (RFC 5944 3.8; RFC 5265 3.4, 3.7, 4.3; RFC 3024; RFC 3519), driven by hand-built requests."""
from __future__ import annotations

import ipaddress
import math

import pytest

from mip4.core.actions import (
    Datagram,
    GratuitousArp,
    Log,
    ProxyArp,
    RouteDown,
    RouteUp,
    SendUdp,
    Tunnel,
    TunnelDown,
    TunnelUp,
)
from mip4.core.client import Accepted, RegistrationClient, Route
from mip4.core.config import ConfigError, HomeAgentConfig, MobileNodeEntry, SecurityAssociation, Timing
from mip4.core.home_agent import HomeAgent
from mip4.wire import (
    Nai,
    RawExtension,
    RegistrationReply,
    RegistrationRequest,
    TrustedNetworksConfigured,
    UdpTunnelReply,
    UdpTunnelRequest,
    codec,
    codes,
    ident,
)
from mip4.wire.registration import FLAG_D, FLAG_G, FLAG_M, FLAG_S, FLAG_T

from .replies import I_SA, NOW, X_SA, rng

I_HA, I_HOA, X_HA, X_HOA = "10.1.0.1", "10.1.0.10", "198.51.100.1", "198.51.100.10"
MR_HOA, MR_LAN = "10.1.0.20", "10.77.0.0/24"
MR_SA = SecurityAssociation(3000, bytes(range(32, 48)))
CO_COA, CO_COA2, VPN_TIA = "10.2.0.5", "10.3.0.7", "10.255.0.2"
EXT_COA, NAT_ADDR = "198.18.0.9", "198.19.0.1"
INTRANET = ("10.0.0.0/8",)
TNC, MN_HA_AUTH, UDP_REPLY = 149, 32, 44
_ids = iter(range(1, 1 << 20))


def i_ha(**kw) -> HomeAgent:
    base = dict(address=I_HA, role="i-ha", trusted_networks=INTRANET,
                mobile_nodes={I_HOA: MobileNodeEntry(I_SA), MR_HOA: MobileNodeEntry(MR_SA, networks=(MR_LAN,))})
    base.update(kw)
    return HomeAgent(HomeAgentConfig(**base), rng())


def x_ha(**kw) -> HomeAgent:
    base = dict(address=X_HA, role="x-ha", mobile_nodes={X_HOA: MobileNodeEntry(X_SA)})
    base.update(kw)
    return HomeAgent(HomeAgentConfig(**base), rng())


def request(hoa: str = I_HOA, coa: str = CO_COA, ha: str = I_HA, sa: SecurityAssociation | None = I_SA,
            lifetime: int = 1800, flags: int = FLAG_D | FLAG_T, at: float = NOW, identification: int | None = None,
            before_auth: list | None = None, after_auth: list | None = None) -> RegistrationRequest:
    """A request as a mobile node builds it: timestamp identification, MN-HA authenticator."""
    if identification is None:  # distinct low bits per request, like the client's random ones
        identification = ident.timestamp_identification(at, next(_ids), clock_bits=0)
    rq = RegistrationRequest(hoa, ha, coa, identification, lifetime, flags, list(before_auth or []))
    if sa is not None:
        rq.authenticate(MN_HA_AUTH, sa.spi, sa.key)
    rq.extensions += list(after_auth or [])
    return rq


def send(agent: HomeAgent, rq: RegistrationRequest | bytes, src: str | None = None, now: float = NOW,
         sport: int = 40000, iface: str = "lan") -> list:
    payload = rq if isinstance(rq, bytes) else rq.encode()
    if src is None:
        src = rq.care_of_address if isinstance(rq, RegistrationRequest) else CO_COA
    dst = agent.config.address
    return agent.receive_udp(Datagram(iface, src, sport, dst, 434, payload), now)


def sent(actions: list) -> list[tuple[Datagram, RegistrationReply]]:
    return [(a.datagram, codec.decode_udp(a.datagram.payload)) for a in actions if isinstance(a, SendUdp)]


def reply_of(actions: list) -> RegistrationReply:
    (_, reply), = sent(actions)
    return reply


def logs(actions: list) -> list[Log]:
    return [a for a in actions if isinstance(a, Log)]


def types(reply: RegistrationReply) -> list[int]:
    return [e.type for e in reply.extensions]


def plane(actions: list) -> list:
    """The data plane actions (everything but replies and logs)."""
    return [a for a in actions if not isinstance(a, (SendUdp, Log))]


def tunnel(coa: str, local: str = I_HA) -> Tunnel:
    return Tunnel("mip-%08x" % int.from_bytes(bytes(int(o) for o in coa.split("."))), local, coa)


# -- RFC 5265 4.3: the i-HA's trusted networks --------------------------------------------------------


def test_config_rejects_trusting_everything():
    """R-4.3-b: the trusted list holds only internal prefixes; 0.0.0.0/0 is refused."""
    with pytest.raises(ConfigError, match="every address"):
        i_ha(trusted_networks=("10.0.0.0/8", "0.0.0.0/0"))


def test_empty_trusted_list_drops_every_request():
    """R-4.3-c: no subnet is trusted by default; the log says why."""
    agent = i_ha(trusted_networks=())
    actions = send(agent, request())
    assert not sent(actions) and not agent.bindings.lookup(I_HOA)
    assert [entry.reason for entry in logs(actions)] == ["untrusted-source"]


def test_untrusted_source_is_dropped_silently():
    """R-4.3-d: no reply of any kind, no binding change, nothing on the data plane."""
    agent = i_ha()
    send(agent, request())
    before = agent.bindings.lookup(I_HOA)
    actions = send(agent, request(coa=EXT_COA, lifetime=0))  # would deregister if it were heard
    assert not sent(actions) and not plane(actions)
    assert agent.bindings.lookup(I_HOA) == before
    assert agent.status()["counters"]["dropped-untrusted"] == 1


def test_each_dropped_request_is_logged_with_source_home_address_and_time():
    """R-4.3-e: one log line per dropped request: source address, claimed HoA, time."""
    agent = i_ha()
    actions = send(agent, request(coa=EXT_COA), now=NOW + 3)
    (line,) = actions
    assert isinstance(line, Log) and line.reason == "untrusted-source" and line.level == "warning"
    assert (line.fields["src"], line.fields["hoa"], line.fields["time"]) == (EXT_COA, I_HOA, NOW + 3)


def test_trust_is_judged_on_the_ip_source_never_the_care_of_or_home_address():
    """R-4.3-g: CoA and HoA fields inside the trusted prefix do not help an outside source; a trusted
    source with an outside-looking CoA is answered."""
    agent = i_ha()
    dropped = send(agent, request(coa=CO_COA), src=EXT_COA)  # CoA and HoA both in 10/8
    assert [type(a) for a in dropped] == [Log] and dropped[0].reason == "untrusted-source"
    assert not agent.bindings.lookup(I_HOA)
    actions = send(agent, request(coa=EXT_COA), src=VPN_TIA)
    assert reply_of(actions).code == codes.ACCEPTED


@pytest.mark.parametrize("case", ["registered", "identification-mismatch", "bad-authenticator", "wrong-home-agent",
                                  "deregistered"])
def test_every_reply_to_a_trusted_source_carries_tnc(case):
    """R-4.3-f: acceptances and denials alike, code 0 and code 133 included, carry 149."""
    rq = {
        "registered": request(),
        "identification-mismatch": request(at=NOW - 3600),
        "bad-authenticator": request(sa=SecurityAssociation(I_SA.spi, b"wrong key 16 octets")),
        "wrong-home-agent": request(ha="10.1.0.2"),
        "deregistered": request(lifetime=0),
    }[case]
    actions = send(i_ha(), rq)
    reply = reply_of(actions)
    assert TNC in types(reply)
    assert logs(actions)[-1].reason == case


def test_code_0_and_code_133_replies_both_carry_tnc():
    """R-4.3-f: the two replies the RFC names."""
    assert reply_of(send(i_ha(), request())).code == 0
    assert TNC in types(reply_of(send(i_ha(), request())))
    stale = reply_of(send(i_ha(), request(at=NOW - 60)))
    assert stale.code == codes.HA_IDENTIFICATION_MISMATCH and TNC in types(stale)


def test_tnc_comes_before_the_mn_ha_authenticator():
    """R-3.4-d: 149 precedes 32, so the authenticator covers it; the MN's client counts it."""
    reply = reply_of(send(i_ha(), request()))
    assert types(reply) == [TNC, MN_HA_AUTH]
    assert reply.verify(MN_HA_AUTH, I_SA.spi, I_SA.key)
    assert any(isinstance(e, TrustedNetworksConfigured) for e in reply.protected_extensions(MN_HA_AUTH, I_SA.spi))
    assert reply.extension(TNC).encode() == bytes.fromhex("95020000")


def test_mn_client_reads_the_i_ha_reply_as_an_authenticated_tnc_acceptance():
    """R-3.4-d, R-4.3-f: end to end with the MN's registration client."""
    client = RegistrationClient("i-ha", I_HOA, I_HA, I_SA, Timing(), rng())
    (out,) = client.register(Route("wan", CO_COA, I_HA, CO_COA, FLAG_D | FLAG_T), NOW)
    (back,) = [a for a in i_ha().receive_udp(out.datagram, NOW + 0.01) if isinstance(a, SendUdp)]
    result, _ = client.receive(codec.decode_udp(back.datagram.payload), NOW + 0.02)
    assert isinstance(result, Accepted) and result.tnc and result.lifetime == 1800


def test_no_tnc_when_send_tnc_is_off():
    """R-3.4-e: TNC promises the trusted-source check; an i-HA configured not to promise it never sends 149."""
    agent = i_ha(send_tnc=False)
    assert types(reply_of(send(agent, request()))) == [MN_HA_AUTH]
    assert types(reply_of(send(agent, request(at=NOW - 60)))) == [MN_HA_AUTH]


# -- RFC 5265 3.1: TNC and bindings only on evidence an outsider cannot relay (R-3.1-c, R-3.1-d) ------------

POOL, SNAT, RELAY_TIA = ("10.255.0.0/16",), ("10.254.0.1/32",), "10.255.0.77"


@pytest.mark.parametrize("care_of", [EXT_COA, CO_COA, "10.4.0.1"])
def test_a_request_relayed_through_someone_elses_vpn_session_is_refused_without_tnc(care_of):
    """R-3.1-d, R-3.1-c: the mobile node's clear request (co-located outside, or intranet-looking, or an
    FA's care-of), relayed from another VPN-TIA: 129, authenticated so the MN can read it, no TNC, no
    binding, nothing of the data plane; counted and logged."""
    agent = i_ha(vpn_pool=POOL)
    flags = FLAG_T if care_of == "10.4.0.1" else FLAG_D | FLAG_T
    actions = send(agent, request(coa=care_of, flags=flags, before_auth=[UdpTunnelRequest(4, 0)]), src=RELAY_TIA)
    reply = reply_of(actions)
    assert reply.code == codes.HA_PROHIBITED and reply.verify(MN_HA_AUTH, I_SA.spi, I_SA.key)
    assert TNC not in types(reply) and not plane(actions) and not agent.bindings.lookup(I_HOA)
    assert logs(actions)[-1].reason == "relayed-through-vpn" and agent.counters["relayed-through-vpn"] == 1


def test_the_vpn_tia_registering_itself_is_accepted_without_tnc():
    """R-2.3-e, R-4.3-h: through the VPN a VPN-TIA binds itself; R-3.1-c: but whoever sent it is outside,
    so no TNC. The same request from inside (not the pool) would carry TNC."""
    agent = i_ha(vpn_pool=POOL)
    actions = send(agent, request(coa=VPN_TIA), src=VPN_TIA)
    reply = reply_of(actions)
    assert reply.code == codes.ACCEPTED and TNC not in types(reply)
    assert [b.care_of for b in agent.bindings.lookup(I_HOA)] == [VPN_TIA]
    assert TNC in types(reply_of(send(agent, request(coa=CO_COA), src=CO_COA)))


def test_through_the_gateways_snat_only_a_vpn_tia_registers():
    """R-2.5-e, R-3.1-d: from the gateway's SNAT address the care-of is a VPN-TIA (RFC 3519 takes over);
    anything else from there is a relay: 129. Neither reply has TNC (R-3.1-c)."""
    agent = i_ha(vpn_pool=POOL, vpn_snat=SNAT)
    ok = send(agent, request(coa=VPN_TIA, before_auth=[UdpTunnelRequest(4, 0)]), src="10.254.0.1")
    assert reply_of(ok).code == codes.ACCEPTED and TNC not in types(reply_of(ok))
    assert [b.udp_tunnel for b in agent.bindings.lookup(I_HOA)] == [True]
    relayed = reply_of(send(agent, request(coa=EXT_COA), src="10.254.0.1"))
    assert relayed.code == codes.HA_PROHIBITED and TNC not in types(relayed)


@pytest.mark.parametrize("care_of, src", [(EXT_COA, VPN_TIA), ("192.168.1.20", CO_COA), (VPN_TIA, CO_COA)])
def test_no_tnc_for_a_care_of_outside_the_trusted_networks_or_in_the_pool(care_of, src):
    """R-3.1-c: even without vpn_pool configured, an outside care-of earns no TNC (a relayed probe from an
    outside network); with it, neither does a care-of in the pool (whoever has it is outside)."""
    agent = i_ha(vpn_pool=POOL) if care_of == VPN_TIA else i_ha()
    reply = reply_of(send(agent, request(coa=care_of), src=src))
    assert reply.code == codes.ACCEPTED and TNC not in types(reply)


@pytest.mark.parametrize("kw, match", [
    (dict(vpn_pool=("172.16.0.0/24",)), "vpn_pool.*not inside trusted_networks"),
    (dict(vpn_snat=("192.0.2.9/32",)), "vpn_snat.*not inside trusted_networks"),
    (dict(vpn_pool=("10.255.0.0/33",)), "vpn_pool.*not an IPv4 prefix"),
])
def test_vpn_addresses_must_be_trusted_sources(kw, match):
    """R-4.3-h: the pool and the SNAT addresses must be inside the trusted networks, or every cvc
    registration would be dropped; the error names the option."""
    with pytest.raises(ConfigError, match=match):
        i_ha(**kw)
    with pytest.raises(ConfigError, match="only an i-HA"):
        x_ha(vpn_pool=POOL)


def test_x_ha_never_sends_tnc_and_ignores_one_in_a_request():
    """R-3.4-f: the x-HA's replies have no 149; a 149 in a request (before or after the authenticator)
    is processed as if it were absent, by both HAs."""
    for before, after in (([TrustedNetworksConfigured()], []), ([], [TrustedNetworksConfigured()])):
        x = reply_of(send(x_ha(), request(X_HOA, EXT_COA, X_HA, X_SA, before_auth=before, after_auth=after)))
        assert x.code == codes.ACCEPTED and TNC not in types(x)
        i = reply_of(send(i_ha(), request(before_auth=before, after_auth=after)))
        assert i.code == codes.ACCEPTED and types(i) == [TNC, MN_HA_AUTH]
    denied = reply_of(send(x_ha(), request(X_HOA, EXT_COA, X_HA, X_SA, at=NOW - 60)))
    assert denied.code == codes.HA_IDENTIFICATION_MISMATCH and TNC not in types(denied)


def test_x_ha_drops_registrations_from_inside_sources():
    """R-3.7-a: an enterprise x-HA with inside sources configured drops their requests silently, with a log."""
    agent = x_ha(ignored_sources=INTRANET)
    actions = send(agent, request(X_HOA, CO_COA, X_HA, X_SA))
    assert not sent(actions) and not plane(actions) and not agent.bindings.lookup(X_HOA)
    (line,) = logs(actions)
    assert line.reason == "inside-source" and line.fields["src"] == CO_COA
    assert reply_of(send(agent, request(X_HOA, EXT_COA, X_HA, X_SA))).code == codes.ACCEPTED
    assert agent.status()["counters"]["dropped-inside"] == 1
    with pytest.raises(ConfigError, match="ignored_sources"):
        i_ha(ignored_sources=INTRANET)


# -- RFC 3519 UDP tunnelling, RFC 3024 reverse tunnelling, co-located care-of ------------------------


def test_udp_tunnel_request_is_answered_with_udp_tunnel_reply_behind_nat():
    """R-4.3-a: 144 answered with 44 (code 0, keepalive) before the authenticator; the binding tunnels over
    UDP to the source address and port as received."""
    agent = x_ha()
    rq = request(X_HOA, "192.168.1.20", X_HA, X_SA, before_auth=[UdpTunnelRequest()])
    actions = send(agent, rq, src=NAT_ADDR, sport=61000)
    reply = reply_of(actions)
    assert reply.code == codes.ACCEPTED and types(reply) == [UDP_REPLY, MN_HA_AUTH]
    assert reply.extension(UDP_REPLY) == UdpTunnelReply(0, 110)
    (b,) = agent.bindings.lookup(X_HOA)
    assert b.udp_tunnel and (b.source, b.source_port, b.care_of) == (NAT_ADDR, 61000, "192.168.1.20")
    (up,) = [a for a in actions if isinstance(a, TunnelUp)]
    assert (up.tunnel.remote, up.tunnel.udp_port) == (NAT_ADDR, 61000) and len(up.tunnel.name) <= 15


def test_a_new_nat_mapping_moves_the_udp_tunnel_on_the_next_authentic_registration():
    """RFC 3519 4.10: the NAT restarted and maps the MN to a new port. Only an authenticated registration
    from there moves the tunnel (RFC 3519 6.1: data alone never redirects a binding)."""
    agent = x_ha()
    rq = request(X_HOA, "192.168.1.20", X_HA, X_SA, before_auth=[UdpTunnelRequest()])
    send(agent, rq, src=NAT_ADDR, sport=61000)
    again = request(X_HOA, "192.168.1.20", X_HA, X_SA, flags=FLAG_S | FLAG_D, at=NOW + 5,
                    before_auth=[UdpTunnelRequest()])
    actions = send(agent, again, src=NAT_ADDR, sport=62000, now=NOW + 5)
    assert reply_of(actions).code == codes.ACCEPTED
    (up,) = [a for a in actions if isinstance(a, TunnelUp)]
    (down,) = [a for a in actions if isinstance(a, TunnelDown)]
    assert up.tunnel.udp_port == 62000 and down.tunnel.udp_port == 61000
    (route,) = [a for a in actions if isinstance(a, RouteUp)]
    assert route.devices == (up.tunnel.name,)
    assert [b.source_port for b in agent.bindings.lookup(X_HOA)] == [62000]


def test_i_ha_behind_a_gateway_that_snats_vpn_tias_tunnels_over_udp():
    """R-2.5-e (HA side), R-4.3-a: the gateway's SNAT address (trusted) differs from the VPN-TIA care-of:
    the i-HA accepts with 44 code 0 and TNC, and tunnels to the SNAT address and port."""
    agent = i_ha()
    rq = request(coa=VPN_TIA, before_auth=[UdpTunnelRequest()])
    actions = send(agent, rq, src="10.250.0.1", sport=4500)
    reply = reply_of(actions)
    assert reply.code == 0 and types(reply) == [UDP_REPLY, TNC, MN_HA_AUTH] and reply.extension(UDP_REPLY).code == 0
    (up,) = [a for a in actions if isinstance(a, TunnelUp)]
    assert up.tunnel == Tunnel("mu-0afa00011194", I_HA, "10.250.0.1", 4500)


def test_udp_tunnel_request_without_nat_is_declined_unless_forced():
    """R-4.3-a: no NAT: 44 with code 64 and IP-in-IP; the F flag forces UDP tunnelling (RFC 3519 3.1.1)."""
    agent = i_ha()
    reply = reply_of(send(agent, request(before_auth=[UdpTunnelRequest()])))
    assert reply.code == codes.ACCEPTED and reply.extension(UDP_REPLY).code == 64
    assert types(reply) == [UDP_REPLY, TNC, MN_HA_AUTH]
    assert not agent.bindings.lookup(I_HOA)[0].udp_tunnel
    forced = reply_of(send(agent, request(before_auth=[UdpTunnelRequest(flags=0x80)])))
    assert forced.extension(UDP_REPLY).code == 0 and agent.bindings.lookup(I_HOA)[0].udp_tunnel


def test_udp_tunnel_request_after_the_authenticator_is_not_honoured():
    """RFC 3519 3.1: a co-located (D) request speaks for the MN alone; ext 144 counts only under its MN-HA
    authenticator (the FA's part is for an FA care-of, test_fa_nat_traversal.py)."""
    agent = x_ha()
    reply = reply_of(send(agent, request(X_HOA, EXT_COA, X_HA, X_SA, after_auth=[UdpTunnelRequest(flags=0x80)])))
    assert reply.code == codes.ACCEPTED and UDP_REPLY not in types(reply)


def test_x_ha_accepts_reverse_tunnelling():
    """R-2.3-b: an x-HA RRQ with T set is accepted with code 0 and the binding reverse-tunnels (RFC 3024)."""
    agent = x_ha()
    reply = reply_of(send(agent, request(X_HOA, EXT_COA, X_HA, X_SA, flags=FLAG_D | FLAG_T)))
    assert reply.code == codes.ACCEPTED
    assert agent.bindings.lookup(X_HOA)[0].reverse_tunnel


def test_reverse_tunnel_unavailable_is_137():
    agent = x_ha(reverse_tunnel=False)
    assert reply_of(send(agent, request(X_HOA, EXT_COA, X_HA, X_SA, flags=FLAG_T))).code == 137
    assert reply_of(send(agent, request(X_HOA, EXT_COA, X_HA, X_SA, flags=FLAG_D))).code == 0


@pytest.mark.parametrize("flags,ext", [(FLAG_M, []), (FLAG_G, []), (0, [UdpTunnelRequest(encapsulation=47)])])
def test_minimal_or_gre_encapsulation_is_139(flags, ext):
    actions = send(i_ha(), request(flags=FLAG_D | flags, before_auth=ext))
    assert reply_of(actions).code == codes.HA_ENCAPSULATION_UNAVAILABLE and not plane(actions)


def test_co_located_binding_tunnels_from_the_i_ha_to_the_co_coa():
    """R-2.1-c: HoA i-HoA, CoA the co-CoA with D set: the i-HA binds i-HoA to it and tunnels IP-in-IP
    from itself to the co-CoA; the home address leaves the home link (RFC 5944 4.6)."""
    agent = i_ha(home_iface="br-home")
    actions = send(agent, request(flags=FLAG_D))
    t = tunnel(CO_COA)
    assert plane(actions) == [TunnelUp(t), RouteUp(I_HOA + "/32", (t.name,)), ProxyArp(I_HOA, True),
                              GratuitousArp(I_HOA, "br-home")]
    assert [b.care_of for b in agent.bindings.lookup(I_HOA)] == [CO_COA]
    assert t.name == "mip-0a020005"


def test_reply_goes_back_to_the_source_address_and_port_on_the_same_interface():
    """RFC 5944 3.8.3.1: from our address, port 434, to the request's source address and port."""
    (dgram, reply), = sent(send(i_ha(), request(), src=VPN_TIA, sport=51234, iface="vpn-side"))
    assert (dgram.iface, dgram.src, dgram.sport, dgram.dst, dgram.dport) == ("vpn-side", I_HA, 434, VPN_TIA, 51234)
    assert (reply.home_address, reply.home_agent, reply.lifetime) == (I_HOA, I_HA, 1800)


def test_nai_is_echoed_before_the_authenticator():
    reply = reply_of(send(i_ha(), request(before_auth=[Nai(b"mr1@corp.example")])))
    assert types(reply) == [131, TNC, MN_HA_AUTH] and reply.extension(131) == Nai(b"mr1@corp.example")


# -- RFC 5944 3.8.2.1 validity checks and 5.7 replay protection ---------------------------------------


def test_bad_authenticator_is_131_authenticated_and_binds_nothing():
    agent = i_ha()
    for rq in (request(sa=SecurityAssociation(I_SA.spi, b"not the key, 16+")),
               request(sa=SecurityAssociation(4242, I_SA.key)),  # another SPI
               request(sa=None)):
        actions = send(agent, rq)
        reply = reply_of(actions)
        assert reply.code == codes.HA_MN_AUTH_FAILED and reply.verify(MN_HA_AUTH, I_SA.spi, I_SA.key)
        assert not plane(actions) and logs(actions)[0].reason == "bad-authenticator"
    assert not agent.bindings.lookup(I_HOA)
    assert agent.status()["counters"]["bad-authenticator"] == 3


def test_changed_field_after_authentication_fails():
    rq = request()
    rq.care_of_address = "10.9.9.9"  # a forger's redirection
    assert reply_of(send(i_ha(), rq, src=CO_COA)).code == codes.HA_MN_AUTH_FAILED


def test_replay_of_an_exact_old_request_is_133_and_changes_nothing():
    agent = i_ha()
    old = request().encode()
    send(agent, old)
    send(agent, request(coa=CO_COA2, at=NOW + 2), now=NOW + 2)  # the MN moved on
    before = agent.bindings.lookup(I_HOA)
    actions = send(agent, old, src=CO_COA, now=NOW + 3)
    reply = reply_of(actions)
    assert reply.code == codes.HA_IDENTIFICATION_MISMATCH and not plane(actions)
    assert agent.bindings.lookup(I_HOA) == before
    assert logs(actions)[0].reason == "replay"


def test_replayed_registration_after_deregistration_is_refused():
    agent = i_ha()
    old = request().encode()
    send(agent, old)
    send(agent, request(lifetime=0, at=NOW + 1), now=NOW + 1)
    actions = send(agent, old, now=NOW + 2)
    assert reply_of(actions).code == 133 and not agent.bindings.lookup(I_HOA) and not plane(actions)


def test_stale_timestamp_is_133_with_our_time_high_and_their_low_bits():
    """RFC 5944 5.7.1: the HA's time of day in the high 32 bits, the request's low 32 bits copied."""
    rq = request(at=NOW - 500)
    actions = send(i_ha(), rq)
    reply = reply_of(actions)
    assert reply.code == codes.HA_IDENTIFICATION_MISMATCH
    assert reply.identification & 0xFFFFFFFF == rq.identification & 0xFFFFFFFF
    assert reply.identification >> 32 == ident.timestamp_identification(NOW, 0) >> 32
    assert ident.clock_offset(reply.identification, NOW - 500) == 500  # what the MN will correct by
    assert reply.verify(MN_HA_AUTH, I_SA.spi, I_SA.key)
    assert logs(actions)[0].reason == "identification-mismatch" and "133" in logs(actions)[0].message


def test_timestamps_within_the_window_are_fresh():
    agent = i_ha(replay_window=7.0)
    assert reply_of(send(agent, request(at=NOW + 7))).code == 0  # whole seconds: clock_bits=0 above
    assert reply_of(send(agent, request(at=NOW + 8))).code == 133


def test_the_identification_clock_steps_forward_with_the_time_of_day_but_never_back():
    """RFC 5944 5.7.1, set_wall_clock: forward, 133 carries the new time at once; back by an hour, a
    request stamped with the old clock is still fresh, one stamped with the new clock is stale (133 with
    the clock that held), and the last accepted identification still bounds replays."""
    agent = i_ha()
    assert agent.set_wall_clock(NOW, NOW) == []  # the start-up setting: nothing to report
    first = request(at=NOW)
    assert reply_of(send(agent, first)).code == 0
    agent.set_wall_clock(NOW + 100 + 600, NOW + 100)  # ten minutes forward
    stale = reply_of(send(agent, request(at=NOW + 100), now=NOW + 100))
    assert stale.code == 133 and ident.clock_offset(stale.identification, NOW + 100) == 600
    steps = agent.set_wall_clock(NOW + 200 - 3600, NOW + 200)  # back an hour: 70 minutes behind the last
    assert logs(steps)[0].reason == "wall-clock" and "-4200.000 s" in logs(steps)[0].message
    assert "ahead" in logs(steps)[0].message
    held = reply_of(send(agent, request(at=NOW + 200 + 600), now=NOW + 200))
    assert held.code == 0
    wall = reply_of(send(agent, request(at=NOW + 200 - 3600), now=NOW + 200))
    assert wall.code == 133 and ident.clock_offset(wall.identification, NOW + 200 - 3600) == 4200
    assert reply_of(send(agent, first, now=NOW + 200)).code == 133  # still a replay, and stale
    assert agent.counters["accepted"] == 2


def test_unknown_critical_extension_is_134():
    """RFC 5944 1.9: an extension below 128 we do not understand makes the request poorly formed."""
    actions = send(i_ha(), request(before_auth=[RawExtension(100, b"\x01\x02")]))
    assert reply_of(actions).code == codes.HA_POORLY_FORMED_REQUEST and not plane(actions)
    assert logs(actions)[0].reason == "unknown-extension"


def test_unknown_skippable_extension_is_ignored():
    assert reply_of(send(i_ha(), request(before_auth=[RawExtension(200, b"x")]))).code == 0


def test_wrong_home_agent_address_is_136_naming_ours():
    """RFC 5944 3.8.2.1: 136, our address in the reply's home agent field, authenticated."""
    actions = send(i_ha(), request(ha="10.1.0.99"))
    reply = reply_of(actions)
    assert (reply.code, reply.home_agent) == (codes.HA_UNKNOWN_HA_ADDRESS, I_HA)
    assert reply.verify(MN_HA_AUTH, I_SA.spi, I_SA.key) and not plane(actions)


def test_unknown_home_address_is_131_without_authenticator():
    """No security association: 131 (the request cannot be authenticated), unauthenticated, logged."""
    agent = i_ha()
    actions = send(agent, request(hoa="10.1.0.99"))
    reply = reply_of(actions)
    assert reply.code == codes.HA_MN_AUTH_FAILED and MN_HA_AUTH not in types(reply)
    assert logs(actions)[0].reason == "unknown-home-address" and not plane(actions)
    assert agent.status()["counters"]["unknown-home-address"] == 1


@pytest.mark.parametrize("payload", [b"", b"\x01\x00", request().encode()[:23], b"\x07" + bytes(30), b"\x03\x00"])
def test_what_is_not_even_a_request_header_is_dropped_without_reply(payload):
    """Shorter than a request's fixed part, or no known message: no field to answer with (RFC 5944 1.9)."""
    agent = i_ha()
    actions = send(agent, payload)
    assert [type(a) for a in actions] == [Log] and actions[0].reason == "malformed"
    assert agent.status()["counters"]["malformed"] == 1 and agent.status()["counters"]["denied"] == 0


@pytest.mark.parametrize("payload", [
    request().encode()[:30],  # the authenticator cut short
    bytes([1]) + bytes(23) + b"\x20\x30",  # an extension longer than what is left
    request().encode()[:24] + b"\x26\x00\xff\xff",  # a long-format extension (RFC 5944 1.10) running off the end
    request().encode() + b"\x83",  # a lone type octet after the authenticator
])
def test_a_request_whose_extensions_do_not_decode_is_answered_134(payload):
    """RFC 5944 3.4, 3.8.3: the fixed part is a request, the rest is not: 134 (poorly formed Request), to
    the source address and port, the fixed part's fields echoed, unauthenticated; nothing else changes."""
    agent = i_ha()
    send(agent, request())
    before = agent.bindings.lookup(I_HOA)
    actions = send(agent, payload, sport=40123)
    (datagram, reply), = sent(actions)
    header = RegistrationRequest.decode(payload[:24])
    assert (reply.code, reply.home_address, reply.home_agent, reply.identification, reply.lifetime) == (
        codes.HA_POORLY_FORMED_REQUEST, header.home_address, I_HA, header.identification, 0)
    assert (datagram.src, datagram.sport, datagram.dst, datagram.dport) == (I_HA, 434, CO_COA, 40123)
    assert MN_HA_AUTH not in types(reply) and not plane(actions)
    assert agent.bindings.lookup(I_HOA) == before
    assert [line.reason for line in logs(actions)] == ["poorly-formed-request"]
    c = agent.status()["counters"]
    assert (c["poorly-formed-request"], c["denied"], c["malformed"], c["accepted"]) == (1, 1, 0, 1)


def test_a_poorly_formed_request_from_an_untrusted_source_gets_no_answer():
    """R-4.3-d: the source check comes first, and an outsider's garbage is dropped silently too."""
    agent = i_ha()
    actions = send(agent, request().encode()[:30], src=EXT_COA)
    assert not sent(actions) and [line.reason for line in logs(actions)] == ["untrusted-source"]
    x = x_ha(ignored_sources=INTRANET)  # R-3.7-a: likewise for an x-HA's inside sources
    assert not sent(send(x, request(hoa=X_HOA, ha=X_HA, sa=X_SA).encode()[:30], src=CO_COA))


def test_a_thousand_bad_packets_are_all_counted_but_log_a_few_lines():
    """Log lines of dropped packets are limited per reason (5 per 10 s); every packet is counted, and the
    first line let through after a quiet spell says how many were not logged."""
    agent = i_ha()
    lines = []
    for k in range(1000):
        lines += logs(send(agent, b"\xff" + bytes(k % 40), now=NOW + k / 1000))
    assert [line.reason for line in lines] == ["malformed"] * 5
    c = agent.status()["counters"]
    assert (c["malformed"], c["log-suppressed"]) == (1000, 995)
    (later,) = logs(send(agent, b"\xff", now=NOW + 10))
    assert later.message.endswith("(and 995 more like it, not logged)")
    assert logs(send(agent, request().encode()[:30], now=NOW + 10))  # each reason has its own share


# -- a registration flood from one source: per-source rate limit --------------------------------------


def test_a_flood_from_one_source_is_rate_limited_without_state_change():
    """Past the burst, requests from a source beyond its rate are dropped before decoding: no reply, no
    binding change, counted as rate-limited and logged (limited too); another source is not held back."""
    agent = i_ha(rate_limit=2.0, rate_burst=3)
    answered = [bool(sent(send(agent, request(coa=CO_COA)))) for _ in range(5)]
    assert answered == [True, True, True, False, False]
    before = agent.bindings.lookup(I_HOA)
    dropped = send(agent, request(coa=CO_COA2, lifetime=0), src=CO_COA)  # would deregister if heard
    assert not sent(dropped) and not plane(dropped) and agent.bindings.lookup(I_HOA) == before
    assert [line.reason for line in logs(dropped)] == ["rate-limited"]
    assert agent.status()["counters"]["rate-limited"] == 3 and agent.status()["counters"]["accepted"] == 3
    assert reply_of(send(agent, request(coa=CO_COA2))).code == codes.ACCEPTED  # another source
    assert reply_of(send(agent, request(coa=CO_COA, at=NOW + 0.5), now=NOW + 0.5)).code == codes.ACCEPTED  # refilled
    assert not sent(send(agent, request(coa=CO_COA, at=NOW + 0.5), now=NOW + 0.5))


def test_rate_limit_covers_poorly_formed_requests_but_not_other_garbage():
    """A flood of bad requests is not answered past the limit (no reflection of 134s); what is not a request
    costs no bucket and is only counted."""
    agent = i_ha(rate_limit=1.0, rate_burst=2)
    codes_seen = [[r.code for _, r in sent(send(agent, request().encode()[:30]))] for _ in range(4)]
    assert codes_seen == [[134], [134], [], []]
    assert not sent(send(agent, b"\x01\x00"))
    c = agent.status()["counters"]
    assert (c["poorly-formed-request"], c["rate-limited"], c["malformed"]) == (2, 2, 1)


def test_rate_limit_zero_is_off_and_defaults_leave_room_for_a_busy_foreign_agent():
    agent = i_ha(rate_limit=0)
    assert all(sent(send(agent, request())) for _ in range(300))
    default = i_ha()
    answered = sum(bool(sent(send(default, request()))) for _ in range(300))
    assert answered == 200 and default.config.rate_limit == 100  # 1000 visitors every 50 s is 20 a second


def test_rate_limit_keeps_a_bounded_number_of_sources():
    from mip4.core.ratelimit import SourceLimiter

    limiter = SourceLimiter(1.0, 1, max_sources=3)
    assert [limiter.allow(s, NOW) for s in ("a", "b", "c", "a")] == [True, True, True, False]
    assert limiter.allow("d", NOW) and list(limiter.buckets) == ["c", "a", "d"]  # b, least recently seen, went
    assert limiter.allow("b", NOW)  # forgotten: a fresh bucket


@pytest.mark.parametrize("option,value", [("rate_limit", -1), ("rate_limit", "10"), ("rate_limit", float("nan")),
                                          ("rate_burst", 0), ("rate_burst", 2.5)])
def test_config_rejects_bad_rate_limits(option, value):
    with pytest.raises(ConfigError, match=option):
        i_ha(**{option: value})


def test_a_registration_reply_sent_to_the_ha_is_ignored():
    rp = RegistrationReply(0, I_HOA, I_HA, 1, 1800)
    actions = send(i_ha(), rp.encode())
    assert [a.reason for a in actions] == ["unexpected-message"]


# -- lifetimes, deregistration, simultaneous bindings -------------------------------------------------


@pytest.mark.parametrize("asked,entry_max,granted", [(300, None, 300), (0xFFFF, None, 1800), (5000, None, 1800),
                                                     (1000, 600, 600), (0xFFFF, 600, 600)])
def test_lifetime_is_capped(asked, entry_max, granted):
    agent = i_ha(mobile_nodes={I_HOA: MobileNodeEntry(I_SA, max_lifetime=entry_max)})
    reply = reply_of(send(agent, request(lifetime=asked)))
    assert reply.lifetime == granted
    (b,) = agent.bindings.lookup(I_HOA)
    assert (b.lifetime, b.expires_at) == (granted, NOW + granted)


def test_infinite_lifetime_when_every_cap_allows_it():
    agent = i_ha(max_lifetime=0xFFFF)
    assert reply_of(send(agent, request(lifetime=0xFFFF))).lifetime == 0xFFFF
    assert agent.bindings.lookup(I_HOA)[0].expires_at == math.inf and agent.get_timer() is None


def test_refresh_changes_nothing_on_the_data_plane():
    agent = i_ha()
    send(agent, request())
    actions = send(agent, request(at=NOW + 100), now=NOW + 100)
    assert reply_of(actions).code == 0 and not plane(actions)
    assert agent.bindings.lookup(I_HOA)[0].expires_at == NOW + 1900
    assert logs(actions)[0].fields["refresh"] is True


def test_move_without_s_replaces_the_binding_and_its_tunnel():
    agent = i_ha()
    send(agent, request())
    actions = send(agent, request(coa=CO_COA2, at=NOW + 1), now=NOW + 1)
    old, new = tunnel(CO_COA), tunnel(CO_COA2)
    assert plane(actions) == [TunnelUp(new), RouteUp(I_HOA + "/32", (new.name,)), TunnelDown(old)]
    assert [b.care_of for b in agent.bindings.lookup(I_HOA)] == [CO_COA2]
    # issue 24: the reply waits for the new tunnel and its route, not for the old tunnel to go (no route
    # leads into it any more)
    kinds = [type(a).__name__ for a in actions if not isinstance(a, Log)]
    assert kinds == ["TunnelUp", "RouteUp", "SendUdp", "TunnelDown"], kinds


@pytest.mark.parametrize("rq", [request(lifetime=0, at=NOW + 1), request(coa=I_HOA, lifetime=0, at=NOW + 1),
                                request(coa=I_HOA, lifetime=1800, at=NOW + 1)],
                         ids=["lifetime-0", "coa-is-hoa", "coa-is-hoa-nonzero-lifetime"])
def test_deregistration_removes_bindings_and_brings_the_mn_home(rq):
    """RFC 5944 3.6.1.2, 3.8.2.2: lifetime 0 or CoA == HoA; RFC 5944 4.6: proxy ARP off, and no gratuitous
    ARP from us (ours would carry our MAC: the node announces its own on return)."""
    agent = i_ha()
    send(agent, request())
    actions = send(agent, rq, src=CO_COA, now=NOW + 1)
    reply = reply_of(actions)
    assert (reply.code, reply.lifetime) == (0, 0) and types(reply) == [TNC, MN_HA_AUTH]
    assert plane(actions) == [RouteDown(I_HOA + "/32"), TunnelDown(tunnel(CO_COA)), ProxyArp(I_HOA, False)]
    assert not agent.bindings.lookup(I_HOA) and agent.get_timer() is None
    assert logs(actions)[0].reason == "deregistered"


def test_returning_home_never_announces_our_mac_for_the_home_address():
    """Issue 28 item 7, RFC 5944 4.6: leaving, proxy ARP on and a gratuitous ARP (our MAC); back home,
    by deregistration or by expiry, proxy ARP off and no gratuitous ARP at all: one with our MAC would
    send the returned node's traffic from the home link to us. Over several round trips."""
    agent = i_ha()
    at = NOW
    for leave in ("deregistration", "expiry", "deregistration"):
        away = send(agent, request(at=at, lifetime=300), now=at)
        assert [a for a in plane(away) if isinstance(a, (ProxyArp, GratuitousArp))] == [
            ProxyArp(I_HOA, True), GratuitousArp(I_HOA, "home")]
        if leave == "deregistration":
            back = send(agent, request(coa=I_HOA, lifetime=0, at=at + 1), src=I_HOA, now=at + 1)
        else:
            back = agent.handle_timer(at + 300)
        assert [a for a in plane(back) if isinstance(a, (ProxyArp, GratuitousArp))] == [ProxyArp(I_HOA, False)]
        at += 400


def test_deregistration_without_bindings_is_still_accepted():
    actions = send(i_ha(), request(lifetime=0))
    assert reply_of(actions).code == 0 and not plane(actions)


def test_simultaneous_bindings_add_remove_and_limit():
    """RFC 5944 3.3 S bit: added beside the others up to max_bindings (then 135); S deregistration removes
    only that care-of; a registration without S replaces them all."""
    agent = i_ha(max_bindings=2)
    s = FLAG_S | FLAG_D
    a, b = tunnel(CO_COA), tunnel(CO_COA2)
    send(agent, request(flags=s))
    actions = send(agent, request(coa=CO_COA2, flags=s, at=NOW + 1), now=NOW + 1)
    assert reply_of(actions).code == 0
    assert plane(actions) == [TunnelUp(b), RouteUp(I_HOA + "/32", (a.name, b.name))]
    full = send(agent, request(coa="10.4.0.1", flags=s, at=NOW + 2), src="10.4.0.1", now=NOW + 2)
    assert reply_of(full).code == codes.HA_TOO_MANY_BINDINGS and not plane(full)
    assert logs(full)[0].reason == "too-many-bindings"
    refresh = send(agent, request(flags=s, at=NOW + 3), now=NOW + 3)  # renewing a bound care-of fits
    assert reply_of(refresh).code == 0 and not plane(refresh)
    gone = send(agent, request(coa=CO_COA2, flags=s, lifetime=0, at=NOW + 4), now=NOW + 4)
    assert plane(gone) == [RouteUp(I_HOA + "/32", (a.name,)), TunnelDown(b)]
    assert [x.care_of for x in agent.bindings.lookup(I_HOA)] == [CO_COA]
    send(agent, request(coa=CO_COA2, flags=s, at=NOW + 5), now=NOW + 5)
    replaced = send(agent, request(coa="10.4.0.1", flags=FLAG_D, at=NOW + 6), src="10.4.0.1", now=NOW + 6)
    assert [x.care_of for x in agent.bindings.lookup(I_HOA)] == ["10.4.0.1"]
    assert {t.tunnel for t in plane(replaced) if isinstance(t, TunnelDown)} == {a, b}


def test_s_bit_with_one_binding_per_home_address_is_code_1():
    agent = i_ha(max_bindings=1)
    send(agent, request())
    reply = reply_of(send(agent, request(coa=CO_COA2, flags=FLAG_S | FLAG_D, at=NOW + 1), now=NOW + 1))
    assert reply.code == codes.ACCEPTED_NO_SIMULTANEOUS
    assert [b.care_of for b in agent.bindings.lookup(I_HOA)] == [CO_COA2]


def test_one_care_of_shared_by_two_mobile_nodes_keeps_its_tunnel_until_the_last_leaves():
    """An FA care-of serves many MNs: one tunnel, down only when no binding uses it."""
    fa = "10.4.0.1"
    agent = i_ha()
    first = send(agent, request(coa=fa, flags=0), src=fa)
    second = send(agent, request(MR_HOA, fa, sa=MR_SA, flags=0), src=fa)
    assert [a for a in first if isinstance(a, TunnelUp)] == [TunnelUp(tunnel(fa))]
    assert TunnelUp(tunnel(fa)) not in second
    leave = send(agent, request(coa=fa, lifetime=0, flags=0, at=NOW + 1), src=fa, now=NOW + 1)
    assert not [a for a in leave if isinstance(a, TunnelDown)] and RouteDown(I_HOA + "/32") in leave
    last = send(agent, request(MR_HOA, fa, sa=MR_SA, lifetime=0, flags=0, at=NOW + 1), src=fa, now=NOW + 1)
    assert TunnelDown(tunnel(fa)) in last


# -- mobile router networks, expiry, status -----------------------------------------------------------


def test_mobile_router_networks_are_routed_into_its_tunnel():
    agent = i_ha()
    actions = send(agent, request(MR_HOA, CO_COA, sa=MR_SA))
    name = tunnel(CO_COA).name
    assert [a for a in actions if isinstance(a, RouteUp)] == [RouteUp(MR_HOA + "/32", (name,)),
                                                               RouteUp(MR_LAN, (name,))]
    gone = send(agent, request(MR_HOA, CO_COA, sa=MR_SA, lifetime=0, at=NOW + 1), now=NOW + 1)
    assert [a for a in gone if isinstance(a, RouteDown)] == [RouteDown(MR_HOA + "/32"), RouteDown(MR_LAN)]


def test_mobile_router_through_an_fa_gets_the_mr_ha_tunnel_for_its_networks():
    """RFC 5177 3.2: the FA delivers only the home address, so the networks go through a tunnel to the
    MR's home address, nested in the tunnel to the FA care-of; returning to co-located drops it."""
    fa = "10.4.0.1"
    agent = i_ha()
    actions = send(agent, request(MR_HOA, fa, sa=MR_SA, flags=0), src=fa)
    mr = Tunnel("mr-%08x" % int(ipaddress.IPv4Address(MR_HOA)), I_HA, MR_HOA)
    assert {a.tunnel for a in actions if isinstance(a, TunnelUp)} == {tunnel(fa), mr}
    assert [a for a in actions if isinstance(a, RouteUp)] == [RouteUp(MR_HOA + "/32", (tunnel(fa).name,)),
                                                               RouteUp(MR_LAN, (mr.name,))]
    moved = send(agent, request(MR_HOA, CO_COA, sa=MR_SA, at=NOW + 1), now=NOW + 1)
    assert [a for a in moved if isinstance(a, RouteUp)] == [RouteUp(MR_HOA + "/32", (tunnel(CO_COA).name,)),
                                                             RouteUp(MR_LAN, (tunnel(CO_COA).name,))]
    assert {a.tunnel for a in moved if isinstance(a, TunnelDown)} == {tunnel(fa), mr}


MR2_HOA = "10.1.0.30"
MR2_SA = SecurityAssociation(3001, bytes(range(48, 64)))


@pytest.mark.parametrize("nodes, kw, message", [
    # issue 28 item 5: OpenWrt's default LAN on two routers
    ({MR_HOA: ("192.168.1.0/24",), MR2_HOA: ("192.168.1.0/24",)}, {},
     r"mobile_nodes\.10\.1\.0\.30\.networks: '192\.168\.1\.0/24' overlaps '192\.168\.1\.0/24' of mobile router "
     r"10\.1\.0\.20"),
    ({MR_HOA: ("192.168.0.0/16",), MR2_HOA: ("192.168.1.0/24",)}, {},
     r"'192\.168\.1\.0/24' overlaps '192\.168\.0\.0/16' of mobile router 10\.1\.0\.20"),
    ({MR_HOA: ("10.1.0.0/24",)}, {}, r"mobile_nodes\.10\.1\.0\.20\.networks: '10\.1\.0\.0/24' overlaps the home "
     r"agent's address"),  # the home network itself
    ({MR_HOA: ("10.0.0.0/8",)}, {}, r"'10\.0\.0\.0/8' overlaps the home agent's address"),  # covering it
    ({MR_HOA: ("10.1.0.30/32",), MR2_HOA: ()}, {}, r"'10\.1\.0\.30/32' overlaps the home address 10\.1\.0\.30"),
    ({MR_HOA: ("10.1.0.16/28",)}, {}, r"'10\.1\.0\.16/28' overlaps the home address 10\.1\.0\.20"),  # its own
    ({MR_HOA: ("10.5.0.128/25",)}, dict(vpn_pool=("10.5.0.0/24",)), r"overlaps vpn_pool '10\.5\.0\.0/24'"),
    ({MR_HOA: ("10.6.0.0/16",)}, dict(vpn_snat=("10.6.0.1/32",)), r"overlaps vpn_snat '10\.6\.0\.1/32'"),
    ({MR_HOA: ("10.7.0.1/24",)}, {}, r"mobile_nodes\.10\.1\.0\.20\.networks: '10\.7\.0\.1/24' is not an IPv4 prefix"),
])
def test_mobile_networks_overlapping_another_router_or_our_own_networks_are_refused(nodes, kw, message):
    """Issue 28 item 5, RFC 5177 3.2: each mobile network is routed into one router's tunnel, so the
    configuration refuses a prefix two routers share, and one over the home agent's own networks; the
    message names both."""
    sas = {MR_HOA: MR_SA, MR2_HOA: MR2_SA}
    mobile = {I_HOA: MobileNodeEntry(I_SA)} | {h: MobileNodeEntry(sas[h], networks=n) for h, n in nodes.items()}
    with pytest.raises(ConfigError, match=message):
        HomeAgentConfig(address=I_HA, role="i-ha", trusted_networks=INTRANET, mobile_nodes=mobile, **kw)


@pytest.mark.parametrize("kw, message", [
    (dict(address=I_HOA), r"mobile_nodes: home address 10\.1\.0\.10 overlaps the home agent's address"),
    (dict(vpn_pool=("10.1.0.8/29",)), r"home address 10\.1\.0\.10 overlaps vpn_pool '10\.1\.0\.8/29'"),
    (dict(vpn_snat=("10.1.0.10/32",)), r"home address 10\.1\.0\.10 overlaps vpn_snat '10\.1\.0\.10/32'"),
])
def test_a_home_address_on_the_home_agents_own_addresses_is_refused(kw, message):
    """The same class as issue 28 item 5: a home address is routed into a tunnel and proxied while away
    (RFC 5944 4.6), so it must not be the home agent's address or one of the VPN's."""
    base = dict(address=I_HA, role="i-ha", trusted_networks=INTRANET, mobile_nodes={I_HOA: MobileNodeEntry(I_SA)})
    with pytest.raises(ConfigError, match=message):
        HomeAgentConfig(**(base | kw))


def test_distinct_mobile_networks_are_accepted():
    """Disjoint routers' networks pass, as do one router's own nested prefixes (one tunnel for both)."""
    nets = {MR_HOA: ("192.168.1.0/24", "192.168.0.0/16"), MR2_HOA: ("172.16.1.0/24",)}
    sas = {MR_HOA: MR_SA, MR2_HOA: MR2_SA}
    config = HomeAgentConfig(address=I_HA, role="i-ha", trusted_networks=INTRANET,
                             mobile_nodes={h: MobileNodeEntry(sas[h], networks=n) for h, n in nets.items()})
    assert {h: e.networks for h, e in config.mobile_nodes.items()} == nets


def test_a_router_going_home_never_removes_another_routers_route():
    """Issue 28 item 5: should two routers' prefix get past the configuration (here: added after it was
    checked), the first router keeps its route while away; the second neither moves nor removes it,
    by registration, deregistration or expiry, and says so in the log."""
    agent = i_ha()
    agent.config.mobile_nodes[MR2_HOA] = MobileNodeEntry(MR2_SA, networks=(MR_LAN,))  # past the checks
    first = send(agent, request(MR_HOA, CO_COA, sa=MR_SA))
    assert RouteUp(MR_LAN, (tunnel(CO_COA).name,)) in first
    second = send(agent, request(MR2_HOA, CO_COA2, sa=MR2_SA, lifetime=300))
    assert [a for a in plane(second) if isinstance(a, (RouteUp, RouteDown))] == [
        RouteUp(MR2_HOA + "/32", (tunnel(CO_COA2).name,))]
    assert "route-conflict" in [entry.reason for entry in logs(second)]
    home = send(agent, request(MR2_HOA, MR2_HOA, sa=MR2_SA, lifetime=0, at=NOW + 1), src=MR2_HOA, now=NOW + 1)
    assert [a for a in plane(home) if isinstance(a, RouteDown)] == [RouteDown(MR2_HOA + "/32")]
    assert "route-conflict" in [entry.reason for entry in logs(home)]
    send(agent, request(MR2_HOA, CO_COA2, sa=MR2_SA, lifetime=300, at=NOW + 2), now=NOW + 2)
    expired = agent.handle_timer(NOW + 302)
    assert [a for a in plane(expired) if isinstance(a, RouteDown)] == [RouteDown(MR2_HOA + "/32")]
    last = send(agent, request(MR_HOA, CO_COA, sa=MR_SA, lifetime=0, at=NOW + 400), now=NOW + 400)
    assert RouteDown(MR_LAN) in last  # its owner's own deregistration does remove it


def test_bindings_expire_by_timer_with_their_data_plane():
    agent = i_ha()
    send(agent, request(lifetime=300))
    send(agent, request(MR_HOA, CO_COA2, sa=MR_SA, lifetime=600))
    assert agent.get_timer() == NOW + 300
    assert agent.handle_timer(NOW + 299) == []
    actions = agent.handle_timer(NOW + 300)
    assert plane(actions) == [RouteDown(I_HOA + "/32"), TunnelDown(tunnel(CO_COA)), ProxyArp(I_HOA, False)]
    assert [entry.reason for entry in logs(actions)] == ["expired"]
    assert agent.get_timer() == NOW + 600
    later = agent.handle_timer(NOW + 600)
    assert RouteDown(MR_LAN) in later and agent.get_timer() is None and len(agent.bindings) == 0
    assert agent.status()["counters"]["expired"] == 2


def test_status_shape():
    agent = i_ha()
    send(agent, request(lifetime=300))
    send(agent, request(at=NOW - 60))
    st = agent.status(NOW + 100)
    assert (st["role"], st["address"]) == ("i-ha", I_HA)
    (b,) = st["bindings"]
    assert b["home_address"] == I_HOA and b["care_of"] == CO_COA and b["remaining"] == 200
    assert b["tunnel"] == tunnel(CO_COA).name and b["reverse_tunnel"] and not b["udp_tunnel"]
    c = st["counters"]
    assert (c["accepted"], c["denied"], c["identification-mismatch"], c["replay"], c["malformed"]) == (1, 1, 1, 0, 0)
    assert agent.status()["bindings"][0]["remaining"] is None


def test_binding_expiries_come_from_a_heap_that_skips_renewed_and_removed_bindings():
    """get_timer() and handle_timer() cost does not grow with the table: a renewal or removal leaves a stale
    heap entry, which next_expiry() and due() skip; due() names each home address once."""
    from mip4.core.bindings import Binding, BindingTable

    table = BindingTable(limit=2)
    table.replace(Binding("10.1.0.10", "10.2.0.5", 30, NOW, NOW + 30, 1))
    table.replace(Binding("10.1.0.11", "10.2.0.6", 60, NOW, NOW + 60, 1))
    table.add(Binding("10.1.0.11", "10.3.0.6", 20, NOW, NOW + 20, 2))
    table.add(Binding("10.1.0.11", "10.3.0.6", 90, NOW, NOW + 90, 3))  # renewed: NOW + 20 is stale
    assert table.next_expiry() == NOW + 30
    table.remove("10.1.0.10")
    assert table.next_expiry() == NOW + 60
    assert table.due(NOW + 59) == [] and table.due(NOW + 100) == ["10.1.0.11"]
    table.expire(NOW + 100)
    assert table.next_expiry() is None and len(table) == 0


def test_a_request_too_long_to_decode_is_answered_134_without_decoding_it():
    """A 64 KiB request of 2-octet extensions would take a tenth of a second to decode: past
    MAX_REGISTRATION octets the fixed part is answered 134 and the rest is never looked at."""
    from mip4.wire.codec import MAX_REGISTRATION

    agent = i_ha()
    payload = request().encode()[:24] + b"\x83\x00" * 32000
    assert len(payload) > MAX_REGISTRATION
    assert reply_of(send(agent, payload)).code == codes.HA_POORLY_FORMED_REQUEST
    big_reply = RegistrationReply(0, I_HOA, I_HA, 1, 0, [RawExtension(200, b"")] * 1000).encode()
    assert [a.reason for a in send(agent, big_reply)] == ["malformed"]
