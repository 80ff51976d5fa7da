"""Behaviours a review of the core against RFC 5265, RFC 5944 and RFC 3519 found wrong (issue 21), each
driven through the simulator with the real HAs and FAs.

Requirement IDs proved here: R-3.2.2-a, R-3.2.2-e (project rule), R-3.3-f, R-3.3-g, R-3.3-k, R-3.5-f.
"""
from __future__ import annotations

from mip4.core.actions import Gate, Icmp
from mip4.core.mobile_node import MobileNode
from mip4.wire import AgentAdvertisement, codec, codes
from mip4.wire.icmp import ADV_B, ADV_F, ADV_R, MobilityAgentAdvertisement

from .replies import mn_config, rng
from .world import I_HA, I_HOA, X_HA, X_HOA, build


def closed_at(w, iface: str, since: float) -> list[float]:
    return [t for t, a in w.timed(Gate, since) if a.iface == iface and a.path is None]


def test_mode_f_a_new_address_without_a_carrier_event_is_a_status_change():
    """R-3.2.2-e, R-3.2.2-a: in mode f the care-of is the FA's, yet a new DHCP address on the uplink
    (moved to an outside network with no carrier event) closes the gate in the same step and detects
    again; it never reopens in clear outside, although the FA's advertisement has not expired yet."""
    w = build()
    node = w.sim.nodes["mn"]
    w.connect("wan", "ifa", "10.4.0.50")  # the i-FA requires registration (R bit): mode f beside a lease
    w.run(3)
    assert w.mode() == "f" and w.gate("wan") == "plain"
    t = w.now
    w.sim.attach(node, "wan", "ext1")  # the uplink is on another network now, no carrier event
    w.sim.set_addresses(node, "wan", [I_HOA, X_HOA])
    w.sim.lease(node, "wan", "198.18.0.5")
    assert closed_at(w, "wan", t) == [t] and w.gate("wan") is None
    assert [rq.home_agent for tt, rq in w.requests(since=t) if tt == t] == [I_HA, X_HA]
    w.run(60)
    assert w.gate_opened_at("wan", "plain", since=t) is None
    assert w.mode() == "cvc" and w.gate("wan") == "vpn"


def test_the_fa_we_are_registered_with_stays_usable_while_busy():
    """RFC 5944 2.1.1: B means no *additional* mobile nodes. The i-FA takes one visitor; once the router
    is that visitor every advertisement says busy, and the router keeps using it: one registration
    path, no FA lost, no gate closed for an hour."""
    w = build(i_fa_kw={"max_visitors": 1}, t_monitor=60.0, t_monitor_grace=10.0)
    w.connect("wan", "ifa")
    w.run(5)
    assert w.mode() == "f" and w.gate("wan") == "plain"
    t = w.now
    w.run(3600)
    busy = [codec.decode_icmp(p.payload) for p in w.sim.delivered("mn", lambda p: isinstance(p, Icmp))]
    assert busy and busy[-1].mobility.has(ADV_B)
    assert closed_at(w, "wan", t) == [] and w.mode() == "f" and w.gate("wan") == "plain"
    assert not [a for _, a in w.timed(since=t) if getattr(a, "reason", "") in ("state", "primary")]


def test_a_busy_fa_the_router_does_not_use_is_not_taken():
    """RFC 5944 2.1.1, 3.6: an advertisement with B from an FA the router is not registered with offers
    nothing: no status change, no registration through it; counted."""
    mn = MobileNode(mn_config(), rng())
    mn.link_up("wan", 0.0)
    mn.address_acquired("wan", "198.18.0.5", 0.0)
    mob = MobilityAgentAdvertisement(1, 1800, ADV_F | ADV_R | ADV_B, ["203.0.113.1"])
    adv = AgentAdvertisement(9, [("203.0.113.1", 0)], [mob]).encode()
    assert mn.receive_icmp(Icmp("wan", "203.0.113.1", "224.0.0.1", adv), 0.1) == []
    assert mn.uplinks["wan"].fa is None and mn.counters["fa-busy"] == 1


def test_a_late_i_ha_reply_after_the_vpns_registration_moves_the_binding_back():
    """R-3.3-k: the x-HA answers first, the router goes cvc and registers the VPN-TIA with the i-HA; the
    slow i-HA's TNC reply to the older direct request arrives after that. Inside, and the router registers
    again directly, so the i-HA's binding is the router's care-of, not the VPN-TIA it no longer uses."""
    w = build(core_delay=1.5, detection_period=0.5)
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(10)
    assert w.mode() == "c" and w.gate("wan") == "plain" and w.logs("late-i-ha-reply")
    assert [b.care_of for b in w.i_ha.bindings.lookup(I_HOA)] == ["10.2.0.5"]
    w.run(200)  # and it stays there through monitoring
    assert [b.care_of for b in w.i_ha.bindings.lookup(I_HOA)] == ["10.2.0.5"]


