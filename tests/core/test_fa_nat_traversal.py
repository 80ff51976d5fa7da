"""RFC 3519 at a foreign agent behind a NAT (RFC 5265 2.5, mode fvc): the FA asks for UDP tunnelling
in its part of the relayed request, the HA answers in the FA's part of the reply, one UDP tunnel per
home agent carries both directions, keepalives hold the NAT mapping, and a lost mapping makes the
visitors register again. First the FA and the HA alone, then the whole of fvc in the simulator.

Requirement IDs proved here: R-2.5-a (fvc), R-4.3-a (FA care-of).
"""
from __future__ import annotations

from mip4.core.actions import Log, RouteUp, SendUdp, SourceRoute, Tunnel, TunnelDown, TunnelUp
from mip4.core.config import ForeignAgentConfig
from mip4.core.foreign_agent import ForeignAgent
from mip4.wire import RegistrationReply, TunnelData, UdpTunnelReply, UdpTunnelRequest, codec
from mip4.wire.extensions import FOREIGN_HOME_AUTH, MOBILE_HOME_AUTH, UDP_TUNNEL_REPLY, UDP_TUNNEL_REQUEST
from mip4.wire.icmp import ADV_U
from mip4.wire.registration import FLAG_D, FLAG_T
from mip4.wire.tunnel import echo_reply

from .replies import NOW, X_SA, rng
from .test_foreign_agent import COA, FA_ADDR, FA_SA, IDENT, X_HA, X_HOA, adverts, fa, reasons, relayed, request, to_mn
from .test_home_agent import reply_of, send, types, x_ha
from .world import build

NAT_ADDR, NAT_PORT = "198.18.9.1", 10007
UDP_TUNNEL = Tunnel("ru-c6336401", FA_ADDR, X_HA, 434, visitors_only=True)
ACCEPT_20 = UdpTunnelReply(0, 20)


def natted_fa(**kw) -> ForeignAgent:
    return fa(nat_traversal=True, **kw)


def ha_reply(up, code: int = 0, udp: UdpTunnelReply | None = ACCEPT_20, fa_ha=None):
    """The HA's reply to a relayed request, with `udp` in the FA's part (after the MN-HA authenticator)."""
    rq = codec.decode_udp(up.payload)
    rp = RegistrationReply(code, rq.home_address, rq.home_agent, rq.identification, rq.lifetime)
    rp.authenticate(MOBILE_HOME_AUTH, X_SA.spi, X_SA.key)
    if udp is not None:
        rp.extensions.append(udp)
    if fa_ha is not None:
        rp.authenticate(FOREIGN_HOME_AUTH, fa_ha.spi, fa_ha.key)
    return up.__class__("core", up.dst, 434, up.src, up.sport, rp.encode())


def visit(agent: ForeignAgent, now: float = NOW, flags: int = FLAG_T, **reply_kw) -> list:
    up = relayed(agent.receive_udp(request(flags=flags), now))
    return agent.receive_udp(ha_reply(up, **reply_kw), now + 0.1)


def keepalives(actions: list) -> list:
    return [a.datagram for a in actions if isinstance(a, SendUdp)
            and isinstance(codec.decode_udp(a.datagram.payload), TunnelData)]


# -- the foreign agent -------------------------------------------------------------------------------


