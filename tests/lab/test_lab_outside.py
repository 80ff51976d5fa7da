"""Outside in the UML lab (RFC 5265 2.3): x-MIP, IKE through it with real charons, i-MIP inside IPsec,
modes cvc and fvc, secure detection against a rogue i-HA and a cut-off i-HA, and the leak auditor
over every external link for the whole tour (the same boot as the inside tests, conftest.py).
"""
from __future__ import annotations

import os
import subprocess
import sys

from board.virtual.audit import audit, audit_lab, classify
from board.virtual.boot import topology

from .conftest import CN, I_HA, I_HOA, LAN_HOST, VPN_GW, X_FA, X_HA, X_HOA, _event, steps, tshark

POOL = "10.5.0."  # the VPN gateway's pool: VPN-TIAs


def _one(events: list, network: str) -> dict:
    found = [s for s in steps(events, network)
             if not s.get("restored") and not s.get("uplink") and not s.get("vehicle")]
    assert found, network
    return found[0]


def test_moving_out_and_back_keeps_the_tcp_session(tour):
    """c -> cvc -> cvc (new network) -> fvc -> c: modes reached, the LAN host's stream never breaks
    (no byte lost or duplicated: the stream counts every record; TCP never reconnects)."""
    lab, events = tour
    order = [(s.get("network"), s["mode"]) for s in steps(events)
             if s.get("network") in ("net2", "ext1", "ext2", "xfa", "net1") and not s.get("uplink")
             and not s.get("vehicle")]
    assert order[order.index(("net2", "c")):][:5] == [("net2", "c"), ("ext1", "cvc"), ("ext2", "cvc"),
                                                      ("xfa", "fvc"), ("net1", "c")]
    for s in steps(events):
        assert s["ok"], s
    stream = _event(events, "done")["stream"]
    assert (stream["reconnects"], stream["gaps"], stream["duplicates"]) == (0, 0, 0)


def test_no_ike_renegotiation_between_outside_networks(tour):
    """R-1.7-a: a new x-MIP care-of, the same IKE SA and CHILD_SA (SPIs unchanged), also via the x-FA.
    R-4.1-d: the CHILD_SA covers the intranet prefixes. R-2-d: the x-HA answered on every external
    attachment, and the gateway's peer is the x-HoA."""
    lab, events = tour
    ext1, ext2, xfa = _one(events, "ext1"), _one(events, "ext2"), _one(events, "xfa")
    assert ext1["care_of"] != ext2["care_of"] and xfa["care_of"] == X_FA
    for s in (ext1, ext2, xfa):
        assert s["ike"] == "up" and s["ike_sa"]["state"] == "ESTABLISHED" and s["child_sa"]["state"] == "INSTALLED"
        assert s["ike_sa"]["local"] == X_HOA and s["ike_sa"]["remote"] == VPN_GW  # R-2.3-c: from the x-HoA
        assert s["ike_sa"]["vpn_tia"].startswith(POOL)
        assert s["child_sa"]["remote_ts"] == topology()["daemons"]["mr"]["vpn"]["intranet"]
    assert "established between 172.16.0.2[vpn.example.net]...%s[mr.example.net]" % X_HOA in lab.log("charon-vpngw")
    key = lambda s: (s["ike_sa"]["spi_i"], s["ike_sa"]["spi_r"], s["child_sa"]["spi_in"], s["child_sa"]["spi_out"])  # noqa: E731
    assert key(ext1) == key(ext2) == key(xfa)
    print("one IKE SA across ext1, ext2 and the x-FA: %s" % (key(ext1),))


def test_back_inside_ipsec_is_torn_down(tour):
    """R-3.3-l, R-1.1-a: inside again, the IKE SA is gone and the i-HA binds the intranet care-of."""
    lab, events = tour
    after = [s for s in steps(events, "net1")][-1]
    assert after["mode"] == "c" and after["ike"] == "down" and after["ike_sa"] is None and after["child_sa"] is None
    assert "IKE SA down: inside on wan" in lab.log("mip4d-mr")
    assert "IKE_SA mip4-vpn" in lab.log("charon-mr") and "deleting IKE_SA" in lab.log("charon-mr")


