"""Simulator scenarios: attackers, forged and replayed messages, hints, several uplinks, status changes."""
from __future__ import annotations

import pytest

from mip4.core.actions import Datagram, Gate, Icmp, IkeUp
from mip4.wire import AgentAdvertisement, MobilityAgentAdvertisement, RawExtension, codec
from mip4.wire.icmp import ADV_F, ADV_R

from .replies import I_SA, X_SA, answer
from .world import I_HA, X_HA, build


def is_i_ha_reply(d, link):
    return isinstance(d, Datagram) and d.src == I_HA


def forged(w, make):
    """Drop the i-HA's real replies; answer the MN's i-HA request with make(request datagram).

    Returns the MN's interface state and gate just before the forgery arrived.
    """
    w.sim.attacker.drop_if(is_i_ha_reply)
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(0.1)
    entry = next(e for e in w.sim.attacker.captured if isinstance(e.packet, Datagram) and e.packet.dst == I_HA)
    before = (w.state("wan"), w.gate("wan"))
    w.sim.attacker.inject("lan1", make(entry.packet))
    w.run(0.001)
    return before


# case -> (forged reply, the log reason, whether the MN's state must stay exactly as it was)
CASES = {
    "bad-authenticator": (lambda d: answer(d, X_SA, tnc=True), "bad-authenticator", True),  # wrong key
    "unsigned": (lambda d: answer(d, None, tnc=True), "bad-authenticator", True),
    "another-home-address": (lambda d: answer(d, I_SA, tnc=True, home_address="10.1.0.11"),
                             "wrong-home-address", True),
    "fa-denial-78-no-fa": (lambda d: answer(d, None, code=78), "unauthenticated-denial", True),
    # an authentic reply without TNC, with a TNC someone added outside the authenticator (R-3.4-d) or
    # of the wrong sub-type or length (R-3.4-c): the same verdict as no TNC at all, outside
    "tnc-after-authenticator": (lambda d: answer(d, I_SA, after_auth=[RawExtension(149, b"\x00\x00")]),
                                "no-tnc", False),
    "tnc-sub-type-1": (lambda d: answer(d, I_SA, before_auth=[RawExtension(149, b"\x01\x00")]), "no-tnc", False),
    "tnc-length-3": (lambda d: answer(d, I_SA, before_auth=[RawExtension(149, b"\x00\x00\x00")]), "no-tnc", False),
    # an authentic denial ends detection (R-3.3-f): outside with the x-HA's binding, never inside
    "denied-with-tnc": (lambda d: answer(d, I_SA, code=130, tnc=True), "denied", False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_forged_i_ha_replies_are_rejected(case):
    """R-3.2.3-b, R-6.1-a, R-3.4-c, R-3.2.3-d: none of these makes the interface inside; each is logged."""
    make, reason, unchanged = CASES[case]
    w = build()
    t = w.now
    before = forged(w, make)
    assert w.state("wan") != "inside" and w.gate("wan") != "plain"
    assert [a for tt, a in w.timed() if tt > t + 0.05 and getattr(a, "reason", None) == reason]
    if unchanged:
        assert (w.state("wan"), w.gate("wan")) == before


def test_replayed_old_reply_after_a_move_is_rejected():
    """R-6.1-a, R-3.2.3-a: a TNC reply captured inside, replayed on an external network."""
    w = build()
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(2)
    old = next(e.packet for e in w.sim.attacker.captured if isinstance(e.packet, Datagram) and e.packet.src == I_HA)
    w.disconnect("wan")
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(0.1)
    w.sim.attacker.inject("ext1", Datagram("x", old.src, old.sport, "198.18.0.5", old.dport, old.payload))
    w.run(0.5)
    assert w.state("wan") != "inside"
    assert w.logs("unmatched-reply")


def test_x_ha_reply_with_tnc_is_no_evidence():
    """R-3.2.3-d, R-3.4-f: a (compromised) x-HA adds TNC: still outside."""
    w = build(detection_period=0.5)
    w.sim.attacker.drop_if(lambda d, link: isinstance(d, Datagram) and d.src == X_HA)
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(0.1)
    entry = next(e for e in w.sim.attacker.captured if isinstance(e.packet, Datagram) and e.packet.dst == X_HA)
    w.sim.attacker.inject("ext1", answer(entry.packet, X_SA, tnc=True))
    w.run(2)
    assert w.state("wan") == "outside"
    assert w.logs("x-ha-tnc")


def advertisement(seq=1, lifetime=9, coa="10.4.0.1", flags=ADV_F | ADV_R):
    return AgentAdvertisement(lifetime, [(coa, 0)], [MobilityAgentAdvertisement(seq, 1800, flags, [coa])]).encode()


def test_forged_advertisement_with_enterprise_details_keeps_ipsec_on():
    """R-3.6.1-a, R-3.5-e: a rogue FA outside claims the intranet care-of, DHCP hints say inside."""
    w = build(inside_hints={"dhcp-domain": ("corp.example",)})
    w.connect("wan", "ext1", "198.18.0.5")
    w.sim.call(w.sim.nodes["mn"], "hint", "wan", "dhcp-domain", "corp.example")
    w.run(10)
    w.sim.attacker.inject("ext1", Icmp("x", "198.18.0.1", "224.0.0.1", advertisement()))
    w.run(10)
    assert w.state("wan") != "inside" and w.gate("wan") != "plain"
    assert w.timed(IkeUp)


def test_hints_show_in_status_and_only_steer_timing():
    """R-3.5-d, R-3.5-f: an inside hint delays the x-HA request; an outside hint starts IKE at once."""
    w = build(inside_hints={"gateway-mac": ("02:00:00:00:00:01",)}, x_ha_delay_on_inside_hint=0.5,
              detection_period=2.0)
    node = w.sim.nodes["mn"]
    w.connect("wan", "ext1", "198.18.0.5")  # the lease comes 50 ms later
    w.sim.call(node, "hint", "wan", "gateway-mac", "02:00:00:00:00:01")
    assert w.mn.status(w.now)["interfaces"]["wan"]["hints"] == {"gateway-mac": "inside"}
    w.run(10)
    (ti, _), (tx, _) = w.requests(I_HA)[0], w.requests(X_HA)[0]
    assert tx - ti == pytest.approx(0.5, abs=1e-6)
    assert w.state("wan") == "outside"  # R-3.5-e: the hint decided nothing
    w2 = build(inside_hints={"gateway-mac": ("02:00:00:00:00:01",)}, detection_period=5.0)
    w2.connect("wan", "ext1", "198.18.0.5")
    w2.sim.call(w2.sim.nodes["mn"], "hint", "wan", "gateway-mac", "02:00:00:00:00:99")
    w2.run(2)
    x_reply = min(t for t, a in w2.timed() if getattr(a, "reason", "") == "registered")
    assert w2.timed(IkeUp)[0][0] == x_reply  # outside hint: no detection wait


def test_two_uplinks_are_judged_separately():
    """R-3.2.1-a, R-3.2.1-b, R-5.6-a: wan inside (c), wwan outside (cvc), at once."""
    w = build(uplinks={"wan": 2, "wwan": 1})
    w.connect("wan", "lan1", "10.2.0.5")
    w.connect("wwan", "ext1", "198.18.0.5")
    w.run(15)
    st = w.mn.status(w.now)["interfaces"]
    assert (st["wan"]["state"], st["wan"]["mode"], st["wan"]["gate"]) == ("inside", "c", "plain")
    assert st["wwan"]["state"] == "outside" and st["wwan"]["gate"] != "plain"
    assert not any(a.path == "plain" for a in w.actions(Gate) if a.iface == "wwan")


@pytest.mark.parametrize("event", ["link-flap", "new-address", "fa-appears", "fa-reboots", "fa-vanishes", "new-fa",
                                   "address-lost-fa-heard", "r-bit-cleared"])
def test_each_status_change_blocks_at_once_and_redetects(event):
    """R-3.2.2-a, R-3.2.2-b, R-3.2.2-d: block in the same step as the event, then a fresh RRQ pair."""
    w = build()
    node = w.sim.nodes["mn"]
    if event in ("fa-vanishes", "r-bit-cleared"):  # registered through the FA (R bit) while holding a lease
        w.connect("wan", "ifa", "10.4.0.50")
    elif event == "address-lost-fa-heard":  # co-located; an FA without the R bit was heard meanwhile
        w.connect("wan", "lan1", "10.2.0.5")
        w.run(5)
        w.sim.call(node, "receive_icmp", Icmp("wan", "10.4.0.1", "224.0.0.1", advertisement(flags=ADV_F)))
    elif event.startswith("fa") or event == "new-fa":
        w.connect("wan", "ifa")
    else:
        w.connect("wan", "lan1", "10.2.0.5")
    w.run(5)
    assert w.gate("wan") == "plain"
    t = w.now
    calls = {
        "link-flap": lambda: (w.sim.call(node, "link_down", "wan"), w.sim.call(node, "link_up", "wan"),
                              w.sim.call(node, "address_acquired", "wan", "10.2.0.5")),
        "new-address": lambda: w.sim.call(node, "address_acquired", "wan", "10.2.0.6"),
        "fa-appears": None, "fa-reboots": lambda: w.sim.call(node, "receive_icmp", Icmp(
            "wan", "10.4.0.1", "224.0.0.1", advertisement(seq=0))),
        "new-fa": lambda: w.sim.call(node, "receive_icmp", Icmp("wan", "10.4.0.2", "224.0.0.1",
                                                                 advertisement(coa="10.4.0.2"))),
        "fa-vanishes": None,
        "address-lost-fa-heard": lambda: w.sim.call(node, "address_lost", "wan"),
        "r-bit-cleared": lambda: w.sim.call(node, "receive_icmp", Icmp("wan", "10.4.0.1", "224.0.0.1",
                                                                        advertisement(seq=500, flags=ADV_F))),
    }
    if event == "fa-appears":
        w.disconnect("wan")
        w.connect("wan", "lan1", "10.2.0.5")
        w.run(5)
        t = w.now
        w.sim.call(node, "receive_icmp", Icmp("wan", "10.4.0.1", "224.0.0.1", advertisement(seq=300)))
    elif event == "fa-vanishes":
        w.sim.attacker.drop_if(lambda p, link: isinstance(p, Icmp))
        w.run(12)
        t = [tt for tt, a in w.timed(Gate) if a.blocked][-1]
    elif event == "new-fa":  # RFC 5944 2.4.2: another FA is heard, ours falls silent: the move is to the other
        heard = w.now
        w.sim.attacker.drop_if(lambda p, link: isinstance(p, Icmp) and p.src == "10.4.0.1")
        for _ in range(5):
            calls[event]()
            w.run(3)
        t = [tt for tt, a in w.timed(Gate) if a.blocked][-1]
        assert t >= heard + 6.0  # not while ours was still within its advertised lifetime
    else:
        calls[event]()
    first_after = [a for tt, a in w.timed() if tt >= t]
    gate = next(a for a in first_after if isinstance(a, Gate))
    assert gate.blocked  # R-3.2.2-a: the first gate action after the event closes it
    assert w.requests(I_HA, since=t) and w.requests(X_HA, since=t)  # R-3.2.2-b


def test_no_plaintext_while_undecided():
    """R-4.1-a: until the TNC reply, the MN never opens the clear path."""
    w = build(core_delay=0.5)
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(0.9)
    assert w.gate("wan") is None
    w.run(1)
    assert w.gate("wan") == "plain"


def test_queued_data_is_never_released_through_the_old_path():
    """R-3.2.4-c: T_MONITOR runs out with a re-registration in flight; the address changes; the late
    reply to the old request arrives and releases nothing (the data plane dropped the held packets)."""
    w = build(t_monitor=20.0, t_monitor_grace=5.0, core_delay=4.0)
    w.sim.block("intranet", "external")  # no x-HA reply, no VPN: the i-HA's slow reply decides (R-3.1-b)
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(9)
    assert w.gate("wan") == "plain"
    w.run(12)  # the re-registration sent at 15 s has no answer by 20 s: blocked
    assert w.gate("wan") is None
    t = w.now
    w.sim.call(w.sim.nodes["mn"], "address_acquired", "wan", "10.2.0.77")  # status change, old reply in flight
    new = {rq.identification & 0xFFFFFFFF for _, rq in w.requests(I_HA, since=t)}
    w.sim.attacker.drop_if(lambda d, link: isinstance(d, Datagram) and d.src == I_HA
                           and codec.decode_udp(d.payload).identification & 0xFFFFFFFF in new)
    w.run(10)
    assert w.logs("unmatched-reply")  # the old reply arrived and counted for nothing
    assert w.gate_opened_at("wan", "plain", since=t) is None


def test_i_ha_denial_during_detection_backs_off():
    """Interpretation note 2: an authentic denial is no verdict; the client backs off, no request storm."""
    w = build(i_ha_kw={"reverse_tunnel": False})  # the i-HA denies T with code 137
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(30)
    assert w.state("wan") != "inside"
    assert len([1 for _, rq in w.requests(I_HA) if rq.care_of_address == "10.2.0.5"]) < 8


def test_i_ha_without_tnc_and_a_lost_x_ha_reply_still_reaches_cvc():
    """Interpretation note 1, R-3.3-j: outside after a TNC-less i-HA reply; x-HA retried; no clear i-HA renewals."""
    w = build(i_ha_kw={"send_tnc": False})
    dropped = []

    def first_x_reply(d, link):
        if isinstance(d, Datagram) and d.src == X_HA and not dropped:
            dropped.append(d)
            return True
        return False
    w.sim.attacker.drop_if(first_x_reply)
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(3000)
    assert dropped and w.mode() == "cvc"
    clear = [t for t, rq in w.requests(I_HA) if rq.care_of_address == "10.2.0.5"]
    assert len(clear) == 1  # the detection request only


def test_x_ha_deregistration_is_not_retried_forever():
    """R-3.3-g, R-3.1-b: with inside-to-x-HA blocked, a few deregistrations, then silence."""
    w = build()
    w.sim.block("intranet", "external")
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(3600)
    assert w.mode() == "c"
    assert len(w.requests(X_HA)) <= 1 + 4


def test_malformed_advertisements_are_ignored_and_logged():
    """A forged advertisement with a bad checksum, or Prefix-Lengths not matching Num Addrs, changes nothing."""
    from mip4.wire import PrefixLengths
    w = build()
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(5)
    bad_sum = bytearray(advertisement())
    bad_sum[2] ^= 0xFF
    mismatch = AgentAdvertisement(9, [("10.4.0.1", 0)], [MobilityAgentAdvertisement(1, 1800, ADV_F | ADV_R, [
        "10.4.0.1"]), PrefixLengths([24, 24])]).encode()
    for payload, reason in ((bytes(bad_sum), "malformed"), (mismatch, "bad-advertisement")):
        w.sim.attacker.inject("lan1", Icmp("x", "10.2.0.66", "224.0.0.1", payload))
        w.run(0.01)
        assert w.logs(reason)
    assert w.mode() == "c" and w.gate("wan") == "plain" and len(w.requests(I_HA)) == 1


@pytest.mark.parametrize("seed", range(1, 6))
def test_detection_survives_loss_reordering_and_duplication(seed):
    """R-3.3-a: retransmission with backoff until answered; duplicates and reordering do no harm."""
    w = build(seed=seed, detection_period=10.0)  # long enough for the i-HA through this much loss
    for link in ("lan1", "core"):
        w.sim.impair(link, loss=0.15, jitter=0.05, duplicate=0.2)
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(120)
    assert w.mode() == "c"
    opened = [t for t, a in w.timed(Gate) if a.iface == "wan" and a.path == "plain"]
    closed = [t for t, a in w.timed(Gate) if a.iface == "wan" and a.blocked and t > opened[0]]
    # with 30 % loss some monitoring rounds may fail; the gate is never open without a good reply
    assert len(opened) >= 1 and len(closed) <= len(opened)


def test_x_mip_registration_through_a_nat():
    """The x-HA answers the NAT's public address and port; the NAT maps the reply back (RFC 5265 2.5)."""
    w = build()
    w.sim.add_link("hotel", "external", nat="203.0.113.200")
    w.connect("wan", "hotel", "192.168.1.20")
    w.run(10)
    assert w.mode() == "cvc" and w.gate("wan") == "vpn"
    (binding,) = w.x_ha.bindings.lookup("198.51.100.10")
    assert binding.care_of == "192.168.1.20" and binding.source == "203.0.113.200"


def test_fa_denial_for_the_i_ha_request_is_no_i_ha_answer():
    """R-3.2.3-d: the i-FA times out the i-HA request (code 78): still not inside, logged as such."""
    w = build()
    w.sim.attacker.drop_if(is_i_ha_reply)
    w.connect("wan", "ifa")
    w.run(20)
    assert w.logs("no-i-ha-answer") and w.state("wan") != "inside"
    assert w.mode() == "fvc"  # the x-HA answered through the same FA: outside, IPsec on


def test_reply_older_than_t_monitor_proves_nothing():
    """A genuine TNC reply that arrives more than T_MONITOR after its request changes no state."""
    w = build(t_monitor=20.0, t_monitor_grace=5.0, detection_period=0.5)
    held = []
    w.sim.attacker.drop_if(lambda d, link: is_i_ha_reply(d, link) and not held.append(d))
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(30)
    assert w.mode() == "cvc" and held
    w.sim.attacker.inject("lan1", held[0])
    w.run(1)
    assert w.mode() == "cvc" and w.logs("stale-reply")


def test_an_intranet_looking_address_from_a_dhcp_server_outside_proves_nothing():
    """Issue 10, R-3.2.3-a: a DHCP server on an external network hands out an address from an intranet
    subnet, and an attacker there answers the i-HA request with TNC but without the key: outside,
    IPsec on, nothing in clear."""
    w = build()
    w.sim.attacker.drop_if(is_i_ha_reply)
    w.connect("wan", "ext1", "10.2.0.77")
    w.run(0.1)
    entry = next(e for e in w.sim.attacker.captured if isinstance(e.packet, Datagram) and e.packet.dst == I_HA)
    w.sim.attacker.inject("ext1", answer(entry.packet, X_SA, tnc=True))
    w.run(10)
    assert w.state("wan") != "inside" and w.gate("wan") != "plain"
    assert any(getattr(a, "reason", "") == "bad-authenticator" for _, a in w.timed())
    assert w.timed(IkeUp)
