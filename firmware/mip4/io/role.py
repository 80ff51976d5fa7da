"""What every role of mip4d shares: the driver, the data plane backend, the port 434 sockets, the
status file and the control socket. router.py (MN) and agent.py (HA, FA) add the rest; each says
which items it performs in `handlers`, so nothing here asks which role it is.

SIGTERM/SIGINT: the MN deregisters; then everything installed is removed (the backend's journal)
and the status file is deleted.
"""
from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..core.actions import Datagram, Log, SendIcmp, SendUdp
from ..status.model import StatusModel
from ..wire.registration import PORT
from .control import ControlServer
from .driver import BatchDone, Driver
from .endpoints import IcmpEndpoint, UdpEndpoint
from .kernel import KernelDataPlane
from .rtnl import AsyncIPRoute
from .settings import Settings
from .udp_tunnels import HEADER, UdpTunnelPlane, UdpTunnels
from .wallclock import WallClockWatch

STATUS_SHARE = 0.05  # of the daemon's time, at most, on writing its status file
STATUS_IDLE_EVERY = 10.0  # seconds between status files while nothing in it can change but its clocks
HEARD_EVERY = 0.5  # seconds: how often the core hears that a UDP tunnel delivers (RFC 3519 4.10)
log = logging.getLogger("mip4d")
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}

Handler = Callable[[Any], Awaitable[None]]


