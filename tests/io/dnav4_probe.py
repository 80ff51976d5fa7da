"""Run inside a network namespace by test_dnav4.py: mip4d's DHCP clients (io/dhcp.py) with the real udhcpc
and its hook on `wan`, dnsmasq serving on its veth peer `isp` in the namespace named by argv[1] (the
access network's router); the uplink is unplugged and plugged back between phases. Prints one JSON
object: per phase, the addresses `wan` had over time and the log."""
from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import tempfile
import time

from pyroute2 import AsyncIPRoute

from mip4.io.dhcp import DhcpClients
from mip4.io.kernel import KernelDataPlane

ROUTER = "10.2.0.1"
TABLE = 100


def sh(cmd: str) -> str:
    return subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True).stdout


def addresses() -> list[str]:
    return [line.split()[3] for line in sh("ip -4 -o addr show dev wan").splitlines()]


class Dnsmasq:
    def __init__(self, workdir: str, ns: str) -> None:
        self.workdir, self.ns, self.proc = workdir, ns, None

    def start(self, first: int, last: int, leases: str) -> None:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
             "--interface=isp", "--bind-interfaces",
             "--user=root", "--pid-file=", "--no-ping", "--dhcp-authoritative",
             "--dhcp-range=10.2.0.%d,10.2.0.%d,255.255.255.0,600" % (first, last),
             "--dhcp-option=3,%s" % ROUTER, "--dhcp-leasefile=%s/%s" % (self.workdir, leases)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.2)  # until it listens

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait()
            self.proc = None


async def watch(seconds: float, until=None) -> list[tuple[float, list[str]]]:  # noqa: ANN001
    """wan's addresses every 10 ms for `seconds` (or until `until(addresses)`), with the time since the start."""
    t0, seen, last = time.monotonic(), [], None
    while time.monotonic() - t0 < seconds:
        now = addresses()
        if now != last:
            seen.append((round(time.monotonic() - t0, 3), now))
            last = now
        if until and until(now):
            break
        await asyncio.sleep(0.01)
    return seen


async def logged(logs: list[str], text: str, seconds: float) -> None:
    """Until a log line holds `text` (or `seconds` pass)."""
    for _ in range(int(seconds / 0.02)):
        if any(text in line for line in logs):
            return
        await asyncio.sleep(0.02)


async def main() -> None:
    logs: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logs.append(record.getMessage())

    logging.getLogger("mip4.dhcp").addHandler(Keep())
    logging.getLogger("mip4.dhcp").setLevel(logging.INFO)
    ipr = AsyncIPRoute()

    async def gateway(iface: str, router: str | None) -> None:
        """What RouterPaths.uplink_gateway does: the uplink's table through its router, or on-link."""
        index = (await ipr.link_lookup(ifname=iface))[0]
        spec = dict(gateway=router, flags=4) if router else {}
        await ipr.route("replace", dst="0.0.0.0", dst_len=0, table=TABLE, oif=index, **spec)

    dhcp = DhcpClients({"wan": TABLE}, KernelDataPlane(ipr).flush_addresses, gateway=gateway, ipr=ipr)
    out: dict = {}
    with tempfile.TemporaryDirectory() as workdir:
        server = Dnsmasq(workdir, sys.argv[1])

        async def plug(phase: str, seconds: float, until=None, then: str | None = None) -> None:  # noqa: ANN001
            """Plug in; watch the addresses for `seconds` or `until`; then wait for the log line `then`."""
            logs.clear()
            sh("ip link set wan up")
            await dhcp.link("wan", True)
            seen = await watch(seconds, until)
            if then is not None:
                await logged(logs, then, 5)
            seen += [(None, addresses())]
            out[phase] = {"seen": seen, "log": list(logs), "route": sh("ip route show table %d" % TABLE)}

        async def learnt() -> None:
            """Until the router's MAC for wan's lease is known, learnt by ARP after the lease (RFC 4436 2)."""
            for _ in range(100):
                bound = [a.split("/")[0] for a in addresses()]
                if any(n.address in bound for n in dhcp.memory.candidates("wan", time.monotonic())):
                    return
                await asyncio.sleep(0.02)

        async def unplug() -> None:
            sh("ip link set wan down")
            await dhcp.link("wan", False)

        try:
            server.start(100, 150, "first")
            monitor = subprocess.Popen(["ip", "-o", "monitor", "address", "route"], stdout=subprocess.PIPE, text=True)
            await asyncio.sleep(0.3)  # until it listens
            await plug("first", 10, until=lambda a: bool(a), then="mip4 udhcpc: wan")
            monitor.terminate()
            out["first"]["events"] = monitor.communicate()[0].splitlines()
            await learnt()
            out["remembered"] = [(n.address, n.router, n.router_mac.hex(":") if n.router_mac else None)
                                 for n in dhcp.memory.candidates("wan", time.monotonic())]
            await unplug()
            server.stop()  # no DHCP at all: only the reachability test can give the address back
            await plug("back_without_dhcp", 1)
            await unplug()
            server.start(100, 150, "first")  # the same server, which still knows the lease
            await plug("confirmed", 3, until=lambda a: bool(a), then="DHCP confirmed")
            await unplug()
            server.stop()
            server.start(200, 210, "renumbered")  # the same router, but DHCP now gives another address
            await plug("renumbered", 5, until=lambda a: bool(a) and a[0].startswith("10.2.0.2"),
                       then="instead of the remembered")
            await learnt()
            await unplug()
            server.stop()
            # another router at the same address: another network
            sh("ip -n %s link set isp address 02:00:00:00:99:01" % sys.argv[1])
            await plug("other_router", 0.8, then="no remembered network answered")
            await unplug()
        finally:
            server.stop()
            await dhcp.close()
            ipr.close()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    asyncio.run(main())
