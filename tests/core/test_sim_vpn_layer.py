"""The VPN layer (core/vpn.py) and what the adapter learns from the mobile node's actions (issue 22).

RFC 5265 2.3, R-2.3-c: IKE from the x-HoA through x-MIP; the IKE SA's states are a table, as the
uplinks' detection states are (uplink.py).
"""
from __future__ import annotations

import pytest

from mip4.core.actions import Primary
from mip4.core.vpn import IKE_CONNECTING, IKE_DOWN, IKE_TRANSITIONS, IKE_UP, next_ike_state

from .world import build

WAN, WWAN = "10.2.0.5", "10.3.0.7"


def test_the_ike_table_answers_every_event_in_every_state_and_every_way_out_leads_down():
    events = {e for row in IKE_TRANSITIONS.values() for e in row}
    assert set(IKE_TRANSITIONS) == {IKE_DOWN, IKE_CONNECTING, IKE_UP}
    for row in IKE_TRANSITIONS.values():
        for event in ("closed", "failed", "dormant", "shutdown"):  # R-4.1-e: nothing through a gone SA
            assert row[event] == IKE_DOWN
        assert row["established"] == IKE_UP
        assert set(row) | {"initiate"} == events
    assert next_ike_state(IKE_DOWN, "initiate") == IKE_CONNECTING
    with pytest.raises(KeyError):  # R-2.3-c: one attempt at a time, never a second IkeUp while connecting
        next_ike_state(IKE_CONNECTING, "initiate")


def test_the_adapter_learns_the_primary_from_primary_actions_alone():
    """Issue 22: io/daemon.py points the LAN and IKE tables at the primary's path from the Primary actions
    it is handed (never machine.primary): through moves, a pulled primary and a cvc fallback they agree."""
    w = build(uplinks={"wan": 1, "wwan": 2}, hold_down=1.0)
    told: list[str | None] = []

    def check() -> None:
        told[:] = [a.iface for a in w.actions(Primary)][-1:] or [None]
        assert told[0] == w.mn.status(w.now)["primary"]

    check()
    w.connect("wwan", "lan2", WWAN)
    w.run(3)
    check()
    w.connect("wan", "lan1", WAN)
    for _ in range(30):
        w.run(0.1)
        check()
    assert told == ["wan"]
    w.disconnect("wan")
    check()
    w.disconnect("wwan")
    check()
    assert told == [None]
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(5)
    check()
    assert told == ["wan"] and w.mode() == "cvc"