def test_fa_behind_a_nat_advertises_u_and_asks_for_udp_tunnelling_in_its_part_of_the_request():
    """RFC 3519 3.4: U in advertisements; 3.1, 4.5: the FA's UDP Tunnel Request follows the MN-HA
    authenticator (which still verifies) and precedes the FA-HA authenticator, which covers it."""
    agent = natted_fa(fa_ha={X_HA: FA_SA})
    ((_, adv),) = adverts(agent.start(NOW))
    assert adv.mobility.has(ADV_U)
    up = relayed(agent.receive_udp(request(flags=FLAG_T), NOW))
    rq = codec.decode_udp(up.payload)
    assert [e.type for e in rq.extensions] == [MOBILE_HOME_AUTH, UDP_TUNNEL_REQUEST, FOREIGN_HOME_AUTH]
    assert rq.extensions[1] == UdpTunnelRequest(4) and (up.src, up.sport) == (FA_ADDR, 434)
    assert rq.verify(MOBILE_HOME_AUTH, X_SA.spi, X_SA.key) and rq.verify(FOREIGN_HOME_AUTH, FA_SA.spi, FA_SA.key)
    # not for a co-located MN (it asks for itself), nor in a deregistration, nor without nat_traversal
    for agent_, kw in ((natted_fa(), dict(flags=FLAG_D | FLAG_T)), (natted_fa(), dict(lifetime=0)), (fa(), {})):
        sent = codec.decode_udp(relayed(agent_.receive_udp(request(**kw), NOW)).payload)
        assert UDP_TUNNEL_REQUEST not in [e.type for e in sent.extensions]
    ((_, plain),) = adverts(fa().start(NOW))
    assert not plain.mobility.has(ADV_U)


def test_accepted_udp_tunnel_makes_one_tunnel_per_home_agent_and_the_mn_never_sees_the_reply_extension():
    """RFC 3519 3.2, 4.5: an accepting UDP Tunnel Reply in our part: a UDP tunnel from our address to the
    HA's port 434 carries the visitor both ways (reverse tunnel included); the MN gets the reply up to its
    MN-HA authenticator, without ext 44."""
    agent = natted_fa()
    actions = visit(agent)
    assert TunnelUp(UDP_TUNNEL) in actions and RouteUp(X_HOA + "/32", ("acc",)) in actions
    assert SourceRoute(X_HOA, UDP_TUNNEL.name) in actions
    mn_got = codec.decode_udp(to_mn(actions).payload)
    assert types(mn_got) == [MOBILE_HOME_AUTH] and mn_got.verify(MOBILE_HOME_AUTH, X_SA.spi, X_SA.key)
    (v,) = agent.status(NOW)["visitors"]
    assert v["udp_tunnel"] and agent.status(NOW)["tunnels"][0]["udp_port"] == 434
    # a visitor without T still needs the tunnel for the downlink (no kernel decapsulates UDP for us)
    other = natted_fa()
    no_t = visit(other, flags=0)
    assert TunnelUp(UDP_TUNNEL) in no_t and not [a for a in no_t if isinstance(a, SourceRoute)]


def test_declined_or_missing_udp_tunnel_reply_means_ip_in_ip():
    """RFC 3519 3.2: code 64 (no NAT seen), or no answer at all: the usual IP-in-IP reverse tunnel."""
    for udp in (UdpTunnelReply(64, 0), None):
        agent = natted_fa()
        actions = visit(agent, udp=udp)
        (up,) = [a for a in actions if isinstance(a, TunnelUp)]
        assert up.tunnel == Tunnel("rt0-c6336401", COA, X_HA, visitors_only=True) and not agent.keepalives


