"""The mobile router's path rules per mode, as pure data (core/paths.py, issue 22): tunnel links and
MTUs per RFC 5265 5.2/5.6, the LAN table's route only through the primary uplink's open gate
(R-3.2.2-a), IKE only into x-MIP or to the FA (R-2.3-c), and the order of the policy rules."""
from __future__ import annotations

from mip4.core.actions import SetPath, Tunnel
from mip4.core.paths import (
    ESP_OVERHEAD,
    IPIP_HEADER,
    PROHIBIT,
    RouterTables,
    ike_default,
    lan_default,
    tunnel_steps,
    tunnels_going,
    uses_device,
)

VPN_TIA = "10.9.0.1"
X_MIP = Tunnel("mip4-x-wan", "198.18.0.5", "203.0.113.1", udp_port=4500)  # behind a NAT: RFC 3519
I_MIP = Tunnel("mip4-i", VPN_TIA, "10.1.0.1")
CVC = SetPath("wan", "cvc", "198.18.0.5", (X_MIP, I_MIP))


def test_tunnel_links_and_mtus_per_mode():
    """RFC 5265 5.6: the i-MIP tunnel inside IPsec is routed (no link), below the x-MIP layer, ESP and
    its own header (R-5.2-b); cvc's x-MIP and mode f's tunnel are bound to the uplink, with room for an
    FA's reverse tunnel in f (RFC 3024); mode c's tunnel keeps the backend's own MTU."""
    x, i = tunnel_steps(CVC, VPN_TIA)
    assert (x.link, x.mtu(1500)) == ("wan", 1500 - 32)
    assert (i.link, i.mtu(1500)) == (None, 1500 - 32 - ESP_OVERHEAD - 20)
    fvc = SetPath("wan", "fvc", "10.3.0.1", (I_MIP,))
    assert [(s.link, s.mtu(1500)) for s in tunnel_steps(fvc, VPN_TIA)] == [(None, 1500 - IPIP_HEADER - 60 - 20)]
    f = SetPath("wan", "f", "10.3.0.1", (Tunnel("mip4-f", "10.1.0.10", "10.1.0.1"),))
    assert [(s.link, s.mtu(1500)) for s in tunnel_steps(f, None)] == [("wan", 1500 - 40)]
    c = SetPath("wan", "c", "10.2.0.5", (Tunnel("mip4-c", "10.2.0.5", "10.1.0.1"),))
    assert [(s.link, s.mtu(1500)) for s in tunnel_steps(c, None)] == [("wan", None)]
    assert [s.link for s in tunnel_steps(CVC, None)] == ["wan", "wan"]  # no VPN-TIA yet: nothing routed in IPsec


def test_the_lan_follows_only_an_open_gate_and_ike_only_x_mip():
    assert lan_default(None, "plain", None) == PROHIBIT
    c = SetPath("wan", "c", "10.2.0.5", (Tunnel("mip4-c", "10.2.0.5", "10.1.0.1"),))
    assert lan_default(c, None, None) == PROHIBIT  # R-3.2.2-a: the gate closed, user data stops at once
    assert lan_default(c, "plain", None) == ("dev", "mip4-c")
    assert lan_default(CVC, "vpn", VPN_TIA) == ("dev", "mip4-i")
    assert lan_default(CVC, "vpn", "10.9.0.2")[0] == "prohibit"  # i-MIP not from the current VPN-TIA
    assert lan_default(SetPath("wan", "home", "10.1.0.10", ()), "plain", None) == ("home",)
    assert ike_default(CVC) == ("dev", "mip4-x-wan")  # R-2.3-c: IKE rides x-MIP
    assert ike_default(SetPath("wan", "fvc", "10.3.0.1", (I_MIP,))) == ("via", "wan", "10.3.0.1")
    assert ike_default(c) == PROHIBIT and ike_default(None) == PROHIBIT
    assert uses_device(("via", "wan", "10.3.0.1"), "wan") and not uses_device(PROHIBIT, "wan")


def test_tables_and_rule_order():
    """Bound to an uplink (registrations, tunnels) its own table wins over the IKE table, which wins
    over the LAN table; in an FA mode the FA's table comes first (RFC 5944 4.2.2)."""
    t = RouterTables(4, 5, 100, 1000, ("wwan", "eth1"))
    assert t.uplink == {"eth1": 100, "wwan": 101} and t.fa == {"eth1": 150, "wwan": 151}
    assert t.all() == (4, 5, 100, 101, 150, 151)
    rules = t.start_rules("198.51.100.10", ("192.168.77.0/24",))
    by_table = {r.table: r.priority for r in rules}
    assert t.fa_rule("eth1").priority < by_table[100] < by_table[5] < by_table[4]
    assert t.vpn_rule(VPN_TIA).table == 5


def test_the_vpn_tunnel_moving_with_the_primary_stays_up():
    new = SetPath("wan", "c", "10.2.0.5", (Tunnel("mip4-c", "10.2.0.5", "10.1.0.1"),))
    assert tunnels_going(CVC, new, set()) == [X_MIP, I_MIP]
    assert tunnels_going(CVC, new, {I_MIP.name}) == [X_MIP]  # another uplink's path holds it now
    assert tunnels_going(CVC, CVC, set()) == []
    assert tunnels_going(CVC, SetPath("wan", None, None, ()), set()) == [X_MIP, I_MIP]
