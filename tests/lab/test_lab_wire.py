"""What the wire shows, in the tour's boot (conftest.py): RFC 5265 Appendix A's layering on every link,
section 5.2's overhead per mode, the cost of a cvc start-up (5.3), the intranet's view of an outside
MR (5.4), a full-size DF flow behind the NAT, and an attacker holding the x-HA binding (6.2).

tshark is the judge, with the ESP decrypted from the gateway's SAs that the lab keeps (wire.py): the
layers inside ESP are read off the external link, not inferred. Requirement IDs proved here: R-A.1-b,
R-A.1-c, R-5.2-a, R-5.3-c, R-5.4-b, R-6.2-a. (The full-size flow shows the CN finding its path MTU through
ICMP from the gateway: the MR clamps no TCP MSS, so 5.2's "where ICMP is filtered" is not proved here.)
"""
from __future__ import annotations

import ipaddress

from board.virtual.boot import topology

from .conftest import CN, I_HA, I_HOA, LAN_HOST, VPN_GW, X_HA, X_HOA, steps
from .wire import Frame, between, frames

POOL = ipaddress.IPv4Network(topology()["ipsec"]["pool"])  # the VPN-TIAs
FW_IN = topology()["nodes"]["fw"]["links"]["in"][1].split("/")[0]  # the firewall's intranet address
STREAM_PORT = topology()["cn"]["port"]


def _plain(events: list, network: str) -> dict:
    """The tour's first move to `network` (not a second uplink, a vehicle step or a restore)."""
    found = [s for s in steps(events, network)
             if not s.get("restored") and not s.get("uplink") and not s.get("vehicle")]
    assert found, network
    return found[0]


def _window(events: list, step: dict) -> tuple[float, float]:
    """From the step's link event (its wall time) to the next step's."""
    later = [s["wall"] for s in steps(events) if s.get("wall", 0) > step["wall"]]
    return step["wall"], min(later, default=float("inf"))


def _in_pool(address: str) -> bool:
    return ipaddress.IPv4Address(address) in POOL


# ---- R-A.1-b: control packets ------------------------------------------------------------------------


def test_control_packets_are_layered_as_appendix_a(tour):
    """R-A.1-b: the first cvc start-up (ext1), link by link, as RFC 5265 A.1 draws it. On the external
    link: IKE {1a} is IP(co-CoA -> x-HA) / IP(x-HoA -> VPN-GW) / UDP 500 / IKE; the i-HA registration {2a}
    is IP(co-CoA -> x-HA) / IP(x-HoA -> VPN-GW) / ESP / IP(VPN-TIA -> i-HA) / UDP 434 / MIP RRQ. From the
    x-HA to the gateway (the Internet) {2b}: IP(x-HoA -> VPN-GW) / ESP / IP / UDP 434 / RRQ; from the
    gateway to the i-HA (the intranet) {2c}: IP(VPN-TIA -> i-HA) / UDP 434 / RRQ. The replies take the
    same layers back. tshark's frame.protocols on each capture, ESP decrypted with the gateway's keys."""
    lab, events = tour
    ext1 = _plain(events, "ext1")
    start, end = _window(events, ext1)
    coa = ext1["care_of"]
    ext = between(frames(lab.dir, "isp-ext1", "isakmp || mip"), start, end)
    ike = [x for x in ext if "isakmp" in x.stack]
    assert ike and all(x.stack == "ip:ip:udp:isakmp" for x in ike), {x.stack for x in ike}
    assert {(x.src, x.dst) for x in ike} == {((coa, X_HOA), (X_HA, VPN_GW)), ((X_HA, VPN_GW), (coa, X_HOA))}
    assert {x.ints("udp.srcport") for x in ike} == {(500,)}  # {1a}: 500 -> 500
    rrq = [x for x in ext if x.stack == "ip:ip:esp:ip:udp:mip" and x.f["mip.type"] == "1"]
    rrp = [x for x in ext if x.stack == "ip:ip:esp:ip:udp:mip" and x.f["mip.type"] == "3"]
    assert rrq and rrp, {x.stack for x in ext}
    tia = rrq[0].src[2]
    assert _in_pool(tia) and tia == ext1["ike_sa"]["vpn_tia"]
    for x in rrq:  # {2a}
        assert x.src == (coa, X_HOA, tia) and x.dst == (X_HA, VPN_GW, I_HA) and x.ints("udp.dstport") == (434,)
    for x in rrp:  # {2a} back
        assert x.src == (X_HA, VPN_GW, I_HA) and x.dst == (coa, X_HOA, tia) and x.ints("udp.srcport") == (434,)
    # the plaintext probes of detection (RFC 5265 3.3): registrations in clear, to the x-HA and the i-HA
    probes = {(x.dst[0], x.f["mip.type"]) for x in ext if x.stack == "ip:udp:mip" and x.src == (coa,)}
    assert (X_HA, "1") in probes and (I_HA, "1") in probes
    assert all(x.stack in ("ip:udp:mip", "ip:ip:udp:isakmp", "ip:ip:esp:ip:udp:mip") for x in ext), \
        {x.stack for x in ext}
    inet = [x for x in between(frames(lab.dir, "xha-inet", "mip && ip.addr == %s" % tia), start, end)]
    to_gw = [x for x in inet if x.src[0] == X_HOA]
    from_gw = [x for x in inet if x.src[0] == VPN_GW]
    assert to_gw and from_gw
    assert {(x.stack, x.src, x.dst) for x in to_gw} == {("ip:esp:ip:udp:mip", (X_HOA, tia), (VPN_GW, I_HA))}  # {2b}
    assert {(x.stack, x.src, x.dst) for x in from_gw} == {("ip:esp:ip:udp:mip", (VPN_GW, I_HA), (X_HOA, tia))}
    core = between(frames(lab.dir, "iha-core", "mip && ip.addr == %s" % tia, decrypt=False), start, end)
    assert {(x.stack, x.src, x.dst, x.f["mip.type"]) for x in core} == {
        ("ip:udp:mip", (tia,), (I_HA,), "1"), ("ip:udp:mip", (I_HA,), (tia,), "3")}  # {2c} and its reply
    print("A.1 control layers on ext1: %d IKE {1a}, %d i-HA RRQ {2a}, %d {2b} on the Internet, %d {2c} at the i-HA"
          % (len(ike), len(rrq), len(to_gw), len([x for x in core if x.f["mip.type"] == "1"])))


