"""Behind the lab's NAT box (issue 7; RFC 5265 2.5, RFC 3519), in the same boot as the other lab tests:
the MR's wan in natlan registers with the x-HA asking for UDP tunnelling, the x-HA sees the NAT and
accepts, and x-MIP runs as MIP tunnel data on UDP 434 through the NAT (IKE and ESP inside it, then
i-MIP inside ESP). Keepalives keep the mapping; when the NAT box restarts with new mappings, the MR
registers again from the new one and the LAN host's stream goes on, nothing lost. Then the same in
fvc, with a foreign agent behind the NAT: the FA asks for UDP tunnelling, keeps the mapping, and
after the next restart makes the MR register again through it.

tshark is the independent decoder throughout. Requirement IDs proved here: R-2.5-a, R-4.3-a.
"""
from __future__ import annotations

import statistics

from .conftest import X_HA, X_HOA, steps, tshark

NAT_OUTSIDE = "192.0.2.6"
NAT_FA, NAT_FA_COA = "192.168.100.5", "192.168.101.1"  # the FA behind the NAT: its address, its care-of


def _at_nat(events: list) -> dict:
    (step,) = [s for s in steps(events, "nat") if not s.get("uplink") and not s.get("vehicle")]
    return step


def _restart(events: list, mode: str) -> dict:
    (step,) = [s for s in steps(events) if s.get("nat") and s.get("expect") == mode]
    return step


def test_cvc_behind_the_nat_runs_x_mip_as_udp_tunnel_data(tour):
    """R-2.5-a, R-4.3-a: request with ext 144, reply with ext 44 code 0 and the keepalive interval; the
    x-HA saw the NAT's address; IKE and ESP then cross natlan inside UDP 434, never as IP-in-IP."""
    lab, events = tour
    step = _at_nat(events)
    print("behind the NAT: mode %s, care-of %s, data %s s after plugging in"
          % (step["mode"], step["care_of"], step["data_after_s"]))
    assert step["ok"] and step["mode"] == "cvc" and step["care_of"].startswith("192.168.100.")
    cap = lab.path("captures", "nat-lan.pcapng")
    requests = tshark(cap, "mip.type == 1 && ip.dst == %s && udp.srcport == 434" % X_HA, "mip.ext.utrq.encaptype")
    assert requests and all(r == ["4"] for r in requests)
    replies = tshark(cap, "mip.type == 3 && mip.code == 0 && ip.src == %s" % X_HA, "mip.ext.utrp.code",
                     "mip.ext.utrp.keepalive")
    assert replies and all(code == "0" and int(keepalive) > 0 for code, keepalive in replies)
    seen = tshark(lab.path("captures", "xha-inet.pcapng"), "mip.type == 1 && mip.coa == %s" % step["care_of"],
                  "ip.src")
    assert seen and {r[0] for r in seen} == {NAT_OUTSIDE}  # R-4.3-a: the x-HA detects the NAT from this
    esp = tshark(cap, "udp.port == 434 && mip.nattt.nexthdr == 4 && esp", "ip.src")
    assert len(esp) > 100
    # the IKE SA moved here with the x-HoA: its liveness checks cross the tunnel, no new IKE_SA_INIT while the
    # MR is here (later in the tour the gateway deletes the IKE SA on purpose: the new SA's IKE_SA_INIT may
    # then cross natlan too, to a binding of the MR's that is still behind the NAT)
    # (and nothing as IP-in-IP or bare ESP while it is here: later steps leave bindings behind the NAT that
    # the tour's NAT restarts and the gateway's delete then touch; their own tests judge those)
    after = [x["wall"] for x in steps(events) if x.get("wall", 0) > step["wall"]]
    end = min(after, default=float("inf"))

    def here(display_filter: str) -> list[list[str]]:
        return [r for r in tshark(cap, display_filter, "frame.time_epoch", "ip.src")
                if step["wall"] <= float(r[0]) < end]

    assert here("udp.port == 434 && isakmp.exchangetype == 34") == []
    assert here("ip.proto == 4 || (esp && !udp.port == 434)") == []


def test_keepalives_cross_the_tunnel_and_the_x_ha_answers_them(tour):
    """RFC 3519 4.9: ICMP echoes from the x-HoA to the x-HA inside the UDP tunnel, every udp_keepalive
    (2 s in the lab) seconds; the x-HA's kernel answers them through the tunnel."""
    lab, events = tour
    cap = lab.path("captures", "nat-lan.pcapng")
    sent = [float(t) for (t,) in tshark(cap, "udp.dstport == 434 && icmp.type == 8 && ip.dst == %s" % X_HA,
                                        "frame.time_epoch")]
    answered = tshark(cap, "udp.srcport == 434 && icmp.type == 0 && ip.src == %s" % X_HA, "frame.time_epoch")
    gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    print("keepalives: %d sent, %d answered, median interval %.2f s" % (len(sent), len(answered),
                                                                       statistics.median(gaps)))
    assert len(sent) >= 5 and len(answered) >= len(sent) // 2
    assert 1.5 <= statistics.median(gaps) <= 3.0


