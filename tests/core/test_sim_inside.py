"""Simulator scenarios: inside the intranet (modes c and f), monitoring, returning home."""
from __future__ import annotations

import pytest

from mip4.core.actions import Gate, IkeUp, SendUdp, SetPath
from mip4.wire import RegistrationReply, codec
from mip4.wire.registration import FLAG_D, FLAG_T

from .world import I_FA, I_HA, I_HOA, X_HA, build


def test_mode_c_parallel_registration_and_tnc():
    """R-2.1-a, R-2.1-c, R-3.3-a, R-3.3-e, R-3.3-f, R-3.3-g, R-1.1-a, R-4.1-c, R-2-a."""
    w = build()
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(5)
    (t_i, rq_i), = w.requests(I_HA)
    t_x, rq_x = w.requests(X_HA)[0]
    assert t_i == t_x  # R-3.3-a: the pair leaves together
    assert (rq_i.care_of_address, rq_i.flags & FLAG_D) == ("10.2.0.5", FLAG_D)  # R-2.1-c
    assert w.state("wan") == "inside" and w.mode() == "c" and w.gate("wan") == "plain"
    binding = w.i_ha.bindings.lookup(I_HOA)
    assert [b.care_of for b in binding] == ["10.2.0.5"]  # R-2.1-c: the i-HA tunnels to the co-CoA
    # R-3.3-f: no retransmission of either request; R-3.3-g: the x-HA binding is removed
    assert [rq.lifetime for _, rq in w.requests(X_HA)] == [1800, 0]
    assert not w.x_ha.bindings.lookup("198.51.100.10")  # R-4.1-c: no x-HA binding inside
    assert not w.actions(IkeUp)  # R-1.1-a: IPsec stays dormant inside
    assert w.mn.status(w.now)["interfaces"]["wan"]["mode"] == "c"


def test_data_flows_one_i_ha_round_trip_after_the_address():
    """R-5.3-a: inside, data may flow as soon as the qualifying i-HA reply is in."""
    w = build(core_delay=0.02)
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(3)
    (t_sent, _), = w.requests(I_HA)
    opened = w.gate_opened_at("wan", "plain")
    rtt = 2 * (0.001 + 0.02)
    assert opened - t_sent == pytest.approx(rtt, abs=1e-3)


def test_monitoring_every_t_monitor_minus_n_whatever_the_lifetime():
    """R-3.2.4-a, R-3.3-h, R-2.1-b: lifetime 1800 s, T_MONITOR 60 s, N 10 s: an RRQ every 50 s."""
    w = build(t_monitor=60.0, t_monitor_grace=10.0)
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(400)
    times = [t for t, rq in w.requests(I_HA)]
    gaps = [round(b - a) for a, b in zip(times, times[1:], strict=False)]
    assert len(times) >= 8 and set(gaps) == {50}
    assert w.gate("wan") == "plain"
    assert all(rq.lifetime == 1800 for _, rq in w.requests(I_HA))


def test_monitoring_goes_on_while_traffic_flows():
    """R-3.2.4-e: user traffic never stands in for an authenticated registration."""
    w = build(t_monitor=60.0, t_monitor_grace=10.0)
    w.connect("wan", "lan1", "10.2.0.5")
    for k in range(1, 200):
        w.sim.at(w.now + k, lambda: w.sim.call(w.sim.nodes["mn"], "user_traffic", "wan"))
    w.run(200)
    assert len(w.requests(I_HA)) == 4  # t=0, 50, 100, 150


def test_monitoring_failure_blocks_and_restarts_detection():
    """R-3.3-i, R-3.2.4-b, R-3-b: the i-HA goes silent with no link event: data stops at T_MONITOR."""
    w = build(t_monitor=60.0, t_monitor_grace=10.0)
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(30)
    good = w.requests(I_HA)[-1][0]
    w.sim.attacker.drop_if(lambda d, link: getattr(d, "src", None) == I_HA)
    w.run(60)
    blocked = [t for t, a in w.timed(Gate) if a.iface == "wan" and a.blocked and t > good]
    assert blocked and blocked[0] == good + 60  # exactly T_MONITOR after the last good request
    pair = [t for t, rq in w.requests(X_HA, since=blocked[0]) if rq.lifetime]
    assert pair and pair[0] == blocked[0]  # R-3.3-i: a new RRQ pair at once
    assert w.state("wan") != "inside"
    assert any("T_MONITOR" in a.message for a in w.logs("monitor-failed"))


