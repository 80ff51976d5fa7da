"""DHCP for co-located care-of addresses: one udhcpc per uplink while it has carrier.

udhcpc's hook (udhcpc.script, busybox ash) starts nothing: it prints the lease on udhcpc's stdout, a pipe
read here, and this process puts the router into the uplink's table and then the address on the uplink
over rtnetlink; the core learns the address from rtnetlink like any other. Each lease is remembered for
DNAv4 (RFC 4436, dnav4.py): on a network seen before, the remembered address goes in at once, while
udhcpc (asked for that address) confirms it or gives another. Lines are handled one at a time, so a
remembered lease and DHCP's never interleave. A link that goes down loses its lease state and its
addresses at once (`flush`, the kernel backend's, over rtnetlink): a vehicle that left a network must not
keep using that network's address.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from . import dnav4
from .dnav4 import Memory, Network
from .rtnl import dump

log = logging.getLogger("mip4.dhcp")
SCRIPT = os.path.join(os.path.dirname(__file__), "udhcpc.script")
LEASE_TAG = "mip4-lease"  # the hook's line for us (udhcpc.script)
EVENTS = ("deconfig", "bound", "renew", "nak", "leasefail")


def which(binary: str) -> str | None:
    """shutil.which(binary), without importing shutil: it loads bz2 and lzma (0.7 MB of a mobile router's
    RSS, issue 25) for archives mip4 never makes."""
    if os.sep in binary:
        return binary if os.path.isfile(binary) and os.access(binary, os.X_OK) else None
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(directory or os.curdir, binary)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


@dataclass(frozen=True)
class Lease:
    """One line of the hook: udhcpc's event and what the server said ("-" in the line: None)."""

    event: str
    address: str | None = None
    prefixlen: int | None = None
    router: str | None = None
    seconds: int | None = None
    server: str | None = None


def parse_lease(line: str) -> Lease | None:
    """The hook's line, checked field by field (the values come from a DHCP server): None if it is not one."""
    parts = line.split()
    if len(parts) != 7 or parts[0] != LEASE_TAG or parts[1] not in EVENTS:
        return None
    raw = [None if p == "-" else p for p in parts[2:]]
    try:
        for i in (0, 2, 4):
            raw[i] = None if raw[i] is None else str(ipaddress.IPv4Address(raw[i]))
        plen = None if raw[1] is None else int(raw[1])
        seconds = None if raw[3] is None else int(raw[3])
    except ValueError:
        return None
    if plen is not None and not 0 < plen <= 32:
        return None
    return Lease(parts[1], raw[0], plen, raw[2], seconds, raw[4])


@dataclass
class Attempt:
    """One udhcpc run on an uplink, beside its DNAv4 reachability test (RFC 4436 2.2: in parallel)."""

    candidates: list[Network]
    deconfigured: bool = False  # udhcpc's start-up deconfig came: the next one means the lease is gone
    found: Network | None = None  # the network whose router answered the reachability test
    applied: Network | None = None  # the remembered lease we put in place
    bound: Lease | None = None  # DHCP's lease, once it came
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    tasks: list[asyncio.Task] = field(default_factory=list)