def test_the_stream_survives_the_nat_restarting_with_new_mappings(tour):
    """RFC 3519 4.10: the mapping the x-HA tunnels to is gone; the MR hears nothing back, registers again
    from the new mapping (ports 40000-49999 after the restart), the x-HA moves the tunnel, and the
    stream resumes with nothing lost, duplicated or reconnected. The time to data is printed."""
    lab, events = tour
    step = _restart(events, "cvc")
    print("NAT restart: x-HA tunnel port %s -> %s, registered again after %s s, data again after %s s, stream %s"
          % (step["port_before"], step["port_after"], step["moved_after_s"], step["data_after_s"],
             {k: step["stream"].get(k) for k in ("received", "gaps", "duplicates", "reconnects")}))
    assert step["ok"], step
    assert step["source"] == NAT_OUTSIDE and step["udp_tunnel"]
    assert step["port_before"] != step["port_after"] and 40000 <= step["port_after"] <= 49999
    s = step["stream"]
    assert (s["reconnects"], s["gaps"], s["duplicates"]) == (0, 0, 0)
    (x_reg,) = step["registrations"]
    assert x_reg["nat_mapping_lost"] >= 1 and x_reg["keepalives"] > 0
    assert "nothing through the UDP tunnel" in lab.log("mip4d-mr")
    assert "dropped: no tunnel with that peer" in lab.log("mip4d-xha")  # data alone never moves the tunnel


def test_fvc_behind_the_nat_the_fa_runs_the_udp_tunnel(tour):
    """R-2.5-a in fvc (RFC 3519 4.5): the FA behind the NAT relays the MR's request with its own UDP Tunnel
    Request, the x-HA (seeing the NAT) answers with ext 44 code 0, and from then on IKE and ESP cross
    natlan inside UDP 434 between the FA and the x-HA; the MR's own requests carry no ext 144 and its
    access link sees no UDP tunnel. The FA's keepalives are answered."""
    lab, events = tour
    (step,) = steps(events, "natfa")
    print("behind the NAT through an FA: mode %s, care-of %s, data %s s after plugging in"
          % (step["mode"], step["care_of"], step["data_after_s"]))
    assert step["ok"] and step["mode"] == "fvc" and step["care_of"] == NAT_FA_COA
    cap = lab.path("captures", "nat-lan.pcapng")
    relayed = tshark(cap, "mip.type == 1 && ip.src == %s && mip.coa == %s && mip.life > 0" % (NAT_FA, NAT_FA_COA),
                     "mip.ext.utrq.encaptype")
    assert relayed and all(r == ["4"] for r in relayed)
    replies = tshark(cap, "mip.type == 3 && mip.code == 0 && ip.dst == %s && mip.homeaddr == %s"
                     % (NAT_FA, X_HOA), "mip.ext.utrp.code")
    assert replies and all(r == ["0"] for r in replies)
    esp = tshark(cap, "udp.port == 434 && mip.nattt.nexthdr == 4 && esp && ip.src == %s" % NAT_FA, "ip.src")
    assert len(esp) > 100
    sent = tshark(cap, "udp.dstport == 434 && icmp.type == 8 && ip.src == %s" % NAT_FA, "frame.time_epoch")
    answered = tshark(cap, "udp.srcport == 434 && icmp.type == 0 && ip.dst == %s" % NAT_FA, "frame.time_epoch")
    print("FA keepalives: %d sent, %d answered" % (len(sent), len(answered)))
    # The first ones, while the x-HA holds the FA's tunnel, are each answered within a second. Later ones
    # may not be, by design: after the NAT drops its mapping the x-HA ignores the new port until the FA
    # registers again, and after the MR leaves the FA keeps its visitor (and keepalives) till expiry.
    replies = sorted(float(a[0]) for a in answered)
    restart = _restart(events, "fvc")["wall"]  # the NAT's restart drops the FA's mapping: judged before it
    sent = [r for r in sent if float(r[0]) < restart - 1.0]  # one or two: every 2 s, the step lasts about 6
    assert sent
    for (at,) in sent[:3]:
        assert any(0 <= r - float(at) < 1.0 for r in replies), "keepalive at %s unanswered" % at
    access = lab.path("captures", "nfa-acc.pcapng")
    mr_requests = tshark(access, "mip.type == 1 && mip.coa == %s" % NAT_FA_COA, "frame.number",
                         "mip.ext.utrq.encaptype")
    assert mr_requests and all(r[1] == "" for r in mr_requests)  # the FA's business, not the MR's
    assert tshark(access, "udp.port == 434 && mip.nattt.nexthdr", "ip.src") == []


def test_fvc_the_stream_survives_the_nat_restarting_behind_the_fa(tour):
    """RFC 3519 4.10 through an FA: the FA hears nothing back through its tunnel, advertises as restarted
    (sequence 0), the MR registers again through it, the x-HA moves the FA's tunnel to the new port
    (50000-59999), and the stream goes on with nothing lost, duplicated or reconnected."""
    lab, events = tour
    step = _restart(events, "fvc")
    print("NAT restart behind the FA: x-HA tunnel port %s -> %s, registered again after %s s, data again after "
          "%s s" % (step["port_before"], step["port_after"], step["moved_after_s"], step["data_after_s"]))
    assert step["ok"], step
    assert step["source"] == NAT_OUTSIDE and step["udp_tunnel"] and step["mode"] == "fvc"
    assert step["port_before"] != step["port_after"] and 50000 <= step["port_after"] <= 59999
    s = step["stream"]
    assert (s["reconnects"], s["gaps"], s["duplicates"]) == (0, 0, 0)
    assert "advertising as restarted" in lab.log("mip4d-nfa")
    assert "foreign agent %s rebooted" % NAT_FA_COA in lab.log("mip4d-mr")
