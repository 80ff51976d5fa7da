"""Address acquisition on the host's kernel (issue 24): the real udhcpc and its ash hook against dnsmasq on a
veth pair, and DNAv4 (RFC 4436) with real ARP: back on a network seen before, the remembered lease is in
place at once, before (and without) DHCP; DHCP then confirms it or replaces it; another router at the
same address is another network. In a namespace of its own (tests/io/dnav4_probe.py runs there)."""
from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from mip4.io.dhcp import parse_lease
from mip4.io.dnav4 import Memory, Network, arp_reply, confirms, probe

ROOT = Path(__file__).resolve().parents[2]
ROUTER_MAC = bytes.fromhex("020000000201")
OURS = bytes.fromhex("020000000101")


@pytest.fixture(scope="module")
def run() -> dict:
    ns, isp = "mip4t-dna-%d" % os.getpid(), "mip4t-isp-%d" % os.getpid()
    for name in (ns, isp):
        subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for cmd in ("link add wan type veth peer name isp netns %s" % isp, "link set wan address 02:00:00:00:01:01",
                    "link set lo up"):
            subprocess.run("ip -n %s %s" % (ns, cmd), shell=True, check=True)
        for cmd in ("link set isp address 02:00:00:00:02:01", "link set isp up", "addr add 10.2.0.1/24 dev isp"):
            subprocess.run("ip -n %s %s" % (isp, cmd), shell=True, check=True)
        env = dict(os.environ, PYTHONPATH="%s:%s" % (ROOT / "firmware", ROOT))
        done = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "tests.io.dnav4_probe", isp],
                              env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)
    finally:
        for name in (ns, isp):
            subprocess.run(["ip", "netns", "del", name])


def test_a_real_lease_is_bound_and_remembered_with_its_routers_mac(run):
    """udhcpc + the ash hook, which only hands the lease over: mip4d put the router in the uplink's table,
    then the address, and learnt the router's MAC by ARP (what identifies the network, RFC 4436 2)."""
    first = run["first"]
    address = first["seen"][-1][1][0]
    assert address.startswith("10.2.0.1") and address.endswith("/24")
    assert "default via 10.2.0.1 dev wan" in first["route"] and "onlink" in first["route"]
    # the router was in the uplink's table before the address appeared: mip4 registers on the address
    # event, and a request sent with no route was lost until the retransmission a second later
    events = first["events"]
    route = next(i for i, e in enumerate(events) if "default via 10.2.0.1" in e and "table 100" in e)
    added = next(i for i, e in enumerate(events) if address in e and "Deleted" not in e)
    assert route < added
    assert run["remembered"] == [[address.split("/")[0], "10.2.0.1", "02:00:00:00:02:01"]]


def test_back_on_a_known_network_the_remembered_lease_is_used_at_once_without_dhcp(run):
    """RFC 4436 2.1, 2.2: dnsmasq is stopped; the reachability test alone puts the address back, quickly."""
    back = run["back_without_dhcp"]
    (t, addresses), = [s for s in back["seen"] if s[1] and s[0] is not None]
    assert back["seen"][-1][1] == addresses  # and it stays
    assert addresses == [run["first"]["seen"][-1][1][0]] and t < 1.0
    assert "default via 10.2.0.1 dev wan" in back["route"] and "onlink" in back["route"]
    assert any("using the remembered" in line for line in back["log"])


def test_dhcp_confirms_the_remembered_lease(run):
    """RFC 4436 2.2: the remembered address at once, and DHCP (asked for it) acknowledges the same."""
    confirmed = run["confirmed"]
    assert {tuple(s[1]) for s in confirmed["seen"] if s[1]} == {(run["first"]["seen"][-1][1][0],)}
    log = confirmed["log"]
    using = next(i for i, line in enumerate(log) if "using the remembered" in line)
    assert any("DHCP confirmed the remembered" in line for line in log[using:])


def test_dhcp_giving_another_address_replaces_the_remembered_one(run):
    """The same router, renumbered: the remembered address goes in first, then DHCP's replaces it."""
    renumbered = run["renumbered"]
    seen = [s[1] for s in renumbered["seen"] if s[1]]
    assert all(len(a) == 1 for a in seen) and seen[-1][0].startswith("10.2.0.2")
    assert seen[0] == [run["first"]["seen"][-1][1][0]]  # one ARP round trip beats udhcpc's four messages
    log = renumbered["log"]
    using = next(i for i, line in enumerate(log) if "using the remembered" in line)
    assert any("instead of the remembered" in line for line in log[using:])