def test_i_mip_registers_the_vpn_tia_inside_ipsec_and_the_i_ha_sends_no_tnc_there(tour):
    """R-2.3-e, R-4.3-h: the i-HA trusts the pool and accepts the VPN-TIA's registration; R-3.1-c: a
    request through the VPN is from outside, so its reply has no TNC. R-2.3-d: the care-of is charon's
    virtual IP (VICI)."""
    lab, events = tour
    core = lab.path("captures", "iha-core.pcapng")
    rows = tshark(core, "mip.type == 1 && ip.src == %s0/24" % POOL, "ip.src", "mip.homeaddr", "mip.coa", "mip.d",
                  "mip.t")
    assert rows and all(r[0] == r[2] and r[1] == I_HOA and r[3] == "1" and r[4] == "1" for r in rows)
    assert _one(events, "ext1")["ike_sa"]["vpn_tia"] in {r[2] for r in rows}
    replies = tshark(core, "mip.type == 3 && ip.dst == %s0/24" % POOL, "mip.code", "mip.ext.type")
    assert replies and all(code == "0" and "149" not in ext.split(",") for code, ext in replies)
    assert "tnc-via-vpn" not in lab.log("mip4d-mr")
    # on the Internet the same registration is ESP only: tshark finds no Mobile IP from the VPN-TIA there
    assert not tshark(lab.path("captures", "fw-out.pcapng"), "mip && ip.addr == %s0/24" % POOL, "ip.src")


def test_ike_and_esp_travel_inside_x_mip(tour):
    """R-2.3-c: on the external networks, IKE and ESP of the x-HoA are inside the x-MIP tunnel
    (co-located care-of) or reverse-tunnelled by the x-FA; never from the care-of in clear."""
    lab, events = tour
    for cap in ("isp-ext1", "isp-ext2"):
        path = lab.path("captures", cap + ".pcapng")
        assert tshark(path, "ip.proto == 4 && esp", "ip.src"), cap  # x-MIP carrying ESP
        assert not tshark(path, "(esp || isakmp) && !(ip.proto == 4)", "ip.src"), cap
    # IKE_SA_INIT and IKE_AUTH on ext1, through x-MIP; none on ext2: the SA moved along (R-1.7-a)
    assert tshark(lab.path("captures", "isp-ext1.pcapng"), "ip.proto == 4 && isakmp.exchangetype == 34", "ip.src")
    xfa_inet = lab.path("captures", "xfa-inet.pcapng")  # RFC 3024: the x-FA reverse tunnels to the x-HA
    assert tshark(xfa_inet, "ip.proto == 4 && ip.dst == %s && esp" % X_HA, "ip.src")


def test_leak_auditor_finds_nothing_on_any_external_link(tour):
    """RFC 5265 1.1, R-2.3-h, R-6.1-b: every frame on ext1, ext2, the x-FA link, the Internet and the x-HA's home
    link, during the whole tour (moves out and in, detection windows, the cut-off i-HA), is allowed;
    intranet addresses and the i-HoA show only in registrations (the plaintext detection probes)."""
    lab, events = tour
    result = audit_lab(lab.dir, topology())
    print("leak audit: %d packets: %s" % (result["packets"], result["kinds"]))
    assert not result["leaks"], "\n".join(result["leaks"][:30])
    assert result["kinds"].get("ipip-esp", 0) > 100 and result["kinds"].get("esp", 0) > 100
    assert len(result["per_capture"]) == len(topology()["audit"]["captures"])
    for cap in topology()["audit"]["captures"]:
        assert not tshark(lab.path("captures", cap + ".pcapng"), "ip.addr == 10.0.0.0/8 && !(udp.port == 434)",
                          "frame.number"), cap


def test_leak_auditor_flags_plaintext_and_unexpected_traffic():
    """The auditor can fail: plain TCP from the LAN host, an ICMP echo, IP-in-IP with TCP inside."""
    assert classify("0x0800", (6,), (40000, 5000), ()) is None
    assert classify("0x0800", (1,), (), (8,)) is None
    assert classify("0x0800", (4, 6), (40000, 5000), ()) is None
    assert classify("0x86dd", (), (), ()) is None
    assert classify("0x0800", (4, 50), (), ()) == "ipip-esp"
    assert classify("0x0800", (17,), (500, 500), ()) == "ike"
    assert classify("0x0800", (1, 50), (), (3,)) == "icmp-error"  # PMTU for ESP
    assert classify("0x0800", (1, 6), (), (3,)) is None  # an ICMP error quoting plain TCP
    assert classify("0x0800", (1, 17), (67, 68), (3,)) == "icmp-error"  # a late DHCP offer, its udhcpc gone
    # inside x-MIP: the gateway's port unreachable for IKE while its charon restarts (the fault scenario)
    assert classify("0x0800", (4, 1, 17), (500, 500), (3,)) == "ipip-icmp-error"
    assert classify("0x0800", (4, 1, 6), (40000, 5000), (3,)) is None  # ... but not one quoting plain TCP
    # RFC 3519 UDP tunnel data on 434: IPsec and the keepalive echo only, never plain traffic
    assert classify("0x0800", (17, 50), (434, 434), ()) == "udp-tunnel-esp"
    assert classify("0x0800", (17, 17), (434, 434, 4500, 4500), ()) == "udp-tunnel-ike"
    assert classify("0x0800", (17, 1), (434, 434), (8,)) == "udp-tunnel-keepalive"
    assert classify("0x0800", (17, 6), (434, 434, 40000, 5000), ()) is None
    assert classify("0x0800", (17, 17), (434, 434, 5353, 53), ()) is None
    assert classify("0x0800", (1, 17, 50), (434, 434), (3,)) == "icmp-error"  # a NAT that lost the mapping


