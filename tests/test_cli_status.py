"""`mip4 status --file` renders the status model of a real core (the simulator's MN and HA), as mip4d
writes it to its status file (the control socket path is tested in tests/router/test_status.py)."""
from __future__ import annotations

import json
import time

from mip4.status.model import StatusModel
from mip4.status.text import summary

from .core.world import I_HOA, VPN_TIA, X_HA, build
from .test_cli import mip4


def _model(role: str, status: dict) -> dict:
    return {"role": role, "pid": 42, "time": time.time(), "uptime": 12.0, "status": status}


def test_status_of_a_mobile_router_outside(tmp_path):
    """R-3.2.1-a: per interface its verdict and why, registrations with lifetimes, IKE and i-MIP state."""
    w = build(detection_period=0.0)
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(10)
    path = tmp_path / "status.json"
    path.write_text(json.dumps(_model("mn", StatusModel(w.mn).status(w.now))))
    p = mip4("status", "--file", str(path))
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "mode cvc, outside" in out and "primary wan, IKE up" in out
    row = next(line for line in out.splitlines() if line.startswith("wan "))
    assert row.split()[:7] == ["wan", "100", "yes", "outside", "cvc", "198.18.0.5", "vpn"]
    assert "x-ha 17" in row and "via 198.18.0.5" in row  # seconds left of the granted lifetime
    assert "wan: network -, verdict outside (detection-period-over" in out
    assert "IKE up (established)" in out
    assert "i-MIP through the VPN: vpn 17" in out and "via %s" % VPN_TIA in out
    p = mip4("status", "--file", str(path), "--json")
    assert json.loads(p.stdout)["status"]["interfaces"]["wan"]["state"] == "outside"


def test_status_outside_without_an_x_ha_says_not_connected_and_why():
    """R-1.2-a: outside, no cvc or fvc without an x-HA. With the x-HA gone the router carries nothing and
    `mip4 status` says so, naming the x-HA that does not answer; with it, no such line."""
    w = build(detection_period=0.0)
    w.sim.detach("x-ha", "core")
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(10)
    out = summary(_model("mn", StatusModel(w.mn).status(w.now)))
    assert w.mode() is None and w.gate("wan") is None
    assert "mode -, none" in out
    assert "not connected, user data blocked: wan: x-HA %s not answering (outside needs it, RFC 5265 1.2)" % X_HA \
        in out
    w = build(detection_period=0.0)
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(10)
    assert "not connected" not in summary(_model("mn", StatusModel(w.mn).status(w.now)))


def test_an_uplink_in_its_hold_down_shows_the_seconds_left_in_one_column():
    from mip4.status.text import interfaces
    w = build(hold_down=5.0, uplinks={"wan": 1, "wwan": 2})
    w.connect("wwan", "lan2", "10.3.0.7")
    w.run(4)
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(2)
    out = interfaces(StatusModel(w.mn).status(w.now)).splitlines()
    header = out[0].split()
    wan = next(line for line in out if line.startswith("wan ")).split()
    assert wan[header.index("carries")] in ("hold:3s", "hold:4s") and wan[header.index("state")] == "inside"


def test_status_of_a_home_agent_lists_bindings():
    w = build()
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(5)
    out = summary(_model("ha", w.i_ha.status(w.now)))
    assert "i-ha 10.1.0.1, 1 binding(s)" in out and '"home_address": "%s"' % I_HOA in out and "10.2.0.5" in out


def test_status_without_a_daemon_says_so(tmp_path):
    p = mip4("status", "--file", str(tmp_path / "none.json"))
    assert p.returncode == 1 and "no status file from mip4d" in p.stderr


def test_status_of_a_foreign_agent_behind_a_nat_lists_visitors_udp_tunnel_and_keepalives():
    from .core.test_fa_nat_traversal import natted_world

    w, n_fa = natted_world()
    w.run(12)
    out = summary(_model("fa", n_fa.status(w.now)))
    assert "foreign agent, 1 visitor(s)" in out  # the x-HA's; the i-HA is out of reach (firewall)
    assert "visitor 198.51.100.10 (home agent 198.51.100.1) on acc" in out and "UDP tunnel" in out
    assert "tunnel ru-c6336401: 192.168.9.5 -> 198.51.100.1 port 434 (RFC 3519)" in out
    assert "keepalives to 198.51.100.1 every 3s" in out
