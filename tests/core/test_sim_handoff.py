"""Handoff at the floor (issue 24), in simulated time: from a new care-of address to the path installed and
the VPN gate open the router waits for nothing but the network (RFC 5265 5.3), and in the order the
adapter needs (R-2.3-c: the x-MIP path before IKE). Times are the simulator's virtual clock, a model,
never wall-clock.
"""
from __future__ import annotations

import pytest

from mip4.core.actions import VPN, Gate, IkeDown, IkeUp, SendUdp, SetPath

from .world import I_HA, VPN_TIA, X_HA, build


def batch_of(w, kind) -> list:
    """The actions of the MN's batch that holds the first action of `kind`, in their order."""
    entries = [e for e in w.sim.trace if getattr(e, "node", None) == "mn" and hasattr(e, "action")]
    first = next(i for i, e in enumerate(entries) if isinstance(e.action, kind))
    t = entries[first].time
    return [e.action for e in entries if e.time == t]


def test_the_x_mip_path_goes_in_before_ike_is_asked_for():
    """R-2.3-c: IKE runs through x-MIP; the adapter points the IKE table at the primary's path when it
    handles IkeUp, so the SetPath with the x-MIP tunnel comes first in the batch (else charon's first
    IKE_SA_INIT meets `prohibit` and waits for its retransmission). The i-MIP request through the VPN
    follows the path with the inner tunnel, and a gate opens only on a path already in place."""
    w = build(detection_period=0.0)
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(5)
    batch = batch_of(w, IkeUp)
    kinds = [type(a).__name__ for a in batch]
    first_path = next(i for i, a in enumerate(batch) if isinstance(a, SetPath) and a.mode == "cvc")
    assert first_path < kinds.index("IkeUp"), kinds
    # after IKE: the inner tunnel, then the i-MIP request through it
    entries = [e.action for e in w.sim.trace if getattr(e, "node", None) == "mn" and hasattr(e, "action")]
    inner = next(i for i, a in enumerate(entries) if isinstance(a, SetPath) and len(a.tunnels) == 2)
    vpn_rq = next(i for i, a in enumerate(entries) if isinstance(a, SendUdp) and a.datagram.iface == VPN)
    assert inner < vpn_rq and entries[inner].tunnels[1].local == VPN_TIA
    opened = next(i for i, a in enumerate(entries) if isinstance(a, Gate) and a.path == "vpn")
    assert max(i for i, a in enumerate(entries[:opened]) if isinstance(a, SetPath)) == inner


# -- from the new care-of address to data, in simulated time (RFC 5265 5.3) ---------------------------

RTTS_MS = (0, 20, 100)


def with_rtt(rtt_ms: int, **kw):
    """The world with the external access links and the x-HA's core at `rtt_ms` round trip to the x-HA
    (a quarter each way per link: access, then core); 0 stands for a LAN's tenth of a millisecond."""
    w = build(**kw)
    one_way = max(rtt_ms / 4000.0, 0.000025)
    for link in ("ext1", "ext2", "xcore"):
        w.sim.impair(link, delay=one_way)
    return w


def lease_at(w, since: float) -> float:
    return next(n.time for n in w.sim.trace.notes("lease") if n.time >= since)


def round_trip(w, since: float, ha: str, iface: str | None = None) -> float:
    """From the first request to `ha` at or after `since` (through `iface`) to its first reply."""
    sent = next(t for t, a in w.timed(SendUdp, since) if a.datagram.dst == ha
                and (iface is None or a.datagram.iface == iface))
    back = next(e.time for e in w.sim.trace if getattr(e, "kind", "") == "deliver" and e.node == "mn"
                and e.time >= sent and e.packet.src == ha and (iface is None or e.packet.iface == iface))
    return back - sent


def path_with_vpn_at(w, since: float) -> float:
    return next(t for t, a in w.timed(SetPath, since) if a.iface == "wan" and len(a.tunnels) == 2)


def move(w, link: str, address: str) -> float:
    """Unplug wan and plug it into `link`: the time of the new lease."""
    t = w.now
    w.disconnect("wan")
    w.connect("wan", link, address)
    w.run(10)
    return lease_at(w, t)