def test_leak_auditor_reads_a_capture_and_flags_the_i_hoa_outside_registrations(tmp_path):
    """A router solicitation from the i-HoA (what the kernel sends for a 0.0.0.0 source when it picks
    the address) is a leak; the same address in a registration through an FA is not."""
    from tests.wire.pcap import PROTO_ICMP, PROTO_UDP, ipv4, udp, write_pcap
    path = tmp_path / "ext.pcap"
    write_pcap(path, [ipv4(I_HOA, "224.0.0.2", PROTO_ICMP, bytes([10, 0, 0xF5, 0xFF, 0, 0, 0, 0]), ttl=1),
                      ipv4(I_HOA, X_FA, PROTO_UDP, udp(434, 434, bytes(24))),
                      ipv4(LAN_HOST, "192.0.2.9", 6, bytes(20))])
    result = audit([str(path)], {LAN_HOST, CN}, ("10.0.0.0/8",))
    assert result["kinds"] == {"mip-registration": 1} and len(result["leaks"]) == 2
    assert "address 10.1.0.10 in clear" in result["leaks"][0] and "192.168.77.2" in result["leaks"][1]


def test_rogue_i_ha_outside_never_makes_the_mr_inside(tour):
    """RFC 5265 6.1, R-3.2.3-a: on ext1 a rogue owns the i-HA's address and accepts with TNC, without
    the key: the MR rejects the authenticator and stays in cvc."""
    lab, events = tour
    ext1 = _one(events, "ext1")
    assert ext1["mode"] == "cvc" and ext1["rogue"].get("answered", 0) >= 1
    assert ext1["counters"].get("bad-authenticator", 0) >= 1


def test_a_second_uplink_outside_is_judged_on_its_own(tour):
    """RFC 5265 3.2.1, R-3.2.1-a: wan inside (mode c) and wwan on an external network at once: wwan is
    outside with its own x-HA registration (S bit, simultaneous binding) and its gate stays closed,
    while wan keeps mode c and the stream flows; unplugged, wwan is down and wan never noticed."""
    lab, events = tour
    plugged, unplugged = [s for s in steps(events) if s.get("uplink") == "wwan"]
    assert plugged["ok"] and plugged["network"] == "ext2" and plugged["primary"] == "wan" and plugged["mode"] == "c"
    other = plugged["other"]
    assert other["state"] == "outside" and other["x_ha_registered"] and other["gate"] is None
    regs = {r["agent"]: r for r in other["registrations"]}
    assert regs["x-ha"]["care_of"].startswith("198.18.2.") and regs["x-ha"]["registered"]
    assert not regs.get("i-ha", {}).get("registered")  # the rogue's reply never counts
    assert unplugged["ok"] and unplugged["other"]["state"] == "down" and unplugged["mode"] == "c"


def test_gateway_rekey_and_delete_never_leak_and_the_stream_resumes(tour):
    """RFC 5265 1.1: a CHILD_SA re-key (new ESP SPIs, same IKE SA) and an IKE SA deleted by the gateway
    (the MR blocks user data, starts IKE again from the x-HoA, registers the VPN-TIA again); the
    stream carries on with nothing lost, and the leak auditor (above) covers both windows."""
    lab, events = tour
    rekey, delete = [s for s in steps(events) if s.get("gateway")]
    assert rekey["ok"] and delete["ok"], (rekey, delete)
    assert rekey["ike_sa"]["spi_i"] == rekey["ike_before"]["spi_i"]
    assert rekey["child_sa"]["spi_in"] != rekey["child_before"]["spi_in"]
    assert delete["ike_sa"]["spi_i"] != delete["ike_before"]["spi_i"] and delete["ike_sa"]["local"] == X_HOA
    assert delete["stream"]["reconnects"] == 0 and delete["stream"]["gaps"] == 0
    print("gateway re-key: data on the new CHILD_SA after %.1f s; IKE SA deleted: back after %.1f s"
          % (rekey["renewed_after_s"], delete["renewed_after_s"]))


