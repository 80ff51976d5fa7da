"""Deployments the tour does not build (issue 26), in one boot of topology.json's "deploy" scenario
(board/virtual/deploy.py), while the LAN host's stream runs:

- a hotel whose transparent proxy passes only TCP: the MR fails closed (R-2-f);
- a NAT between the x-HA and the VPN gateway: both charons use IPsec NAT traversal, ESP in UDP 4500
  (R-2.5-c); with the MR behind the NAT box too, every layer is NATed and tshark decodes the frame
  IP / UDP 434 / MIP tunnel data / IP / UDP 4500 / ESP (R-A.1-d);
- the enterprise firewall opened by mistake, then the i-HA's trusted list wrong: with one of the two
  right, the MR still ends in cvc (R-3.6.1-b);
- outside with no x-HA: fails closed, status says the x-HA does not answer (R-1.2-a);
- x-HA, VPN gateway and i-HA on one host, on distinct addresses: c and cvc both work (R-2-b, R-3.5-b).

Real parts only: iptables-legacy in the UML nodes, the two real charons, the real leak auditor, tshark
as the independent decoder (it cannot decrypt ESP: what ESP carries is proved by the mode reached and
the stream flowing through it).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from board.virtual.audit import audit
from board.virtual.boot import topology

from .conftest import CN, I_HA, I_HOA, LAN_HOST, NETEM_MS, VPN_GW, X_HA, X_HOA, _boot, _event, steps, tshark

NAT_OUTSIDE, X_HA_INET = "192.0.2.6", "192.0.2.2"  # the NAT box's and the x-HA's Internet addresses
PROXY_BOUND = 25.0  # s: the fail-closed watches (20 s) plus the move


@pytest.fixture(scope="module")
def deploy():
    yield from _boot("deploy", 900, netem={"iha-core": "delay %dms" % NETEM_MS})


def _deploy(events: list, kind: str) -> list[dict]:
    found = [s for s in steps(events) if s.get("deploy") == kind]
    assert found, kind
    return found


def _after(events: list, step: dict) -> dict:
    """The step that followed `step`."""
    return next(s for s in steps(events) if s["step"] == step["step"] + 1)


def _window(events: list, step: dict) -> tuple[float, float]:
    """Wall-clock times from `step` to the next step."""
    later = [s["wall"] for s in steps(events) if s["step"] > step["step"] and s.get("wall")]
    return step["wall"], min(later, default=float("inf"))


def _in(rows: list[list[str]], window: tuple[float, float]) -> list[list[str]]:
    return [r for r in rows if window[0] <= float(r[0]) < window[1]]


def _status_text(lab, step: dict) -> str:  # noqa: ANN001
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), "..", "..", "firmware"))
    return subprocess.run([sys.executable, "-m", "mip4", "status", "--file",
                           lab.path("run", "mr-step-%d.json" % step["step"])],
                          capture_output=True, text=True, env=env, check=True).stdout


def test_every_deployment_step_held(deploy):
    """The scenario's table: each step, the mode reached (or none, where it must fail closed), data times."""
    lab, events = deploy
    done = _event(events, "done")
    print("\nstep deploy    network mode  ok   data(s)  about")
    for s, planned in zip(done["steps"], topology()["deploy"][1:], strict=True):
        kind = s.get("deploy") or s.get("fault") or "move"
        print("%4d %-9s %-7s %-5s %-4s %8s  %s" % (s["step"], kind, s.get("network") or "-", s["mode"], s["ok"],
                                                   s.get("data_after_s"), (planned.get("about") or "")[:60]))
    print("boot to done: %.0f s" % done["seconds"])
    assert all(s["ok"] for s in done["steps"]), [s for s in done["steps"] if not s["ok"]]
    assert done["ok"] and done["leftovers"] == {}, done