# ---- R-A.1-c: user packets ---------------------------------------------------------------------------


def _key(x: Frame) -> tuple:
    """One TCP segment of the stream, whatever carries it: ports, raw sequence and ack numbers, length."""
    return (x.f["tcp.srcport"], x.f["tcp.dstport"], x.f["tcp.seq_raw"], x.f["tcp.ack_raw"], x.f["tcp.len"])


def test_user_packets_lose_one_layer_per_hop_and_gain_them_back_in_mirror_order(tour):
    """R-A.1-c: in cvc (ext2), one segment of the LAN host's stream followed across every link by its TCP
    sequence and ack numbers. LAN host -> CN: {3a} IP / TCP on the LAN; {3b} IP(co-CoA -> x-HA) / IP(x-HoA
    -> VPN-GW) / ESP / IP(VPN-TIA -> i-HA) / IP / TCP on the external link; the x-HA removes x-MIP ({3c},
    IP / ESP / IP / IP / TCP towards the gateway), the gateway ESP ({3d}, IP / IP / TCP into the intranet),
    the i-HA i-MIP ({3e}, IP / TCP to the CN). CN -> LAN host: the same layers added in mirror order (i-HA,
    gateway, x-HA), each hop later than the one before it. (The MR here is a mobile router: {3a}'s source
    is the LAN host behind it, not the i-HoA.)"""
    lab, events = tour
    ext2 = _plain(events, "ext2")
    start, end = _window(events, ext2)
    coa = ext2["care_of"]
    tia = ext2["ike_sa"]["vpn_tia"]
    stream = "tcp.port == %d" % STREAM_PORT
    lan = between(frames(lab.dir, "lanhost-eth0", stream, decrypt=False), start, end)
    ext = between(frames(lab.dir, "isp-ext2", stream), start, end)
    inet = between(frames(lab.dir, "xha-inet", stream), start, end)
    fw_in = between(frames(lab.dir, "fw-in", stream, decrypt=False), start, end)
    core = between(frames(lab.dir, "iha-core", stream, decrypt=False), start, end)
    up, down = LAN_HOST, CN
    # (capture, the frames there, the layers, every IP header's source and destination) in path order
    upstream = [("lanhost-eth0", lan, "ip:tcp", (up,), (down,)),  # {3a}
                ("isp-ext2", ext, "ip:ip:esp:ip:ip:tcp", (coa, X_HOA, tia, up), (X_HA, VPN_GW, I_HA, down)),  # {3b}
                ("xha-inet", inet, "ip:esp:ip:ip:tcp", (X_HOA, tia, up), (VPN_GW, I_HA, down)),  # {3c}
                ("fw-in", fw_in, "ip:ip:tcp", (tia, up), (I_HA, down)),  # {3d}
                ("iha-core", core, "ip:ip:tcp", (tia, up), (I_HA, down)),  # {3d} at the i-HA
                ("iha-core", core, "ip:tcp", (up,), (down,))]  # {3e}
    downstream = [("iha-core", core, "ip:tcp", (down,), (up,)),
                  ("iha-core", core, "ip:ip:tcp", (I_HA, down), (tia, up)),
                  ("fw-in", fw_in, "ip:ip:tcp", (I_HA, down), (tia, up)),
                  ("xha-inet", inet, "ip:esp:ip:ip:tcp", (VPN_GW, I_HA, down), (X_HOA, tia, up)),
                  ("xha-inet", inet, "ip:ip:esp:ip:ip:tcp", (X_HA, VPN_GW, I_HA, down), (coa, X_HOA, tia, up)),
                  ("isp-ext2", ext, "ip:ip:esp:ip:ip:tcp", (X_HA, VPN_GW, I_HA, down), (coa, X_HOA, tia, up)),
                  ("lanhost-eth0", lan, "ip:tcp", (down,), (up,))]
    for name, path in (("LAN host -> CN", upstream), ("CN -> LAN host", downstream)):
        first = path[0] if name.startswith("LAN") else path[-1]  # the LAN host's own capture picks the segments
        sender = first[3][-1]
        once: dict[tuple, list[Frame]] = {}
        for x in first[1]:
            if x.src[-1] == sender:
                once.setdefault(_key(x), []).append(x)
        picked = [k for k, xs in once.items() if len(xs) == 1 and xs[0].f["tcp.len"] not in ("", "0")][5:25] \
            or [k for k, xs in once.items() if len(xs) == 1][5:25]
        assert len(picked) >= 10, (name, len(once))
        for key in picked:
            times = []
            for cap, found, stack, src, dst in path:
                hits = [x for x in found if _key(x) == key and x.stack == stack and x.src[-1] == src[-1]]
                assert hits, "%s: segment %s not seen as %s on %s" % (name, key, stack, cap)
                assert all((x.src, x.dst) == (src, dst) for x in hits), (cap, [(x.src, x.dst) for x in hits])
                times.append(hits[0].time)
            assert times == sorted(times), (name, key, times)
        print("%s: %d segments followed over %s" % (name, len(picked), " -> ".join(
            "%s %s" % (cap, stack) for cap, _, stack, _, _ in path)))


