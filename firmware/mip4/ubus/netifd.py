"""Link triggers from netifd over ubus, through OpenWrt's python3-ubus binding (PyPI `ubus`): the
`network.interface` events (ifup, ifupdate, ifdown of wan, wwan, wlan) and each interface's status
(`network.interface.NAME status`) become the same link and address events the rtnetlink monitor
(io/netlink.py) gives the daemon. netifd owns the uplinks on OpenWrt and runs their DHCP: the address
comes from its status, and mip4d starts no udhcpc of its own (`owns_addresses`).

Event loop: the binding has one connection per process and a blocking `ubus.loop()`; its
`ubus.loop(0)` though handles what is waiting on the connection and returns (ubus_handle_event,
without uloop). The binding does not expose the connection's socket, so the one descriptor
`ubus.connect` opens is found (/proc/self/fd before and after) and watched with add_reader: on the
loop's thread, woken only when ubusd sent something, no busy polling. An interface's status is a
short synchronous `ubus.call` (bounded by CALL_TIMEOUT) made from a loop callback, never from inside
the binding's event handler; it holds the GIL while it waits (fine in mip4d, which has one thread).
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import stat
from collections.abc import Callable

from . import DEFAULT_SOCKET

log = logging.getLogger("mip4d.netifd")

LinkCallback = Callable[[str, bool], None]
AddressCallback = Callable[[str, str | None], None]  # also the gateway callback: (device, router or None)
CALL_TIMEOUT = 2000  # ms: netifd answers a status call at once; a hung netifd must not stall mip4d long
RECONNECT = 5.0  # seconds between tries to reach ubusd again after it went away (procd restarts it)


def parse_event(event: str, data: object) -> tuple[str, str] | None:
    """A `network.interface` event -> (netifd interface, action), or None for anything else."""
    if event != "network.interface" or not isinstance(data, dict):
        return None
    if not isinstance(data.get("interface"), str) or not isinstance(data.get("action"), str):
        return None
    return data["interface"], data["action"]


def first_address(status: dict) -> str | None:
    """The first IPv4 address in `ubus call network.interface.NAME status`."""
    for a in status.get("ipv4-address") or ():
        if isinstance(a, dict) and isinstance(a.get("address"), str):
            return a["address"]
    return None


def default_router(status: dict) -> str | None:
    """The nexthop of the default route in `ubus call network.interface.NAME status` (DHCP's router)."""
    for r in status.get("route") or ():
        if isinstance(r, dict) and r.get("target") == "0.0.0.0" and r.get("mask") == 0 and r.get("nexthop"):
            return str(r["nexthop"])
    return None


def _closed(fd: int) -> bool:
    """The peer closed the stream socket `fd` (a readable end of file, nothing left to read)."""
    s = socket.socket(fileno=os.dup(fd))
    try:
        return s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        s.close()


def _sockets() -> set[int]:
    found = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            if stat.S_ISSOCK(os.stat("/proc/self/fd/" + name).st_mode):
                found.add(int(name))
        except OSError:
            continue
    return found


class NetifdEvents:
    """For the uplinks in `netifd` (interface -> device): on_link(device, up) and on_address(device,
    address or None) from netifd's events and status, as LinkMonitor reports them from rtnetlink, and
    on_gateway(device, router or None): the default router netifd's DHCP learnt."""

    owns_addresses = True  # netifd runs the uplinks' DHCP

    def __init__(self, netifd: dict[str, str], on_link: LinkCallback, on_address: AddressCallback,
                 on_gateway: AddressCallback, socket_path: str = DEFAULT_SOCKET) -> None:
        self.netifd = dict(netifd)
        self.on_link, self.on_address, self.on_gateway = on_link, on_address, on_gateway
        self.gateway: dict[str, str | None] = {}
        self.socket_path = socket_path
        self.loop: asyncio.AbstractEventLoop | None = None
        self.retry: asyncio.TimerHandle | None = None
        self.fd = -1
        self.up: dict[str, bool] = {}

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._connect()
        log.info("netifd: following %s over ubus", ", ".join("%s (%s)" % kv for kv in sorted(self.netifd.items())))

    def _connect(self) -> None:
        import ubus  # python3-ubus: only where there is a ubusd

        assert self.loop is not None
        before = _sockets()
        ubus.connect(socket_path=self.socket_path)
        new = _sockets() - before
        if len(new) != 1:
            ubus.disconnect()
            raise RuntimeError("ubus: cannot tell the binding's connection among descriptors %s" % sorted(new))
        self.fd = new.pop()
        ubus.listen(("network.interface", self._event))
        self.loop.add_reader(self.fd, self._readable)
        for name in sorted(self.netifd):  # the state before the first event (or while ubusd was away)
            self._sync(name)

    def _readable(self) -> None:
        import ubus

        ubus.loop(0)
        if _closed(self.fd):  # ubusd went away: the binding would find the socket readable for ever
            assert self.loop is not None
            log.error("ubusd closed the connection: following netifd again every %.0f s", RECONNECT)
            self.loop.remove_reader(self.fd)
            ubus.disconnect(deregister=False)
            self.fd = -1
            self.retry = self.loop.call_later(RECONNECT, self._reconnect)

    def _reconnect(self) -> None:
        assert self.loop is not None
        try:
            self._connect()
        except (OSError, RuntimeError):  # IOError: no ubusd yet; RuntimeError: it went again meanwhile
            import ubus

            if ubus.get_connected():
                ubus.disconnect(deregister=False)
            self.retry = self.loop.call_later(RECONNECT, self._reconnect)
            return
        self.retry = None
        log.info("netifd: following the uplinks over ubus again")

    def _event(self, event: str, data: object) -> None:
        ev = parse_event(event, data)
        if ev is None or ev[0] not in self.netifd or self.loop is None:
            return
        self.loop.call_soon(self._update, *ev)  # the status call outside the binding's handler

    def interface_status(self, name: str) -> dict:
        import ubus

        try:
            replies = ubus.call("network.interface.%s" % name, "status", {}, timeout=CALL_TIMEOUT)
        except RuntimeError as e:  # no such interface object (netifd knows no `name`), a timeout
            log.warning("ubus call network.interface.%s status: %s", name, e)
            return {}
        return replies[0] if replies and isinstance(replies[0], dict) else {}

    def _sync(self, name: str) -> None:
        """What netifd says of `name` now, whatever was heard before."""
        status = self.interface_status(name)
        if status.get("up"):
            self._update(name, "ifup", status)
        elif status and self.up.get(name):
            self._update(name, "ifdown")

    def _update(self, name: str, action: str, status: dict | None = None) -> None:
        device = self.netifd[name]
        if action in ("ifup", "ifupdate"):
            status = status if status is not None else self.interface_status(name)
            if status.get("up"):  # else: not up (yet), or no answer; its ifdown says when it goes down
                self._set(name, device, True, first_address(status))
                self._router(name, device, default_router(status))
        elif action == "ifdown":
            self._set(name, device, False, None)
            self._router(name, device, None)

    def _set(self, name: str, device: str, up: bool, address: str | None) -> None:
        if up != self.up.get(name):
            self.up[name] = up
            log.info("netifd: %s (%s) %s%s", name, device, "up" if up else "down",
                     ", address %s" % address if address else "")
            self.on_link(device, up)
        if up and address:
            self.on_address(device, address)
        elif not up:
            self.on_address(device, None)

    def _router(self, name: str, device: str, router: str | None) -> None:
        if router != self.gateway.get(name):
            self.gateway[name] = router
            self.on_gateway(device, router)

    async def close(self) -> None:
        if self.retry is not None:
            self.retry.cancel()
        if self.fd < 0:
            return
        import ubus

        if self.loop is not None:
            self.loop.remove_reader(self.fd)
        ubus.disconnect()
        self.fd = -1
