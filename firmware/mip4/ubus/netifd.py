"""Link triggers from netifd: `ubus listen network.interface` events (ifup/ifdown of wan, wwan, wlan)
become the same link and address events the rtnetlink monitor (io/netlink.py) gives the daemon.

A thin adapter around the `ubus` command line tool; the event parsing is pure and tested alone.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

log = logging.getLogger("mip4d.netifd")

LinkCallback = Callable[[str, bool], None]
AddressCallback = Callable[[str, str | None], None]


def parse_event(line: str) -> tuple[str, str] | None:
    """One `ubus listen` line -> (netifd interface, action), or None for anything else."""
    try:
        msg = json.loads(line)
    except json.JSONDecodeError:
        return None
    ev = msg.get("network.interface") if isinstance(msg, dict) else None
    if not isinstance(ev, dict) or not isinstance(ev.get("interface"), str) or not isinstance(ev.get("action"), str):
        return None
    return ev["interface"], ev["action"]


def first_address(status: dict) -> str | None:
    """The first IPv4 address in `ubus call network.interface.NAME status`."""
    for a in status.get("ipv4-address") or ():
        if isinstance(a, dict) and isinstance(a.get("address"), str):
            return a["address"]
    return None


class NetifdEvents:
    """Runs `ubus listen network.interface`; for the uplinks in `netifd` (interface -> device) calls
    on_link(device, up) and on_address(device, address or None), as LinkMonitor does."""

    def __init__(self, netifd: dict[str, str], on_link: LinkCallback, on_address: AddressCallback,
                 ubus: str = "ubus") -> None:
        self.netifd = dict(netifd)
        self.on_link = on_link
        self.on_address = on_address
        self.ubus = ubus
        self.proc: asyncio.subprocess.Process | None = None
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(self.ubus, "listen", "network.interface",
                                                         stdout=asyncio.subprocess.PIPE)
        for name in self.netifd:  # the state before the first event
            status = await self.interface_status(name)
            if status.get("up"):
                await self._apply(name, "ifup", status)
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def interface_status(self, name: str) -> dict:
        proc = await asyncio.create_subprocess_exec(self.ubus, "call", "network.interface.%s" % name, "status",
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode != 0:
            log.warning("ubus call network.interface.%s status: exit %d %s", name, proc.returncode,
                        err.decode(errors="replace").strip())
            return {}
        try:
            status = json.loads(out)
        except json.JSONDecodeError:
            log.warning("ubus call network.interface.%s status: not JSON", name)
            return {}
        return status if isinstance(status, dict) else {}

    async def _read(self) -> None:
        assert self.proc and self.proc.stdout
        while line := await self.proc.stdout.readline():
            ev = parse_event(line.decode(errors="replace"))
            if ev is None or ev[0] not in self.netifd:
                continue
            name, action = ev
            status = await self.interface_status(name) if action in ("ifup", "ifupdate") else {}
            await self._apply(name, action, status)
        log.warning("ubus listen ended; netifd link triggers stopped (rtnetlink still reports links)")

    async def _apply(self, name: str, action: str, status: dict) -> None:
        device = self.netifd[name]
        address = first_address(status)
        if action == "ifup":
            self.on_link(device, True)
        if action in ("ifup", "ifupdate") and address:
            self.on_address(device, address)
        elif action == "ifdown":
            self.on_link(device, False)

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
        if self.proc and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()
