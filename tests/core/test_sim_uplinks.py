"""A vehicle's uplinks (issue 7): priority, hold-down, make-before-break with S-bit bindings.

RFC 5944 3.3 / 3.6.1.2: a registration with S set adds a binding beside the others; S clear makes
it the HA's only one. The home agent sends to its first binding, so the MR moves the traffic to a
better uplink by registering there without S (a "claim") while the old uplink still carries, and
only then points its own upstream at the new one. RFC 5265 3.2.2: an uplink that goes down stops
carrying at once.
"""
from __future__ import annotations

import pytest

from mip4.core.actions import Gate
from mip4.core.config import ConfigError
from mip4.core.mobile_node import DRAIN
from mip4.wire.registration import FLAG_S

from .replies import mn_config
from .world import I_HA, I_HOA, VPN_TIA, X_HOA, build

WAN, WWAN = "10.2.0.5", "10.3.0.7"  # lan1, lan2: both inside


def _two_inside(hold_down: float = 5.0, uplinks: dict | None = None, **kw):
    """wan carries (inside on lan1); wwan, the better uplink by default, comes up on lan2."""
    w = build(uplinks=uplinks or {"wwan": 1, "wan": 2}, hold_down=hold_down, **kw)
    w.connect("wan", "lan1", WAN)
    w.run(5)
    assert w.mn.primary == "wan" and w.mode() == "c"
    return w


def _first_care_of(w, ha, hoa) -> str | None:
    bindings = ha.bindings.lookup(hoa)
    return bindings[0].care_of if bindings else None


def _primary_changes(w) -> list[tuple[float, str]]:
    return [(t, a.message) for t, a in w.timed() if getattr(a, "reason", None) == "primary"]


def test_a_better_uplink_takes_the_traffic_only_after_its_hold_down_and_before_the_old_one_lets_go():
    """Make before break: the i-HA moves its traffic to wwan (S clear) before the MR sends there."""
    w = _two_inside(hold_down=5.0)
    start = w.now
    w.connect("wwan", "lan2", WWAN)
    w.run(1)
    assert w.state("wwan") == "inside" and w.mn.primary == "wan"
    # the standby registration added a binding: wan's still carries
    assert [b.care_of for b in w.i_ha.bindings.lookup(I_HOA)] == [WAN, WWAN]
    wwan_requests = [(t, r) for t, r in w.requests(I_HA, since=start) if r.care_of_address == WWAN]
    assert wwan_requests and all(r.flags & FLAG_S for _, r in wwan_requests)
    w.run(6)
    assert w.mn.primary == "wwan" and w.gate("wwan") == "plain"
    ((switched, _),) = [(t, m) for t, m in _primary_changes(w) if t >= start]
    claims = [(t, r) for t, r in w.requests(I_HA, since=start) if r.care_of_address == WWAN and not r.flags & FLAG_S]
    assert claims and claims[0][0] >= start + 5.0  # not before the hold-down
    assert claims[0][0] < switched  # the claim left first, the switch waited for its reply
    # the old uplink is a standby again, its binding added after the new first one
    assert [b.care_of for b in w.i_ha.bindings.lookup(I_HOA)] == [WWAN, WAN]
    assert w.gate("wan") == "plain"


def test_the_switch_happens_when_the_home_agent_already_sends_to_the_new_uplink():
    w = _two_inside(hold_down=2.0, core_delay=0.05)  # a claim takes 100 ms or more
    w.connect("wwan", "lan2", WWAN)
    seen = []
    for _ in range(400):
        w.run(0.01)
        seen.append((w.mn.primary, _first_care_of(w, w.i_ha, I_HOA)))
    assert ("wwan", WAN) not in seen  # never our upstream on wwan while the i-HA still sends to wan
    assert seen[-1] == ("wwan", WWAN)