def test_monitoring_failure_when_the_reply_lacks_tnc():
    """R-3.3-i: an inside re-registration answered without TNC ends plaintext at once."""
    w = build()
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(5)
    object.__setattr__(w.i_ha.config, "send_tnc", False)
    w.run(60)
    assert w.gate("wan") != "plain" and w.state("wan") != "inside"  # outside now: a legacy i-HA (note 1)
    assert w.logs("no-tnc")


def test_mode_f_through_the_internal_fa():
    """R-2.2-a, R-2.2-b, R-2.2-c, R-2.4-a, R-3.4-b, R-3.5-a: solicit, adopt the FA care-of, TNC relayed."""
    w = build(t_monitor=60.0, t_monitor_grace=10.0)
    w.connect("wan", "ifa")
    w.run(2)
    sent = w.sim.sent("mn")
    assert sent is not None
    assert w.state("wan") == "inside" and w.mode() == "f" and w.gate("wan") == "plain"
    first_i = w.requests(I_HA)[0][1]
    assert (first_i.care_of_address, first_i.flags & FLAG_D) == (I_FA, 0)  # R-2.2-c: FA-CoA, D clear
    assert w.requests(X_HA)[0][1].care_of_address == I_FA  # R-3.5-a: both relayed by the FA
    assert [b.care_of for b in w.i_ha.bindings.lookup(I_HOA)] == [I_FA]
    w.run(120)
    times = [t for t, _ in w.requests(I_HA)]
    assert [round(b - a) for a, b in zip(times, times[1:], strict=False)] == [50, 50]  # R-2.2-b


def test_return_home_deregisters_and_is_still_monitored():
    """R-2-e: at home: deregistration with TNC allows data; a silent i-HA blocks it after T_MONITOR."""
    w = build(t_monitor=60.0, t_monitor_grace=10.0)
    w.connect("wan", "home", I_HOA)
    w.run(5)
    (_, rq), = w.requests(I_HA)
    assert (rq.lifetime, rq.care_of_address) == (0, I_HOA)
    assert w.gate("wan") == "plain" and w.mode() == "home"
    w.sim.attacker.drop_if(lambda d, link: getattr(d, "src", None) == I_HA)
    w.run(60)
    assert w.gate("wan") is None


def test_moving_among_intranet_subnets_never_touches_the_vpn():
    """R-2-c: lan1 (c) -> i-FA (f) -> lan2 (c): no IKE at any point."""
    w = build()
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(5)
    w.disconnect("wan")
    w.connect("wan", "ifa")
    w.run(5)
    assert w.mode() == "f"
    w.disconnect("wan")
    w.connect("wan", "lan2", "10.3.0.9")
    w.run(5)
    assert w.mode() == "c" and not w.ike_events()


def test_firewall_blocking_inside_to_x_ha_still_ends_inside():
    """R-3.1-b: with registrations to the x-HA blocked from the intranet, detection still ends in c."""
    w = build()
    w.sim.block("intranet", "external")
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(10)
    assert w.mode() == "c" and not w.ike_events()


def test_enterprise_x_ha_dropping_inside_sources():
    """R-3.7-a: an x-HA that silently drops intranet registrations; the MN still goes inside."""
    w = build(x_ha_kw={"ignored_sources": ("10.0.0.0/8",)})
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(10)
    assert w.mode() == "c"
    assert not w.x_ha.bindings.lookup("198.51.100.10")


def test_l2_event_alone_never_makes_an_interface_inside():
    """R-3-c: carrier flap back onto the same network; without a new TNC reply it stays not-inside."""
    w = build()
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(5)
    w.sim.attacker.drop_if(lambda d, link: getattr(d, "src", None) == I_HA)
    w.disconnect("wan")
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(5)
    assert w.state("wan") != "inside" and w.gate("wan") != "plain"


