"""Simulator scenarios: outside (cvc, fvc), moving out, in, and between outside networks."""
from __future__ import annotations

from mip4.core.actions import VPN, Gate, IkeDown, IkeUp, SetPath
from mip4.wire.registration import FLAG_D, FLAG_T

from .world import I_HA, I_HOA, VPN_TIA, X_FA, X_HA, X_HOA, build


def go_cvc(w, link="ext1", address="198.18.0.5", seconds=10):
    w.connect("wan", link, address)
    w.run(seconds)


def test_cvc_start_up_in_order():
    """R-2.3-a, R-2.3-c, R-2.3-e, R-2.3-f, R-3.3-b, R-3.3-c, R-3.3-j, R-A.1-a, R-2-a, R-3.2.2-c, R-3.3-n; with
    IKE postponed for the detection period (R-3.3-d, the MAY of RFC 5265 3.3; by default IKE starts on the
    x-HA's reply: test_sim_handoff.py)."""
    w = build(detection_period=2.0, postpone_ike=True)
    go_cvc(w)
    x_rq = w.requests(X_HA)[0][1]
    assert (x_rq.home_address, x_rq.care_of_address, bool(x_rq.flags & FLAG_D)) == (X_HOA, "198.18.0.5", True)
    x_reply = min(t for t, a in w.timed() if getattr(a, "reason", "") == "registered")
    assert w.state("wan") == "outside" and w.mode() == "cvc" and w.gate("wan") == "vpn"
    # R-3.3-c: the i-HA is asked again during the detection period, and R-3.3-j: not after it
    i_times = [t for t, rq in w.requests(I_HA) if rq.care_of_address == "198.18.0.5"]
    assert any(x_reply < t <= x_reply + 2.0 for t in i_times)
    assert all(t <= x_reply + 2.0 for t in i_times)
    # R-2-a: x-MIP, then IKE (after the detection period, R-3.3-d), then i-MIP through the VPN
    (t_ike, ike), = w.timed(IkeUp)
    assert ike.local == X_HOA and t_ike >= x_reply + 2.0
    vpn = [(t, a) for t, a in w.timed() if getattr(getattr(a, "datagram", None), "iface", None) == VPN]
    assert vpn and vpn[0][0] > t_ike
    v_rq = [rq for _, rq in w.requests(I_HA) if rq.care_of_address == VPN_TIA][0]
    assert v_rq.home_address == I_HOA and v_rq.flags & FLAG_D and v_rq.flags & FLAG_T  # R-2.3-e, R-2.3-f
    assert [b.care_of for b in w.i_ha.bindings.lookup(I_HOA)] == [VPN_TIA]
    assert w.gate_opened_at("wan", "vpn") > vpn[0][0]  # R-3.2.2-c: data only when all layers are up


def test_detection_period_zero_starts_ike_on_the_x_ha_reply():
    """R-3.3-d: period 0: IKE at the x-HA reply."""
    w = build(detection_period=0.0)
    go_cvc(w, seconds=2)
    x_reply = min(t for t, a in w.timed() if getattr(a, "reason", "") == "registered")
    (t_ike, _), = w.timed(IkeUp)
    assert t_ike == x_reply


def test_external_network_numbered_like_the_intranet_is_outside():
    """R-1.4-a: 10.2.0.5 on an external network: the i-HA is unreachable, so cvc."""
    w = build()
    go_cvc(w, address="10.2.0.5")
    assert w.mode() == "cvc" and w.gate("wan") == "vpn"


def test_tnc_through_the_vpn_never_makes_the_interface_inside():
    """R-3.2.3-c, R-4.3-h: the i-HA trusts the VPN pool and sends TNC over the VPN; still cvc."""
    w = build()
    go_cvc(w)
    assert w.mode() == "cvc" and w.state("wan") == "outside"
    assert w.logs("tnc-via-vpn")