def test_a_transparent_proxy_on_the_path_fails_closed(deploy):
    """R-2-f: a hotel path that passes only TCP (to its transparent proxy): the MR's requests to the x-HA
    leave and are dropped, IPsec never starts; for the whole watch no mode, the gate shut, the LAN
    route `prohibit`, not one stream record; `mip4 status` says not connected and why."""
    lab, events = deploy
    (step,) = [s for s in _deploy(events, "closed") if s["network"] == "ext1"]
    print("proxy: modes %s, gates %s, LAN routes %s, states %s, stream records %d, IKE %s"
          % (step["modes"], step["gates"], step["lan_routes"], step["states"], step["received_during"], step["ike"]))
    assert step["ok"], step
    assert step["modes"] == ["None"] and step["gates"] == ["None"] and step["lan_routes"] == [["prohibit"]]
    assert step["received_during"] == 0 and step["x_ha_registered"] is False and step["ike"] != "up"
    window = _window(events, step)
    sent = _in(tshark(lab.path("captures", "isp-ext1.pcapng"), "mip.type == 1 && ip.dst == %s" % X_HA,
                      "frame.time_epoch"), window)
    passed = _in(tshark(lab.path("captures", "isp-inet.pcapng"), "mip.type == 1 && ip.dst == %s" % X_HA,
                        "frame.time_epoch"), (window[0], window[0] + PROXY_BOUND))
    assert len(sent) >= 2 and passed == []  # the MR asked; the proxy's path let none of it through
    out = _status_text(lab, step)
    print(out)
    assert "mode -, none" in out and "not connected, user data blocked: wan: x-HA %s not answering" % X_HA in out


def test_no_x_ha_outside_fails_closed_and_status_says_the_x_ha_is_missing(deploy):
    """R-1.2-a: outside there is no cvc or fvc without an x-HA. With the x-HA gone (its daemon stopped) the
    MR on ext2 has an IKE SA from before, and still carries nothing: no mode, the gate shut, no stream
    record, and `mip4 status` names the x-HA that does not answer. (A router configured without any x-HA
    is refused by its configuration: tests/router/test_uci.py, option x_home_agent is required.)"""
    lab, events = deploy
    (step,) = [s for s in _deploy(events, "closed") if s["stopped"] == "xha"]
    print("no x-HA: modes %s, gates %s, states %s, stream records %d, IKE %s"
          % (step["modes"], step["gates"], step["states"], step["received_during"], step["ike"]))
    assert step["ok"], step
    assert step["modes"] == ["None"] and step["gates"] == ["None"] and step["received_during"] == 0
    assert step["x_ha_registered"] is False
    out = _status_text(lab, step)
    print(out)
    assert "not connected, user data blocked: wan: x-HA %s not answering (outside needs it, RFC 5265 1.2)" % X_HA \
        in out
    window = _window(events, step)
    asked = _in(tshark(lab.path("captures", "isp-ext2.pcapng"), "mip.type == 1 && ip.dst == %s" % X_HA,
                       "frame.time_epoch"), window)
    answered = _in(tshark(lab.path("captures", "isp-ext2.pcapng"), "mip.type == 3 && ip.src == %s" % X_HA,
                          "frame.time_epoch"), (window[0], window[0] + PROXY_BOUND))
    assert asked and answered == []


def _at_nat(events: list) -> dict:
    (step,) = [s for s in steps(events, "nat") if not s.get("flap")]
    return step


def test_a_nat_between_x_ha_and_gateway_makes_both_charons_use_nat_traversal(deploy):
    """R-2.5-c: with the x-HA's side NATed towards the gateway, IKE arrives from the x-HA's address, both
    charons detect the NAT (RFC 7296 2.23), float to port 4500 and carry ESP in UDP (RFC 3948); no bare
    ESP crosses; the MR reaches cvc through it and the stream flows."""
    lab, events = deploy
    step = _at_nat(events)
    print("NATed x-HA side: mode %s, data %s s after plugging in, IKE SA %s"
          % (step["mode"], step["data_after_s"], step["ike_sa"]))
    assert step["ok"] and step["mode"] == "cvc", step
    cap = lab.path("captures", "xha-inet.pcapng")
    window = _window(events, step)
    esp = _in(tshark(cap, "udp.port == 4500 && esp && ip.src == %s && ip.dst == %s" % (X_HA_INET, VPN_GW),
                     "frame.time_epoch"), window)
    back = _in(tshark(cap, "udp.port == 4500 && esp && ip.src == %s && ip.dst == %s" % (VPN_GW, X_HA_INET),
                      "frame.time_epoch"), window)
    bare = _in(tshark(cap, "ip.proto == 50", "frame.time_epoch"), window)
    print("x-HA's Internet side: %d ESP-in-UDP to the gateway, %d back, %d bare ESP" % (len(esp), len(back), len(bare)))
    assert len(esp) > 50 and len(back) > 50 and bare == []
    natd = tshark(cap, "isakmp.notify.msgtype == 16388 || isakmp.notify.msgtype == 16389", "ip.src")
    assert {X_HA_INET, VPN_GW} <= {r[0] for r in natd}  # NAT_DETECTION_*_IP from both sides
    assert "local host is behind NAT" in lab.log("charon-mr")
    assert "remote host is behind NAT" in lab.log("charon-vpngw")