def test_idle_mode_pauses_monitoring_and_holds_the_next_packet():
    """R-3.2.4-f: no traffic, no monitoring RRQs; a packet then waits for a fresh registration."""
    w = build(idle_mode=True, t_monitor=60.0, t_monitor_grace=10.0)
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(200)
    assert len(w.requests(I_HA)) == 1 and w.gate("wan") is None  # held after T_MONITOR
    w.sim.call(w.sim.nodes["mn"], "user_traffic", "wan")
    t = w.now
    w.run(1)
    assert len(w.requests(I_HA)) == 2 and w.gate_opened_at("wan", "plain", since=t) is not None
    w.run(1800)
    lifetimes = [rq.lifetime for _, rq in w.requests(I_HA)]
    assert len(lifetimes) >= 3  # lifetime-driven renewal goes on while idle


def test_reverse_tunnelling_requested_on_i_mip():
    """R-2.1-c with the T bit the i-HA accepts: uplink data is reverse tunnelled."""
    w = build()
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(2)
    assert w.requests(I_HA)[0][1].flags & FLAG_T


def test_fa_ha_authentication_between_the_i_fa_and_the_i_ha():
    """RFC 5944 3.7.2.2, 3.8.2.1: with an FA-HA key both ends check it; a wrong key gives code 132."""
    from mip4.core.config import SecurityAssociation

    from .world import I_FA
    key = SecurityAssociation(3000, b"f" * 16)
    w = build(i_ha_kw={"fa_ha": {I_FA: key}})
    object.__setattr__(w.i_fa.config, "fa_ha", {I_HA: key})
    w.connect("wan", "ifa")
    w.run(3)
    assert w.mode() == "f"
    w2 = build(i_ha_kw={"fa_ha": {I_FA: key}})  # the FA does not sign: denied
    w2.connect("wan", "ifa")
    w2.run(3)
    assert w2.mode() is None or w2.mode() != "f"
    assert w2.i_ha.status()["counters"].get("bad-fa-authenticator")


@pytest.mark.parametrize("step", [-3600.0, 3600.0])
def test_time_of_day_step_is_resynced_without_losing_the_inside_verdict(step):
    """RFC 5944 5.7.1: after a clock step the i-HA answers 133 with its time; the MN resyncs at once.
    T_MONITOR runs on the monotonic clock, so the step neither extends nor cuts it."""
    w = build(t_monitor=60.0, t_monitor_grace=10.0)
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(5)
    w.sim.call(w.sim.nodes["mn"], "set_wall_clock", w.now + step)
    t = w.now
    w.run(100)
    assert w.sim.logs("i-ha", "identification-mismatch")  # the first request after the step was stale
    assert w.mn.uplinks["wan"].i_client.clock_offset == pytest.approx(-step, abs=1)
    assert not [a for tt, a in w.timed(Gate, since=t) if a.iface == "wan" and a.blocked]
    assert w.gate("wan") == "plain"


def test_shutdown_deregisters_and_closes_every_gate():
    """mip4d on SIGTERM: the i-HA binding goes (lifetime 0), the gate closes, nothing is left registered."""
    w = build()
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(5)
    assert w.i_ha.bindings.lookup(I_HOA) and w.gate("wan") == "plain"
    w.sim.call("mn", "shutdown")
    w.run(5)
    assert not w.i_ha.bindings.lookup(I_HOA)
    assert w.gate("wan") is None
    assert [rq.lifetime for _, rq in w.requests(I_HA)][-1] == 0


def test_mode_f_path_is_the_mr_ha_tunnel_from_the_home_address():
    """RFC 5177 3.2: through an FA, a mobile router's networks leave in a tunnel from its home address."""
    w = build()
    w.connect("wan", "ifa")
    w.run(10)
    assert w.mode() == "f"
    (path,) = [a for a in w.actions(SetPath) if a.mode == "f"][-1:]
    assert [(t.local, t.remote) for t in path.tunnels] == [(I_HOA, I_HA)]