def test_an_authenticated_i_ha_denial_ends_both_retransmissions():
    """R-3.3-f: "In any case, the MN MUST stop retransmitting its registration requests to both i-HA and
    x-HA". The i-HA denies (no reverse tunnelling, 137); the x-HA is firewalled from inside. After the
    denial neither request is sent again; a new pair goes out only after a pause, as a new attempt."""
    w = build(i_ha_kw={"reverse_tunnel": False})
    w.sim.block("intranet", "external")
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(15)
    assert len(w.requests(I_HA)) == 1 and len(w.requests(X_HA)) == 1
    assert w.logs("i-ha-denied") and w.state("wan") != "inside"
    w.run(5)
    (t_i, _), (t_x, _) = w.requests(I_HA)[1], w.requests(X_HA)[1]
    assert t_i == t_x and t_i - w.requests(I_HA)[0][0] >= 16.0


def test_moving_in_deregisters_from_the_x_ha_also_when_an_inside_hint_held_the_request_back():
    """R-3.3-g, R-3.5-f: cvc on ext1, then inside with an inside hint that delays the x-HA request; the
    i-HA answers first, so no x-HA request of this attachment went out. The old x-HA binding still goes."""
    w = build(inside_hints={"dhcp-domain": ("corp.example",)}, x_ha_delay_on_inside_hint=5.0)
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(10)
    assert w.mode() == "cvc" and w.x_ha.bindings.lookup(X_HOA)
    w.disconnect("wan")
    t = w.now
    w.connect("wan", "lan1", "10.2.0.5")  # the lease comes 50 ms later; the hint before it
    w.sim.call(w.sim.nodes["mn"], "hint", "wan", "dhcp-domain", "corp.example")
    w.run(10)
    assert w.mode() == "c" and not w.x_ha.bindings.lookup(X_HOA)
    (dereg,) = [rq for _, rq in w.requests(X_HA, since=t)]
    assert dereg.lifetime == 0


def test_requests_through_an_fa_ask_no_more_than_its_advertised_lifetime():
    """RFC 5944 2.1.1, 3.6.1.3: the i-FA advertises 600 s; every request through it asks for at most that,
    renewals too, so it never denies with 69 (lifetime too long)."""
    w = build(i_fa_kw={"registration_lifetime": 600}, t_monitor=3000.0, t_monitor_grace=10.0)
    w.connect("wan", "ifa")
    w.run(1500)
    assert w.mode() == "f" and w.gate("wan") == "plain"
    lifetimes = [rq.lifetime for _, rq in w.requests()]
    assert len(lifetimes) > 3 and max(lifetimes) == 600
    assert not [a for a in w.sim.logs("i-fa") if a.fields.get("code") == codes.FA_LIFETIME_TOO_LONG]
    assert not w.logs("denied")


def test_after_shutdown_no_timer_is_due_that_handle_timer_does_not_consume():
    """After shutdown() only the deregistrations' retransmissions run: every timer get_timer() names is
    consumed by handle_timer(), so a daemon that deregisters on the way out does not spin."""
    w = build(t_monitor=60.0, t_monitor_grace=10.0)
    w.connect("wan", "lan1", "10.2.0.5")
    w.connect("wwan", "ext1", "198.18.0.5")  # an uplink in its hold-down, another inside
    w.run(5)
    now = w.now
    w.mn.shutdown(now)
    seen = []
    while (t := w.mn.get_timer()) is not None and len(seen) < 50:
        assert not seen or t > seen[-1], "get_timer() named %r again after handle_timer" % t
        seen.append(t)
        w.mn.handle_timer(max(t, now))
    assert w.mn.get_timer() is None and len(seen) < 50


def test_a_136_through_the_fa_reaches_the_mobile_node():
    """RFC 5944 3.7.3.1, 3.8.3.2: the router is configured with the i-HA's subnet broadcast address; the
    i-HA denies with 136 and names its own unicast address. Through the i-FA that reply reaches the router
    (the FA matched it although its Home Agent field differs), not a code 78 from the FA's timeout."""
    w = build(i_ha="10.1.0.255")
    w.sim.add_route("10.1.0.255/32", "i-ha", "core")
    w.connect("wan", "ifa")
    w.run(10)
    got = [codec.decode_udp(p.payload) for p in w.sim.delivered("mn")
           if p.iface == "wan" and getattr(p, "sport", None) == 434]  # through the FA, not the VPN
    codes_seen = {r.code for r in got if r.home_address == I_HOA}
    assert codes.HA_UNKNOWN_HA_ADDRESS in codes_seen and codes.FA_REGISTRATION_TIMEOUT not in codes_seen
    assert w.state("wan") != "inside" and w.gate_opened_at("wan", "plain") is None