def test_an_uplink_flapping_faster_than_its_hold_down_never_takes_the_traffic():
    w = _two_inside(hold_down=5.0)
    start = w.now
    for _ in range(6):  # up 3 s, down 1 s: detected inside each time, never for 5 s in a row
        w.connect("wwan", "lan2", WWAN)
        w.run(3)
        assert w.state("wwan") == "inside"
        w.sim.call("mn", "link_down", "wwan")
        w.disconnect("wwan")
        w.run(1)
    assert w.mn.primary == "wan" and not _primary_changes(w)[1:]
    assert all(r.flags & FLAG_S for _, r in w.requests(I_HA, since=start) if r.care_of_address == WWAN)
    assert _first_care_of(w, w.i_ha, I_HOA) == WAN
    w.connect("wwan", "lan2", WWAN)  # now it stays
    stable = w.now
    w.run(8)
    ((t, _),) = [(t, m) for t, m in _primary_changes(w) if t >= start]
    assert w.mn.primary == "wwan" and t >= stable + 5.0


def test_pulling_the_active_uplink_moves_the_traffic_at_once():
    """RFC 5265 3.2.2: no hold-down and no waiting for the dead uplink; one claim round trip."""
    w = _two_inside(hold_down=0.0)
    w.connect("wwan", "lan2", WWAN)
    w.run(3)
    assert w.mn.primary == "wwan"
    pulled = w.now
    w.sim.call("mn", "link_down", "wwan")
    w.disconnect("wwan")
    assert w.mn.primary == "wan" and w.gate("wwan") is None
    ((switched, _),) = [(t, m) for t, m in _primary_changes(w) if t >= pulled]
    assert switched == pulled
    claim = [t for t, r in w.requests(I_HA, since=pulled) if r.care_of_address == WAN and not r.flags & FLAG_S]
    assert claim and claim[0] == pulled
    w.run(0.1)
    assert _first_care_of(w, w.i_ha, I_HOA) == WAN


def test_monitoring_of_the_primary_keeps_the_standby_binding():
    """Renewals and T_MONITOR re-registrations set S: they never wipe another uplink's binding."""
    w = _two_inside(hold_down=0.0, uplinks={"wan": 1, "wwan": 2}, t_monitor=10.0, t_monitor_grace=2.0)
    w.connect("wwan", "lan2", WWAN)
    w.run(40)  # several T_MONITOR rounds on both
    assert w.mn.primary == "wan"
    assert [b.care_of for b in w.i_ha.bindings.lookup(I_HOA)] == [WAN, WWAN]
    assert w.mn.status(w.now)["interfaces"]["wwan"]["registrations"][0]["registered"]


def test_inside_primary_pulled_with_an_outside_standby_goes_cvc_and_comes_back_after_the_hold_down():
    """Per-interface verdicts (RFC 5265 3.2.1) with priorities: wan inside is preferred, wwan outside
    stands by with its x-MIP binding; losing wan brings IKE up over wwan, wan's return waits out
    its hold-down and then takes the i-HA binding from the VPN-TIA."""
    w = build(uplinks={"wan": 1, "wwan": 2}, hold_down=4.0)
    w.connect("wan", "lan1", WAN)
    w.connect("wwan", "ext2", "198.19.0.9")
    w.run(6)
    assert w.mn.primary == "wan" and w.mode() == "c" and w.state("wwan") == "outside"
    assert w.x_ha.bindings.lookup(X_HOA)  # the standby's x-MIP binding
    w.sim.call("mn", "link_down", "wan")
    w.disconnect("wan")
    w.run(3)
    assert w.mn.primary == "wwan" and w.mode() == "cvc" and w.gate("wwan") == "vpn"
    assert _first_care_of(w, w.i_ha, I_HOA) == VPN_TIA
    back = w.now
    w.connect("wan", "lan1", WAN)
    w.run(2)
    assert w.state("wan") == "inside" and w.mn.primary == "wwan"  # holding down
    assert _first_care_of(w, w.i_ha, I_HOA) == VPN_TIA
    w.run(4)
    assert w.mn.primary == "wan" and w.mode() == "c"
    ((t, _),) = [(t, m) for t, m in _primary_changes(w) if t >= back]
    assert t >= back + 4.0
    assert _first_care_of(w, w.i_ha, I_HOA) == WAN
    # make before break: the VPN path still takes in what the i-HA sent before the move, then closes
    assert w.mn.draining == "wwan" and w.mn.ike == "up"
    w.run(DRAIN + 0.5)
    assert w.mn.draining is None and w.mn.ike == "down"
    assert w.gate("wwan") is None and w.state("wwan") == "outside"  # no VPN: wwan stands by, blocked