def test_the_all_nat_frame_decodes_layer_by_layer(deploy):
    """R-A.1-d: behind the NAT box with the x-HA NATed towards the gateway, the frame on the external link
    is IP / UDP 434 / MIP tunnel data / IP / UDP 4500 / ESP, both ways, as tshark decodes it (with its
    RFC 3948 layer, "udpencap", between UDP 4500 and ESP): the outer
    IP between the MR's care-of (or the x-HA) and the x-HA, the inner between the x-HoA and the gateway.
    ESP's payload (IP / i-MIP / IP / payload) is proved by the mode reached (cvc: the i-HA's registration
    went through it) and the stream flowing with nothing lost."""
    lab, events = deploy
    step = _at_nat(events)
    assert step["ok"] and step["mode"] == "cvc" and step["care_of"].startswith("192.168.100.")
    s = step["stream"]
    assert (s["reconnects"], s["gaps"], s["duplicates"]) == (0, 0, 0)
    fields = ("frame.time_epoch", "frame.protocols", "ip.src", "ip.dst", "udp.srcport", "udp.dstport",
              "mip.type", "mip.nattt.nexthdr", "esp.spi")
    rows = _in(tshark(lab.path("captures", "nat-lan.pcapng"), "mip.nattt.nexthdr == 4 && esp", *fields),
               _window(events, step))
    up = [r for r in rows if r[3].split(",")[0] == X_HA]
    down = [r for r in rows if r[2].split(",")[0] == X_HA]
    print("all-NAT frames on natlan: %d up, %d down; e.g. %s" % (len(up), len(down), up[:1]))
    assert len(up) > 50 and len(down) > 50
    for r in up + down:
        layers = r[1].split(":")
        assert layers[layers.index("ip"):] == ["ip", "udp", "mip", "ip", "udp", "udpencap", "esp"], r
        mine, theirs = (r[2], r[3]) if r in up else (r[3], r[2])
        assert mine.split(",") == [step["care_of"], X_HOA] and theirs.split(",") == [X_HA, VPN_GW], r
        ports = r[4].split(","), r[5].split(",")
        assert "434" in (ports[0][0], ports[1][0]) and "4500" in (ports[0][1], ports[1][1]), r
        assert r[6] == "4" and r[7] == "4" and r[8], r  # MIP tunnel data (type 4), next header IP; an SPI


def _counters(step: dict) -> dict:
    return step["iha_counters"]


