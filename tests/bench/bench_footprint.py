"""The mobile router agent's footprint: RSS and CPU time of a real mip4d (role mn) in a namespace.

It runs from the package's example /etc/config/mip4 (build/package/mip4/files), as
tests/router/test_daemon_router.py does: three uplinks (veth pairs, peers down: no carrier), the
status file and the control socket, DHCP off, and no `vpn` options (no charon runs here). Baseline,
in the same namespace and the same window: a bare interpreter with an asyncio loop ticking once a
second (mip4d checks its clocks once a second). Then its RSS across 1,000 moves without the lab
(moves(): carrier and an address on one uplink after the other), flat after warm-up (issue 25).
"""
from __future__ import annotations

import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

from . import netns, proc
from .report import Column, Figure, ratio

EXAMPLE = netns.ROOT / "build/package/mip4/files/etc/config/mip4"
ENTRY = "mip4.cli.mip4d"  # what the package's /usr/bin/mip4d runs (without a ubusd: rtnetlink and its own udhcpc)
IDLE_LOOP = ("import asyncio\n"
             "async def main():\n"
             "    print('ready', flush=True)\n"
             "    while True:\n"
             "        await asyncio.sleep(1)\n"
             "asyncio.run(main())\n")


def config(tmp: Path) -> str:
    """The example file with run paths in `tmp`, wan on device eth1, DHCP off, no IKE options."""
    text = EXAMPLE.read_text().replace("/var/run/mip4/", str(tmp) + "/")
    text = text.replace("config uplink 'wan'\n", "config uplink 'wan'\n\toption device 'eth1'\n")
    text = text.replace("\tlist network", "\toption dhcp '0'\n\tlist network", 1)
    return "\n".join(line for line in text.splitlines()
                     if not line.strip().startswith(("option ike_", "list intranet"))) + "\n"


def _start(ns: str, argv: list[str], ready: str, log: Path) -> subprocess.Popen:
    with log.open("w") as f:
        p = subprocess.Popen(netns.python(ns, *argv), stdout=f, stderr=subprocess.STDOUT, env=netns.env(),
                             cwd=netns.ROOT)
    end = time.monotonic() + 30
    while ready not in log.read_text():
        if p.poll() is not None or time.monotonic() > end:
            p.kill()
            raise RuntimeError("did not start: %s" % log.read_text()[-2000:])
        time.sleep(0.05)
    return p


def _hwm_kib(pid: int) -> int:
    with open("/proc/%d/status" % pid) as f:
        return int(next(line for line in f if line.startswith("VmHWM:")).split()[1])


def measure(window: float, settle: float) -> dict:
    """Idle RSS and CPU over `window` seconds for mip4d and the bare loop side by side; then mip4d's
    RSS `settle` seconds after a link event (carrier and an address on wan: it registers, nobody answers)."""
    # run files on tmpfs, as OpenWrt's /var/run: a rename on this machine's overlay /tmp costs 1 ms, which
    # once a second (the status file) is more than the rest of an idle mip4d's CPU time
    run = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with netns.namespace("mn") as ns, tempfile.TemporaryDirectory(prefix="mip4-bench-", dir=run) as tmp:
        for dev in ("eth1", "wwan", "wlan"):
            netns.sh(f"ip -n {ns} link add {dev} type veth peer name {dev}p && ip -n {ns} link set {dev} up")
        conf = Path(tmp, "mip4")
        conf.write_text(config(Path(tmp)))
        daemon = _start(ns, ["-m", ENTRY, "--config", str(conf)], "mip4d started", Path(tmp, "mn.log"))
        bare = _start(ns, ["-c", IDLE_LOOP], "ready", Path(tmp, "bare.log"))
        try:
            time.sleep(0.5)  # let start-up work finish
            before = {p.pid: proc.cpu_seconds(p.pid) for p in (daemon, bare)}
            time.sleep(window)
            cpu = {p.pid: proc.cpu_seconds(p.pid) - before[p.pid] for p in (daemon, bare)}
            rss = {p.pid: proc.rss_kib(p.pid) for p in (daemon, bare)}
            netns.sh("ip -n %s link set eth1p up" % ns)
            netns.sh("ip -n %s addr add 10.2.0.5/16 dev eth1" % ns)
            time.sleep(settle)
            busy = {"rss": proc.rss_kib(daemon.pid), "hwm": _hwm_kib(daemon.pid)}
            if daemon.poll() is not None:
                raise RuntimeError("mip4d exited: %s" % Path(tmp, "mn.log").read_text()[-2000:])
            # carrier off first: nothing left outstanding, so SIGTERM needs no deregistration wait
            netns.sh("ip -n %s link set eth1p down" % ns)
            time.sleep(0.2)
        finally:
            proc.stop(bare)
            proc.stop(daemon)
    per_hour = 3600.0 / window
    return {"mip4d": {"rss": rss[daemon.pid], "cpu_h": cpu[daemon.pid] * per_hour},
            "bare": {"rss": rss[bare.pid], "cpu_h": cpu[bare.pid] * per_hour}, "link_event": busy}


