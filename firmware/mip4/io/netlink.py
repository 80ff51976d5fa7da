"""Link and address events from rtnetlink (pyroute2): carrier up/down and IPv4 addresses per interface.

Only the interfaces asked for are reported; an address event on a link without carrier is held
back until the carrier returns (the core treats an address as a point of attachment).
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable

from .rtnl import AsyncIPRoute

log = logging.getLogger("mip4.netlink")

IFF_UP, IFF_LOWER_UP = 0x1, 0x10000


class LinkMonitor:
    def __init__(self, ifaces: list[str], on_link: Callable[[str, bool], None],
                 on_address: Callable[[str, str | None], None]) -> None:
        self.ifaces = set(ifaces)
        self.on_link, self.on_address = on_link, on_address
        self.index: dict[int, str] = {}
        self.carrier: dict[str, bool] = {}
        self.prefixlen: dict[str, int] = {}
        self.addresses: dict[str, set[str]] = {i: set() for i in ifaces}
        self.reported: dict[str, str | None] = {}
        self.ipr: AsyncIPRoute | None = None
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.ipr = AsyncIPRoute()
        await self.ipr.bind()
        dump = AsyncIPRoute()
        try:
            async for link in await dump.get_links():
                self._link(link)
            async for addr in await dump.get_addr(family=2):
                self._addr(addr, present=True)
        finally:
            dump.close()
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        assert self.ipr is not None
        while True:
            async for msg in self.ipr.get():
                event = msg.get("event")
                if event in ("RTM_NEWLINK", "RTM_DELLINK"):
                    self._link(msg, gone=event == "RTM_DELLINK")
                elif event in ("RTM_NEWADDR", "RTM_DELADDR") and msg.get("family") == 2:
                    self._addr(msg, present=event == "RTM_NEWADDR")

    def _link(self, msg, gone: bool = False) -> None:  # noqa: ANN001
        name = msg.get("ifname")
        if name is None:
            name = self.index.get(msg.get("index"))
        if name not in self.ifaces:
            return
        self.index[msg["index"]] = name
        flags = msg.get("flags", 0)
        up = not gone and bool(flags & IFF_UP) and bool(flags & IFF_LOWER_UP)
        if self.carrier.get(name) == up:
            return
        self.carrier[name] = up
        log.info("%s: carrier %s", name, "up" if up else "down")
        self.on_link(name, up)
        self._report(name)

    def _addr(self, msg, present: bool) -> None:  # noqa: ANN001
        name = self.index.get(msg.get("index"))
        if name is None:
            return
        address = msg.get("address")
        if present:
            self.prefixlen[address] = msg.get("prefixlen", 32)
            self.addresses[name].add(address)
        else:
            self.addresses[name].discard(address)
            if not any(address in held for held in self.addresses.values()):
                self.prefixlen.pop(address, None)  # bounded by the addresses held: DHCP hands out new ones
        self._report(name)

    def _report(self, name: str) -> None:
        """The interface's care-of candidate: its (lowest) address while it has carrier."""
        current = min(self.addresses[name]) if self.carrier.get(name) and self.addresses[name] else None
        if current != self.reported.get(name):
            self.reported[name] = current
            self.on_address(name, current)

    def network(self, name: str) -> str | None:
        """The subnet of the interface's reported address (status: which network it is on)."""
        address = self.reported.get(name)
        if address is None:
            return None
        return str(ipaddress.IPv4Interface("%s/%d" % (address, self.prefixlen.get(address, 32))).network)

    def close(self) -> None:
        if self.task:
            self.task.cancel()
        if self.ipr:
            self.ipr.close()
