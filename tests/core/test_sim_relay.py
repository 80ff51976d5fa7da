"""RFC 5265 3.1 against an outsider who runs the mobile node's access network and holds a VPN account:
he relays the router's clear i-HA requests through his own VPN session and its replies back (tests/sim/relay.py).

Requirement IDs proved here: R-3.1-c, R-3.1-d (project rules, RFC silent), R-3-a, R-1.4-a.
"""
from __future__ import annotations

import pytest

from mip4.core.actions import TunnelUp
from mip4.wire import TrustedNetworksConfigured, codec, codes
from tests.sim.relay import add_relay

from .world import I_HA, I_HOA, VPN_TIA, build

POOL = ("10.255.0.0/16",)
RELAY_TIA, RELAY_ADDR, GATEWAY = "10.255.0.77", "198.18.0.254", "192.0.2.1"


def attacked(address: str, nat_traversal: bool, **i_ha_kw):
    w = build(i_ha_kw=i_ha_kw, nat_traversal=nat_traversal, t_monitor=30.0, t_monitor_grace=5.0)
    relay = add_relay(w.sim, "ext1", RELAY_ADDR, RELAY_TIA, I_HA, GATEWAY)
    w.run(0.1)
    w.connect("wan", "ext1", address)
    w.run(120)  # long enough for several monitoring rounds, had it gone inside
    return w, relay


@pytest.mark.parametrize("nat_traversal", [True, False], ids=["rfc3519", "ip-in-ip"])
@pytest.mark.parametrize("address", ["198.18.0.5", "10.2.0.77"], ids=["external", "intranet-looking"])
def test_a_relayed_detection_probe_never_makes_the_router_plaintext(address, nat_traversal):
    """R-3.1-c, R-3.1-d, R-3-a: the relay runs both ways (requests out through his VPN, the i-HA's
    authenticated answers back on the access link), and still: the router never opens in clear, reaches
    cvc through its own VPN, and the i-HA never sends the router's downlink to the attacker's VPN-TIA or
    to the router's outside address, over IP-in-IP or RFC 3519 UDP alike."""
    w, relay = attacked(address, nat_traversal, vpn_pool=POOL)
    assert relay.relayed and relay.returned  # the attack ran both ways
    answers = [codec.decode_udp(d.payload) for d in relay.returned]
    assert {a.code for a in answers} == {codes.HA_PROHIBITED}
    assert not any(isinstance(e, TrustedNetworksConfigured) for a in answers for e in a.extensions)
    assert w.gate_opened_at("wan", "plain") is None and w.state("wan") == "outside"
    assert w.mode() == "cvc" and w.gate("wan") == "vpn"
    remotes = {a.tunnel.remote for a in w.sim.actions("i-ha", TunnelUp)}
    assert remotes == {VPN_TIA}, remotes
    assert [b.care_of for b in w.i_ha.bindings.lookup(I_HOA)] == [VPN_TIA]
    assert w.i_ha.counters["relayed-through-vpn"] == len(relay.relayed)
    assert w.logs("i-ha-denied")


def test_without_the_pool_configured_an_outside_care_of_still_earns_no_tnc():
    """R-3.1-c: an i-HA that does not know the VPN pool cannot refuse the relay, but the care-of it carries
    is outside the trusted networks: no TNC, so the router stays outside and nothing leaves in clear. (The
    binding it accepts is why vpn_pool should be set.)"""
    w, relay = attacked("198.18.0.5", True)
    answers = [codec.decode_udp(d.payload) for d in relay.returned]
    assert answers and {a.code for a in answers} == {codes.ACCEPTED}
    assert not any(isinstance(e, TrustedNetworksConfigured) for a in answers for e in a.extensions)
    assert w.gate_opened_at("wan", "plain") is None and w.mode() == "cvc"


@pytest.mark.parametrize("trust_nat_prefix", [True, False])
def test_behind_a_nat_inside_tnc_needs_the_nats_inside_prefix_trusted(trust_nat_prefix):
    """R-3.1-c, R-2.5-d: behind a NAT inside the care-of is the NAT's private address: with that prefix in
    trusted_networks the router is inside (c, i-MIP over RFC 3519); without it the i-HA gives no TNC, and
    the router goes outside through the VPN, never plaintext."""
    trusted = ("10.0.0.0/8", "192.168.1.0/24") if trust_nat_prefix else ("10.0.0.0/8",)
    w = build(trusted=trusted)
    w.sim.add_link("natlan", "intranet", delay=0.01, nat="10.6.0.1")
    w.connect("wan", "natlan", "192.168.1.20")
    w.run(15)
    if trust_nat_prefix:
        assert w.mode() == "c" and w.gate("wan") == "plain"
    else:
        assert w.mode() == "cvc" and w.logs("no-tnc") and w.gate_opened_at("wan", "plain") is None