def test_firewall_open_but_i_ha_list_right_the_mr_stays_outside(deploy):
    """R-3.6.1-b, one way: the firewall lets the Internet into the intranet, so the MR's clear request to
    the i-HA reaches it (the i-HA's core link shows it, from the NAT box); the i-HA's trusted list drops it
    without a reply (R-4.3-d), and the MR ends in cvc with the stream flowing."""
    lab, events = deploy
    opened, closed = [s for s in _deploy(events, "commands") if any(c.startswith("fw: ") for c in s["ran"])]
    flap = _after(events, opened)
    assert flap["network"] == "nat" and flap["flap"]
    print("firewall open: mode %s, data %s s; i-HA dropped-untrusted %s -> %s"
          % (flap["mode"], flap["data_after_s"], _counters(opened).get("dropped-untrusted"),
             _counters(closed).get("dropped-untrusted")))
    assert flap["ok"] and flap["mode"] == "cvc", flap
    window = (opened["wall"], closed["wall"])
    cap = lab.path("captures", "iha-core.pcapng")
    reached = _in(tshark(cap, "mip.type == 1 && ip.src == %s && ip.dst == %s" % (NAT_OUTSIDE, I_HA),
                         "frame.time_epoch"), window)
    replied = _in(tshark(cap, "mip.type == 3 && ip.dst == %s" % NAT_OUTSIDE, "frame.time_epoch"), window)
    assert reached and replied == []
    assert _counters(closed).get("dropped-untrusted", 0) > _counters(opened).get("dropped-untrusted", 0)


def test_i_ha_list_wrong_but_firewall_right_the_mr_stays_outside(deploy):
    """R-3.6.1-b, the other way: the i-HA trusts the external networks by mistake, the firewall drops the
    MR's clear request (its drop counter rises; the i-HA's link never shows it), and the MR ends in cvc."""
    lab, events = deploy
    restart = _deploy(events, "restart")[0]  # the second puts the list right, for the gateway's SNAT
    assert "192.168.100.0/24" in restart["config"]["ha"]["trusted_networks"]
    flap = _after(events, restart)
    after = _after(events, flap)
    closed = [s for s in _deploy(events, "commands") if s["step"] < restart["step"]][-1]
    print("i-HA list wrong: mode %s, data %s s; firewall drops %d -> %d"
          % (flap["mode"], flap["data_after_s"], closed["fw_drops"], after["fw_drops"]))
    assert flap["network"] == "nat" and flap["flap"] and flap["ok"] and flap["mode"] == "cvc", flap
    assert after["fw_drops"] > closed["fw_drops"]
    reached = _in(tshark(lab.path("captures", "iha-core.pcapng"), "mip.type == 1 && ip.src == %s" % NAT_OUTSIDE,
                         "frame.time_epoch"), (restart["wall"], after["wall"]))
    assert reached == []


def test_one_host_runs_x_ha_vpn_gateway_and_i_ha_on_distinct_addresses(deploy):
    """R-2-b, R-3.5-b: the i-HA, the x-HA and the gateway's charon run in one namespace, on three distinct
    addresses; the MR reaches mode c inside (the i-HA there answers with TNC) and cvc outside (x-HA,
    IKE to the charon there, i-MIP through ESP to the i-HA there), the stream flowing each time."""
    lab, events = deploy
    (host,) = _deploy(events, "colocate")
    print("one host %s: %s, addresses %s, in %.1f s" % (host["into"], host["namespaces"], host["addresses"],
                                                       host["seconds"]))
    assert host["ok"] and set(host["namespaces"].values()) == {"srv"}
    ha = host["ha_addresses"]
    assert ha["iha"] != ha["xha"] and len({ha["iha"], ha["xha"], VPN_GW}) == 3
    assert {a.split("/")[0] for a in host["addresses"]} >= {ha["iha"], ha["xha"], VPN_GW}
    inside, outside = _after(events, host), _after(events, _after(events, host))
    print("one host: net1 mode %s data %s s; ext1 mode %s data %s s" % (inside["mode"], inside["data_after_s"],
                                                                     outside["mode"], outside["data_after_s"]))
    assert inside["network"] == "net1" and inside["ok"] and inside["mode"] == "c", inside
    assert outside["network"] == "ext1" and outside["ok"] and outside["mode"] == "cvc", outside
    assert outside["ike_sa"]["remote"] == VPN_GW and outside["ike_sa"]["local"] == X_HOA, outside["ike_sa"]
    for s in (inside, outside):
        assert (s["stream"]["reconnects"], s["stream"]["gaps"], s["stream"]["duplicates"]) == (0, 0, 0)