# ---- R-5.2-a: overhead per mode ----------------------------------------------------------------------

# RFC 5265 5.2 counts 20 for each IP-in-IP layer and 57 for ESP with a 64-bit block cipher and a 12-octet
# ICV: 20 (outer IP) + 4 + 4 + 8 (SPI, sequence, IV) + 7 + 2 (padding to the block, pad length, next header)
# + 12 (ICV). The lab negotiates aes128gcm16 (topology.json ipsec.esp_proposals, RFC 4106): 20 + 4 + 4 + 8
# (its explicit IV) + pad + 2 + 16 (its ICV), where GCM needs no block padding, only the 4-octet alignment
# of RFC 4303 2.4: pad = -(ESP payload + 2) mod 4, 0..3. So ESP costs 54 + pad, at most 57: the RFC's own
# figure, by coincidence of 8 octets less padding and 4 more ICV. RFC 3519's UDP tunnelling of x-MIP (the
# NAT) replaces x-MIP's 20 by 20 + 8 (UDP) + 4 (MIP tunnel data header): the RFC's "12 more".
ESP_FIXED, IPIP, UDP_TUNNEL = 20 + 4 + 4 + 8 + 2 + 16, 20, 20 + 8 + 4
RFC_MAXIMUM = {"f": 0, "c": 20, "fvc": 77, "cvc": 97}