@pytest.mark.parametrize("rtt_ms", RTTS_MS)
def test_cvc_to_cvc_opens_one_x_ha_round_trip_after_the_new_care_of(rtt_ms):
    """RFC 5265 5.3, R-5.3-b: outside to outside, the IKE SA and the i-HA binding through it stay; once
    the x-HA accepted the new care-of, ESP goes from it: the path and the VPN gate at one x-HA round trip
    (the detection period of R-3.3-c runs on meanwhile, but holds nothing back that is not clear)."""
    w = with_rtt(rtt_ms, detection_period=2.0)
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(10)
    t0 = move(w, "ext2", "198.19.0.7")
    x_rtt = round_trip(w, t0, X_HA)
    opened = w.gate_opened_at("wan", "vpn", since=t0)
    assert opened is not None and path_with_vpn_at(w, t0) <= opened
    assert opened - t0 <= 1.2 * x_rtt + 1e-6, (opened - t0, x_rtt)
    assert not w.timed(IkeUp, since=t0)  # R-5.3-b: no IKE, no i-MIP request through the VPN
    assert not [a for t, a in w.timed(SendUdp, t0) if a.datagram.iface == VPN]


@pytest.mark.parametrize("rtt_ms", RTTS_MS)
def test_c_to_cvc_opens_after_x_ha_ike_and_the_i_ha_through_the_vpn(rtt_ms):
    """RFC 5265 5.3: moving out costs the x-HA registration, IKE and the i-HA registration through the
    VPN, and no detection wait: IKE starts on the x-HA's reply (3.5; R-3.3-d is a MAY), data opens as
    soon as the i-MIP reply through the VPN is in (R-3.2.2-c)."""
    w = with_rtt(rtt_ms, detection_period=2.0)
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(10)
    assert w.mode() == "c"
    t0 = move(w, "ext1", "198.18.0.5")
    x_rtt = round_trip(w, t0, X_HA)
    (t_ike, _), = w.timed(IkeUp, since=t0)
    ike = next(n.time for n in w.sim.trace.notes("ike-up") if n.time >= t0) - t_ike
    i_rtt = round_trip(w, t0, I_HA, iface=VPN)
    opened = w.gate_opened_at("wan", "vpn", since=t0)
    assert opened is not None and path_with_vpn_at(w, t0) <= opened
    floor = x_rtt + ike + i_rtt
    assert opened - t0 <= 1.2 * floor + 1e-6, (opened - t0, x_rtt, ike, i_rtt)
    assert t_ike - t0 <= x_rtt + 1e-6  # IKE asked for on the x-HA's reply, not after the detection period


def test_the_i_ha_is_still_asked_through_the_detection_period_after_the_early_gate():
    """R-3.3-c: the VPN gate opened on the x-HA's reply, yet the clear i-HA request goes on being
    retransmitted until the detection period is over (and not after it, R-3.3-j); then the verdict is
    outside, with no change to the gate or the path."""
    w = build(detection_period=4.0)
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(10)
    t0 = move(w, "ext2", "198.19.0.7")
    opened = w.gate_opened_at("wan", "vpn", since=t0)
    x_reply = t0 + round_trip(w, t0, X_HA)
    probes = [t for t, rq in w.requests(I_HA, since=t0) if rq.care_of_address == "198.19.0.7"]
    assert [t for t in probes if opened < t <= x_reply + 4.0], probes
    assert all(t <= x_reply + 4.0 for t in probes)
    assert w.state("wan") == "outside" and w.gate("wan") == "vpn"
    assert [a for t, a in w.timed((Gate, SetPath), opened) if a.iface == "wan"][2:] == []  # path, gate: no more
    transitions = [a.message for a in w.logs("state") if "tentative-outside -> outside" in a.message]
    assert transitions and "detection-period-over" in transitions[-1]