def test_keepalives_hold_the_mapping_and_silence_makes_the_visitors_register_again():
    """RFC 3519 4.9: keepalives every min(HA's, ours) s from our address to the HA's port 434, an ICMP echo
    the HA answers; data or echoes keep us quiet. 4.10: silence for two intervals and a second means the
    mapping is gone; we cannot register for the visitors, so we advertise at sequence 0 as if restarted
    (RFC 5944 2.3.2), which makes them register again (RFC 5944 2.4.2)."""
    agent = natted_fa(udp_keepalive=5)
    agent.start(NOW)
    visit(agent, now=NOW, udp=UdpTunnelReply(0, 20))
    assert agent.get_timer() <= NOW + 5.1
    t, heard = NOW + 5.1, []
    for _ in range(3):  # the HA answers: quiet
        actions = agent.handle_timer(t)
        (k,) = keepalives(actions)
        assert (k.src, k.sport, k.dst, k.dport) == (FA_ADDR, 434, X_HA, 434)
        packet = codec.decode_udp(k.payload).payload
        assert echo_reply(packet, X_HA) is not None and packet[12:16] == bytes([192, 0, 2, 50])
        heard.append(agent.tunnel_heard("core", X_HA, t + 0.05))
        t += 5
    assert "nat-mapping-lost" not in reasons(actions)
    seq_before = [adv.mobility.sequence_number for _, adv in adverts(agent.handle_timer(agent.next_advertisement))]
    last_heard, lost_at, t = t - 5 + 0.05, None, agent.get_timer()
    while lost_at is None and t < last_heard + 30:  # now nothing comes back
        actions = agent.handle_timer(t)
        if "nat-mapping-lost" in reasons(actions):
            lost_at = t
        t = agent.get_timer()
    assert lost_at is not None and 2 * 5 + 1 < lost_at - last_heard <= 2 * 5 + 1 + 5
    restarted = [(m, adv) for m, adv in adverts(actions) if adv.mobility.sequence_number == 0]
    assert restarted and restarted[0][0].iface == "acc" and seq_before[0] > 0
    # one restart per silent spell: the next keepalive goes out again instead
    assert "nat-mapping-lost" not in reasons(agent.handle_timer(lost_at + 5))
    # a second silent spell and nobody registered again: the visitors have left; their tunnel goes
    t, dropped = agent.get_timer(), []
    while not dropped and t < lost_at + 30:
        actions = agent.handle_timer(t)
        dropped = [a for a in actions if isinstance(a, Log) and a.reason == "udp-visitors-dropped"]
        t = agent.get_timer()
    assert dropped and TunnelDown(UDP_TUNNEL) in actions and not agent.visitors and not agent.keepalives


def test_a_registration_after_the_restart_keeps_the_visitors():
    """The restart worked: the visitor registered again, so the next silent spell restarts again (the NAT
    may have lost the mapping once more) instead of dropping it."""
    agent = natted_fa(udp_keepalive=5)
    agent.start(NOW)
    visit(agent)
    spells = []
    t = agent.get_timer()
    while len(spells) < 2 and t < NOW + 120:
        actions = agent.handle_timer(t)
        if "nat-mapping-lost" in reasons(actions):
            spells.append(t)
            visit(agent, now=t + 0.5)  # the MN answers the restart
        assert "udp-visitors-dropped" not in reasons(actions)
        t = agent.get_timer()
    assert len(spells) == 2 and len(agent.visitors) == 1


def test_last_udp_visitor_leaving_takes_the_tunnel_and_its_keepalives_down():
    agent = natted_fa(udp_keepalive=5)
    visit(agent)
    up = relayed(agent.receive_udp(request(flags=FLAG_T, lifetime=0, ident=IDENT + 1), NOW + 10))
    actions = agent.receive_udp(ha_reply(up, udp=None), NOW + 10.1)
    assert TunnelDown(UDP_TUNNEL) in actions and SourceRoute(X_HOA, None) in actions
    assert agent.keepalives == {} and not keepalives(agent.handle_timer(NOW + 60))


# -- the home agent -----------------------------------------------------------------------------------


def fa_request(after_auth: list, coa: str = COA):
    from .test_home_agent import request as ha_request

    return ha_request(X_HOA, coa, X_HA, X_SA, flags=FLAG_T, after_auth=after_auth)


