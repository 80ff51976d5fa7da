"""Field defects of issue 28, each through the simulator.

1. A home agent that keeps one binding (RFC 5944 3.4: code 1, or 135 past its limit) must never let
   a standby uplink take the binding the primary carries on.
2. Tunnel names are unique and within IFNAMSIZ for any set of Linux interface names (RFC 5265 5.6,
   R-5.6-b: one layer stack per interface).
3. A second foreign agent on the link is no move while the current one is still heard (RFC 5944 2.4.2).
"""
from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from mip4.core.actions import Gate, SetPath
from mip4.core.config import ForeignAgentConfig
from mip4.core.foreign_agent import ForeignAgent
from mip4.core.mobile_node import MobileNode
from mip4.core.uplink import tunnel_name, tunnel_tags
from mip4.wire.registration import FLAG_S

from .replies import mn_config
from .world import I_FA, I_HA, I_HOA, VPN_TIA, X_HA, X_HOA, build

WAN, WWAN = "10.2.0.5", "10.3.0.7"  # lan1, lan2: both inside

# -- 2: tunnel names ---------------------------------------------------------------------------------


def _paths(w, iface: str) -> list[SetPath]:
    return [a for a in w.actions(SetPath) if a.iface == iface]


def test_openwrt_names_sharing_their_first_eight_characters_get_their_own_tunnels():
    """R-5.6-b: phy0-sta0 (primary) and phy0-sta1 (standby), both inside in mode c: each has its own
    tunnel; the standby leaving takes down only its own, the primary's path stays."""
    w = build(uplinks={"phy0-sta0": 1, "phy0-sta1": 2}, hold_down=0.0)
    w.connect("phy0-sta0", "lan1", WAN)
    w.run(3)
    w.connect("phy0-sta1", "lan2", WWAN)
    w.run(3)
    assert w.mn.primary == "phy0-sta0" and w.mode() == "c" and w.state("phy0-sta1") == "inside"
    primary, standby = _paths(w, "phy0-sta0")[-1], _paths(w, "phy0-sta1")[-1]
    names = [t.name for t in primary.tunnels + standby.tunnels]
    assert len(names) == 2 and len(set(names)) == 2 and all(len(n) <= 15 for n in names)
    w.disconnect("phy0-sta1")
    w.run(1)
    assert _paths(w, "phy0-sta1")[-1].mode is None and _paths(w, "phy0-sta0")[-1] == primary
    assert w.gate("phy0-sta0") == "plain" and w.mode() == "c"


# Linux dev_valid_name: 1..15 characters, not "." or "..", no "/", ":" or white space
_IFNAME = st.text(st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="/:"),
                  min_size=1, max_size=15).filter(lambda n: n not in (".", ".."))


@settings(max_examples=300, deadline=None)
@given(st.lists(_IFNAME, min_size=1, max_size=8, unique=True), st.integers(0, 8), st.randoms())
def test_tunnel_names_are_distinct_and_fit_ifnamsiz_for_any_interface_names(ifaces, configured, order):
    """R-5.6-b; Linux IFNAMSIZ: every uplink's i and x tunnels have names of their own, <= 15 characters,
    starting with "mip4-" (io/kernel.py OUR_TUNNELS); a configured uplink's names are those tunnel_tags
    gives (what labctl tells charon to ignore) whichever link comes up first; names stay the same."""
    uplinks = {iface: n for n, iface in enumerate(ifaces[:configured])}
    mn = MobileNode(mn_config(uplinks=uplinks), random.Random(1))
    for iface in order.sample(ifaces, len(ifaces)):
        mn.link_up(iface, 0.0)
    names = [mn.uplinks[i].tunnel_name(layer) for i in ifaces for layer in ("i", "x")]
    assert len(set(names)) == len(names) and "mip4-vpn" not in names
    assert all(len(n) <= 15 and n.startswith("mip4-") for n in names)
    tags = tunnel_tags(uplinks)
    assert all(mn.uplinks[i].tunnel_name("x") == tunnel_name("x", tags[i]) for i in uplinks)
    mn.link_up(ifaces[0], 1.0)
    assert mn.uplinks[ifaces[0]].tunnel_name("x") == names[1]