def _esp_pad(x: Frame, payload: int) -> int:
    """The ESP padding of frame `x`, read from its decrypted trailer and checked against RFC 4303 2.4's
    rule for a cipher without blocks (4-octet alignment); the next header is IPv4 (tunnel mode)."""
    pad, next_header = x.esp_trailer()
    assert next_header == 4 and pad == -(payload + 2) % 4, (x.number, pad, next_header, payload)
    return pad


def test_overhead_per_mode_is_section_5_2_s_for_the_lab_s_cipher(tour):
    """R-5.2-a: on the MN's link (mr-wan), every packet of the LAN host's stream in each mode, both ways:
    outer IP length minus the user packet's equals c 20, fvc 20 + 54 + pad, cvc 20 + 54 + pad + 20, pad
    0..3 (ESP as negotiated, see above), so never more than the RFC's 20, 77, 97; cvc behind the NAT (RFC
    3519 UDP tunnelling of x-MIP) 12 more, at most 109 (the RFC's 97 + 12); at home 0. Mode f: the RFC's 0
    is a mobile node's own packets, which the FA reverse tunnels as they are (RFC 3024); a mobile router's
    LAN packets do not carry its home address, so they ride its own tunnel to the i-HA through the FA:
    20, as in c (and RFC 5265's fvc and cvc figures already count that i-MIP layer)."""
    lab, events = tour
    # each network's access link, captured at its other end (the MR's own capture, mr-wan, also shows the
    # packets its kernel decrypted, on the link ESP came in by: fvc); net1 has only the MR's
    cases = [("home", "home", 0, "", "iha-home"), ("net1", "c", IPIP, "", "mr-wan"), ("ifa", "f", IPIP, "", "ifa-acc"),
             ("ext2", "cvc", IPIP + ESP_FIXED + IPIP, "esp", "isp-ext2"),
             ("nat", "cvc", UDP_TUNNEL + ESP_FIXED + IPIP, "esp", "nat-lan"),
             ("xfa", "fvc", ESP_FIXED + IPIP, "esp", "xfa-acc"), ("natfa", "fvc", ESP_FIXED + IPIP, "esp", "nfa-acc")]
    print("\n%-6s %-5s %-9s %8s %10s %12s %s" % ("where", "mode", "capture", "packets", "overhead", "RFC maximum",
                                                "layers"))
    for network, mode, fixed, esp, capture in cases:
        step = _plain(events, network)
        assert step["mode"] == mode, step
        start, end = _window(events, step)
        link = frames(lab.dir, capture, "(tcp.port == %d || tcp.port == %d) && !icmp" % (STREAM_PORT, STREAM_PORT + 1),
                      extra=("esp.decrypted_data",))  # the stream, and the bulk transfer's sizes behind the NAT
        got = [x for x in between(link, start + step["data_after_s"], end) if x.f["tcp.srcport"]]
        assert len(got) > 20, (network, len(got))
        overheads = []
        for x in got:
            assert (x.src[-1], x.dst[-1]) in ((LAN_HOST, CN), (CN, LAN_HOST)), (network, x.number, x.src, x.dst)
            pad = _esp_pad(x, x.length[-1] + IPIP) if esp else 0  # ESP carries i-MIP's IP-in-IP
            overhead = x.length[0] - x.length[-1]
            assert overhead == fixed + pad, (network, x.number, x.stack, overhead, fixed, pad)
            overheads.append(overhead)
        limit = (0 if mode == "home" else IPIP if mode == "f" else RFC_MAXIMUM[mode]) + (12 if network == "nat" else 0)
        assert max(overheads) <= limit
        print("%-6s %-5s %-9s %8d %10s %12d %s" % (network, mode, capture, len(got), "%d..%d" % (
            min(overheads), max(overheads)), limit, sorted({x.stack for x in got})))


# ---- R-5.3-c: the cost of a cvc start-up, and IKE only when it must ----------------------------------