def test_home_agent_tunnels_over_udp_to_a_natted_foreign_agent_and_answers_in_its_part():
    """R-4.3-a for an FA care-of: the FA's request (after the MN-HA authenticator) from a NAT address that
    differs from the care-of is accepted with 44 code 0 after the MN-HA authenticator; the binding's
    tunnel goes to the NAT's address and port."""
    agent = x_ha()
    actions = send(agent, fa_request([UdpTunnelRequest()]), src=NAT_ADDR, sport=NAT_PORT)
    reply = reply_of(actions)
    assert reply.code == 0 and types(reply) == [MOBILE_HOME_AUTH, UDP_TUNNEL_REPLY]
    assert reply.extensions[1].code == 0
    (b,) = agent.bindings.lookup(X_HOA)
    assert b.udp_tunnel and (b.source, b.source_port, b.care_of) == (NAT_ADDR, NAT_PORT, COA)
    (up,) = [a for a in actions if isinstance(a, TunnelUp)]
    assert (up.tunnel.remote, up.tunnel.udp_port) == (NAT_ADDR, NAT_PORT)
    # no NAT on the way (the FA relays from its care-of): declined, IP-in-IP
    plain = x_ha()
    declined = reply_of(send(plain, fa_request([UdpTunnelRequest()]), src=COA))
    assert types(declined) == [MOBILE_HOME_AUTH, UDP_TUNNEL_REPLY] and declined.extensions[1].code == 64
    assert not plain.bindings.lookup(X_HOA)[0].udp_tunnel


# -- fvc behind a NAT, end to end in the simulator -------------------------------------------------------


def natted_world():
    """The lab's x-FA, but behind a NAT: access link 192.168.7.0/24, its own address 192.168.9.5 on a
    link NATed to 198.18.9.1."""
    w = build(x_ha_kw={"udp_keepalive": 3})
    w.sim.add_link("natcore", "external", delay=0.01, nat=NAT_ADDR)
    w.sim.add_link("nfa", "external", delay=0.01)
    n_fa = ForeignAgent(ForeignAgentConfig(links={"acc": "192.168.7.1"}, address="192.168.9.5", nat_traversal=True),
                        rng())
    node = w.sim.add_node("n-fa", n_fa)
    w.sim.attach(node, "acc", "nfa", addresses=["192.168.7.1"])
    w.sim.attach(node, "core", "natcore", addresses=["192.168.9.5"])
    w.connect("wan", "nfa")
    return w, n_fa


def test_fvc_behind_a_nat_uses_a_udp_tunnel_between_fa_and_x_ha():
    """R-2.5-a in fvc: the x-HA binds the FA care-of with a UDP tunnel to the NAT's address; the MR reaches
    fvc through it, and its own requests carry no UDP Tunnel Request (the FA's business)."""
    w, n_fa = natted_world()
    w.run(15)
    assert w.mode() == "fvc" and w.gate("wan") == "vpn"
    (b,) = w.x_ha.bindings.lookup(X_HOA)
    assert b.udp_tunnel and b.source == NAT_ADDR and b.care_of == "192.168.7.1"
    (v,) = [v for v in n_fa.visitors if v.home_agent == X_HA]
    assert v.udp_tunnel and n_fa.plane.udp_tunnel_to(X_HA)
    mn_requests = [rq for _, rq in w.requests() if rq.home_agent == X_HA and rq.lifetime]
    assert mn_requests and not any(isinstance(e, UdpTunnelRequest) for rq in mn_requests for e in rq.extensions)
    assert keepalives(w.sim.actions("n-fa"))  # every 3 s, the x-HA's interval


def test_fvc_behind_a_nat_survives_a_nat_rebinding():
    """RFC 3519 4.10 through an FA: after the NAT forgets its mappings the FA hears nothing through the tunnel
    (the simulator has no data plane, so not even before), advertises as restarted, the MR registers
    again through it, and the x-HA's tunnel moves to the new port; the mode stays fvc."""
    w, n_fa = natted_world()
    w.run(15)
    before, after, t0 = w.nat_rebound("natcore", 15)
    assert after.udp_tunnel and after.source == NAT_ADDR and after.source_port != before.source_port
    assert [a for a in w.sim.actions("n-fa", Log) if a.reason == "nat-mapping-lost"]
    assert [rq for _, rq in w.requests(since=t0) if rq.home_agent == X_HA and rq.lifetime]
    assert w.mode() == "fvc" and w.gate("wan") == "vpn"
