"""RFC 3519 UDP tunnels never send fragments: their datagrams carry DF, and once the path MTU to the
peer is known (a router's ICMP "fragmentation needed"), a packet too big for it lowers the tunnel
device's MTU to that path MTU less the tunnel's layer, as the kernel's ipip does (RFC 2003 5.1), so the
inner sender learns it. Fragments of tunnel data behind a VPN gateway left it as ESP fragments (the
lab's gateway-SNAT step). Three namespaces of the host's kernel: the tunnel's end A, a router R, and
the peer B behind a 1400-octet link."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import asyncio, json, socket, time
from mip4.core.actions import Tunnel
from mip4.io.endpoints import UdpEndpoint
from mip4.io.kernel import KernelDataPlane
from mip4.io.rtnl import AsyncIPRoute
from mip4.io.udp_tunnels import UdpTunnelPlane, UdpTunnels

async def main():
    loop = asyncio.get_running_loop()
    eps = {}
    tunnels = UdpTunnels(loop, lambda d: eps["ep"].send(d))
    ipr = AsyncIPRoute()
    plane = UdpTunnelPlane(KernelDataPlane(ipr), tunnels)
    eps["ep"] = UdpEndpoint(loop, 434, None, lambda d: None)
    t = Tunnel("mu-pmtu", "10.50.1.1", "10.50.2.2", 434)
    await plane.tunnel_up(t, "va")
    await plane.route("10.99.0.0/24", device=t.name)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_PMTUDISC_DO: the inner sender's packets carry DF
    errors = []
    for _ in range(4):
        try:
            sender.sendto(b"x" * 1400, ("10.99.0.5", 9))
        except OSError as e:
            errors.append(e.errno)
        await asyncio.sleep(0.3)
    mtu = int(open("/sys/class/net/mu-pmtu/mtu").read())
    print(json.dumps({"mtu": mtu, "counters": tunnels.counters, "inner_errors": errors}))
    tunnels.close_all()
    ipr.close()

asyncio.run(main())
"""


def sh(cmd: str) -> str:
    return subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True).stdout


def test_a_udp_tunnel_learns_the_path_mtu_and_sends_no_fragment():
    a, r, b = ("mip4t-pm%s-%d" % (x, os.getpid()) for x in "arb")
    for ns in (a, r, b):
        sh("ip netns add %s" % ns)
        sh("ip netns exec %s sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1" % ns)
    try:
        sh("ip -n %s link add va type veth peer name ra netns %s" % (a, r))
        sh("ip -n %s link add rb type veth peer name vb netns %s" % (r, b))
        sh("ip -n %s link set rb mtu 1400 && ip -n %s link set vb mtu 1400" % (r, b))
        sh("ip -n %s addr add 10.50.1.1/24 dev va && ip -n %s link set va up && ip -n %s link set lo up" % (a, a, a))
        sh("ip -n %s route add default via 10.50.1.2" % a)
        sh("ip -n %s addr add 10.50.1.2/24 dev ra && ip -n %s addr add 10.50.2.1/24 dev rb" % (r, r))
        sh("ip -n %s link set ra up && ip -n %s link set rb up" % (r, r))
        sh("ip netns exec %s sysctl -qw net.ipv4.ip_forward=1" % r)
        sh("ip -n %s addr add 10.50.2.2/24 dev vb && ip -n %s link set vb up" % (b, b))
        sh("ip -n %s route add default via 10.50.2.1" % b)
        env = dict(os.environ, PYTHONPATH="%s/firmware" % ROOT)
        run = subprocess.run(["ip", "netns", "exec", a, sys.executable, "-c", PROBE], capture_output=True, text=True,
                             env=env, timeout=60, check=False)
        assert run.returncode == 0, run.stderr[-2000:]
        out = json.loads(run.stdout.strip().splitlines()[-1])
        to_b = json.loads(sh("ip -j -s -n %s link show rb" % r))[0]["stats64"]["tx"]["packets"]
    finally:
        for ns in (a, r, b):
            subprocess.run(["ip", "netns", "del", ns], check=False)
    assert out["mtu"] == 1400 - 32, out  # the path MTU less IP, UDP and the MIP tunnel data header
    assert out["counters"]["too_big"] >= 1, out
    assert 90 in out["inner_errors"], out  # EMSGSIZE: the inner sender told, once the device's MTU came down
    assert to_b == 0, to_b  # nothing of the tunnel's crossed to B in pieces (fragments fit 1400; whole ones do not)