# -- 3: two foreign agents on one link -----------------------------------------------------------------


def _second_i_fa(w, address: str = "10.4.0.2"):
    """A redundant FA beside the i-FA on link ifa (RFC 5944 2.4.2), advertising every 3 s as well."""
    fa = ForeignAgent(ForeignAgentConfig(links={"acc": address}), random.Random(7))
    node = w.sim.add_node("i-fa2", fa)
    w.sim.attach(node, "acc", "ifa", addresses=[address])
    w.sim.attach(node, "core", "core", addresses=[address])
    return fa


def test_a_second_foreign_agent_on_the_link_is_no_move_while_the_first_is_heard():
    """RFC 5944 2.4.2, R-3.2.2-d: two FAs advertise on the link; the MR stays with the one it registered
    through (no status change, gate closure or new detection per advertisement of the other) and switches
    only once that one is silent for its advertised lifetime."""
    w = build()
    _second_i_fa(w)
    w.connect("wan", "ifa")
    w.run(10)
    assert w.mode() == "f" and w.gate("wan") == "plain"
    fa = w.mn.uplinks["wan"].fa.address
    start = w.now
    w.run(60)
    changes = [a for t, a in w.timed(since=start) if getattr(a, "reason", None) == "state"]
    closed = [a for t, a in w.timed(Gate, since=start) if a.iface == "wan" and a.path is None]
    assert not changes and not closed, (len(changes), len(closed))
    assert len(w.requests(I_HA, since=start)) <= 4  # T_MONITOR re-registrations only (R-3.2.4-a)
    assert w.mn.uplinks["wan"].fa.address == fa and w.gate("wan") == "plain"
    assert w.mn.status(w.now)["interfaces"]["wan"]["foreign_agent_alternative"] is not None
    # the FA we use goes silent: after its advertised lifetime (9 s), the other one carries
    w.sim.detach("i-fa" if fa == I_FA else "i-fa2", "acc")
    gone = w.now
    w.run(20)
    moved = [t for t, a in w.timed(since=gone) if getattr(a, "reason", None) == "fa-lost"]
    assert moved and moved[0] - gone <= 9.5
    assert w.mn.uplinks["wan"].fa.address != fa and w.mode() == "f" and w.gate("wan") == "plain"


# -- 1: home agents without (enough) simultaneous bindings --------------------------------------------


def _first(ha, hoa) -> str | None:
    bindings = ha.bindings.lookup(hoa)
    return bindings[0].care_of if bindings else None


def _away(w, ha, hoa, care_of: str, seconds: float, step: float = 0.05) -> float:
    """How long, within the next `seconds`, the HA's first (sending) binding was not `care_of`."""
    away = 0.0
    for _ in range(int(seconds / step)):
        w.run(step)
        away += step if _first(ha, hoa) != care_of else 0.0
    return away


def test_a_standby_never_keeps_the_only_binding_of_an_i_ha_without_simultaneous_bindings():
    """RFC 5944 3.4 (issue 28.1): the i-HA (max_bindings 1) answers the standby's S-set request with code 1
    and moves its only binding there. The router takes it back at once (S clear from the primary), holds
    the standby from registering there again, and shows it; when the primary goes, the standby takes over."""
    w = build(uplinks={"wan": 1, "wwan": 2}, hold_down=0.0, i_ha_kw={"max_bindings": 1})
    w.connect("wan", "lan1", WAN)
    w.run(5)
    assert w.mn.primary == "wan" and w.mode() == "c"
    joined = w.now
    w.connect("wwan", "lan2", WWAN)
    assert _away(w, w.i_ha, I_HOA, WAN, 120.0) < 0.2  # a round trip at most, not until wan's next renewal
    assert w.mn.primary == "wan" and w.mode() == "c" and w.gate("wan") == "plain"
    status = w.mn.status(w.now)
    assert status["home_agents"] == {I_HA: {"simultaneous_bindings": 1}}
    assert status["interfaces"]["wwan"]["held_by"] == I_HA and w.gate("wwan") is None
    standby = [t for t, r in w.requests(I_HA, since=joined) if r.care_of_address == WWAN]
    assert len(standby) == 1  # the one answered by code 1; none after it
    w.disconnect("wan")
    pulled = w.now
    w.run(5)
    assert w.mn.primary == "wwan" and w.mode() == "c" and w.gate("wwan") == "plain"
    assert _first(w.i_ha, I_HOA) == WWAN
    assert all(not r.flags & FLAG_S for t, r in w.requests(I_HA, since=pulled) if r.care_of_address == WWAN)