def test_on_one_host_a_restarted_x_ha_leaves_the_i_has_tunnels_alone(deploy):
    """R-2-b: each HA sweeps a killed predecessor's tunnels when it starts; on one host with the i-HA that
    must not take the i-HA's tunnel to the VPN-TIA. The x-HA is killed and respawned there while the MR
    is in cvc: the MR renews its x-MIP binding, and the stream flows again with nothing lost."""
    lab, events = deploy
    (step,) = [s for s in steps(events) if s.get("fault") == "restart"]
    print("x-HA restarted on the one host: back after %s s, data after %s s, why %s"
          % (step["recovered_after_s"], step["data_after_s"], step["why"]))
    assert step["daemon"] == "xha" and step["ok"] and step["mode"] == "cvc", step
    s = step["stream"]
    assert (s["reconnects"], s["gaps"], s["duplicates"]) == (0, 0, 0)
    log = lab.log("mip4d-xha")
    assert "removing stale tunnel mip-0a05" not in log  # the i-HA's, to the VPN-TIA (10.5.0.0/24)
    assert re.search(r"tunnel mip-0a05[0-9a-f]{4} is not from %s: another agent's" % re.escape(X_HA), log)
    assert "removing stale tunnel mip-c61201" in log  # its own, to the MR's care-of on ext1 (198.18.1.0/24)


def test_the_leak_auditor_saw_nothing_in_clear_in_any_deployment(deploy):
    """R-2-f, R-1.2-a, R-3.6.1-b: through the proxy, without the x-HA, with the firewall or the i-HA's list
    wrong, NATed at every position and on one host, nothing but what RFC 5265 lets cross the outside
    crossed any external link (the one host's Internet side included)."""
    lab, events = deploy
    topo = topology()
    names = topo["audit"]["captures"] + ["srv-inet"]
    paths = [lab.path("captures", n + ".pcapng") for n in names]
    assert all(os.path.exists(p) for p in paths), [p for p in paths if not os.path.exists(p)]
    result = audit(paths, {LAN_HOST, CN}, tuple(topo["ipsec"]["intranet"]))
    print("leak audit: %d packets: %s" % (result["packets"], result["kinds"]))
    assert not result["leaks"], "\n".join(result["leaks"][:30])
    assert result["per_capture"]["srv-inet.pcapng"] > 0 and result["kinds"].get("udp-tunnel-ike", 0) > 50


def _nat_step(events: list, node: str) -> dict:
    """The commands step that put a NAT into `node`, and the move after it."""
    (put,) = [s for s in _deploy(events, "commands") if any(c.startswith(node + ": iptables-legacy -t nat -A")
                                                              for c in s["ran"])]
    return put


def _mip_udp(lab, events: list, start: dict, nated: str, window_end: dict) -> dict:  # noqa: ANN001
    """On the i-HA's core link, from `start` to `window_end`: i-MIP requests from the NAT's address
    `nated` asking for a UDP tunnel, the i-HA's replies accepting it (RFC 3519 3.2, ext 44 code 0), MIP
    tunnel data (type 4) on UDP 434 both ways, and IP-in-IP from or to `nated` after the first acceptance."""
    cap = lab.path("captures", "iha-core.pcapng")
    window = (start["wall"], window_end["wall"])
    asked = _in(tshark(cap, "mip.type == 1 && ip.src == %s && ip.dst == %s && mip.ext.utrq.encaptype == 4"
                       % (nated, I_HA), "frame.time_epoch"), window)
    accepted = _in(tshark(cap, "mip.type == 3 && mip.code == 0 && ip.src == %s && ip.dst == %s && "
                          "mip.ext.utrp.code == 0" % (I_HA, nated), "frame.time_epoch"), window)
    up = _in(tshark(cap, "mip.type == 4 && ip.src == %s && ip.dst == %s && udp.dstport == 434" % (nated, I_HA),
                    "frame.time_epoch"), window)
    down = _in(tshark(cap, "mip.type == 4 && ip.src == %s && ip.dst == %s && udp.srcport == 434" % (I_HA, nated),
                      "frame.time_epoch"), window)
    first = min((float(r[0]) for r in accepted), default=window[1])
    ipip = _in(tshark(cap, "ip.proto == 4 && ip.addr == %s" % nated, "frame.time_epoch"), (first, window[1]))
    found = dict(asked=len(asked), accepted=len(accepted), up=len(up), down=len(down), ipip_after=len(ipip))
    print("i-HA's core link, NAT at %s: %s" % (nated, found))
    return found