class DhcpClients:
    """`flush(iface)` takes every IPv4 address off an uplink; `gateway(iface, router)` points the uplink's
    table at its router (or on-link); `ipr` (pyroute2's AsyncIPRoute) puts the lease's address on."""

    def __init__(self, tables: dict[str, int], flush: Callable[[str], Awaitable[None]], binary: str = "udhcpc",
                 memory: Memory | None = None, gateway: Callable[[str, str | None], Awaitable[None]] | None = None,
                 ipr: object | None = None) -> None:
        self.tables, self.flush, self.gateway, self.ipr = tables, flush, gateway, ipr
        self.binary = which(binary) or binary
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.readers: dict[str, asyncio.Task] = {}
        self.memory = memory if memory is not None else Memory()
        self.attempts: dict[str, Attempt] = {}

    async def link(self, iface: str, up: bool) -> None:
        await self.stop(iface)
        if up:
            await self.start(iface)
        else:
            await self.flush(iface)

    async def start(self, iface: str) -> None:
        candidates = self.memory.candidates(iface, time.monotonic())
        attempt = self.attempts[iface] = Attempt(candidates)
        loop = asyncio.get_running_loop()
        if candidates:  # RFC 4436 2.1: the reachability test first, it takes one round trip on the link
            attempt.tasks.append(loop.create_task(self._test(iface, attempt)))
        for pid in strays(iface):  # a killed mip4d's udhcpc would go on renewing beside ours
            log.warning("%s: stopping udhcpc %d left by a previous mip4d", iface, pid)
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        # -f foreground, -t/-T/-A: retry quickly (a vehicle's networks change fast), -S: no syslog
        argv = [self.binary, "-f", "-i", iface, "-s", SCRIPT, "-t", "10", "-T", "1", "-A", "2"]
        if candidates:  # RFC 4436 2.2: DHCP asks for the remembered address while the test runs
            argv += ["-r", candidates[0].address]
        proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        self.procs[iface] = proc
        self.readers[iface] = loop.create_task(self._read(iface, proc, attempt))
        log.info("%s: udhcpc started (pid %d)%s", iface, proc.pid,
                 ", DNAv4 testing %d remembered network(s)" % len(candidates) if candidates else "")

    async def _read(self, iface: str, proc: asyncio.subprocess.Process, attempt: Attempt) -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            lease = parse_lease(line)
            if lease is None:
                log.info("%s: %s", iface, line)
                continue
            try:
                await self._lease(iface, attempt, lease)
            except Exception:  # the next line (a renewal, a deconfig) must still be handled
                log.exception("%s: lease %s %s not put in place", iface, lease.event, lease.address or "")

    async def _lease(self, iface: str, attempt: Attempt, lease: Lease) -> None:
        """What udhcpc's hook reported: the lease goes in place (or the address goes), and is remembered."""
        async with attempt.lock:
            if lease.event == "deconfig":
                if attempt.deconfigured or attempt.bound is not None or attempt.applied is None:
                    await self._configure(iface, None)  # start-up, or the lease is lost (or NAKed)
                attempt.deconfigured = True
                return
            if lease.event == "nak" and attempt.applied is not None:  # RFC 4436 2.2: not ours any more
                log.warning("%s: DHCP refused the remembered %s", iface, attempt.applied.address)
                self.memory.forget(iface, attempt.applied.address)
            if lease.event not in ("bound", "renew") or lease.address is None or lease.prefixlen is None:
                return
            first, attempt.bound = attempt.bound is None, lease
            applied = attempt.applied
            if applied is not None and first:
                if (applied.address, applied.prefixlen, applied.router) == (lease.address, lease.prefixlen,
                                                                            lease.router):
                    log.info("%s: DHCP confirmed the remembered %s (RFC 4436 2.2)", iface, lease.address)
                else:
                    log.info("%s: DHCP gave %s/%d router %s instead of the remembered %s", iface, lease.address,
                             lease.prefixlen, lease.router or "none", applied.address)
            await self._configure(iface, lease)
            if lease.router is None or lease.seconds is None:
                return  # RFC 4436 2: no router, nothing to identify the network by
            net = self.memory.remember(Network(iface, lease.address, lease.prefixlen, lease.router, None,
                                               time.monotonic() + lease.seconds, lease.server))
            if net.router_mac is None:
                attempt.tasks.append(asyncio.get_running_loop().create_task(self._learn(iface, net)))

    async def _test(self, iface: str, attempt: Attempt) -> None:
        """RFC 4436 2.1: the reachability test, beside udhcpc."""
        try:
            found = await dnav4.reachability_test(iface, attempt.candidates)
        except OSError as e:
            log.warning("%s: DNAv4 reachability test not sent: %s", iface, e)
            return
        if found is None:
            log.info("%s: no remembered network answered (RFC 4436 2.1): DHCP decides", iface)
            return
        async with attempt.lock:
            attempt.found = found
            await self._use(iface, attempt)

    async def _use(self, iface: str, attempt: Attempt) -> None:
        """RFC 4436 2.2: the remembered lease, once its router answered, unless DHCP answered first; until it
        expires, unless DHCP confirms or replaces it (udhcpc's start-up deconfig then leaves it be)."""
        net = attempt.found
        if net is None or attempt.bound is not None or attempt.applied is not None:
            return
        left = net.expires_at - time.monotonic()
        if left <= 0:
            return
        attempt.applied = net
        log.info("%s: back on the network of router %s: using the remembered %s/%d while DHCP confirms it "
                 "(RFC 4436)", iface, net.router, net.address, net.prefixlen)
        await self._configure(iface, Lease("bound", net.address, net.prefixlen, net.router), "dnav4")
        attempt.tasks.append(asyncio.get_running_loop().create_task(self._expire(iface, attempt, left)))

    async def _expire(self, iface: str, attempt: Attempt, left: float) -> None:
        """The remembered lease runs out with no word from DHCP: its address goes (RFC 4436 2.2)."""
        await asyncio.sleep(left)
        if attempt.bound is None and self.attempts.get(iface) is attempt:
            log.warning("%s: the remembered lease of %s expired unconfirmed", iface,
                        attempt.applied.address if attempt.applied else "?")
            await self.flush(iface)

    async def _learn(self, iface: str, net: Network) -> None:
        """The router's MAC, which identifies this network next time (RFC 4436 2)."""
        try:
            mac = await dnav4.router_mac(iface, net.address, net.router)
        except OSError as e:
            log.warning("%s: router %s not asked for its MAC: %s", iface, net.router, e)
            return
        if mac is None:
            log.info("%s: router %s did not answer ARP: this network is not remembered for DNAv4", iface, net.router)
            return
        self.memory.learned(iface, net.router, net.address, mac)

    async def _configure(self, iface: str, lease: Lease | None, source: str = "udhcpc") -> None:
        """The lease in place: the router into the uplink's table before the address (mip4 registers as soon
        as the address appears; a request sent before the route would wait for its retransmission), the
        address alone on the uplink. None: no lease, no address, the table on-link."""
        if self.gateway is None or self.ipr is None:
            log.error("%s: no way to configure the lease (no gateway or rtnetlink given)", iface)
            return
        if lease is None:
            await self.flush(iface)
            await self.gateway(iface, None)
            return
        assert lease.address is not None and lease.prefixlen is not None
        await self.gateway(iface, lease.router)
        ipr: Any = self.ipr
        try:  # not link_lookup(): pyroute2 leaves its ACK queued (issue 25)
            index = socket.if_nametoindex(iface)
        except OSError:
            log.warning("%s: gone before its lease %s went on", iface, lease.address)
            return
        have = [(a.get("address"), a["prefixlen"]) for a in await dump(ipr, "addr", "dump", index=index,
                                                                       family=socket.AF_INET)]
        if have != [(lease.address, lease.prefixlen)]:
            if have:  # removing the last address takes the device's routes with it: the router again
                await self.flush(iface)
                await self.gateway(iface, lease.router)
            await ipr.addr("add", index=index, address=lease.address, prefixlen=lease.prefixlen)
        log.info("%s: mip4 %s: %s %s/%d router %s (table %d)", iface, source, iface, lease.address, lease.prefixlen,
                 lease.router or "none", self.tables[iface])

    async def stop(self, iface: str) -> None:
        proc = self.procs.pop(iface, None)
        reader = self.readers.pop(iface, None)
        attempt = self.attempts.pop(iface, None)
        for task in attempt.tasks if attempt else ():
            task.cancel()
        if proc is None:
            return
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 2)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if reader:
            reader.cancel()

    async def close(self) -> None:
        for iface in list(self.procs):
            await self.stop(iface)


def strays(iface: str, proc: str = "/proc") -> list[int]:
    """udhcpc processes running our hook on `iface` in our network namespace that we did not start."""
    ours = os.readlink(os.path.join(proc, "self", "ns", "net"))
    found = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(proc, entry, "cmdline"), "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
            netns = os.readlink(os.path.join(proc, entry, "ns", "net"))
        except OSError:
            continue
        if SCRIPT in argv and "-i" in argv and argv[argv.index("-i") + 1:][:1] == [iface] and netns == ours:
            found.append(int(entry))
    return found
