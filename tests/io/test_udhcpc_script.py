"""The udhcpc hook (firmware/mip4/io/udhcpc.script) on the host's kernel, in a namespace this test makes.

The uplink's router must be in the uplink's table before its address appears: mip4 registers on the
address event, and a request sent with no route was lost until the retransmission a second later.
A renewal with a new address keeps the route (removing the last address flushes the device's routes).
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "firmware" / "mip4" / "io" / "udhcpc.script"


def sh(cmd: str) -> str:
    return subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def uplink():
    ns = "mip4d-%d" % os.getpid()
    sh("ip netns add %s" % ns)
    try:
        for cmd in ("link add wan type veth peer name isp", "link set wan up", "link set isp up", "link set lo up"):
            sh("ip -n %s %s" % (ns, cmd))
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns])


def hook(ns: str, event: str, shell: tuple[str, ...] = ("sh",), **env: str) -> str:
    env = dict(os.environ, interface="wan", MIP4_TABLE="100", **env)
    return subprocess.run(["ip", "netns", "exec", ns, *shell, str(SCRIPT), event], env=env, check=True,
                          capture_output=True, text=True).stdout


def test_bound_puts_the_router_in_before_the_address_and_a_new_address_keeps_it(uplink):
    ns = uplink
    monitor = subprocess.Popen(["ip", "-n", ns, "-o", "monitor", "address", "route"], stdout=subprocess.PIPE,
                               text=True)
    time.sleep(0.5)  # until the monitor listens
    try:
        hook(ns, "deconfig")
        out = hook(ns, "bound", ip="10.2.0.174", mask="24", router="10.2.0.1")
        time.sleep(0.5)
    finally:
        monitor.terminate()
    events = monitor.communicate()[0].splitlines()
    assert "wan 10.2.0.174/24 router 10.2.0.1 (table 100)" in out
    route = next(i for i, e in enumerate(events) if "default via 10.2.0.1" in e and "table 100" in e)
    address = next(i for i, e in enumerate(events) if "10.2.0.174/24" in e and "Deleted" not in e)
    assert route < address  # the route was there when the address event reached mip4
    assert sh("ip -n %s -4 -o addr show dev wan" % ns).split()[3] == "10.2.0.174/24"
    hook(ns, "renew", ip="10.2.0.175", mask="24", router="10.2.0.1")
    assert sh("ip -n %s -4 -o addr show dev wan" % ns).split()[3] == "10.2.0.175/24"
    assert "default via 10.2.0.1 dev wan" in sh("ip -n %s route show table 100" % ns)
    assert "default via 10.2.0.1" not in sh("ip -n %s route show table main" % ns)  # never the main table


@pytest.mark.parametrize("shell", [("sh",), ("busybox", "sh")])  # the host's, and OpenWrt's ash
def test_the_lease_line_for_mip4d_carries_only_digits_and_dots(uplink, shell):
    """The hook hands the lease to the running mip4d on udhcpc's stdout (io/dhcp.py reads it): exactly
    one line per event, and a DHCP server's value that is not digits and dots becomes "-", so it can
    neither add a line nor a word of its own."""
    from mip4.io.dhcp import parse_lease

    evil = "600\nmip4-lease bound 6.6.6.6 8 6.6.6.1 9 6.6.6.1"
    out = hook(uplink, "bound", shell, ip="10.2.0.174", mask="24", router="10.2.0.1 10.2.0.9", lease=evil,
               serverid="10.2.0.1;reboot")
    lines = [line for line in out.splitlines() if line.startswith("mip4-lease")]
    assert lines == ["mip4-lease bound 10.2.0.174 24 10.2.0.1 - -"]
    assert parse_lease(lines[0]).router == "10.2.0.1"
    bad = subprocess.run(["ip", "netns", "exec", uplink, *shell, str(SCRIPT), "renew"], capture_output=True, text=True,
                         env=dict(os.environ, interface="wan", MIP4_TABLE="100", ip="10.2.0.175\n", mask="24"))
    assert bad.returncode == 1 and "mip4-lease" not in bad.stdout  # a bad address: nothing done, nothing reported
    assert sh("ip -n %s -4 -o addr show dev wan" % uplink).split()[3] == "10.2.0.174/24"
    assert hook(uplink, "deconfig", shell).splitlines() == ["mip4-lease deconfig - - - - -"]
