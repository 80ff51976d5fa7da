"""A link that goes down loses its IPv4 addresses at once (a vehicle that left a network must not
keep that network's lease; R-3.2.2-a: nothing more is sent from it), over rtnetlink through the kernel
backend rather than `ip addr flush`; IPv6 addresses and other links stay. In a namespace of its own."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import asyncio
from pyroute2 import AsyncIPRoute
from mip4.io.dhcp import DhcpClients
from mip4.io.kernel import KernelDataPlane

async def main():
    ipr = AsyncIPRoute()
    dhcp = DhcpClients({"va": 100}, KernelDataPlane(ipr).flush_addresses, binary="/nonexistent/udhcpc")
    await dhcp.link("va", False)
    ipr.close()

asyncio.run(main())
"""


def ip(ns: str, cmd: str) -> str:
    return subprocess.run("ip -n %s %s" % (ns, cmd), shell=True, check=True, capture_output=True, text=True).stdout


def test_link_down_flushes_the_uplinks_ipv4_addresses_only():
    ns = "mip4t-fl-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        ip(ns, "link add va type veth peer name vb")
        ip(ns, "link set va up && ip -n %s link set vb up" % ns)
        for cmd in ("addr add 10.2.0.5/16 dev va", "addr add 10.3.0.5/24 dev va", "-6 addr add 2001:db8::1/64 dev va"
                    " nodad", "addr add 192.0.2.1/24 dev vb"):
            ip(ns, cmd)
        env = dict(os.environ)
        env.setdefault("PYTHONPATH", str(ROOT / "firmware"))
        subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", PROBE], check=True, env=env, timeout=60)
        assert "inet " not in ip(ns, "addr show dev va")
        assert "2001:db8::1/64" in ip(ns, "addr show dev va")
        assert "192.0.2.1/24" in ip(ns, "addr show dev vb")
    finally:
        subprocess.run(["ip", "netns", "del", ns])