def test_without_the_vpn_pool_in_the_trusted_list_cvc_never_opens():
    """R-4.3-h: the i-HA drops registrations from the untrusted VPN-TIA; no data path."""
    w = build(trusted=("10.0.0.0/9",))  # lan1/lan2 but not 10.255/16
    go_cvc(w, seconds=30)
    assert w.gate("wan") is None
    assert w.i_ha.status()["counters"]["dropped-untrusted"] > 0


def test_outside_to_outside_costs_only_an_x_ha_registration():
    """R-5.3-b, R-3.2.2-b: new care-of, same IKE SA and i-HA binding; detection still runs."""
    w = build()
    go_cvc(w)
    before = len(w.requests(I_HA))
    t = w.now
    w.disconnect("wan")
    w.connect("wan", "ext2", "198.19.0.7")
    w.run(10)
    assert w.mode() == "cvc" and w.gate("wan") == "vpn"
    assert len(w.timed(IkeUp)) == 1 and not w.timed(IkeDown)
    via_vpn = [rq for _, rq in w.requests(I_HA, since=t) if rq.care_of_address == VPN_TIA]
    assert not via_vpn  # the i-HA binding is untouched
    assert [rq.care_of_address for _, rq in w.requests(I_HA, since=t)] == ["198.19.0.7"] * (
        len(w.requests(I_HA)) - before)  # only the plaintext detection probe
    assert [b.care_of for b in w.x_ha.bindings.lookup(X_HOA)] == ["198.19.0.7"]


def test_cvc_re_registers_on_lifetimes_only():
    """R-3.2.4-h: outside, x-MIP and i-MIP follow their lifetimes; no T_MONITOR blocking."""
    w = build(t_monitor=60.0, t_monitor_grace=10.0)
    go_cvc(w)
    opened = w.gate_opened_at("wan", "vpn")
    w.run(3000)
    x_times = [t for t, rq in w.requests(X_HA) if rq.lifetime]
    assert [round(b - a) for a, b in zip(x_times, x_times[1:], strict=False)] == [1440, 1440]  # 80 % of 1800 s
    assert not [a for t, a in w.timed(Gate, since=opened) if a.iface == "wan" and a.blocked]


def test_fvc_through_the_external_fa():
    """R-2.4-a, R-2.4-b, R-2.4-c: advertised care-of, D clear, T requested since the FA offers it."""
    w = build()
    w.connect("wan", "xfa")
    w.run(10)
    x_rq = w.requests(X_HA)[0][1]
    assert (x_rq.care_of_address, x_rq.flags & FLAG_D, bool(x_rq.flags & FLAG_T)) == (X_FA, 0, True)
    assert w.mode() == "fvc" and w.gate("wan") == "vpn"
    assert [b.care_of for b in w.x_ha.bindings.lookup(X_HOA)] == [X_FA]


def test_layer_stack_per_mode():
    """R-5.6-b: cvc stacks x-MIP (co-CoA to x-HA) under i-MIP (VPN-TIA to i-HA)."""
    w = build()
    go_cvc(w)
    path = [a for a in w.actions(SetPath) if a.mode][-1]
    assert [(t.local, t.remote) for t in path.tunnels] == [("198.18.0.5", X_HA), (VPN_TIA, I_HA)]


def test_moving_in_ends_ike_and_deregisters_from_the_x_ha():
    """R-3.3-m, R-3.3-l, R-3.3-g: cvc -> c: IKE SA deleted, x-HA binding gone, clear data."""
    w = build()
    go_cvc(w)
    w.disconnect("wan")
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(5)
    assert w.mode() == "c" and w.gate("wan") == "plain"
    assert isinstance(w.ike_events()[-1], IkeDown)
    assert not w.x_ha.bindings.lookup(X_HOA)
    assert [b.care_of for b in w.i_ha.bindings.lookup(I_HOA)] == ["10.2.0.5"]


