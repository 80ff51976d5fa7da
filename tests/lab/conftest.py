"""One boot of the UML lab for every lab test: the tour of topology.json (inside, outside, the
i-HA cut off, and home again), with its events, captures and logs kept until the session ends."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from board.virtual.boot import Lab, uml_processes

I_HA, I_HOA, X_HA, I_FA = "10.1.0.1", "10.1.0.10", "198.51.100.1", "10.4.0.1"
X_HOA, X_FA, VPN_GW = "198.51.100.10", "203.0.113.1", "172.16.0.2"
LAN_HOST, CN = "192.168.77.2", "10.0.0.10"
NETEM_MS = 20  # one way, on the link into the i-HA


def _netns() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def _boot(scenario: str, timeout: float, **kw):  # noqa: ANN003
    before_ns, before_uml = _netns(), uml_processes()
    lab = Lab(scenario=scenario, **kw)
    events = []
    try:
        for ev in lab.events(timeout=timeout):
            events.append(ev)
            if ev["event"] in ("registered", "step", "error", "done"):
                print("lab:", json.dumps({k: v for k, v in ev.items() if k not in ("stream", "steps", "trace")}))
        yield lab, events
    finally:
        lab.close(keep=os.environ.get("MIP4_LAB_KEEP") == "1")  # keep its logs and captures to debug
        # nothing left on the host: the lab's namespaces and processes lived inside UML
        assert uml_processes() == before_uml
        assert _netns() == before_ns


@pytest.fixture(scope="session")
def tour():
    yield from _boot("tour", 1200, netem={"iha-core": "delay %dms" % NETEM_MS})


@pytest.fixture(scope="session")
def faults():
    """The fault scenario (topology.json "faults"); `make soak` runs it MIP4_SOAK_ROUNDS times in one boot."""
    rounds = int(os.environ.get("MIP4_SOAK_ROUNDS", "1"))
    yield from _boot("faults", 300 + 900 * rounds, netem={"iha-core": "delay %dms" % NETEM_MS}, rounds=rounds)


def _event(events: list, name: str) -> dict:
    found = [e for e in events if e["event"] == name]
    assert found, "no %r event; console tail:\n%s" % (name, "\n".join(e.get("message", "") for e in events[-5:]))
    return found[-1]


def steps(events: list, network: str | None = None) -> list[dict]:
    return [s for s in _event(events, "done")["steps"] if network is None or s.get("network") == network]


def tshark(path: str, display_filter: str, *fields: str) -> list[list[str]]:
    out = subprocess.run(["tshark", "-r", path, "-Y", display_filter, "-T", "fields", "-E", "separator=|"]
                         + [a for f in fields for a in ("-e", f)], capture_output=True, text=True, check=True)
    return [line.split("|") for line in out.stdout.splitlines() if line]
