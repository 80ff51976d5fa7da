"""What labctl.py and faults.py share inside the UML kernel: events, commands, stream verdicts."""
from __future__ import annotations

import json
import subprocess
import time

STEP_TIMEOUT = 60.0
REORDER_MAX = 1.0  # seconds: make-before-break may delay the stream by the old path's latency, no more


def emit(event: str, **fields) -> None:
    print("@lab " + json.dumps(dict(event=event, t=round(time.monotonic(), 3), **fields)), flush=True)


def sh(cmd: str, check: bool = True) -> str:
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (cmd, r.stderr.strip() or r.stdout.strip()))
    return r.stdout


def batch(lines: list[str], ns: str | None = None) -> None:
    """Many ip commands in one exec (each exec is slow under UML)."""
    if not lines:
        return
    r = subprocess.run(["ip"] + (["-n", ns] if ns else []) + ["-batch", "-"], input="\n".join(lines) + "\n",
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("ip -batch (%s): %s" % (ns or "root", r.stderr.strip()))


def merged(base: dict, over: dict) -> dict:
    """`base` with `over`'s options laid on it, section by section."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merged(base.get(k, {}), v) if isinstance(v, dict) else v
    return out


def wait_for(pred, timeout: float, what: str) -> float:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return time.monotonic()
        time.sleep(0.1)
    raise TimeoutError(what)


def clean(s: dict) -> bool:
    """The stream lost, duplicated and reconnected nothing."""
    return s.get("reconnects") == 0 and s.get("gaps") == 0 and s.get("duplicates") == 0


def resumed_after(s: dict, attached: float, slack: float = 0.0) -> float | None:
    """When stream data flowed again after plugging in: the end of the stall around the move.

    `slack`: for an unplug, segments already past the MR still arrive just after the event, so the
    stall may begin up to one stall window later."""
    for start, end in reversed(s.get("stalls", [])):
        if end >= attached and start <= attached + slack:
            return end
    last = s.get("last_rx")
    if last and last > attached and not any(end >= attached for _, end in s.get("stalls", [])):
        return attached  # no stall at all
    return None


def topology_state(topo: dict, network: str | None) -> str:
    """The detection state an uplink must reach on `network`: inside, outside, or down (unplugged)."""
    if network is None:
        return "down"
    return "outside" if topo["networks"][network]["expect"] in ("cvc", "fvc") else "inside"
