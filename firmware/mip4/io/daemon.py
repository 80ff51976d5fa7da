"""mip4d: one Sans-IO machine (MN, HA or FA) on real sockets, rtnetlink and the kernel data plane.

`now` is the event loop's monotonic clock; each batch of actions runs in order on one worker task,
so a tunnel is up before the route into it. SIGTERM/SIGINT: the MN deregisters; then everything
installed is removed (kernel.py journal) and the status file is deleted.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import shutil
import signal
import sys
import time

from pyroute2 import AsyncIPRoute

from ..core.actions import VPN, Datagram, Gate, IkeDown, IkeUp, Log, Primary, SendIcmp, SendUdp, SetPath
from ..core.config import ConfigError, ForeignAgentConfig, HomeAgentConfig, MobileNodeConfig
from ..core.foreign_agent import ForeignAgent
from ..core.home_agent import HomeAgent
from ..core.mobile_node import MobileNode
from ..status.model import StatusModel
from ..ubus.netifd import NetifdEvents
from ..uci.config import load_any
from .control import ControlServer
from .dhcp import DhcpClients
from .endpoints import IcmpEndpoint, UdpEndpoint
from .guard import LeakGuard
from .ike import IkeClient
from .kernel import KernelDataPlane
from .netlink import LinkMonitor
from .paths import RouterPaths
from .plane import SOURCE_BLACKHOLE_PRIORITY, SOURCE_TABLE_BASE, AgentPlane
from .settings import Settings
from .udp_tunnels import HEADER, UdpTunnels
from .wallclock import WallClockWatch

PORT = 434
ALL_ROUTERS = "224.0.0.2"
DEREGISTRATION_WAIT = 3.0  # seconds SIGTERM waits for deregistration replies
HEARD_EVERY = 0.5  # seconds: how often the MN core hears that a UDP tunnel delivers (RFC 3519 4.10)
log = logging.getLogger("mip4d")
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class _Reselect:
    """Queue marker: a batch is done; the MN re-points the LAN route and the status file is written."""


class Daemon:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.get_running_loop()
        rng = random.Random(settings.seed) if settings.seed is not None else random.SystemRandom()
        m = settings.machine
        self.machine: MobileNode | HomeAgent | ForeignAgent
        if isinstance(m, MobileNodeConfig):
            self.machine = MobileNode(m, rng)
        elif isinstance(m, HomeAgentConfig):
            self.machine = HomeAgent(m, rng)
        else:
            self.machine = ForeignAgent(m, rng)
        self.wall_clock = WallClockWatch(time.time, self.now)  # RFC 5944 5.7.1: steps of the time of day
        if isinstance(self.machine, MobileNode | HomeAgent):
            self.machine.set_wall_clock(self.wall_clock.offset + self.now(), self.now())
        self.queue: asyncio.Queue = asyncio.Queue()
        self.dhcp_want: dict[str, list[bool]] = {}  # uplink -> the DHCP steps (down, up) its queued job does
        self.reselects = 0  # _Reselect markers in the queue
        self.primary: str | None = None  # the MN's primary uplink, as its Primary actions said
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at: float | None = None  # when self.timer fires
        self.udp: dict[str, UdpEndpoint] = {}
        self.icmp: dict[str, IcmpEndpoint] = {}
        self.ipr = AsyncIPRoute()
        self.udp_tunnels = UdpTunnels(self.loop, self._send)  # RFC 3519: the userspace backend
        self.kernel = KernelDataPlane(self.ipr, self.udp_tunnels)
        self.heard: dict[tuple[str, str], float] = {}  # (iface, HA) -> when the MN was last told
        self.paths: RouterPaths | None = None
        self.plane: AgentPlane | None = None
        self.links: LinkMonitor | None = None
        self.dhcp: DhcpClients | None = None
        self.guard: LeakGuard | None = None
        self.ike: IkeClient | None = None
        self.ike_ready = asyncio.Event()
        self.vpn_endpoint: UdpEndpoint | None = None
        self.tasks: set[asyncio.Task] = set()
        self.started = time.monotonic()
        self.model = StatusModel(self.machine)  # what status/ubus/LuCI/console show
        self.control: ControlServer | None = None
        self.netifd: NetifdEvents | None = None

    def now(self) -> float:
        return self.loop.time()

    # -- start and stop --------------------------------------------------------------------------

    async def start(self) -> None:
        log.info("mip4d starting as %s (pid %d)", self.settings.role, os.getpid())
        self.loop.create_task(self._worker())  # first: stop() after a failed start waits on the queue
        _sysctl("net/ipv4/ip_forward", "1")  # every role forwards (RFC 5944 4.2)
        m = self.settings.machine
        if isinstance(m, MobileNodeConfig):
            await self._start_mobile_node(m)
        elif isinstance(m, HomeAgentConfig):
            self.plane = AgentPlane(self.kernel, home_iface=m.home_iface)
            await self.kernel.sweep(())
            self.udp[""] = UdpEndpoint(self.loop, PORT, None, self._datagram)
        else:
            await self._start_foreign_agent(m)
        self.loop.create_task(self._status_every_second())
        if self.settings.control_socket:
            self.control = ControlServer(self.settings.control_socket, self)
            await self.control.start()
        log.info("mip4d started as %s", self.settings.role)

    async def _start_mobile_node(self, m: MobileNodeConfig) -> None:
        o = self.settings.router
        uplinks = sorted(m.uplinks)
        self.paths = RouterPaths(self.kernel, o, uplinks)
        await self.kernel.sweep(self.paths.all_tables())
        # RFC 5265 1.1: outside, nothing of the enterprise in clear; closed on every uplink until proven inside
        self.guard = LeakGuard((*o.networks, m.i_hoa + "/32"), uplinks)
        await self.guard.start()
        for hoa in (m.i_hoa, m.x_hoa):  # sources of requests through an FA; the MR-HA tunnel's end (mode f)
            await self.kernel.address(hoa, 32, "lo")
        await self.paths.start(m.x_hoa)
        for iface in uplinks:
            self.udp[iface] = UdpEndpoint(self.loop, PORT, iface, self._datagram, bypass=True)
            self.icmp[iface] = IcmpEndpoint(self.loop, iface, self._icmp, bypass=True)
        if self.settings.vpn is not None:
            self.ike = IkeClient(self.loop, self.settings.vpn, m.x_hoa, m.vpn_gateway, self._ike_up,
                                 self._ike_down, self._ike_failed)
            self._spawn(self._start_ike())
        if o.dhcp:
            self.dhcp = DhcpClients(self.paths.tables)
        self.links = LinkMonitor(uplinks, self._link, self._address)
        await self.links.start()
        ubus = os.environ.get("MIP4_UBUS") or shutil.which("ubus")  # OpenWrt: netifd's ifup/ifdown too
        if o.netifd and ubus:
            self.netifd = NetifdEvents(o.netifd, self._link, self._address, ubus)
            await self.netifd.start()

    async def _start_foreign_agent(self, m: ForeignAgentConfig) -> None:
        self.plane = AgentPlane(self.kernel)
        await self.kernel.sweep(tuple(range(SOURCE_TABLE_BASE, SOURCE_TABLE_BASE + 64)), visitors_only=True,
                                blackholes=(SOURCE_BLACKHOLE_PRIORITY,))
        try:  # RFC 5944 4.2.2: decapsulate
            await self.ipr.link("set", index=await self.kernel.index("tunl0"), state="up")
        except LookupError:  # as an HA's tunnels fail on such a kernel: registrations go on, data cannot
            log.error("no tunl0 (this kernel has no ipip): tunnelled packets for visitors cannot be decapsulated")
        await self.kernel.visitors_only("tunl0", True)  # and deliver to visitors only, never route on
        for iface in m.links:
            self.udp[iface] = UdpEndpoint(self.loop, PORT, iface, self._datagram)
            self.icmp[iface] = IcmpEndpoint(self.loop, iface, self._icmp, groups=(ALL_ROUTERS,))
        self.udp[m.core_iface] = UdpEndpoint(self.loop, PORT, m.core_iface, self._datagram)
        assert isinstance(self.machine, ForeignAgent)
        self.feed(self.machine.start(self.now()))

    async def _start_ike(self) -> None:
        """charon may start after us or restart: keep trying; IKE requests wait until it answers."""
        assert self.ike is not None
        while True:
            try:
                await self.ike.start()
                break
            except Exception as e:  # noqa: BLE001
                log.error("charon not reachable over VICI (%s); outside, user data stays blocked", e)
                await asyncio.sleep(5.0)
        self.ike_ready.set()

    def _spawn(self, coro) -> None:  # noqa: ANN001
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task failed: %r", task.exception())

    async def stop(self) -> None:
        if isinstance(self.machine, MobileNode):
            self.feed(self.machine.shutdown(self.now()))
            deadline = self.now() + DEREGISTRATION_WAIT
            while self.now() < deadline and self.machine.deregistering():
                await asyncio.sleep(0.05)
        await self.queue.join()
        if self.ike:
            await self.ike.close()
        await self._vpn_down()
        for task in list(self.tasks):
            task.cancel()
        if self.timer:
            self.timer.cancel()
        if self.control:
            await self.control.close()
        if self.netifd:
            await self.netifd.close()
        if self.links:
            self.links.close()
        if self.dhcp:
            await self.dhcp.close()
        for ep in list(self.udp.values()) + list(self.icmp.values()):
            ep.close()
        await self.kernel.close()
        self.udp_tunnels.close_all()
        if self.guard:  # last: nothing of ours routes anywhere any more
            await self.guard.close()
        self.ipr.close()
        if self.settings.status_file:
            try:
                os.unlink(self.settings.status_file)
            except FileNotFoundError:
                pass
        log.info("mip4d stopped; everything it installed is removed")

    # -- events in -------------------------------------------------------------------------------

    def _datagram(self, d) -> None:  # noqa: ANN001
        if d.payload[:1] == HEADER[:1]:  # RFC 3519 3.3: MIP tunnel data, for the userspace backend
            if self.udp_tunnels.receive(d) and isinstance(self.machine, MobileNode | ForeignAgent):
                now, key = self.now(), (d.iface, d.src)
                if now - self.heard.get(key, -HEARD_EVERY) >= HEARD_EVERY:  # the core needs no more than this
                    self.heard[key] = now
                    self.feed(self.machine.tunnel_heard(d.iface, d.src, now))
            return
        self.feed(self.machine.receive_udp(d, self.now()))

    def _icmp(self, m) -> None:  # noqa: ANN001
        if hasattr(self.machine, "receive_icmp"):
            self.feed(self.machine.receive_icmp(m, self.now()))

    def _link(self, iface: str, up: bool) -> None:
        assert isinstance(self.machine, MobileNode)
        now = self.now()
        self.feed(self.machine.link_up(iface, now) if up else self.machine.link_down(iface, now))
        if self.dhcp:  # one job queued per uplink: a flapping carrier builds no backlog
            if iface not in self.dhcp_want:
                self.queue.put_nowait(("dhcp", iface))
            seen = self.dhcp_want.get(iface, [])
            # down, then up for good: the old network's address goes before the new lease comes
            self.dhcp_want[iface] = ([False, True] if False in seen else [True]) if up else [False]

    def _address(self, iface: str, address: str | None) -> None:
        assert isinstance(self.machine, MobileNode)
        now = self.now()
        if address is None:
            self.feed(self.machine.address_lost(iface, now))
        else:
            self.feed(self.machine.address_acquired(iface, address, now))

    # IKE (ike.py calls these on the loop)

    def _ike_up(self, vpn_tia: str) -> None:
        assert isinstance(self.machine, MobileNode)
        self.queue.put_nowait(("vpn-up", vpn_tia))  # guard, rule and socket before the i-MIP request
        self.feed(self.machine.ike_established(vpn_tia, self.now()))

    def _ike_down(self, reason: str) -> None:
        assert isinstance(self.machine, MobileNode)
        self.feed(self.machine.ike_closed(reason, self.now()))
        self.queue.put_nowait(("vpn-down",))

    def _ike_failed(self, reason: str) -> None:
        assert isinstance(self.machine, MobileNode)
        self.feed(self.machine.ike_failed(reason, self.now()))

    async def _ike_request(self, a: IkeUp | IkeDown) -> None:
        if self.ike is None:
            if isinstance(a, IkeUp):
                log.warning("outside, but no vpn section is configured: no IKE, user data stays blocked")
                self._ike_failed("no vpn section in the config")
            return
        if isinstance(a, IkeUp):
            await self.ike_ready.wait()
            await self.ike.up()
        else:
            await self.ike.down(a.reason)
            self.queue.put_nowait(("vpn-down",))

    async def _vpn_up(self, vpn_tia: str) -> None:
        """RFC 5265 2.3: the VPN-TIA leaves only through the CHILD_SA; i-MIP is bound to it. A different
        VPN-TIA than last time: its guard goes in first, then the guard's old one is released."""
        assert self.guard is not None and self.paths is not None
        await self.guard.only_through_ipsec(vpn_tia)
        await self.paths.vpn_source(vpn_tia)
        if self.vpn_endpoint is None or self.vpn_endpoint.sock.getsockname()[0] != vpn_tia:
            if self.vpn_endpoint:
                self.vpn_endpoint.close()
            self.vpn_endpoint = UdpEndpoint(self.loop, PORT, None, self._datagram, address=vpn_tia, label=VPN)

    async def _vpn_down(self) -> None:
        if self.vpn_endpoint:
            self.vpn_endpoint.close()
            self.vpn_endpoint = None
        if self.paths:
            await self.paths.vpn_source(None)

    def feed(self, actions: list) -> None:
        """Queue a batch of actions. An empty one (a bad packet counted and not logged, say) queues
        nothing: a flood of them costs the worker nothing and delays no real reply."""
        if actions:
            self.model.record(actions, self.now(), time.time())
            for a in actions:
                self.queue.put_nowait(a)
            self.reselects += 1
            self.queue.put_nowait(_Reselect())
        self._arm()

    def _arm(self) -> None:
        when = self.machine.get_timer()
        if self.timer and when == self.timer_at:
            return  # unchanged (most datagrams): no new timer handle for each
        if self.timer:
            self.timer.cancel()
            self.timer = None
        self.timer_at = when
        if when is not None:
            self.timer = self.loop.call_at(max(when, self.now()), self._fire)

    def _fire(self) -> None:
        self.timer = None
        self.check_wall_clock()
        self.feed(self.machine.handle_timer(self.now()))

    def check_wall_clock(self) -> None:
        """On each timer and every second: a step of the time of day (NTP, RTC) goes to the MN or HA core,
        which uses it for timestamp identifications only (RFC 5944 5.7.1); the FA has none."""
        stepped = self.wall_clock.check()
        if stepped is None:
            return
        step, wall, now = stepped
        log.warning("time of day stepped by %+.3f s", step)
        if isinstance(self.machine, MobileNode | HomeAgent):
            self.feed(self.machine.set_wall_clock(wall, now))

    # -- actions out -----------------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            action = await self.queue.get()
            try:
                await self._do(action)
            except Exception:
                log.exception("action %r failed", action)
                if self.paths:  # fail closed: no user data on a half-built path
                    await self.paths.select(None)
            finally:
                self.queue.task_done()

    async def _do(self, a: object) -> None:
        if isinstance(a, Log):
            log.log(_LEVELS.get(a.level, logging.INFO), "%s", a)
        elif isinstance(a, SendUdp):
            self._send(a.datagram)
        elif isinstance(a, SendIcmp):
            ep_icmp = self.icmp.get(a.message.iface)
            if ep_icmp:
                ep_icmp.send(a.message)
        elif isinstance(a, Gate) and self.paths:
            if self.guard and a.path != "plain":  # close before anything else changes
                await self.guard.shut(a.iface)
            await self.paths.gate(a)
            if self.guard and a.path == "plain":  # R-3.2.3-a: proven inside
                await self.guard.lift(a.iface)
        elif isinstance(a, Primary):
            self.primary = a.iface  # the LAN and IKE tables follow it at the end of the batch (_Reselect)
        elif isinstance(a, SetPath) and self.paths:
            await self.paths.set_path(a)
        elif isinstance(a, IkeUp | IkeDown):
            if isinstance(a, IkeUp) and self.paths and isinstance(self.machine, MobileNode):
                await self.paths.select(self.primary)  # R-2.3-c: the x-MIP path first
            self._spawn(self._ike_request(a))  # seconds long: the worker goes on meanwhile
        elif isinstance(a, _Reselect):
            self.reselects -= 1
            if self.paths and isinstance(self.machine, MobileNode):
                await self.paths.select(self.primary)
            if not self.reselects:  # the last batch queued: under load, one status file for many batches
                self._write_status()
        elif isinstance(a, tuple) and a[0] == "dhcp" and self.dhcp:
            for up in self.dhcp_want.pop(a[1]):
                await self.dhcp.link(a[1], up)
        elif isinstance(a, tuple) and a[0] == "vpn-up":
            await self._vpn_up(a[1])
        elif isinstance(a, tuple) and a[0] == "vpn-down":
            await self._vpn_down()
        elif self.plane is None or not await self.plane.apply(a):
            log.debug("no handler for %r", a)

    def _send(self, d: Datagram) -> None:
        """From our port 434 on the datagram's interface; the VPN-TIA's socket for i-MIP in the VPN
        (and the UDP tunnel inside it, which has no uplink of its own)."""
        if d.iface == VPN or (not d.iface and isinstance(self.machine, MobileNode)):
            if self.vpn_endpoint is None:
                log.warning("no VPN-TIA socket: i-MIP datagram to %s not sent", d.dst)
            else:
                self.vpn_endpoint.send(d)
            return
        ep = self.udp.get(d.iface) or self.udp.get("") or self.udp.get(self._core_iface())
        if ep:
            ep.send(d)

    def _core_iface(self) -> str:
        m = self.settings.machine
        return m.core_iface if isinstance(m, ForeignAgentConfig) else ""

    # -- status ----------------------------------------------------------------------------------

    def status(self) -> dict:
        out = {"role": self.settings.role, "pid": os.getpid(), "time": time.time(),
               "uptime": time.monotonic() - self.started, "status": self.model.status(self.now())}
        if self.paths:
            out["lan_route"] = list(self.paths.lan) if self.paths.lan else None
        if self.ike:
            out["ipsec"] = self.ike.status()
        if self.guard:
            out["guard"] = self.guard.status()
        if self.links:
            out["networks"] = {i: self.links.network(i) for i in sorted(self.links.ifaces)}
        if self.udp_tunnels.devices or any(self.udp_tunnels.counters.values()):
            out["udp_tunnels"] = {"tunnels": self.udp_tunnels.tunnels(), **self.udp_tunnels.counters}
        out["installed"] = {"tunnels": sorted(self.kernel.tunnels), "routes": sorted(
            "%s table %d" % (p, t) for t, p in self.kernel.routes), "rules": len(self.kernel.rules)}
        return out

    def reregister(self) -> dict:
        """The `reregister` method (ubus, console): every uplink registers again (MobileNode.reregister)."""
        assert isinstance(self.machine, MobileNode)
        self.feed(self.machine.reregister(self.now()))
        uplinks = self.machine.status(self.now())["interfaces"]
        return {"reregistered": sorted(i for i, u in uplinks.items() if u["care_of"])}

    def log(self, since: int, limit: int) -> list[dict]:
        return self.model.log(since, limit)

    def _write_status(self) -> None:
        path = self.settings.status_file
        if not path:
            return
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.status(), f, default=str)
        os.replace(tmp, path)

    async def _status_every_second(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.check_wall_clock()
            if self.ike:
                await self.ike.refresh()
            self._write_status()


def _sysctl(name: str, value: str) -> None:
    try:
        with open("/proc/sys/" + name, "w") as f:
            f.write(value)
    except OSError as e:
        log.warning("sysctl %s=%s: %s", name, value, e)


async def run(settings: Settings, path: str | None = None) -> int:
    """Run until SIGTERM/SIGINT. SIGHUP (procd's reload) re-reads `path`: a bad file is logged and the
    running configuration kept; a good, changed one replaces the daemon (clean stop, then start)."""
    stopping, reloading = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    loop.add_signal_handler(signal.SIGHUP, reloading.set)
    while True:
        daemon = Daemon(settings)
        try:
            await daemon.start()
        except Exception:
            log.exception("start failed; removing what was installed")
            await daemon.stop()
            return 1
        while True:
            reloading.clear()
            stop_wait, reload_wait = loop.create_task(stopping.wait()), loop.create_task(reloading.wait())
            await asyncio.wait((stop_wait, reload_wait), return_when=asyncio.FIRST_COMPLETED)
            stop_wait.cancel()
            reload_wait.cancel()
            if stopping.is_set():
                log.info("signal received: stopping")
                await daemon.stop()
                return 0
            new = _reload(path, settings)
            if new is not None:
                break
        log.info("reload: new configuration from %s; restarting", path)
        await daemon.stop()
        settings = new


def _reload(path: str | None, running: Settings) -> Settings | None:
    if path is None:
        return None
    try:
        new = load_any(path).settings
    except ConfigError as e:
        log.error("reload: config error, keeping the running configuration: %s", e)
        return None
    if new == running:
        log.info("reload: %s unchanged", path)
        return None
    return new


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mip4d", description="mip4 daemon: mobile node, home agent or foreign agent")
    parser.add_argument("--config", required=True, help="config file: UCI (/etc/config/mip4) or JSON")
    parser.add_argument("--role", choices=("mn", "ha", "fa"), help="must match the config file's role")
    parser.add_argument("--log-level", choices=sorted(_LEVELS), help="default: the file's log_level, else info")
    args = parser.parse_args(argv)
    try:
        config = load_any(args.config)
    except ConfigError as e:
        print("mip4d: config error: %s" % e, file=sys.stderr)
        return 2
    settings = config.settings
    logging.basicConfig(level=_LEVELS[args.log_level or config.log_level], stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("pyroute2", "asyncio"):  # their debug output would drown ours
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.role and args.role != settings.role:
        print("mip4d: --role %s but %s says role %s" % (args.role, args.config, settings.role), file=sys.stderr)
        return 2
    return asyncio.run(run(settings, args.config))


if __name__ == "__main__":
    sys.exit(main())