def test_cvc_start_up_phases_and_ike_exchanges_per_step(tour):
    """R-5.3-c: the first outside attachment (ext1, after being inside) costs x-HA registration, the
    detection window (the i-HA probe unanswered, only the rogue's bad reply), IKE, then the i-HA
    registration inside IPsec; timestamps from the captures (mr-wan, decrypted). And IKE_SA_INIT per step
    on the gateway's Internet link (fw-out, distinct initiator SPIs): one where IPsec starts (the first
    cvc, and after the gateway deletes the IKE SA), none on any later outside-to-outside move."""
    lab, events = tour
    ext1 = _plain(events, "ext1")
    start, end = _window(events, ext1)
    wan = between(frames(lab.dir, "mr-wan", "mip || isakmp"), start, end)

    def first(pred) -> float:  # noqa: ANN001
        found = [x.time for x in wan if pred(x)]
        assert found, "not on mr-wan in the ext1 window"
        return min(found)

    x_rrq = first(lambda x: x.stack == "ip:udp:mip" and x.dst == (X_HA,) and x.f["mip.type"] == "1")
    x_rrp = first(lambda x: x.stack == "ip:udp:mip" and x.src == (X_HA,) and x.f["mip.code"] == "0")
    probe = first(lambda x: x.stack == "ip:udp:mip" and x.dst == (I_HA,) and x.f["mip.type"] == "1")
    ike_init = first(lambda x: "isakmp" in x.stack and x.f["isakmp.exchangetype"] == "34")
    ike_auth = first(lambda x: "isakmp" in x.stack and x.f["isakmp.exchangetype"] == "35" and x.src[-1] == VPN_GW)
    i_rrq = first(lambda x: "esp" in x.stack and x.f["mip.type"] == "1")
    i_rrp = first(lambda x: "esp" in x.stack and x.f["mip.type"] == "3" and x.f["mip.code"] == "0")
    data = start + ext1["data_after_s"]
    phases = [("link up", start), ("x-HA RRQ", x_rrq), ("x-HA RRP", x_rrp), ("i-HA probe", probe),
              ("IKE_SA_INIT", ike_init), ("IKE_AUTH done", ike_auth), ("i-HA RRQ via VPN", i_rrq),
              ("i-HA RRP via VPN", i_rrp), ("stream data", data)]
    print("\ncvc start-up on ext1 (s after the link came up):")
    for what, t in phases:
        print("  %-18s %7.3f" % (what, t - start))
    print("  x-HA registration %.3f s, detection window %.3f s, IKE %.3f s, i-HA registration %.3f s"
          % (x_rrp - x_rrq, ike_init - x_rrp, ike_auth - ike_init, i_rrp - i_rrq))
    assert x_rrq < x_rrp <= ike_init < ike_auth <= i_rrq < i_rrp  # IKE only through an accepted x-MIP
    assert probe < ike_auth  # detection runs in parallel with (or before) IKE, never after it (RFC 5265 3.3)
    assert ext1["mode"] == "cvc"

    inits = frames(lab.dir, "fw-out", "isakmp.exchangetype == 34 && isakmp.rspi == 00:00:00:00:00:00:00:00",
                   decrypt=False)
    per_step = []
    for s in steps(events):
        if "wall" not in s:  # a second uplink's step: in its neighbour's window
            continue
        lo, hi = _window(events, s)
        per_step.append((s, {x.f["isakmp.ispi"] for x in inits if lo <= x.time < hi}))
    print("\nIKE_SA_INIT per step (distinct initiator SPIs on fw-out):")
    for s, spis in per_step:
        print("  step %2d %-8s %-10s %-4s %d" % (s["step"], s.get("network") or "", s.get("fault") or s.get("gateway")
                                                 or s.get("vehicle") or s.get("nat") or s.get("uplink") or "",
                                                 s["mode"], len(spis)))
    outside = {"ext1", "ext2", "nat", "natfa", "xfa"}
    moves = [(s, spis) for s, spis in per_step if s.get("network") in outside and not s.get("uplink")
             and not s.get("vehicle")]
    assert [len(spis) for s, spis in moves if s is ext1] == [1]
    later = [(s["step"], s.get("network") or s.get("fault") or s.get("nat"), len(spis)) for s, spis in per_step
             if s["wall"] > ext1["wall"] and s.get("gateway") is None and s["mode"] in ("cvc", "fvc")]
    assert later and all(n == 0 for _, _, n in later), later  # moves, the NAT's restarts, the redirect
    (terminate,) = [spis for s, spis in per_step if s.get("gateway") == "terminate"]
    assert len(terminate) == 1
    assert sum(len(spis) for _, spis in per_step) == len({x.f["isakmp.ispi"] for x in inits})


