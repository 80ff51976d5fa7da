"""`mip4 status` renders the status model of a real core (the simulator's MN and HA), as mip4d writes it."""
from __future__ import annotations

import json
import time

from mip4.cli.status import render

from .core.world import I_HOA, VPN_TIA, build
from .test_cli import mip4


def _model(role: str, status: dict) -> dict:
    return {"role": role, "pid": 42, "time": time.time(), "uptime": 12.0, "status": status}


def test_status_of_a_mobile_router_outside(tmp_path):
    """R-3.2.1-a: per interface its verdict and why, registrations with lifetimes, IKE and i-MIP state."""
    w = build(detection_period=0.0)
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(10)
    path = tmp_path / "status.json"
    path.write_text(json.dumps(_model("mn", w.mn.status(w.now))))
    p = mip4("status", "--file", str(path))
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "mode cvc on wan (primary uplink)" in out
    assert "wan    outside" in out and "care-of 198.18.0.5" in out and "gate vpn" in out
    assert "verdict: outside (detection-period-over" in out
    assert "x-HA registered via 198.18.0.5, 1" in out  # seconds left of the granted lifetime
    assert "IKE up (established)" in out
    assert "i-MIP through the VPN: registered via %s" % VPN_TIA in out
    p = mip4("status", "--file", str(path), "--json")
    assert json.loads(p.stdout)["status"]["interfaces"]["wan"]["state"] == "outside"


def test_status_of_a_home_agent_lists_bindings():
    w = build()
    w.connect("wan", "lan1", "10.2.0.5")
    w.run(5)
    lines = render(_model("ha", w.i_ha.status(w.now)))
    assert any(line.startswith("  binding %s -> care-of 10.2.0.5" % I_HOA) for line in lines), lines


def test_status_without_a_daemon_says_so(tmp_path):
    p = mip4("status", "--file", str(tmp_path / "none.json"))
    assert p.returncode == 2 and "is it running" in p.stderr
