"""RFC 5265 2.5 and RFC 3519 on the mobile node: UDP Tunnel Request, the reply, keepalives, and a lost
NAT mapping; first on the client alone, then behind the simulator's NAT with the real HAs.

Requirement IDs proved here: R-2.5-a, R-2.5-b, R-2.5-e.
"""
from __future__ import annotations

from mip4.core.actions import VPN, SendUdp, SetPath
from mip4.core.client import Accepted, RegistrationClient, Route
from mip4.core.config import Timing
from mip4.wire import TunnelData, UdpTunnelReply, UdpTunnelRequest, codec
from mip4.wire.registration import FLAG_D, FLAG_T
from tests.sim import Nat

from .replies import NOW, X_SA, answer, requests, rng
from .world import I_HA, I_HOA, VPN_TIA, WITH_POOL, X_HA, X_HOA, build

CO_LOCATED = Route("wan", "192.168.1.20", X_HA, "192.168.1.20", FLAG_D | FLAG_T)
VIA_FA = Route("wan", X_HOA, "203.0.113.1", "203.0.113.1", FLAG_T)


def client(**kw) -> RegistrationClient:
    return RegistrationClient("x-ha", X_HOA, X_HA, X_SA, Timing(), rng(), udp_request=True, **kw)


def accept(c: RegistrationClient, actions: list, now: float, *exts) -> Accepted:
    ((dgram, _),) = requests(actions)
    result, _ = c.receive(codec.decode_udp(answer(dgram, X_SA, before_auth=list(exts)).payload), now)
    assert isinstance(result, Accepted)
    return result


def keepalives(actions: list) -> list[bytes]:
    return [codec.decode_udp(a.datagram.payload).payload for a in actions if isinstance(a, SendUdp)
            and isinstance(codec.decode_udp(a.datagram.payload), TunnelData)]


def test_co_located_requests_ask_for_udp_tunnelling_before_the_authenticator():
    """R-2.5-a: ext 144 (IP-in-IP inside UDP) in co-located requests, covered by the MN-HA authenticator;
    not through an FA (RFC 3519 3.1: the FA decides there), nor without nat_traversal."""
    ((_, rq),) = requests(client().register(CO_LOCATED, NOW))
    assert [type(e).__name__ for e in rq.extensions] == ["UdpTunnelRequest", "Authentication"]
    assert rq.extensions[0] == UdpTunnelRequest(4, 0) and rq.verify(32, X_SA.spi, X_SA.key)
    ((_, via_fa),) = requests(client().register(VIA_FA, NOW))
    assert not any(isinstance(e, UdpTunnelRequest) for e in via_fa.extensions)
    plain = RegistrationClient("x-ha", X_HOA, X_HA, X_SA, Timing(), rng())
    ((_, off),) = requests(plain.register(CO_LOCATED, NOW))
    assert not any(isinstance(e, UdpTunnelRequest) for e in off.extensions)


def test_accepted_udp_tunnel_starts_keepalives_at_the_shorter_interval():
    """RFC 3519 3.2, 4.9: code 0 in an authenticated ext 44 turns UDP tunnelling on; keepalives are ICMP
    echoes from the home address to the HA in MIP tunnel data, every min(HA's, ours) seconds."""
    c = client(udp_keepalive=5)
    result = accept(c, c.register(CO_LOCATED, NOW), NOW + 0.1, UdpTunnelReply(0, 110))
    assert result.udp_tunnel and c.udp_tunnel and c.keepalive is not None and c.keepalive.every == 5.0
    assert c.get_timer() == NOW + 5.1
    actions = c.handle_timer(NOW + 5.1)
    (packet,) = keepalives(actions)
    assert packet[9] == 1 and packet[12:20] == bytes([198, 51, 100, 10, 198, 51, 100, 1]) and packet[20] == 8
    (sent,) = [a.datagram for a in actions]
    assert (sent.iface, sent.src, sent.sport, sent.dst, sent.dport) == ("wan", "192.168.1.20", 434, X_HA, 434)


def test_declined_or_unauthenticated_udp_tunnel_reply_means_ip_in_ip():
    """RFC 3519 3.2: code 64 (no NAT seen), or an ext 44 after the authenticator: no UDP tunnelling."""
    c = client()
    assert not accept(c, c.register(CO_LOCATED, NOW), NOW, UdpTunnelReply(64, 0)).udp_tunnel
    assert c.get_timer() != NOW + 110 and not c.udp_tunnel
    d = client()
    ((dgram, _),) = requests(d.register(CO_LOCATED, NOW))
    result, _ = d.receive(codec.decode_udp(answer(dgram, X_SA, after_auth=[UdpTunnelReply(0, 30)]).payload), NOW)
    assert result is not None and not result.udp_tunnel and not d.udp_tunnel  # type 44 after auth: rejected