def test_i_ha_cut_off_inside_blocks_user_data_after_t_monitor(tour):
    """R-3.2.4-b, R-3.3-i: inside, the i-HA unreachable: once T_MONITOR passes without a good
    registration, user data is blocked (LAN route prohibit); back, it is inside again, same session."""
    lab, events = tour
    (cut,) = [s for s in steps(events) if s.get("cut")]
    t_monitor = topology()["daemons"]["mr"]["mn"]["t_monitor"]
    assert cut["ok"] and 0 < cut["blocked_after_s"] <= t_monitor + 2
    assert cut["state"] != "inside"
    (back,) = [s for s in steps(events) if s.get("restored")]
    assert back["ok"] and back["mode"] == "c" and back["stream"]["reconnects"] == 0
    assert "T_MONITOR" in lab.log("mip4d-mr")


def test_inside_the_mr_re_registers_every_t_monitor_minus_n(tour):
    """R-3.2.4-a: inside, the next i-HA registration leaves T_MONITOR - N after the last good one,
    unprompted; with the i-HA cut off it finds no answer, and the block follows at T_MONITOR."""
    lab, events = tour
    (cut,) = [s for s in steps(events) if s.get("cut")]
    mn = topology()["daemons"]["mr"]["mn"]
    wan = lab.path("captures", "mr-wan.pcapng")
    sent = [float(t) for (t,) in tshark(wan, "mip.type == 1 && ip.dst == %s && mip.life > 0" % I_HA,
                                        "frame.time_epoch")]
    good = [float(t) for (t,) in tshark(wan, "mip.type == 3 && ip.src == %s && mip.code == 0" % I_HA,
                                        "frame.time_epoch")]
    last_good = max(t for t in good if t < cut["wall"])
    monitor = min(t for t in sent if t > last_good)
    interval = mn["t_monitor"] - mn["t_monitor_grace"]
    print("monitoring re-registration %.2f s after the last good reply (T_MONITOR - N = %g s)"
          % (monitor - last_good, interval))
    assert interval - 1.0 <= monitor - last_good <= interval + 1.0
    assert monitor < cut["wall"] + cut["blocked_after_s"]


