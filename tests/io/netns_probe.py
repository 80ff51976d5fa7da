"""Runs inside a test's network namespace (see test_host_kernel.py); prints one JSON line of findings.

  probe.py peer   -- the far end: echoes UDP 434 on vb, answers a solicitation with an advertisement
  probe.py agent  -- UdpEndpoint/IcmpEndpoint on va, then KernelDataPlane and RouterPaths; cleans up
"""
from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys

from mip4.core.actions import Datagram, Gate, Icmp, SetPath
from mip4.io import guard as guard_module
from mip4.io.endpoints import IcmpEndpoint, UdpEndpoint, bypass_ipsec
from mip4.io.guard import LeakGuard
from mip4.io.kernel import KernelDataPlane
from mip4.io.paths import RouterPaths
from mip4.io.settings import RouterOptions
from mip4.wire.icmp import AgentSolicitation

ADVERT = bytes([9, 0, 0xF6, 0xFF, 0, 0, 0, 0])  # an empty router advertisement, checksum included


def ip(cmd: str) -> str:
    return subprocess.run("ip " + cmd, shell=True, capture_output=True, text=True).stdout


async def peer() -> None:
    loop = asyncio.get_running_loop()
    udp: list = []
    icmp: list = []
    udp.append(UdpEndpoint(loop, 434, "vb", lambda d: udp[0].send(
        Datagram("vb", d.dst, 434, d.src, d.sport, b"echo:" + d.payload))))
    # answers only a solicitation whose source is really 0.0.0.0 (RFC 1256), never one with an address
    # the kernel chose (the agent has 10.99.0.1 on its link)
    icmp.append(IcmpEndpoint(loop, "vb", lambda m: m.payload[0] == 10 and m.src == "0.0.0.0" and icmp[0].send(
        Icmp("vb", "192.0.2.2", "224.0.0.1", ADVERT)), groups=("224.0.0.2",)))
    print("ready", flush=True)
    await asyncio.sleep(30)


async def agent() -> dict:
    loop = asyncio.get_running_loop()
    got: dict = {}
    done = asyncio.Event()

    def on_udp(d: Datagram) -> None:
        got["udp"] = [d.iface, d.src, d.dst, d.payload.decode()]
        done.set()

    def on_icmp(m: Icmp) -> None:
        got["icmp"] = [m.iface, m.src, m.dst, m.payload[0]]

    udp = UdpEndpoint(loop, 434, "va", on_udp)
    icmp = IcmpEndpoint(loop, "va", on_icmp)
    icmp.send(Icmp("va", "0.0.0.0", "224.0.0.2", AgentSolicitation().encode()))  # no address needed (RFC 1256)
    # 192.0.2.2 is not routed here (va has only 10.99.0.1/32): bound to the device, it goes on-link
    udp.send(Datagram("va", "10.99.0.1", 434, "192.0.2.2", 434, b"hello"))
    await asyncio.wait_for(done.wait(), 5)
    await asyncio.sleep(0.3)
    udp.close()
    icmp.close()

    from pyroute2 import AsyncIPRoute
    ipr = AsyncIPRoute()
    k = KernelDataPlane(ipr)
    before = (ip("rule"), ip("-4 route show table all"), ip("neigh show proxy"))
    paths = RouterPaths(k, RouterOptions(networks=("192.168.77.0/24",)), ["va"])
    await paths.start("198.51.100.10")
    await k.proxy_arp("10.1.0.10", "va", True)
    await k.address("10.1.0.10", 32, "lo")
    await k.route("10.9.0.0/24", device="va", metric=10)
    got["lan_blocked"] = ip("route show table 4").strip()
    got["rules"] = ip("rule").strip().splitlines()
    # at home: the LAN table follows the uplink's DHCP gateway once the gate opens (mode "home")
    await k.route("0.0.0.0/0", table=paths.tables["va"], device="va", gateway="192.0.2.2", onlink=True)
    await paths.gate(Gate("va", "plain", "test"))
    await paths.set_path(SetPath("va", "home", "10.1.0.10", ()))
    await paths.select("va")
    got["lan_home"] = ip("route show table 4").strip()
    await paths.gate(Gate("va", None, "test"))
    await paths.set_path(SetPath("va", None))
    await paths.select("va")
    got["lan_closed"] = ip("route show table 4").strip()
    got["proxy"] = ip("neigh show proxy").strip()
    got["guard"] = await guard_probe()
    await k.close()
    got["clean"] = (ip("rule"), ip("-4 route show table all"), ip("neigh show proxy")) == before
    got["lo"] = ip("-4 addr show dev lo").count("10.1.0.10")
    # a killed predecessor's leftovers: a fresh data plane sweeps its tables clean before starting
    ip("rule add from 192.168.77.0/24 lookup 4 priority 1000")
    ip("route add prohibit default table 4")
    await KernelDataPlane(ipr).sweep((4,))
    got["swept"] = (ip("rule"), ip("-4 route show table all"), ip("neigh show proxy")) == before
    ipr.close()
    return got