class Role:
    """One Sans-IO machine on real sockets, rtnetlink and the kernel data plane."""

    status_after_batch = True  # the status file after each drained batch too, not only every second

    def __init__(self, settings: Settings, machine: Any) -> None:
        self.settings = settings
        self.loop = asyncio.get_running_loop()
        self.machine = machine
        self.wall_clock = WallClockWatch(time.time, self.now)  # RFC 5944 5.7.1: steps of the time of day
        self.driver = Driver(self.loop, machine, self._do, self.fail_closed, self._record, self.check_wall_clock)
        self.queue = self.driver.queue
        self.udp: dict[str, UdpEndpoint] = {}
        self.icmp: dict[str, IcmpEndpoint] = {}
        self.ipr = AsyncIPRoute()
        self.udp_tunnels = UdpTunnels(self.loop, self._send)  # RFC 3519: the userspace backend
        self.backend = UdpTunnelPlane(KernelDataPlane(self.ipr), self.udp_tunnels)
        self.heard: dict[tuple[str, str], float] = {}  # (iface, peer) -> when the core was last told
        self.started = time.monotonic()
        # what status/ubus/LuCI/console show; its recent log, the lines mip4d logs
        self.model = StatusModel(machine, levels=frozenset(k for k, v in LEVELS.items() if log.isEnabledFor(v)))
        self.control: ControlServer | None = None
        self.handlers: dict[type, Handler] = {Log: self._log, SendUdp: self._send_udp, SendIcmp: self._send_icmp,
                                              BatchDone: self._batch_done}
        # what needs no await: done at once when nothing is queued before it (driver.py, issue 25)
        self.driver.immediate.update({Log: self._log_now, SendUdp: self._send_udp_now})
        self.status_written, self.status_cost = 0.0, 0.0  # when the status file was last written, how long it took
        # methods only the control socket answers (root on this machine: keepalived's notify script), not ubus
        self.control_methods: dict[str, Callable[[dict], Awaitable[dict]]] = {}
        self.status_activity = -1  # the driver's activity when it was

    @staticmethod
    def rng(settings: Settings) -> random.Random:
        return random.Random(settings.seed) if settings.seed is not None else random.SystemRandom()

    def now(self) -> float:
        return self.loop.time()

    def feed(self, actions: list) -> None:
        self.driver.feed(actions)

    def _record(self, actions: list) -> None:
        self.model.record(actions, self.loop.time(), time.time())  # the loop's clock: now(), one call fewer

    # -- start and stop (the roles' hooks: start_role, deregister, close_role, close_guard) -------

    async def start(self) -> None:
        log.info("mip4d starting as %s (pid %d)", self.settings.role, os.getpid())
        self.driver.start()  # first: stop() after a failed start waits on the queue
        _sysctl("net/ipv4/ip_forward", "1")  # every role forwards (RFC 5944 4.2)
        await self.start_role()
        self.loop.create_task(self._status_every_second())
        if self.settings.control_socket:
            self.control = ControlServer(self.settings.control_socket, self, self.control_methods)
            await self.control.start()
        log.info("mip4d started as %s", self.settings.role)

    async def start_role(self) -> None:
        raise NotImplementedError

    def endpoint(self, iface: str | None, **kw: Any) -> UdpEndpoint:  # noqa: ANN401
        """Our port 434 (RFC 5944 3.1) on `iface` (None: every interface)."""
        return UdpEndpoint(self.loop, PORT, iface, self._datagram, **kw)

    async def stop(self) -> None:
        await self.deregister()
        await self.driver.join()
        await self.close_role()
        self.driver.stop()
        if self.control:
            await self.control.close()
        for ep in list(self.udp.values()) + list(self.icmp.values()):
            ep.close()
        await self.backend.close()
        await self.close_guard()  # last: nothing of ours routes anywhere any more
        self.ipr.close()
        if self.settings.status_file:
            try:
                os.unlink(self.settings.status_file)
            except FileNotFoundError:
                pass
        log.info("mip4d stopped; everything it installed is removed")

    async def deregister(self) -> None:
        """Before the queue drains for the last time (the MN deregisters)."""

    async def close_role(self) -> None:
        """After the last action, before the sockets and the backend close."""

    async def close_guard(self) -> None:
        """After the backend closed."""

    async def fail_closed(self) -> None:
        """An action failed: no user data on a half-built path."""

    # -- events in -------------------------------------------------------------------------------

    def _datagram(self, d: Datagram) -> None:
        if d.payload[:1] == HEADER[:1]:  # RFC 3519 3.3: MIP tunnel data, for the userspace backend
            if self.udp_tunnels.receive(d):
                now, key = self.now(), (d.iface, d.src)
                if now - self.heard.get(key, -HEARD_EVERY) >= HEARD_EVERY:  # the core needs no more than this
                    self.heard[key] = now
                    self.feed(self.tunnel_heard(d.iface, d.src, now))
            return
        self.driver.feed(self.machine.receive_udp(d, self.loop.time()))  # as feed(), one call fewer per datagram

    def tunnel_heard(self, iface: str, peer: str, now: float) -> list:
        """RFC 3519 4.10: a UDP tunnel delivered; the roles that keep it alive are told."""
        return []

    def _icmp(self, m) -> None:  # noqa: ANN001
        self.feed(self.machine.receive_icmp(m, self.now()))

    def set_wall_clock(self, wall: float, now: float) -> list:
        """The time of day for timestamp identifications (RFC 5944 5.7.1), for roles that use it."""
        return []

    def check_wall_clock(self) -> None:
        """On each timer and every second: a step of the time of day (NTP, RTC) goes to the core."""
        stepped = self.wall_clock.check()
        if stepped is None:
            return
        step, wall, now = stepped
        log.warning("time of day stepped by %+.3f s", step)
        self.feed(self.set_wall_clock(wall, now))

    # -- actions out -----------------------------------------------------------------------------

    async def _do(self, item: object) -> None:
        handler = self.handlers.get(type(item))
        if handler is None:
            log.debug("no handler for %r", item)
        else:
            await handler(item)

    async def _log(self, a: Log) -> None:
        self._log_now(a)

    def _log_now(self, a: Log) -> None:
        log.log(LEVELS.get(a.level, logging.INFO), "%s", a)

    async def _send_udp(self, a: SendUdp) -> None:
        self._send(a.datagram)

    def _send_udp_now(self, a: SendUdp) -> None:
        self._send(a.datagram)

    async def _send_icmp(self, a: SendIcmp) -> None:
        ep = self.icmp.get(a.message.iface)
        if ep:
            ep.send(a.message)

    async def _batch_done(self, _: BatchDone) -> None:
        await self.after_batch()
        if self.status_after_batch and not self.driver.batches:  # under load, one status file for many batches
            self._write_status()

    async def after_batch(self) -> None:
        """A batch is done (the MN re-points the LAN route)."""

    def _send(self, d: Datagram) -> int:
        """From our port 434 on the datagram's interface, else on the role's default socket: 0, or the
        errno of a failed send."""
        ep = self.udp.get(d.iface)
        if ep is None:
            ep = self.udp.get(self.default_iface())
        return ep.send(d) if ep else errno.ENODEV

    def default_iface(self) -> str:
        return ""

    # -- status ----------------------------------------------------------------------------------

    def status(self) -> dict:
        out = {"role": self.settings.role, "pid": os.getpid(), "time": time.time(),
               "uptime": time.monotonic() - self.started, "status": self.model.status(self.now())}
        out.update(self.role_status())
        if self.udp_tunnels.devices or any(self.udp_tunnels.counters.values()):
            out["udp_tunnels"] = {"tunnels": self.udp_tunnels.tunnels(), **self.udp_tunnels.counters}
        k = self.backend.kernel
        out["installed"] = {"tunnels": sorted(k.tunnels), "routes": sorted(
            "%s table %d" % (p, t) for t, p in k.routes), "rules": len(k.rules)}
        return out

    def role_status(self) -> dict:
        return {}

    def reregister(self) -> dict:
        """The `reregister` method (ubus, console): the MN's alone."""
        raise NotImplementedError("reregister: only a mobile node registers")

    def log(self, since: int, limit: int) -> list[dict]:
        return self.model.log(since, limit)

    def _write_status(self) -> None:
        path = self.settings.status_file
        if not path:
            return
        started = time.monotonic()
        tmp = path + ".tmp"
        text = json.dumps(self.status(), default=str)  # dumps: the C encoder (dump's chunks are pure Python)
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
        self.status_written, self.status_cost = started, time.monotonic() - started
        self.status_activity = self.driver.activity

    def status_may_change(self) -> bool:
        """Whether the status file may say something new besides its time and uptime: work fed or queued
        since it was written, or a timer running in the machine (lifetimes, T_MONITOR, retransmissions:
        what it shows counting down). Roles with state refreshed every second say so too (RouterRole)."""
        return self.driver.activity != self.status_activity or self.machine.get_timer() is not None

    async def _status_every_second(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.check_wall_clock()
            await self.every_second()
            # at most STATUS_SHARE of the time on it: an HA's file grows with its bindings (20 ms at 1k, 167 ms
            # at 10k), so with many the file is written less often than once a second (issue 25)
            # and while nothing can have changed, every STATUS_IDLE_EVERY seconds: an idle mobile router's
            # one second of work was its status file (issue 25: idle CPU)
            since = time.monotonic() - self.status_written
            if since >= self.status_cost / STATUS_SHARE and (since >= STATUS_IDLE_EVERY or self.status_may_change()):
                self._write_status()

    async def every_second(self) -> None:
        """Before each periodic status file (the MN refreshes its IPsec state)."""


def _sysctl(name: str, value: str) -> None:
    try:
        with open("/proc/sys/" + name, "w") as f:
            f.write(value)
    except OSError as e:
        log.warning("sysctl %s=%s: %s", name, value, e)