def test_silence_through_the_udp_tunnel_registers_again_and_data_keeps_it_quiet():
    """RFC 3519 4.10: nothing heard for two keepalive intervals (and a second): the NAT lost the mapping,
    so register again (which makes a new one); anything heard in time means no registration."""
    c = client(udp_keepalive=2)
    accept(c, c.register(CO_LOCATED, NOW), NOW, UdpTunnelReply(0, 110))
    t, sent = NOW, []
    for _ in range(5):  # heard after every keepalive: only keepalives go out
        t = c.get_timer()
        sent += c.handle_timer(t)
        c.heard(t + 0.05)
    assert len(keepalives(sent)) == 5 and not requests(sent)
    while not requests(sent):  # now nothing comes back
        t = c.get_timer()
        sent = c.handle_timer(t)
    assert t - (NOW + 5 * 2 + 0.05) > 2 * 2 + 1 and c.counters["nat-mapping-lost"] == 1


def test_cvc_behind_a_nat_tunnels_x_mip_over_udp_and_i_mip_stays_ip_in_ip():
    """R-2.5-a, R-2.5-b: behind the NAT the x-HA accepts UDP tunnelling to the NAT's address and port, and
    the MN's x-MIP layer becomes a UDP tunnel to the x-HA's port 434; the i-MIP request through the VPN
    asks too, and the i-HA, seeing no NAT there, keeps IP-in-IP."""
    w = build(x_ha_kw={"udp_keepalive": 3})
    w.sim.add_link("hotel", "external", delay=0.01, nat="198.18.9.1")
    w.connect("wan", "hotel", "192.168.1.20")
    w.run(12)
    assert w.mode() == "cvc" and w.gate("wan") == "vpn"
    (b,) = w.x_ha.bindings.lookup(X_HOA)
    assert b.udp_tunnel and b.source == "198.18.9.1" and b.care_of == "192.168.1.20"
    (path,) = [a for a in w.actions(SetPath) if len(a.tunnels) == 2][-1:]
    outer, inner = path.tunnels
    assert (outer.remote, outer.udp_port, outer.overhead) == (X_HA, 434, 32)
    assert (inner.local, inner.udp_port, inner.overhead) == (VPN_TIA, 0, 20)
    vpn_rq = [rq for _, rq in w.requests() if rq.care_of_address == VPN_TIA]
    assert vpn_rq and all(isinstance(rq.extensions[0], UdpTunnelRequest) for rq in vpn_rq)
    sent = [a.datagram for a in w.actions(SendUdp) if isinstance(codec.decode_udp(a.datagram.payload), TunnelData)]
    assert sent and all(d.dst == X_HA and d.dport == 434 for d in sent)  # keepalives, every 3 s


def test_a_nat_rebinding_is_followed_by_a_registration_from_the_new_mapping():
    """RFC 3519 4.10 with the simulator's NAT restarted: nothing comes back through the tunnel (the
    simulator has no data plane to echo keepalives), so the MN registers again, the new mapping reaches
    the x-HA in an authenticated request, and its binding moves to the new port; the gate stays open."""
    w = build(x_ha_kw={"udp_keepalive": 3})
    w.sim.add_link("hotel", "external", delay=0.01, nat="198.18.9.1")
    w.connect("wan", "hotel", "192.168.1.20")
    w.run(12)
    before, after, t0 = w.nat_rebound("hotel", 10)
    assert after.udp_tunnel and after.source_port != before.source_port
    assert w.logs("nat-mapping-lost")
    assert w.gate("wan") == "vpn" and not [g for t, g in w.timed() if t > t0 and getattr(g, "blocked", False)]


def test_cvc_through_a_gateway_that_snats_vpn_tias_runs_i_mip_over_udp():
    """R-2.5-b, R-2.5-e: the VPN gateway source-NATs the VPN-TIA into the intranet (10.250.0.1, on the
    i-HA's trusted list, R-4.3-h). The i-HA sees a source that differs from the care-of, accepts UDP
    tunnelling for that binding, and the MR's i-MIP layer inside the VPN becomes a UDP tunnel to the
    i-HA's port 434, with keepalives from the i-HoA; the x-MIP layer, with no NAT, stays IP-in-IP."""
    w = build(trusted=WITH_POOL + ("10.250.0.0/24",), i_ha_kw={"udp_keepalive": 3})
    w.sim.vpns["mn"].nat = Nat("10.250.0.1", first_port=30000)
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(15)
    assert w.mode() == "cvc" and w.gate("wan") == "vpn"
    (b,) = w.i_ha.bindings.lookup(I_HOA)
    assert b.udp_tunnel and (b.source, b.care_of) == ("10.250.0.1", VPN_TIA) and b.source_port >= 30000
    (x,) = w.x_ha.bindings.lookup(X_HOA)
    assert not x.udp_tunnel
    (path,) = [a for a in w.actions(SetPath) if len(a.tunnels) == 2][-1:]
    outer, inner = path.tunnels
    assert (outer.udp_port, outer.overhead) == (0, 20)
    assert (inner.local, inner.remote, inner.udp_port, inner.overhead) == (VPN_TIA, I_HA, 434, 32)
    sent = [a.datagram for a in w.actions(SendUdp) if isinstance(codec.decode_udp(a.datagram.payload), TunnelData)]
    assert sent and all(d.iface == VPN and d.dst == I_HA and d.dport == 434 for d in sent)
    assert {codec.decode_udp(d.payload).payload[12:16] for d in sent} == {bytes([10, 1, 0, 10])}  # from the i-HoA