def test_a_gateway_that_snats_vpn_tias_gets_i_mip_over_rfc_3519_udp(deploy):
    """R-2.5-b, R-2.5-e, R-2.5-d (NAT inside the gateway): the VPN gateway masquerades the VPN-TIAs towards
    the intranet, so the i-HA sees the MR's i-MIP request from the gateway's address, not the VPN-TIA in
    the care-of field. It accepts RFC 3519 UDP tunnelling (reply ext 44, code 0) for that binding with no
    NAT box anywhere; the MR reaches cvc, the stream flows with nothing lost, and the gateway-to-intranet
    side (the i-HA's core link) carries the MR's i-MIP data as MIP tunnel data on UDP 434, no IP-in-IP;
    outside, the x-MIP layer, which no NAT affects, stays IP-in-IP (only the affected layer in UDP)."""
    lab, events = deploy
    put = _nat_step(events, "vpngw")
    move = _after(events, put)
    print("gateway SNAT: ext1 mode %s, data %s s, care-of %s" % (move["mode"], move["data_after_s"], move["care_of"]))
    assert move["network"] == "ext1" and move["ok"] and move["mode"] == "cvc", move
    s = move["stream"]
    assert (s["reconnects"], s["gaps"], s["duplicates"]) == (0, 0, 0)
    found = _mip_udp(lab, events, put, VPN_GW, _after(events, move))
    assert found["asked"] and found["accepted"] and found["up"] > 50 and found["down"] > 50, found
    assert found["ipip_after"] == 0, found
    assert re.search(r"%s -> 10\.5\.0\.\d+ from %s: .*UDP tunnel" % (re.escape(I_HOA), re.escape(VPN_GW)),
                     lab.log("mip4d-iha"))
    ext1 = lab.path("captures", "isp-ext1.pcapng")
    window = _window(events, move)
    x_ipip = _in(tshark(ext1, "ip.proto == 4 && ip.dst == %s && esp" % X_HA, "frame.time_epoch"), window)
    x_udp = _in(tshark(ext1, "mip.type == 4", "frame.time_epoch"), window)
    print("ext1: %d IP-in-IP with ESP to the x-HA, %d MIP tunnel data" % (len(x_ipip), len(x_udp)))
    assert len(x_ipip) > 50 and x_udp == []


def test_a_nat_between_the_mn_and_the_i_ha_inside_gets_mode_c_over_rfc_3519_udp(deploy):
    """R-2.5-d (NAT between MN and i-HA inside): the intranet router masquerades subnet 2 towards the core;
    the MR there reaches mode c, the i-HA accepting RFC 3519 UDP tunnelling for its co-located care-of
    (it sees the router's address as the source), the stream flows with nothing lost, and the i-HA's link
    carries the MR's data only as MIP tunnel data on UDP 434, never IP-in-IP."""
    lab, events = deploy
    put = _nat_step(events, "rtr")
    move = _after(events, put)
    print("inside NAT: net2 mode %s, data %s s, care-of %s" % (move["mode"], move["data_after_s"], move["care_of"]))
    assert move["network"] == "net2" and move["ok"] and move["mode"] == "c", move
    assert move["care_of"].startswith("10.3.0."), move
    s = move["stream"]
    assert (s["reconnects"], s["gaps"], s["duplicates"]) == (0, 0, 0)
    rtr = "10.0.0.1"  # the intranet router's core address, the NAT's outside
    found = _mip_udp(lab, events, put, rtr, _after(events, move))
    assert found["asked"] and found["accepted"] and found["up"] > 50 and found["down"] > 50, found
    assert found["ipip_after"] == 0, found
    assert re.search(r"%s -> %s from %s: .*UDP tunnel" % (re.escape(I_HOA), re.escape(move["care_of"]),
                                                         re.escape(rtr)), lab.log("mip4d-iha"))
