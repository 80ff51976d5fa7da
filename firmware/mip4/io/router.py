"""The mobile router's role in mip4d (MN): uplinks, per-uplink sockets, the router paths, the leak
guard, DHCP, IKE with charon, and the link events (rtnetlink; others, such as netifd's, are wired
in by the caller as `link_sources`, so io needs nothing above it).

An uplink whose device is missing or down at start (LTE not registered yet at boot, a USB modem not
plugged in) is waited for, not fatal: it is logged once, and attached (leak guard, its table's route,
its sockets) when rtnetlink or netifd reports its link, before the core hears of it.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from ..core.actions import VPN, Datagram, Gate, IkeDown, IkeUp, Primary, SetPath
from ..core.mobile_node import MobileNode
from .dhcp import DhcpClients
from .driver import Attach, DhcpJob, Gateway, VpnDown, VpnUp
from .endpoints import IcmpEndpoint, UdpEndpoint
from .guard import LeakGuard, device_exists
from .ike import IkeClient
from .netlink import LinkMonitor
from .paths import RouterPaths
from .role import Role
from .settings import RouterOptions, Settings

DEREGISTRATION_WAIT = 3.0  # seconds SIGTERM waits for deregistration replies
log = logging.getLogger("mip4d")


class LinkSource(Protocol):
    """Link and address events from somewhere other than rtnetlink (netifd over ubus, say)."""

    # True where that system configures the uplinks' addresses itself (netifd runs their DHCP):
    # mip4d then starts no DHCP client of its own
    owns_addresses: bool

    async def start(self) -> None: ...

    async def close(self) -> None: ...


# (options, on_link(device, up), on_address(device, address or None), on_gateway(device, router or None))
# -> a source, or None (not wanted here). on_gateway: the uplink's default router, where the source's system
# (netifd's DHCP) knows it and mip4d's udhcpc does not run to put it in the uplink's table.
LinkSourceFactory = Callable[[RouterOptions, Callable[[str, bool], None], Callable[[str, str | None], None],
                              Callable[[str, str | None], None]], LinkSource | None]


class RouterRole(Role):
    def __init__(self, settings: Settings, link_sources: Sequence[LinkSourceFactory] = ()) -> None:
        m = settings.machine
        super().__init__(settings, MobileNode(m, self.rng(settings)))  # type: ignore[arg-type]
        self.machine: MobileNode
        self.machine.set_wall_clock(self.wall_clock.offset + self.now(), self.now())
        self.config = m
        self.link_sources = link_sources
        self.sources: list[LinkSource] = []
        self.dhcp_want: dict[str, list[bool]] = {}  # uplink -> the DHCP steps (down, up) its queued job does
        self.paths: RouterPaths | None = None
        self.links: LinkMonitor | None = None
        self.dhcp: DhcpClients | None = None
        self.guard: LeakGuard | None = None
        self.ike: IkeClient | None = None
        self.ike_ready = asyncio.Event()
        self.vpn_endpoint: UdpEndpoint | None = None
        self.primary: str | None = None  # the primary uplink, as the core's Primary actions said
        self.waiting: dict[str, str] = {}  # uplink -> what it waits for ("device", "link"): not attached yet
        self.handlers.update({Gate: self._gate, SetPath: self._set_path, IkeUp: self._ike_up_action,
                              IkeDown: self._ike_down_action, Primary: self._set_primary,
                              DhcpJob: self._dhcp_job, Attach: self._attach,
                              Gateway: self._set_gateway,
                              VpnUp: self._vpn_up, VpnDown: self._vpn_down})

    def _primary(self) -> str | None:
        return self.primary

    async def _set_primary(self, a: Primary) -> None:
        self.primary = a.iface  # the LAN and IKE tables follow it at the end of the batch

    # -- start and stop --------------------------------------------------------------------------

    async def start_role(self) -> None:
        m, o = self.config, self.settings.router
        uplinks = sorted(m.uplinks)
        self.paths = RouterPaths(self.backend, o, uplinks)
        await self.backend.kernel.sweep(self.paths.all_tables())
        # RFC 5265 1.1: outside, nothing of the enterprise in clear; closed on every uplink until proven inside
        self.guard = LeakGuard((*o.networks, m.i_hoa + "/32"), uplinks)
        await self.guard.start()
        for hoa in (m.i_hoa, m.x_hoa):  # sources of requests through an FA; the MR-HA tunnel's end (mode f)
            await self.backend.address(hoa, 32, "lo")
        await self.paths.start(m.x_hoa)
        for iface in uplinks:
            await self._attach(Attach(iface))
        if self.settings.vpn is not None:
            self.ike = IkeClient(self.loop, self.settings.vpn, m.x_hoa, m.vpn_gateway, self._ike_up,
                                 self._ike_down, self._ike_failed)
            self.driver.spawn(self._start_ike())
        sources = [s for s in (make(o, self._link, self._address, self._gateway) for make in self.link_sources)
                   if s is not None]
        owner = next((s for s in sources if s.owns_addresses), None)
        if o.dhcp and owner is not None:  # OpenWrt: netifd runs DHCP on the uplinks; two clients would fight
            log.info("%s configures the uplinks' addresses: no udhcpc of mip4d's", type(owner).__name__)
        elif o.dhcp:
            self.dhcp = DhcpClients(self.paths.tables, self.backend.kernel.flush_addresses,
                                    gateway=self.paths.uplink_gateway, ipr=self.ipr)
        self.links = LinkMonitor(uplinks, self._link, self._address)
        await self.links.start()
        if o.netifd and not self.link_sources:
            log.warning("netifd interfaces %s configured, but this entry point wires in no netifd events: only"
                        " rtnetlink's (the package's mip4d, mip4.cli.mip4d, has both)", ", ".join(sorted(o.netifd)))
        for source in sources:  # OpenWrt: netifd's ifup/ifdown too
            try:
                await source.start()
            except Exception as e:  # noqa: BLE001 (rtnetlink still reports every uplink's link and address)
                log.error("%s not started (%s): link events from rtnetlink only", type(source).__name__, e)
                continue
            self.sources.append(source)

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

    async def deregister(self) -> None:
        self.feed(self.machine.shutdown(self.now()))
        deadline = self.now() + DEREGISTRATION_WAIT
        while self.now() < deadline and self.machine.deregistering():
            await asyncio.sleep(0.05)

    async def close_role(self) -> None:
        if self.ike:
            await self.ike.close()
        await self._vpn_down()
        for source in self.sources:
            await source.close()
        if self.links:
            self.links.close()
        if self.dhcp:
            await self.dhcp.close()

    async def close_guard(self) -> None:
        if self.guard:
            await self.guard.close()

    async def fail_closed(self) -> None:
        if self.paths:
            await self.paths.select(None)

    # -- events in -------------------------------------------------------------------------------

    def tunnel_heard(self, iface: str, peer: str, now: float) -> list:
        return self.machine.tunnel_heard(iface, peer, now)

    def set_wall_clock(self, wall: float, now: float) -> list:
        return self.machine.set_wall_clock(wall, now)

    def _link(self, iface: str, up: bool) -> None:
        now = self.now()
        if up or iface in self.waiting:  # attached (or its table's route back) before the core acts on it
            self.driver.put(Attach(iface))
        elif not up and not device_exists(iface):  # unplugged: when it comes back it is a new device
            self.driver.put(Attach(iface, gone=True))
        self.feed(self.machine.link_up(iface, now) if up else self.machine.link_down(iface, now))
        if self.dhcp:  # one job queued per uplink: a flapping carrier builds no backlog
            if iface not in self.dhcp_want:
                self.driver.put(DhcpJob(iface))
            seen = self.dhcp_want.get(iface, [])
            # down, then up for good: the old network's address goes before the new lease comes
            self.dhcp_want[iface] = ([False, True] if False in seen else [True]) if up else [False]

    def _address(self, iface: str, address: str | None) -> None:
        now = self.now()
        if address is None:
            self.feed(self.machine.address_lost(iface, now))
        else:
            self.feed(self.machine.address_acquired(iface, address, now))

    def _gateway(self, iface: str, gateway: str | None) -> None:
        self.driver.put(Gateway(iface, gateway))

    # IKE (ike.py calls these on the loop)

    def _ike_up(self, vpn_tia: str) -> None:
        self.driver.put(VpnUp(vpn_tia))  # guard, rule and socket before the i-MIP request
        self.feed(self.machine.ike_established(vpn_tia, self.now()))

    def _ike_down(self, reason: str) -> None:
        self.feed(self.machine.ike_closed(reason, self.now()))
        self.driver.put(VpnDown())

    def _ike_failed(self, reason: str) -> None:
        self.feed(self.machine.ike_failed(reason, self.now()))

    async def _ike_up_request(self) -> None:
        if self.ike is None:
            log.warning("outside, but no vpn section is configured: no IKE, user data stays blocked")
            self._ike_failed("no vpn section in the config")
            return
        await self.ike_ready.wait()
        await self.ike.up()

    async def _ike_down_request(self, reason: str) -> None:
        if self.ike is not None:
            await self.ike.down(reason)
            self.driver.put(VpnDown())

    # -- actions out -----------------------------------------------------------------------------

    async def _gate(self, a: Gate) -> None:
        if self.paths is None:
            return
        if self.guard and a.path != "plain":  # close before anything else changes
            await self.guard.shut(a.iface)
        await self.paths.gate(a)
        if self.guard and a.path == "plain":  # R-3.2.3-a: proven inside
            await self.guard.lift(a.iface)

    async def _set_path(self, a: SetPath) -> None:
        if self.paths:
            await self.paths.set_path(a)

    async def _ike_up_action(self, _: IkeUp) -> None:
        if self.paths:
            await self.paths.select(self._primary())  # R-2.3-c: the x-MIP path first
        self.driver.spawn(self._ike_up_request())  # seconds long: the worker goes on meanwhile

    async def _ike_down_action(self, a: IkeDown) -> None:
        self.driver.spawn(self._ike_down_request(a.reason))

    async def after_batch(self) -> None:
        if self.paths:
            await self.paths.select(self._primary())

    async def _attach(self, a: Attach) -> None:
        """The uplink's device exists (and is up): its leak guard first, then its table's route and its
        sockets. What its device cannot take yet waits for the next link event (self.waiting)."""
        iface = a.iface
        assert self.guard is not None and self.paths is not None
        if a.gone:
            self._detach(iface)
            return
        waits = self.waiting.get(iface)
        if not device_exists(iface):
            if waits != "device":
                log.warning("uplink %s: no such device (yet); waiting for it", iface)
            self.waiting[iface] = "device"
            return
        if not self.guard.shut_on(iface):
            await self.guard.shut(iface)
        if iface not in self.udp:
            self.udp[iface] = self.endpoint(iface, bypass=True)
            self.icmp[iface] = IcmpEndpoint(self.loop, iface, self._icmp, bypass=True)
        if not await self.paths.uplink_route(iface):
            if waits != "link":
                log.warning("uplink %s: device down; waiting for its link", iface)
            self.waiting[iface] = "link"
            return
        if self.waiting.pop(iface, None):
            log.info("uplink %s: attached", iface)

    async def _set_gateway(self, a: Gateway) -> None:
        """netifd's default router for the uplink: its table routes through it (as udhcpc.script does where
        mip4d runs DHCP itself); the LAN follows if it goes plain through that uplink (at home)."""
        if self.paths and a.iface not in self.waiting:
            await self.paths.uplink_gateway(a.iface, a.gateway)
            await self.paths.select(self._primary())

    def _detach(self, iface: str) -> None:
        """The uplink's device went away: its sockets (bound to the old device) close, and it waits for
        a new one, which gets its own guard (policies on the old device match nothing any more; the
        next start's sweep removes them)."""
        for ep in (self.udp.pop(iface, None), self.icmp.pop(iface, None)):
            if ep is not None:
                ep.close()
        if self.guard:
            self.guard.forget(iface)
        self.waiting[iface] = "device"
        log.warning("uplink %s: device gone; waiting for it", iface)

    async def _dhcp_job(self, a: DhcpJob) -> None:
        if self.dhcp:
            for up in self.dhcp_want.pop(a.iface):
                await self.dhcp.link(a.iface, up)

    async def _vpn_up(self, a: VpnUp) -> None:
        """RFC 5265 2.3: the VPN-TIA leaves only through the CHILD_SA; i-MIP is bound to it. A different
        VPN-TIA than last time: its guard goes in first, then the guard's old one is released."""
        assert self.guard is not None and self.paths is not None
        await self.guard.only_through_ipsec(a.vpn_tia)
        await self.paths.vpn_source(a.vpn_tia)
        if self.vpn_endpoint is None or self.vpn_endpoint.sock.getsockname()[0] != a.vpn_tia:
            if self.vpn_endpoint:
                self.vpn_endpoint.close()
            self.vpn_endpoint = self.endpoint(None, address=a.vpn_tia, label=VPN)

    async def _vpn_down(self, _: VpnDown | None = None) -> None:
        if self.vpn_endpoint:
            self.vpn_endpoint.close()
            self.vpn_endpoint = None
        if self.paths:
            await self.paths.vpn_source(None)

    def _send(self, d: Datagram) -> None:
        """i-MIP in the VPN (and the UDP tunnel inside it, which has no uplink of its own) from the
        VPN-TIA's socket; the rest from the uplink's."""
        if d.iface in (VPN, ""):
            if self.vpn_endpoint is None:
                log.warning("no VPN-TIA socket: i-MIP datagram to %s not sent", d.dst)
            else:
                self.vpn_endpoint.send(d)
            return
        super()._send(d)

    # -- status ----------------------------------------------------------------------------------

    def role_status(self) -> dict:
        out: dict = {}
        if self.paths:
            out["lan_route"] = list(self.paths.lan) if self.paths.lan else None
        if self.ike:
            out["ipsec"] = self.ike.status()
        if self.guard:
            out["guard"] = self.guard.status()
        if self.links:
            out["networks"] = {i: self.links.network(i) for i in sorted(self.links.ifaces)}
        if self.waiting:  # uplinks not attached yet: "device" (missing) or "link" (down)
            out["waiting"] = dict(sorted(self.waiting.items()))
        return out

    async def every_second(self) -> None:
        if self.ike:
            await self.ike.refresh()

    def status_may_change(self) -> bool:
        return self.ike is not None or super().status_may_change()  # the IPsec state, read every second

    def reregister(self) -> dict:
        """The `reregister` method (ubus, console): every uplink registers again (MobileNode.reregister)."""
        self.feed(self.machine.reregister(self.now()))
        uplinks = self.machine.status(self.now())["interfaces"]
        return {"reregistered": sorted(i for i, u in uplinks.items() if u["care_of"])}