def test_mip4_status_shows_the_outside_state(tour):
    """`mip4 status` renders the one status model: mode, interface, registrations, IKE/CHILD SA, guard."""
    lab, events = tour
    ext2 = _one(events, "ext2")
    # the last status kept while the MR is still on ext2 with the same SAs: the ext2 step itself may end
    # (mode reached, 25 records) inside the detection window, where the verdict is still tentative-outside
    last = ext2["step"]
    for s in steps(events):
        if s["step"] <= ext2["step"]:
            continue
        if s.get("care_of") != ext2["care_of"] or (s.get("ike_sa") or {}).get("spi_i") != ext2["ike_sa"]["spi_i"]:
            break
        last = s["step"]
    path = lab.path("run", "mr-step-%d.json" % last)
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), "..", "..", "firmware"))
    out = subprocess.run([sys.executable, "-m", "mip4", "status", "--file", path], capture_output=True, text=True,
                         env=env, check=True).stdout
    print(out)
    assert "mode cvc, outside" in out and "primary wan, IKE up" in out
    row = next(line for line in out.splitlines() if line.startswith("wan "))
    assert row.split()[:7] == ["wan", "1", "yes", "outside", "cvc", ext2["care_of"], "vpn"]
    assert "x-ha" in row and "via %s" % ext2["care_of"] in row
    assert "wan: network 198.18.2.0/24, verdict outside" in out
    assert "IKE SA ESTABLISHED %s_i" % ext2["ike_sa"]["spi_i"] in out and "VPN-TIA 10.5.0." in out
    assert "CHILD SA INSTALLED spi in %s" % ext2["child_sa"]["spi_in"] in out
    assert "i-MIP through the VPN: vpn " in out and "via 10.5.0." in out
    assert "leak guard: " in out and "192.168.77.0/24 on wan" in out and "10.1.0.10/32 on wan" in out
    missing = subprocess.run([sys.executable, "-m", "mip4", "status", "--file", path + ".none"], env=env,
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "no status file from mip4d" in missing.stderr


def test_cn_and_lan_host_never_seen_in_clear_outside(tour):
    """The same judgement as the auditor, asked of tshark directly on the Internet-side captures."""
    lab, events = tour
    for cap in topology()["audit"]["captures"]:
        assert not tshark(lab.path("captures", cap + ".pcapng"), "ip.addr == %s || ip.addr == %s" % (LAN_HOST, CN),
                          "frame.number"), cap


def test_leak_auditor_allows_only_the_rfc_s_clear_traffic_and_fails_on_anything_else(tmp_path):
    """R-6.1-b, through tshark on a capture: outside, besides IKE/ESP and the tunnels carrying them (x-MIP
    IP-in-IP, RFC 3519 UDP tunnel data with its keepalive), only Mobile IP registrations (the detection
    probe to the i-HA shows its address: allowed there), agent discovery, DHCP and ARP may be in clear
    (and ICMP errors about those). Each planted violation is flagged, one by one, and nothing else."""
    from tests.wire.pcap import PROTO_ICMP, PROTO_UDP, ipv4, udp, write_pcap
    coa, esp = "198.18.1.100", bytes(range(48))  # SPI, sequence, ciphertext: opaque to the auditor
    tunnel_data = bytes([4, 4, 0, 0])  # RFC 3519 3.3: MIP tunnel data, next header IPv4
    echo = bytes([8, 0, 0xF7, 0xFF, 0, 0, 0, 0])
    allowed = [
        ("esp", ipv4(X_HOA, VPN_GW, 50, esp)),
        ("ike", ipv4(X_HOA, VPN_GW, PROTO_UDP, udp(500, 500, bytes(28)))),
        ("ike", ipv4(X_HOA, VPN_GW, PROTO_UDP, udp(4500, 4500, bytes(32)))),
        ("ipip-esp", ipv4(coa, X_HA, 4, ipv4(X_HOA, VPN_GW, 50, esp))),
        ("ipip-ike", ipv4(X_HA, coa, 4, ipv4(VPN_GW, X_HOA, PROTO_UDP, udp(500, 500, bytes(28))))),
        ("mip-registration", ipv4(coa, X_HA, PROTO_UDP, udp(434, 434, bytes(24)))),
        ("mip-registration", ipv4(coa, I_HA, PROTO_UDP, udp(434, 434, bytes(24)))),  # the i-HA probe
        ("udp-tunnel-esp", ipv4(coa, X_HA, PROTO_UDP, udp(434, 434, tunnel_data + ipv4(X_HOA, VPN_GW, 50, esp)))),
        ("udp-tunnel-keepalive", ipv4(coa, X_HA, PROTO_UDP, udp(434, 434, tunnel_data
                                                                   + ipv4(X_HOA, X_HA, PROTO_ICMP, echo)))),
        ("dhcp", ipv4("0.0.0.0", "255.255.255.255", PROTO_UDP, udp(68, 67, bytes(240)))),
        ("router-discovery", ipv4(X_FA, "224.0.0.1", PROTO_ICMP, bytes([9, 0, 0, 0, 1, 0, 0, 3]) + bytes(8))),
        ("router-discovery", ipv4(coa, "224.0.0.2", PROTO_ICMP, bytes([10, 0, 0xF5, 0xFF, 0, 0, 0, 0]))),
    ]
    planted = [
        ipv4(coa, "192.0.2.53", PROTO_UDP, udp(40000, 53, bytes(20))),  # a DNS query in clear
        ipv4(coa, X_HA, PROTO_ICMP, echo),  # a ping outside any tunnel
        ipv4(coa, "192.0.2.80", 6, bytes(20)),  # TCP from the care-of
        ipv4(coa, X_HA, 4, ipv4(X_HOA, "192.0.2.80", 6, bytes(20))),  # x-MIP carrying TCP, not IPsec
        ipv4(coa, X_HA, PROTO_UDP, udp(434, 434, tunnel_data + ipv4(X_HOA, "192.0.2.53", PROTO_UDP,
                                                                    udp(40000, 53, bytes(20))))),  # DNS, UDP tunnel
        ipv4(coa, "192.0.2.9", 47, bytes(24)),  # GRE
        ipv4(X_HOA, VPN_GW, PROTO_UDP, udp(1194, 1194, bytes(40))),  # another VPN (OpenVPN's port)
        ipv4(CN, coa, PROTO_UDP, udp(434, 434, bytes(24))),  # an intranet host's address outside a registration
    ]
    path = tmp_path / "ext.pcap"
    write_pcap(path, [p for _, p in allowed] + planted)
    result = audit([str(path)], {LAN_HOST, CN}, ("10.0.0.0/8",))
    kinds: dict[str, int] = {}
    for kind, _ in allowed:
        kinds[kind] = kinds.get(kind, 0) + 1
    assert result["kinds"] == kinds
    flagged = [int(line.split("#")[1].split()[0]) for line in result["leaks"]]
    assert flagged == list(range(len(allowed) + 1, len(allowed) + len(planted) + 1)), result["leaks"]
    assert classify("0x0806", (), (), ()) == "arp"
