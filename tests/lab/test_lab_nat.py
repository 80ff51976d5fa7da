"""Behind the lab's NAT box (issue 7; RFC 5265 2.5, RFC 3519), in the same boot as the other lab tests:
the MR's wan in natlan registers with the x-HA asking for UDP tunnelling, the x-HA sees the NAT and
accepts, and x-MIP runs as MIP tunnel data on UDP 434 through the NAT (IKE and ESP inside it, then
i-MIP inside ESP). Keepalives keep the mapping; when the NAT box restarts with new mappings, the MR
registers again from the new one and the LAN host's stream goes on, nothing lost.

tshark is the independent decoder throughout. Requirement IDs proved here: R-2.5-a, R-4.3-a.
"""
from __future__ import annotations

import statistics

from .conftest import X_HA, steps, tshark

NAT_OUTSIDE = "192.0.2.6"


def _at_nat(events: list) -> dict:
    (step,) = [s for s in steps(events, "nat") if not s.get("uplink") and not s.get("vehicle")]
    return step


def _restart(events: list) -> dict:
    (step,) = [s for s in steps(events) if s.get("nat")]
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
    # the IKE SA moved here with the x-HoA: its liveness checks cross the tunnel, no new IKE_SA_INIT
    assert tshark(cap, "udp.port == 434 && isakmp.exchangetype == 34", "ip.src") == []
    assert tshark(cap, "ip.proto == 4 || (esp && !udp.port == 434)", "ip.src") == []


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
    step = _restart(events)
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
