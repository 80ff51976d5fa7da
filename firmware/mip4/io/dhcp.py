"""DHCP for co-located care-of addresses: one udhcpc per uplink while it has carrier.

udhcpc puts the address on the interface (udhcpc.script); the daemon learns it from rtnetlink
like any other address. A link that goes down loses its lease state and its addresses at once
(`flush`, the kernel backend's, over rtnetlink): a vehicle that left a network must not keep
using that network's address.
"""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
from collections.abc import Awaitable, Callable

log = logging.getLogger("mip4.dhcp")
SCRIPT = os.path.join(os.path.dirname(__file__), "udhcpc.script")


class DhcpClients:
    def __init__(self, tables: dict[str, int], flush: Callable[[str], Awaitable[None]], binary: str = "udhcpc") -> None:
        self.tables, self.flush = tables, flush
        self.binary = shutil.which(binary) or binary
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.readers: dict[str, asyncio.Task] = {}

    async def link(self, iface: str, up: bool) -> None:
        await self.stop(iface)
        if up:
            await self.start(iface)
        else:
            await self.flush(iface)

    async def start(self, iface: str) -> None:
        for pid in strays(iface):  # a killed mip4d's udhcpc would go on renewing beside ours
            log.warning("%s: stopping udhcpc %d left by a previous mip4d", iface, pid)
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        env = dict(os.environ, MIP4_TABLE=str(self.tables[iface]))
        # -f foreground, -t/-T/-A: retry quickly (a vehicle's networks change fast), -S: no syslog
        argv = [self.binary, "-f", "-i", iface, "-s", SCRIPT, "-t", "10", "-T", "1", "-A", "2"]
        proc = await asyncio.create_subprocess_exec(*argv, env=env, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        self.procs[iface] = proc
        self.readers[iface] = asyncio.get_running_loop().create_task(self._read(iface, proc))
        log.info("%s: udhcpc started (pid %d)", iface, proc.pid)

    async def _read(self, iface: str, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            log.info("%s: %s", iface, line.decode(errors="replace").rstrip())

    async def stop(self, iface: str) -> None:
        proc = self.procs.pop(iface, None)
        reader = self.readers.pop(iface, None)
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