# ---- R-5.4-b: what the intranet sees of an outside MR --------------------------------------------------


def test_the_intranet_sees_only_vpn_tia_to_i_ha_mobile_ip_while_the_mr_is_outside(tour):
    """R-5.4-b: the firewall's intranet side (fw-in: everything between the DMZ's gateway and the
    intranet crosses it) from the first outside move (ext1) until the MR is inside again: every IPv4
    packet is between a VPN-TIA and the i-HA, Mobile IP on UDP 434 or IP-in-IP (protocol 4) carrying the
    LAN host's traffic with the CN; ARP aside, nothing else, not even the gateway's own traffic. Routers'
    ICMP errors about exactly those packets are the network's, not the MN's: the gateway's "fragmentation
    needed" to the i-HA (path MTU discovery of the i-MIP tunnel through ESP), the firewall's "time
    exceeded" while the gateway has just deleted the VPN-TIA's SA; each must quote VPN-TIA <-> i-HA."""
    lab, events = tour
    ext1 = _plain(events, "ext1")
    back = [s for s in steps(events, "net1") if s["wall"] > ext1["wall"]][0]
    seen = between(frames(lab.dir, "fw-in", "", decrypt=False, extra=("icmp.type",)), ext1["wall"], back["wall"])
    kinds = {"udp 434": 0, "ip-in-ip": 0, "arp": 0, "icmp errors about them": 0}
    for x in seen:
        if x.layers.startswith("eth:ethertype:arp"):
            kinds["arp"] += 1
            continue
        if x.stack.startswith("ip:icmp:"):
            sender = x.src[0] in (VPN_GW, FW_IN) or _in_pool(x.src[0])  # the gateway, the firewall, the MR
            assert x.ints("icmp.type")[0] in (3, 11) and sender, (x.number, x.stack, x.src)
            quoted = {x.src[1], x.dst[1]}
            assert I_HA in quoted and _in_pool((quoted - {I_HA}).pop()), (x.number, x.stack, quoted)
            kinds["icmp errors about them"] += 1
            continue
        outer = {x.src[0], x.dst[0]}
        assert len(outer) == 2 and I_HA in outer and _in_pool((outer - {I_HA}).pop()), (x.number, x.stack, outer)
        if x.stack == "ip:udp:mip":
            assert 434 in x.ints("udp.srcport") + x.ints("udp.dstport"), x.number
            kinds["udp 434"] += 1
        else:
            assert x.ints("ip.proto")[0] == 4 and {x.src[1], x.dst[1]} <= {LAN_HOST, CN, I_HOA}, (x.number, x.stack)
            kinds["ip-in-ip"] += 1
    print("fw-in while the MR is outside: %s" % kinds)
    assert kinds["udp 434"] > 0 and kinds["ip-in-ip"] > 100


# ---- a full-size DF flow behind the NAT (section 5.2) -----------------------------------------------------