def test_a_late_tnc_reply_still_moves_the_router_inside_after_the_early_vpn_gate():
    """R-3.3-k, R-3.5-g: the x-HA is reachable from inside and answers first; the router opens the VPN
    gate (ESP under the IKE SA that is up) and keeps asking the i-HA, whose TNC reply then moves it inside:
    clear data only from that reply on, and the IKE SA is ended (R-3.3-l)."""
    w = build(detection_period=2.0, core_delay=0.3)  # the i-HA answers after ~0.6 s, the x-HA at once
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(10)
    t0 = move(w, "lan1", "10.2.0.5")
    opened = w.gate_opened_at("wan", "vpn", since=t0)
    plain = w.gate_opened_at("wan", "plain", since=t0)
    tnc = next(e.time for e in w.sim.trace if getattr(e, "kind", "") == "deliver" and e.node == "mn"
               and e.time >= t0 and e.packet.src == I_HA and e.packet.iface == "wan")
    assert opened is not None and opened < tnc - 0.3  # ESP early, well before the i-HA's answer
    assert plain == tnc  # in clear only on the TNC reply (R-3.2.3-a)
    assert w.mode() == "c" and w.gate("wan") == "plain"
    assert isinstance(w.ike_events()[-1], IkeDown)


def test_postponing_ike_holds_back_only_a_new_ike_sa():
    """R-3.3-d (the MAY of RFC 5265 3.3, `postpone_ike`): c->cvc starts IKE only once the detection period
    is over; cvc->cvc, whose IKE SA is up already, still opens at the x-HA's reply."""
    w = build(detection_period=2.0, postpone_ike=True)
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(10)
    t0 = move(w, "ext1", "198.18.0.5")
    x_reply = t0 + round_trip(w, t0, X_HA)
    (t_ike, _), = w.timed(IkeUp, since=t0)
    assert t_ike >= x_reply + 2.0 and w.gate_opened_at("wan", "vpn", since=t0) > t_ike
    t1 = move(w, "ext2", "198.19.0.7")
    assert w.gate_opened_at("wan", "vpn", since=t1) - t1 <= 1.2 * round_trip(w, t1, X_HA) + 1e-6


# -- the layers across a move: changed in place, not torn down and made again (issue 24) --------------

def wan_paths(w, since: float) -> list[SetPath]:
    return [a for _, a in w.timed(SetPath, since) if a.iface == "wan"]


def test_a_cvc_to_cvc_move_parks_the_layers_and_changes_only_the_x_mip_care_of():
    """RFC 5265 5.6: the VPN layer (VPN-TIA to i-HA) does not change with the uplink's network, and the
    x-MIP layer only in its care-of. The gate closes at once (R-3.2.2-a) and the closed path keeps its
    layers parked, unrouted; the path on the new network names the same layers, the x-MIP one from the
    new care-of, so the adapter changes it in place."""
    w = build(detection_period=2.0)
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(10)
    (x, vpn) = w.mn.uplinks["wan"].path[2]
    t0 = move(w, "ext2", "198.19.0.7")
    gates = [(t, a.path) for t, a in w.timed(Gate, t0 - 10) if a.iface == "wan" and t >= t0 - 10]
    parked, new = wan_paths(w, t0 - 10)[-2:]
    assert parked == SetPath("wan", None, None, (x, vpn))
    assert [p for p in gates if p[1] is None][-1][0] <= next(t for t, a in w.timed(SetPath, t0 - 10) if a == parked)
    assert (new.mode, new.care_of) == ("cvc", "198.19.0.7")
    assert [t.name for t in new.tunnels] == [x.name, vpn.name] and new.tunnels[1] == vpn
    assert (new.tunnels[0].local, new.tunnels[0].remote) == ("198.19.0.7", x.remote)
    assert w.mn.uplinks["wan"].parked == () and w.mn.uplinks["wan"].parked_until is None


def test_parked_layers_go_when_no_path_takes_them():
    """Unplugged for good: after PARKED_S the layers go (as after a fresh start with no network), once."""
    from mip4.core.datapath import PARKED_S

    w = build(detection_period=2.0)
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(10)
    t0 = w.now
    w.disconnect("wan")
    w.run(PARKED_S - 1)
    assert [len(p.tunnels) for p in wan_paths(w, t0)] == [2]  # parked, still there
    w.run(2)
    assert wan_paths(w, t0)[1:] == [SetPath("wan", None)]
    w.run(PARKED_S)
    assert len(wan_paths(w, t0)) == 2


def test_shutdown_releases_parked_layers():
    w = build(detection_period=2.0)
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(10)
    w.disconnect("wan")
    w.run(1)
    actions = w.mn.shutdown(w.now)
    assert SetPath("wan", None) in actions and w.mn.uplinks["wan"].parked == ()