def _send(src: str, bypass: bool = False) -> str:
    """One UDP datagram from `src` out of va to the peer: "sent" or the error the kernel gave."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, 25, b"va")
        if bypass:
            bypass_ipsec(sock)
        sock.bind((src, 0))
        sock.sendto(b"x", ("192.0.2.2", 9))
        return "sent"
    except OSError as e:
        return e.strerror or str(e)
    finally:
        sock.close()


def _vpn_tia_guards() -> list[str]:
    """The sources of our XFRM block policies that apply on every device (the VPN-TIA guards), one
    entry per policy."""
    found = []
    for block in ip("xfrm policy").split("src ")[1:]:
        if "action block" in block and " dev " not in block.split("\n")[0]:
            found.append(block.split()[0])
    return sorted(found)


async def guard_probe() -> dict:
    """The leak guard on the real kernel's XFRM: block, bypass, lift, the VPN-TIA guard, close, sweep."""
    out: dict = {}
    guard = LeakGuard(("192.168.77.0/24", "10.1.0.10/32"), ["va"])
    await guard.start()
    out["policies"] = ip("xfrm policy").count("action block")
    out["guarded"] = _send("10.1.0.10")  # the i-HoA in clear on an uplink not proven inside
    out["bypass"] = _send("10.1.0.10", bypass=True)  # a registration socket
    out["other"] = _send("10.99.0.1")  # not an enterprise source
    await guard.only_through_ipsec("10.99.0.1")  # as if it were the VPN-TIA
    out["vpn_tia"] = _send("10.99.0.1")
    # IKE comes up again with another VPN-TIA, then a third: after each batch of XFRM changes, the
    # VPN-TIAs the kernel blocks (policies of no device), for both halves of the address space
    states: list = []
    real_ip = guard_module._ip

    async def watched(lines: list[str]) -> str:
        result = await real_ip(lines)
        if lines:
            states.append(_vpn_tia_guards())
        return result

    guard_module._ip = watched
    try:
        await guard.only_through_ipsec("10.99.0.2")
        await guard.only_through_ipsec("10.99.0.3")
        await guard.only_through_ipsec("10.99.0.3")  # a re-key with the same VPN-TIA changes nothing
    finally:
        guard_module._ip = real_ip
    out["vpn_tia_states"] = states
    out["vpn_tia_old"] = _send("10.99.0.1")  # no longer the VPN-TIA: its guard is gone
    out["vpn_tia_status"] = [b for b in guard.status()["blocked"] if b.endswith(" on all")]
    await guard.lift("va")
    out["lifted"] = _send("10.1.0.10")
    await guard.close()
    out["after_close"] = ip("xfrm policy").strip()
    ip("xfrm policy add src 10.1.0.10/32 dst 0.0.0.0/1 dev va dir out action block priority 2147483632")
    await LeakGuard((), []).sweep()  # a killed predecessor's guard
    out["swept"] = ip("xfrm policy").strip()
    return out


if __name__ == "__main__":
    if sys.argv[1] == "peer":
        asyncio.run(peer())
    else:
        print(json.dumps(asyncio.run(agent())))