def test_late_i_ha_reply_wins_even_mid_ike():
    """R-3.3-k, R-3.5-g: the TNC reply arrives after the detection period, while IKE runs: mode c."""
    w = build(core_delay=1.5, detection_period=0.5)
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(10)
    kinds = [type(a).__name__ for a in w.ike_events()]
    assert kinds == ["IkeUp", "IkeDown"]
    assert w.mode() == "c" and w.gate("wan") == "plain"


def test_ike_loss_closes_the_vpn_path_and_retries():
    """R-4.1-e: no CHILD_SA, no data; IKE is asked for again."""
    w = build()
    go_cvc(w)
    w.sim.call(w.sim.nodes["mn"], "ike_closed", "charon crashed")
    assert w.gate("wan") is None
    w.run(5)
    assert len(w.timed(IkeUp)) == 2 and w.gate("wan") == "vpn"


def test_new_vpn_tia_is_registered_at_once():
    """R-4.2-c: a new IKE SA with a different virtual IP: RRQ with the new CoA."""
    w = build()
    go_cvc(w)
    t = w.now
    w.sim.call(w.sim.nodes["mn"], "ike_established", "10.255.0.99")
    rqs = [rq for _, rq in w.requests(I_HA, since=t)]
    assert rqs and rqs[0].care_of_address == "10.255.0.99"


def test_tour_through_every_mode():
    """R-4.1-b: c, f, cvc and fvc, one mode per interface at a time."""
    w = build()
    seen = []
    for link, address in (("lan1", "10.2.0.5"), ("ifa", None), ("ext1", "198.18.0.5"), ("xfa", None),
                          ("lan2", "10.3.0.5")):
        w.connect("wan", link, address)
        w.run(15)
        seen.append(w.mode())
        w.disconnect("wan")
    assert seen == ["c", "f", "cvc", "fvc", "c"]


def test_equal_home_agent_addresses_skip_detection():
    """R-3.5-c: i-HA == x-HA: no direct i-HA probe, IKE, never inside."""
    w = build(i_ha=X_HA)
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(10)
    assert all(rq.home_address == X_HOA for _, rq in w.requests() if rq.care_of_address == "10.2.0.5")
    assert w.timed(IkeUp) and w.state("wan") == "outside"
    assert w.logs("equal-home-agents")


def test_x_mip_path_is_built_before_ike_and_user_data_waits_for_the_vpn():
    """R-2.3-c: IKE runs through the x-MIP tunnel, so that layer is set up first; the gate opens
    only with all three layers (R-3.2.2-c), and the inner tunnel starts at the VPN-TIA."""
    w = build(detection_period=0.0)
    go_cvc(w)
    paths = [(t, a) for t, a in w.timed(SetPath) if a.iface == "wan" and a.mode == "cvc"]
    (t_ike, _), = w.timed(IkeUp)
    first = paths[0]
    assert first[0] <= t_ike and [t.name for t in first[1].tunnels] == ["mip4-x-wan"]
    last = paths[-1][1]
    assert [(t.name, t.local, t.remote) for t in last.tunnels] == [
        ("mip4-x-wan", "198.18.0.5", X_HA), ("mip4-vpn", VPN_TIA, I_HA)]
    assert w.gate_opened_at("wan", "vpn") > t_ike


def test_failed_ike_is_retried_with_a_doubling_backoff():
    """A VPN gateway that does not answer: IKE attempts space out (2, 4, 8 s...), data stays blocked."""
    w = build(detection_period=0.0)
    w.sim.vpns["mn"].possible = lambda: False
    go_cvc(w, seconds=40)
    times = [t for t, _ in w.timed(IkeUp)]
    gaps = [round(b - a, 1) for a, b in zip(times, times[1:], strict=False)]
    assert len(times) >= 4 and gaps[:3] == [2.2, 4.2, 8.2]  # backoff after each 0.2 s attempt
    assert w.gate("wan") is None and w.mn.status(w.now)["ike_retry_in"] is not None