def test_two_outside_uplinks_move_the_x_ha_binding_and_keep_the_ike_sa():
    w = build(uplinks={"wwan": 1, "wan": 2}, hold_down=3.0)
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(5)
    assert w.mode() == "cvc" and w.mn.primary == "wan"
    ike_ups = len([a for a in w.ike_events() if type(a).__name__ == "IkeUp"])
    w.connect("wwan", "ext2", "198.19.0.9")
    w.run(6)
    assert w.mn.primary == "wwan" and w.gate("wwan") == "vpn" and w.gate("wan") is None
    assert [b.care_of for b in w.x_ha.bindings.lookup(X_HOA)] == ["198.19.0.9", "198.18.0.5"]
    assert len([a for a in w.ike_events() if type(a).__name__ == "IkeUp"]) == ike_ups  # R-1.7-a
    gates = [(a.iface, a.path) for a in w.actions(Gate)]
    assert ("wwan", "vpn") in gates


@pytest.mark.parametrize("kw", [{"hold_down": -1}, {"hold_down": 4000}, {"hold_downs": {"wwan": -0.5}}])
def test_hold_down_out_of_range_is_refused_with_its_name(kw):
    with pytest.raises(ConfigError, match="hold_down"):
        mn_config(**kw)


def test_status_shows_priority_and_hold_down_left():
    w = _two_inside(hold_down=5.0)
    w.connect("wwan", "lan2", WWAN)
    w.run(2)
    st = w.mn.status(w.now)["interfaces"]["wwan"]
    assert st["priority"] == 1 and 2.0 < st["hold_down_left"] <= 4.0
    assert w.mn.status(w.now)["interfaces"]["wan"]["carries"]
    assert not st["carries"]
    w.run(6)
    st = w.mn.status(w.now)["interfaces"]["wwan"]
    assert st["carries"] and 5.0 <= st["waited_s"] < 5.5  # it took the traffic once its hold-down had passed


def _in_send_order_each_greater(requests: list) -> bool:
    ids = [rq.identification for _, rq in requests]
    return all(b > a for a, b in zip(ids, ids[1:], strict=False))


def test_two_uplinks_registering_at_once_are_never_refused_as_replays():
    """R-5.1-c, RFC 5944 5.7.1: the i-HA refuses (133) a request whose identification is not greater than the last
    it accepted. Two uplinks come up at the same instant, then register again twice 10 ms apart: every
    request the i-HA gets is greater than every one before it, and none is refused."""
    w = build(uplinks={"wwan": 1, "wan": 2}, hold_down=1.0)
    w.connect("wan", "lan1", WAN)
    w.connect("wwan", "lan2", WWAN)
    w.run(1)
    w.sim.call("mn", "reregister")
    w.run(0.01)
    w.sim.call("mn", "reregister")
    w.run(20)
    counters = w.i_ha.status()["counters"]
    assert (counters["replay"], counters["identification-mismatch"]) == (0, 0)
    assert len(w.requests(I_HA)) >= 6 and _in_send_order_each_greater(w.requests(I_HA))
    assert [b.care_of for b in w.i_ha.bindings.lookup(I_HOA)] == [WWAN, WAN]
    assert w.gate("wan") == "plain" and w.gate("wwan") == "plain"


@pytest.mark.parametrize("seed", range(1, 9))
def test_an_uplink_going_inside_takes_back_only_its_own_x_ha_binding(seed):
    """R-3.3-g, RFC 5944 3.3: wan proves inside while wwan's first x-MIP registration is still on its way
    (wwan is still detecting): wan's x-HA deregistration sets S, so it removes wan's binding only and
    wwan's stays, as wwan believes."""
    w = build(seed=seed, uplinks={"wan": 1, "wwan": 2}, hold_down=4.0)
    w.connect("wan", "lan1", WAN)
    w.connect("wwan", "ext2", "198.19.0.9")
    w.run(6)
    assert w.state("wan") == "inside" and w.state("wwan") == "outside"
    assert w.mn.uplinks["wwan"].x_client.registered(w.now)
    assert [b.care_of for b in w.x_ha.bindings.lookup(X_HOA)] == ["198.19.0.9"]
    (dereg,) = [rq for _, rq in w.requests() if rq.lifetime == 0]
    assert dereg.care_of_address == WAN and dereg.flags & FLAG_S
