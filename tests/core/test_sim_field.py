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

from mip4.core.actions import SetPath
from mip4.core.mobile_node import MobileNode

from .replies import mn_config
from .world import build

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
@given(st.lists(_IFNAME, min_size=1, max_size=8, unique=True))
def test_tunnel_names_are_distinct_and_fit_ifnamsiz_for_any_interface_names(ifaces):
    """R-5.6-b; Linux IFNAMSIZ: every uplink's i and x tunnels have names of their own, <= 15 characters,
    starting with "mip4-" (io/kernel.py OUR_TUNNELS), and the same interface keeps its names."""
    mn = MobileNode(mn_config(), random.Random(1))
    for iface in ifaces:
        mn.link_up(iface, 0.0)
    names = [mn.uplinks[i].tunnel_name(layer) for i in ifaces for layer in ("i", "x")]
    assert len(set(names)) == len(names) and "mip4-vpn" not in names
    assert all(len(n) <= 15 and n.startswith("mip4-") for n in names)
    mn.link_up(ifaces[0], 1.0)
    assert mn.uplinks[ifaces[0]].tunnel_name("x") == names[1]