def test_another_router_at_the_remembered_address_is_another_network(run):
    """RFC 4436 2.1: the Reply's MAC must be the remembered one: no address without DHCP."""
    other = run["other_router"]
    assert all(not s[1] for s in other["seen"])
    assert any("no remembered network answered" in line for line in other["log"])


# -- the Sans-IO half ----------------------------------------------------------------------------------


def net(**kw) -> Network:
    base = dict(iface="wan", address="10.2.0.120", prefixlen=24, router="10.2.0.1", router_mac=ROUTER_MAC,
                expires_at=100.0)
    base.update(kw)
    return Network(**base)


def reply(smac=ROUTER_MAC, sip="10.2.0.1", tmac=OURS, tip="10.2.0.120", op=2) -> bytes:
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, smac, socket.inet_aton(sip), tmac,
                      socket.inet_aton(tip))
    return tmac + smac + b"\x08\x06" + arp


def test_the_probe_is_unicast_to_the_router_from_the_remembered_address():
    """RFC 4436 2.1.1."""
    frame = probe(OURS, net())
    assert frame[:6] == ROUTER_MAC and frame[6:12] == OURS and frame[12:14] == b"\x08\x06"
    assert frame[20:22] == b"\x00\x01"  # a Request
    assert frame[28:32] == bytes([10, 2, 0, 120]) and frame[32:38] == ROUTER_MAC
    assert frame[38:42] == bytes([10, 2, 0, 1])


def test_only_the_remembered_routers_reply_to_us_confirms():
    n = net()
    assert confirms(reply(), n, OURS)
    assert not confirms(reply(smac=bytes.fromhex("020000000299")), n, OURS)  # another router
    assert not confirms(reply(sip="10.2.0.2"), n, OURS)
    assert not confirms(reply(tmac=bytes.fromhex("020000000199")), n, OURS)
    assert not confirms(reply(tip="10.2.0.121"), n, OURS)
    assert not confirms(reply(op=1), n, OURS) and arp_reply(reply()[:30]) is None


def test_memory_keeps_valid_leases_with_a_known_router_most_recent_first():
    m = Memory(per_uplink=2)
    m.remember(net(address="10.2.0.120", router="10.2.0.1", router_mac=None))
    assert m.candidates("wan", 0.0) == []  # no MAC yet: nothing to test against
    m.learned("wan", "10.2.0.1", "10.2.0.120", ROUTER_MAC)
    m.remember(net(address="10.3.0.7", router="10.3.0.1", expires_at=50.0))
    m.remember(net(address="10.2.0.120", router="10.2.0.1", router_mac=None, expires_at=200.0))  # renewed
    assert [(n.address, n.router_mac) for n in m.candidates("wan", 10.0)] == [("10.2.0.120", ROUTER_MAC),
                                                                              ("10.3.0.7", ROUTER_MAC)]
    assert [n.address for n in m.candidates("wan", 60.0)] == ["10.2.0.120"]  # RFC 4436 2.1: expired ones not
    m.remember(net(address="10.4.0.9", router="10.4.0.1"))
    assert len(m.networks["wan"]) == 2
    m.forget("wan", "10.2.0.120")
    assert [n.address for n in m.candidates("wan", 10.0)] == ["10.4.0.9"]


def test_the_hooks_line_is_parsed_strictly():
    assert parse_lease("mip4-lease bound 10.2.0.120 24 10.2.0.1 600 10.2.0.1").address == "10.2.0.120"
    assert parse_lease("mip4-lease deconfig - - - - -").event == "deconfig"
    for bad in ("mip4-lease bound 10.2.0.120 24 10.2.0.1 600", "mip4-lease evil - - - - -",
                "mip4-lease bound 10.2.0.300 24 - - -", "mip4-lease bound 10.2.0.1 33 - - -",
                "mip4 udhcpc: wan 10.2.0.120/24", "mip4-lease bound 10.2.0.1 x - - -"):
        assert parse_lease(bad) is None, bad
