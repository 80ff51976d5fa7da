"""One boot of the UML lab for every lab test: the tour of topology.json (inside, outside, the
i-HA cut off, and home again), with its events, captures and logs kept until the session ends."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from board.virtual.boot import Lab, topology, uml_processes

I_HA, I_HOA, X_HA, I_FA = "10.1.0.1", "10.1.0.10", "198.51.100.1", "10.4.0.1"
X_HOA, X_FA, VPN_GW = "198.51.100.10", "203.0.113.1", "172.16.0.2"
LAN_HOST, CN = "192.168.77.2", "10.0.0.10"
NETEM_MS = 20  # one way, on the link into the i-HA


LAB_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here boots (or shares) a UML lab: marker `lab`, which `make check` leaves out."""
    for item in items:
        if LAB_DIR in item.path.parents:
            item.add_marker(pytest.mark.lab)


def lab_namespaces() -> set[str]:
    """The host's network namespaces that bear a lab node's name (topology.json `nodes`). The lab makes
    its namespaces inside UML; one of these on the host would be the lab's leak. Other namespaces on the
    host belong to other work and are none of the lab's business."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()} & set(topology()["nodes"])


class KeptLab:
    """A boot kept with MIP4_LAB_KEEP=1, read again: MIP4_LAB_REUSE=/tmp/mip4-lab-... runs the lab tests
    on its captures, logs and events (EVENTS) without booting, to develop an analysis of the wire."""

    path, log = Lab.path, Lab.log

    def __init__(self, directory: str) -> None:
        self.dir = directory

    def events(self) -> list[dict]:
        with open(self.path(EVENTS)) as f:
            return [json.loads(line) for line in f]


EVENTS = "events.jsonl"  # every event of a boot, written by boot.py as they come


def _boot(scenario: str, timeout: float, **kw):  # noqa: ANN003
    reuse = os.environ.get("MIP4_LAB_REUSE")
    if reuse:
        kept = KeptLab(reuse)
        yield kept, kept.events()
        return
    before_ns = lab_namespaces()
    lab = Lab(scenario=scenario, **kw)
    events = []
    keep = os.environ.get("MIP4_LAB_KEEP") == "1"
    try:
        for ev in lab.events(timeout=timeout):
            events.append(ev)
            if ev["event"] in ("registered", "step", "error", "done"):
                print("lab:", json.dumps({k: v for k, v in ev.items() if k not in ("stream", "steps", "trace")}))
        yield lab, events
    finally:
        lab.close(keep=keep)  # keep its logs, captures and events (boot.py's events.jsonl) to debug
        # nothing of this lab left on the host: its namespaces and processes lived inside UML. Only the
        # lab's own are compared (its kernel runs with uml_dir=lab.dir); other work may boot or leave its own
        assert [p for p in uml_processes() if lab.dir in p] == []
        assert lab_namespaces() <= before_ns  # none added; one another test removed meanwhile is fine


@pytest.fixture(scope="session")
def tour():
    yield from _boot("tour", 1200, netem={"iha-core": "delay %dms" % NETEM_MS})


@pytest.fixture(scope="module")  # not kept for the tour's modules: one lab at a time
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