def test_an_unplugged_uplink_stays_down_when_its_address_goes_after_the_carrier():
    """R-3.2.1-a: netlink reports the carrier loss, then the address loss; the uplink stays down
    (not "waiting"), the other uplink keeps its mode."""
    w = build()
    w.connect("wan", "lan1", "10.2.0.5")
    w.connect("wwan", "ext2", "198.18.2.5")
    w.run(10)
    assert w.mode() == "c" and w.state("wwan") == "outside"
    w.sim.call("mn", "link_down", "wwan")
    w.sim.call("mn", "address_lost", "wwan")
    assert w.state("wwan") == "down" and w.mode() == "c" and w.gate("wan") == "plain"


def _i_ha_requests(w, since: float = 0.0) -> list:
    """The MN's requests to the i-HA as the attacker captured them on lan1."""
    return [e for e in w.sim.attacker.captured if e.time >= since and e.link == "lan1" and not e.injected
            and getattr(e.packet, "dst", None) == I_HA and e.packet.dport == 434]


def _ident(entry) -> int:
    return codec.decode_udp(entry.packet.payload).identification


def _answers(w, entry, since: float) -> list[int]:
    """Codes of the i-HA's replies since `since` to the request in `entry` (RFC 5944 3.6.2.1: low 32 bits)."""
    low = _ident(entry) & 0xFFFFFFFF
    out = []
    for a in w.sim.actions("i-ha", SendUdp, since=since):
        reply = codec.decode_udp(a.datagram.payload)
        if isinstance(reply, RegistrationReply) and reply.identification & 0xFFFFFFFF == low:
            out.append(reply.code)
    return out


@pytest.mark.parametrize("mn_too", [False, True], ids=["i-ha-only", "i-ha-and-mn"])
def test_the_i_has_clock_stepped_back_an_hour_refuses_neither_the_mn_nor_lets_an_old_request_in(mn_too):
    """R-6.1-c, RFC 5944 5.7.1: the i-HA's time of day steps back an hour (its own NTP, or the whole site's: then
    the MN's too). The MN keeps its binding and its plain gate: with the site, after exactly one 133
    that carries the i-HA's clock; with the i-HA alone, without any. A request captured an hour before,
    replayed when the i-HA's stepped-back clock reads its time, is still refused, and so is a replay of
    the last request before the step."""
    w = build(t_monitor=60.0, t_monitor_grace=10.0)
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(100)
    hour_old = _i_ha_requests(w)[-1]  # sent at hour_old.time, about 50 s ago
    w.run(3600 - 20 - (w.now - hour_old.time))
    last = _i_ha_requests(w)[-1]
    step_at = w.now
    w.sim.call("i-ha", "set_wall_clock", w.now - 3600)  # now reads 20 s before hour_old was sent
    if mn_too:
        w.sim.call("mn", "set_wall_clock", w.now - 3600)
    w.run(20)
    assert w.gate("wan") == "plain"
    replayed_at = w.now
    w.sim.attacker.replay(hour_old)
    w.sim.attacker.replay(last)
    w.run(0.5)
    assert _answers(w, hour_old, replayed_at) == _answers(w, last, replayed_at) == [133]  # neither went through
    (binding,) = w.i_ha.bindings.lookup(I_HOA)
    assert binding.identification not in (_ident(hour_old), _ident(last))
    accepted = w.i_ha.status()["counters"]["accepted"]
    w.run(200)  # the MN goes on registering every 50 s
    refused = [e.action for e in w.sim.trace if getattr(e, "node", None) == "i-ha" and e.time >= step_at
               and getattr(getattr(e, "action", None), "reason", None) in ("identification-mismatch", "replay")]
    assert len(refused) == 2 + (1 if mn_too else 0)  # the two replays, and with the site's step one resync
    assert not [a for t, a in w.timed(Gate, since=step_at) if a.iface == "wan" and a.blocked]
    assert w.i_ha.status()["counters"]["accepted"] >= accepted + 4
    assert w.mn.uplinks["wan"].i_client.clock_offset == pytest.approx(3600 if mn_too else 0, abs=1)
