"""MobileNode.reregister: the operator's `reregister` (ubus, console) is a status change on every uplink."""
from __future__ import annotations

from mip4.core.actions import Gate

from .world import I_HA, X_HA, build


def test_reregister_blocks_then_sends_the_pair_again_on_every_uplink_with_a_care_of():
    """R-3.2.2-a, R-3.2.2-b, R-3.3-a: the gate closes in the same step; i-HA and x-HA requests leave together."""
    w = build()
    w.connect("wan", "lan1", "10.2.0.5")
    w.connect("wwan", "ext1", "198.18.0.5")
    w.run(10)
    assert w.gate("wan") == "plain" and w.mode() == "c"
    since = w.now
    actions = w.sim.call("mn", "reregister")
    gates = [a for a in actions if isinstance(a, Gate)]
    assert [(g.iface, g.path) for g in gates][:1] == [("wan", None)]  # blocked before anything is sent
    assert w.state("wan") == w.state("wwan") == "detecting"  # RFC 5265 3.3 starts again on both
    w.run(5)
    sent = {(rq.home_agent, rq.care_of_address) for _, rq in w.requests(since=since)}
    assert {(I_HA, "10.2.0.5"), (X_HA, "10.2.0.5"), (I_HA, "198.18.0.5"), (X_HA, "198.18.0.5")} <= sent
    assert w.gate("wan") == "plain" and w.mode() == "c"  # proven inside again
    assert len(w.logs("reregister")) == 1


def test_reregister_with_no_care_of_only_logs():
    w = build()
    actions = w.mn.reregister(0.0)
    assert [a.reason for a in actions] == ["reregister"] and "no uplink has a care-of" in actions[0].message
    w.mn.shutdown(1.0)
    assert w.mn.reregister(2.0) == []