def test_a_standby_never_keeps_the_only_binding_of_an_x_ha_without_simultaneous_bindings():
    """RFC 5944 3.4 (issue 28.1), outside: the x-HA moved its only binding to the standby while IKE and
    ESP ran over the primary's x-MIP tunnel; the primary takes it back at once and mode cvc holds."""
    w = build(uplinks={"wan": 1, "wwan": 2}, hold_down=0.0, x_ha_kw={"max_bindings": 1})
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(5)
    assert w.mn.primary == "wan" and w.mode() == "cvc"
    w.connect("wwan", "ext2", "198.19.0.9")
    assert _away(w, w.x_ha, X_HOA, "198.18.0.5", 120.0) < 0.2
    assert w.mode() == "cvc" and w.gate("wan") == "vpn" and w.mn.ike == "up"
    assert w.mn.status(w.now)["home_agents"] == {X_HA: {"simultaneous_bindings": 1}}
    assert w.state("wwan") == "held"


def test_too_many_bindings_never_makes_a_standby_replace_the_primary_binding():
    """RFC 5944 3.4 (issue 28.1): the i-HA keeps two bindings; the third uplink's S-set request gets 135.
    It must not re-send without S (which would replace every binding, the primary's too): it is held."""
    w = build(uplinks={"wan": 1, "wwan": 2, "lte": 3}, hold_down=0.0, i_ha_kw={"max_bindings": 2})
    w.sim.add_link("lan3", "intranet")
    w.connect("wan", "lan1", WAN)
    w.run(5)
    w.connect("wwan", "lan2", WWAN)
    w.run(5)
    assert [b.care_of for b in w.i_ha.bindings.lookup(I_HOA)] == [WAN, WWAN]
    joined = w.now
    w.connect("lte", "lan3", "10.5.0.9")
    assert _away(w, w.i_ha, I_HOA, WAN, 60.0) == 0.0
    assert [b.care_of for b in w.i_ha.bindings.lookup(I_HOA)] == [WAN, WWAN]
    assert all(r.flags & FLAG_S for t, r in w.requests(I_HA, since=joined) if r.care_of_address == "10.5.0.9")
    status = w.mn.status(w.now)
    assert status["home_agents"] == {I_HA: {"simultaneous_bindings": 2}} and w.state("lte") == "held"
    assert w.gate("wan") == "plain" and w.gate("wwan") == "plain"


def test_a_new_i_mip_registration_through_the_vpn_does_not_leave_an_inside_standby_believing_in_its_binding():
    """Same class as issue 28.1, RFC 5944 3.6.1.2: the i-MIP registration through a new IKE SA has S clear and
    replaces every binding at the i-HA, the inside standby's too. The standby adds its binding again at once
    (S set), as it does after an uplink's S-clear claim, instead of believing in it until its next T_MONITOR."""
    w = build(uplinks={"wan": 1, "wwan": 2}, hold_down=0.0)
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(8)
    w.connect("wwan", "lan2", WWAN)
    w.run(5)
    assert w.mode() == "cvc" and [b.care_of for b in w.i_ha.bindings.lookup(I_HOA)] == [VPN_TIA, WWAN]
    w.sim.call("mn", "ike_closed", "dpd")
    w.run(3)
    assert [b.care_of for b in w.i_ha.bindings.lookup(I_HOA)] == [VPN_TIA, WWAN]