def test_full_size_df_tcp_in_cvc_behind_the_nat_never_fragments(tour):
    """R-5.2-a's overhead on the wire: the bulk step (iperf3, CN -> LAN host) while the MR is in cvc behind
    the NAT, where the overhead is largest (109 at most, above). The transfer works; its segments are DF
    and full size for the path, which leaves room for every layer: outer packets on natlan (the MR's
    external link) stay within its 1500-octet MTU, and no IP fragment crosses natlan, the Internet or any
    external link at any time of the tour. (How the CN learns that size is printed: the path MTU
    discovery it takes, ICMP "fragmentation needed" from the gateway and the x-HA, counted here.)"""
    lab, events = tour
    (bulk,) = [e for e in events if e["event"] == "bulk"]
    assert bulk["mode"] == "cvc" and bulk["bytes"] > 1_000_000, bulk
    port = topology()["cn"]["port"] + 1
    nat = _plain(events, "nat")
    start, end = _window(events, nat)
    ext = between(frames(lab.dir, "nat-lan", "tcp.srcport == %d && tcp.len > 0" % port), start, end)
    assert len(ext) > 100 and all(x.df[-1] for x in ext)
    assert all(x.stack == "ip:udp:mip:ip:esp:ip:ip:tcp" and x.length[0] <= 1500 for x in ext), \
        {(x.stack, x.length) for x in ext if x.length[0] > 1500 or x.stack != "ip:udp:mip:ip:esp:ip:ip:tcp"}
    biggest = max(x.length[-1] for x in ext)
    needed = [x for cap in ("fw-in", "fw-out", "isp-inet") for x in between(
        frames(lab.dir, cap, "icmp.type == 3 && icmp.code == 4", decrypt=False), start, end)]
    print("bulk behind the NAT: %.1f Mbit/s, %d octets, largest user packet %d octets in %d on natlan; "
          "fragmentation needed seen %d times (%s)" % (bulk["mbit_s"], bulk["bytes"], biggest,
                                                       max(x.length[0] for x in ext), len(needed),
                                                       sorted({x.src[0] for x in needed})))
    assert biggest >= 1500 - (UDP_TUNNEL + ESP_FIXED + 3 + IPIP)  # full size: 1500 less cvc's worst with NAT
    for cap in ("nat-lan", "isp-inet", "xha-inet", "fw-out", "isp-ext1", "isp-ext2", "mr-wan", "xfa-acc", "nfa-acc"):
        assert frames(lab.dir, cap, "ip.flags.mf == 1 || ip.frag_offset > 0", decrypt=False) == [], cap
    assert bulk["fragments"] == {}  # no node made or reassembled a fragment during the transfer (/proc/net/snmp)


# ---- R-6.2-a: an attacker holding the x-HA binding sees only ESP ------------------------------------------


def test_an_attacker_who_redirects_the_x_ha_binding_gets_only_esp(tour):
    """R-6.2-a: the x-MIP layer broken (the attacker holds the x-MIP key): it registers the x-HoA at its
    own address, and the x-HA tunnels the MR's traffic there for 4 s. All that reaches the attacker is
    IP-in-IP carrying ESP; no user packet, no intranet or LAN address, no counter record of the stream
    in its bytes. Decrypted with the gateway's keys (which the attacker lacks) the same frames are the
    stream: it did get the user's traffic, and IPsec alone kept it confidential. Then the binding is
    given back and the stream goes on with nothing lost."""
    lab, events = tour
    (step,) = [s for s in steps(events) if s.get("fault") == "redirect"]
    assert step["ok"], step
    attacker = step["attacker"]
    redirected, given_back = step["redirect"]["times"]
    window = "ip.dst == %s && ip.src == %s" % (attacker, X_HA)  # what the x-HA sends the attacker
    got = [x for x in between(frames(lab.dir, "isp-inet", window, decrypt=False, extra=("esp.encrypted_data",)),
                              redirected, given_back + 1.0) if (x.src[0], x.dst[0]) == (X_HA, attacker)]
    assert {x.stack for x in got} <= {"ip:ip:esp", "ip:udp:mip"}, {x.stack for x in got}  # tunnel, its replies
    blind = [x for x in got if x.stack == "ip:ip:esp"]
    assert len(blind) >= 3, len(blind)  # the stream's TCP backs off while its acks go nowhere: a few only
    assert all(not {LAN_HOST, CN, I_HOA, I_HA} & set(x.src + x.dst) for x in blind)
    ciphertext = bytes.fromhex("".join(x.f.get("esp.encrypted_data", "").replace(":", "") for x in blind))
    received = step["stream"]["received"]  # counters the CN sent around that time: 8 octets, big-endian
    assert not [n for n in range(max(0, received - 3000), received + 3000) if n.to_bytes(8, "big") in ciphertext]
    opened = [x for x in between(frames(lab.dir, "isp-inet", window), redirected, given_back + 1.0)
              if (x.src[0], x.dst[0]) == (X_HA, attacker) and x.stack.startswith("ip:ip:esp")]
    assert len(opened) == len(blind) and all(x.stack == "ip:ip:esp:ip:ip:tcp" for x in opened)
    stream = [x for x in opened if x.src[-1] == CN and x.dst[-1] == LAN_HOST]
    assert len(stream) == len(opened)
    print("redirected to %s for %.1f s: %d frames, all IP-in-IP/ESP; %d of them the stream, decrypted"
          % (attacker, given_back - redirected, len(blind), len(stream)))
    s = step["stream"]
    assert (s["gaps"], s["duplicates"], s["reconnects"]) == (0, 0, 0)