UPLINKS = ("eth1", "wwan", "wlan")


def moves(count: int, warm_up: int) -> dict:
    """mip4d's RSS across `count` moves without the lab: round its three uplinks, carrier and an address
    on one (it detects, sends its requests, nobody answers), then the address flushed and the carrier off
    (the care-of is lost, the uplink goes down). The netlink path, the guard, the uplink's sockets and the
    state machine run as in a move; RSS after the first move, after `warm_up` and after the last."""
    run_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
    rss: dict[int, int] = {}
    with netns.namespace("mv") as ns, tempfile.TemporaryDirectory(prefix="mip4-bench-", dir=run_dir) as tmp:
        for dev in UPLINKS:
            netns.sh(f"ip -n {ns} link add {dev} type veth peer name {dev}p && ip -n {ns} link set {dev} up")
        conf = Path(tmp, "mip4")
        conf.write_text(config(Path(tmp)))
        daemon = _start(ns, ["-m", ENTRY, "--config", str(conf)], "mip4d started", Path(tmp, "mn.log"))
        try:
            for i in range(count):
                dev, subnet = UPLINKS[i % 3], 10 + (i // 3) % 200
                netns.sh(f"ip -n {ns} link set {dev}p up && ip -n {ns} addr add 10.2.{subnet}.5/16 dev {dev}")
                time.sleep(0.25)
                netns.sh(f"ip -n {ns} addr flush dev {dev} && ip -n {ns} link set {dev}p down")
                time.sleep(0.05)
                if daemon.poll() is not None:
                    raise RuntimeError("mip4d exited: %s" % Path(tmp, "mn.log").read_text()[-2000:])
                if i + 1 in (1, warm_up, count):
                    rss[i + 1] = proc.rss_kib(daemon.pid)
        finally:
            proc.stop(daemon)
    return rss


def run(quick: bool) -> list[Figure]:
    fig = Figure("footprint", "Mobile router agent footprint (mip4d, role mn)",
                 "a bare python3 asyncio loop ticking once a second, same namespace, same window", [
                     Column("process", "process", left=True), Column("state", "state", left=True),
                     Column("rss_kib", "RSS KiB", "{:,}"), Column("rss_vs", "RSS vs bare", "{:.2f}"),
                     Column("cpu_s_per_h", "CPU s/hour", "{:.2f}"), Column("cpu_vs", "CPU vs bare", "{:.1f}")])
    if not netns.available():
        fig.notes.append("not root or no `ip netns`: not measured")
        return [fig]
    window, settle = (2.0, 1.0) if quick else (30.0, 3.0)
    count, warm_up = (12, 6) if quick else (1000, 150)
    got = measure(window, settle)
    moved = moves(count, warm_up)
    m, b, e = got["mip4d"], got["bare"], got["link_event"]
    fig.rows += [
        {"process": "bare asyncio loop", "state": "idle", "rss_kib": b["rss"], "rss_vs": 1.0,
         "cpu_s_per_h": b["cpu_h"], "cpu_vs": 1.0},
        {"process": "mip4d mn", "state": "idle, no uplink", "rss_kib": m["rss"], "rss_vs": ratio(m["rss"], b["rss"]),
         "cpu_s_per_h": m["cpu_h"], "cpu_vs": ratio(m["cpu_h"], b["cpu_h"])},
        {"process": "mip4d mn", "state": "%g s after wan up (peak)" % settle, "rss_kib": e["hwm"],
         "rss_vs": ratio(e["hwm"], b["rss"]), "cpu_s_per_h": None, "cpu_vs": None},
    ] + [{"process": "mip4d mn", "state": "after move %d of %d (no lab)" % (n, count), "rss_kib": kib,
          "rss_vs": ratio(kib, b["rss"]), "cpu_s_per_h": None, "cpu_vs": None} for n, kib in sorted(moved.items())]
    fig.notes += [
        "CPU s/hour: CPU time (schedstat) over a %.0f s idle window, times 3600 / window; run files (status file, "
        "control socket) on tmpfs (/dev/shm), as OpenWrt's /var/run" % window,
        "wan up: carrier and 10.2.0.5/16 on wan; it registers with both HAs, which do not exist here "
        "(a detection, not a full handoff: that needs the lab)",
        "after move N (no lab): %d moves round wan, wwan and wlan in the namespace, each carrier and an address "
        "on one uplink for 0.25 s (it detects and sends its requests; no HA answers), then both off; RSS after the "
        "first, after %d (warm-up: the recent-log ring fills) and after the last" % (count, warm_up),
        "CPython %s on this machine; a router's python3-light differs in absolute size" % platform.python_version(),
    ]
    return [fig]
