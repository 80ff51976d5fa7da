"""Runs inside a namespace of test_udp_tunnels.py: one end of an RFC 3519 UDP tunnel through the
userspace backend (UdpTunnels composed over KernelDataPlane), on the host's real kernel and TUN driver.

  probe.py ha  -- learns the MN's address and port (after the NAT) from its first datagram, as the HA
                  learns it from a registration, then tunnels 10.77.0.1 <-> 10.77.0.2 to there
  probe.py mn  -- sends that datagram from port 434, tunnels to the HA's port 434, pings through the
                  tunnel, sends two keepalives (RFC 3519 4.9: one answered by the HA's kernel, one
                  from an address it cannot route to, answered by the tunnel layer) and one datagram
                  from another port; its tunnel is visitors-only as an FA's (RFC 5944 4.2.2): of the
                  HA's two datagrams to 10.88.0.7 (a visitor) and 10.88.0.9 (none), only the first
                  is forwarded on
Each prints one JSON line of findings when done.
"""
from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys

from pyroute2 import AsyncIPRoute

from mip4.core.actions import Datagram, Tunnel
from mip4.io.endpoints import UdpEndpoint
from mip4.io.kernel import KernelDataPlane
from mip4.io.udp_tunnels import UdpTunnelPlane, UdpTunnels
from mip4.wire.tunnel import TunnelData, keepalive

HA, MN_COA, HA_INNER, MN_INNER = "192.0.2.2", "192.168.1.20", "10.77.0.1", "10.77.0.2"
FA_PRIVATE = "192.168.55.5"
VISITOR, STRANGER = "10.88.0.7", "10.88.0.9"


async def main(role: str) -> None:
    loop = asyncio.get_running_loop()
    eps: dict[str, UdpEndpoint] = {}
    tunnels = UdpTunnels(loop, lambda d: eps["ep"].send(d))
    ipr = AsyncIPRoute()
    kernel = UdpTunnelPlane(KernelDataPlane(ipr), tunnels)
    hello: asyncio.Future = loop.create_future()

    def datagram(d: Datagram) -> None:
        if d.payload[:1] == b"\x04":
            tunnels.receive(d)
        elif not hello.done():
            hello.set_result(d)

    eps["ep"] = UdpEndpoint(loop, 434, "va" if role == "mn" else None, datagram)
    if role == "ha":
        await kernel.address(HA_INNER, 32, "lo")
        print("ready", flush=True)
        d = await asyncio.wait_for(hello, 20)
        t = Tunnel("mu-probe", HA, d.src, d.sport)
        await kernel.tunnel_up(t)
        await kernel.route(MN_INNER + "/32", device=t.name)
        await kernel.route("10.88.0.0/16", device=t.name)
        eps["ep"].send(Datagram("", HA, 434, d.src, d.sport, b"ok"))
        await asyncio.sleep(4)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for dst in (VISITOR, STRANGER):
                s.sendto(b"for %s" % dst.encode(), (dst, 9))
        await asyncio.sleep(4)
        result = {"peer": [d.src, d.sport], "mtu": await kernel.mtu(t.name), **tunnels.counters}
    else:
        await kernel.address(MN_INNER, 32, "lo")
        eps["ep"].send(Datagram("va", MN_COA, 434, HA, 434, b"hello"))  # the "registration"
        hello_back = await asyncio.wait_for(hello, 10)
        t = Tunnel("mip4-x-probe", MN_COA, HA, 434)
        await kernel.tunnel_up(t, link="va")
        await kernel.visitors_only(t.name, True)
        await kernel.route(HA_INNER + "/32", device=t.name)
        await kernel.route(VISITOR + "/32", gateway="192.168.1.1")
        ping = await asyncio.create_subprocess_exec("ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", MN_INNER,
                                                    HA_INNER, stdout=subprocess.PIPE)
        out, _ = await ping.communicate()
        before = tunnels.counters["received"]
        eps["ep"].send(Datagram("va", MN_COA, 434, HA, 434, TunnelData(keepalive(MN_INNER, HA_INNER, 1)).encode()))
        await asyncio.sleep(0.5)
        echoed = tunnels.counters["received"] - before
        # an FA's keepalive: from its own address, which the HA has no route to; the tunnel layer answers
        before = tunnels.counters["received"]
        eps["ep"].send(Datagram("va", MN_COA, 434, HA, 434, TunnelData(keepalive(FA_PRIVATE, HA, 3)).encode()))
        await asyncio.sleep(0.5)
        fa_echoed = tunnels.counters["received"] - before
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:  # same data, another port: not the tunnel
            other.bind((MN_COA, 4000))
            other.sendto(TunnelData(keepalive(MN_INNER, HA_INNER, 2)).encode(), (HA, 434))
        await asyncio.sleep(0.3)
        result = {"hello": hello_back.payload.decode(), "ping": ping.returncode, "ping_out": out.decode()[-200:],
                  "keepalive_echoed": echoed, "fa_keepalive_echoed": fa_echoed, "mtu": await kernel.mtu(t.name),
                  **tunnels.counters}
    result["rules"] = subprocess.run(["ip", "rule"], capture_output=True, text=True).stdout.splitlines()
    await asyncio.sleep(3 if role == "mn" else 0)  # the HA's two datagrams come through meanwhile
    await kernel.close()
    rules = subprocess.run(["ip", "rule"], capture_output=True, text=True).stdout.splitlines()
    result["rules_left"] = [r for r in rules if "iif" in r]
    result["left"] = [n for n in socket.if_nameindex() if n[1] == t.name]
    eps["ep"].close()
    ipr.close()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
