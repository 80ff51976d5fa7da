"""A redundant home agent pair in the UML lab (issue 27; docs/redundancy.md): topology.json's "ha_pair"
scenario, one boot. Two i-HA machines and two x-HA machines, keepalived (VRRP, nopreempt) on each pair,
a three-member etcd cluster holding the bindings; the kernel's IP-in-IP and the real IPsec carry the LAN
host's stream. While the MR is in mode c (the i-HA pair) and in cvc (the x-HA pair, and the i-HA pair
behind the VPN), the active home agent's mip4d is SIGKILLed, or every link of its machine goes down:
the other machine takes the addresses and reads the binding from etcd, the stream resumes with nothing
lost or duplicated and without any registration by the MR, the old active comes back as the standby
and leaves the addresses where they are, and the leak auditor finds nothing.
"""
from __future__ import annotations

import pytest

from board.virtual.audit import audit_lab
from board.virtual.boot import topology
from board.virtual.hapair import SCENARIO, overlay
from board.virtual.labkit import REORDER_MAX

from .conftest import NETEM_MS, _boot, _event, steps


@pytest.fixture(scope="module")
def ha_pair():
    yield from _boot(SCENARIO, 600, netem={"iha-core": "delay %dms" % NETEM_MS}, mem="1536M")


def _failovers(events: list) -> list[dict]:
    return [s for s in steps(events) if s.get("ha")]


def test_the_standby_takes_over_and_the_stream_resumes_without_a_registration(ha_pair):
    """Per step: kill -> the standby holds the addresses -> it serves the binding from etcd -> data."""
    lab, events = ha_pair
    done = _failovers(events)
    print("\n%-5s %-5s %-5s %-10s %12s %12s %9s %s" % ("mode", "pair", "how", "old->new", "addresses (s)",
                                                     "binding (s)", "data (s)", "ok"))
    for s in done:
        print("%-5s %-5s %-5s %-10s %12s %12s %9s %s" % (s["mode"], s["pair"], s["ha"], "%s->%s" % (s["old"], s["new"]),
                                                       s["took_over_after_s"], s["recovered_after_s"],
                                                       s["data_after_s"], s["ok"]))
    assert [(s["pair"], s["ha"], s["expect"]) for s in done] == [
        ("iha", "kill", "c"), ("iha", "down", "c"), ("xha", "kill", "cvc"), ("xha", "down", "cvc"),
        ("iha", "kill", "cvc")]
    for s in done:
        assert s["ok"], s
        assert s["mode"] == s["expect"], s
        assert s["registered"]["accepted"] == 0, s  # the MR never noticed: no registration of it accepted,
        assert s["new_counted"] == {}, s  # and none reached the new active: its binding came from etcd
        assert s["stream"]["gaps"] == 0 and s["stream"]["duplicates"] == 0 and s["stream"]["reconnects"] == 0, s
        assert s["new_store"]["reachable"], s
    moves = [s for s in steps(events) if not s.get("ha")]
    assert moves and all(s["ok"] for s in moves), moves


def test_the_old_active_comes_back_as_standby_and_leaves_the_addresses(ha_pair):
    """nopreempt: back (mip4d respawned, or its links up), keepalived tells it `standby`; for the next
    seconds the addresses stay with the new active and the stream does not stall (longer than the
    tour's make-before-break allowance: a second)."""
    lab, events = ha_pair
    for s in _failovers(events):
        assert s["back_after_s"] is not None and s["old_state"] == "standby", s
        assert s["holders_after_back"] == [s["new"]] and max(s["back_stalls"], default=0) < REORDER_MAX, s


def test_each_pair_member_served_in_turn_and_logged_its_store(ha_pair):
    """Both machines of each pair were active at some point (the steps alternate), each restored the
    MR's binding from etcd at least once, and the run ended with every daemon's exit code 0 and nothing
    left installed."""
    lab, events = ha_pair
    for pair in ("iha", "xha"):
        assert {s["new"] for s in _failovers(events) if s["pair"] == pair} == {pair, pair + "2"}
    done = _event(events, "done")
    assert done["leftovers"] == {} and all(c == 0 for c in done["exit_codes"].values()), done


def test_the_leak_auditor_saw_nothing_during_the_failovers(ha_pair):
    lab, events = ha_pair
    result = audit_lab(lab.dir, overlay(topology(), SCENARIO))
    print("leak audit: %d packets: %s" % (result["packets"], result["kinds"]))
    assert not result["leaks"], "\n".join(result["leaks"][:30])
    assert result["kinds"].get("ipip-esp", 0) > 100
