"""The mobile router's data paths (RFC 5265 5.6) on a data plane backend: core/paths.py says which
tables, rules, tunnels and default routes each mode needs; this applies them, fail closed.

- The per-uplink tables' default routes are on-link until DHCP names a gateway (udhcpc.script owns
  them); an FA mode's table routes to the FA, so a DHCP client on that link cannot take it away.
- The IKE table and the LAN table point at the primary uplink's path, or `prohibit`. Fail closed:
  a table whose route goes with a tunnel prohibits first, and any error leaves the LAN at prohibit.
"""
from __future__ import annotations

import errno
import logging

from pyroute2.netlink.exceptions import NetlinkError

from ..core import paths as rules
from ..core.actions import Gate, SetPath
from ..core.paths import ESP_OVERHEAD, FA_MODES, PROHIBIT, RouterTables, Rule
from .backend import DataPlane
from .settings import RouterOptions

log = logging.getLogger("mip4.paths")
__all__ = ["ESP_OVERHEAD", "FA_MODES", "RouterPaths"]


class RouterPaths:
    def __init__(self, kernel: DataPlane, options: RouterOptions, uplinks: list[str]) -> None:
        self.kernel, self.options = kernel, options
        self.layout = RouterTables(options.lan_table, options.ike_table, options.uplink_table_base,
                                   options.rule_priority, tuple(uplinks))
        self.tables = self.layout.uplink
        self.fa_tables = self.layout.fa
        self.paths: dict[str, SetPath] = {}
        self.parked: dict[str, SetPath] = {}  # uplink -> its closed path's layers, unrouted, for the next one
        self.gates: dict[str, str | None] = {}
        self.lan: tuple | None = None  # what the LAN table's default route is now
        self.ike: tuple | None = None  # what the IKE table's default route is now
        self.vpn_tia: str | None = None

    def all_tables(self) -> tuple[int, ...]:
        return self.layout.all()

    async def _rule(self, r: Rule, up: bool = True) -> None:
        if up:
            await self.kernel.rule(r.priority, r.table, src=r.src, oif=r.oif)
        else:
            await self.kernel.rule_down(r.priority, r.table, src=r.src, oif=r.oif)

    async def start(self, x_hoa: str) -> None:
        o, k = self.options, self.kernel
        await k.route("0.0.0.0/0", table=o.lan_table, kind="prohibit")
        self.lan = PROHIBIT
        await k.route("0.0.0.0/0", table=o.ike_table, kind="prohibit")
        self.ike = PROHIBIT
        for r in self.layout.start_rules(x_hoa, o.networks):
            await self._rule(r)
        for iface in self.tables:
            await self.uplink_route(iface)

    async def uplink_route(self, iface: str) -> bool:
        """The uplink's table: on-link default route (DHCP's gateway replaces it). A device that is
        missing or down takes none (the kernel refuses it, and drops it when the device goes down):
        False, and the caller tries again when the link comes up."""
        table = self.tables[iface]
        if await self.kernel.table_route(table) is not None:
            return True
        try:
            await self.kernel.route_down("0.0.0.0/0", table=table)  # the journal's, if the kernel dropped it
            await self.kernel.route("0.0.0.0/0", table=table, device=iface)
        except LookupError:
            return False
        except NetlinkError as e:
            if e.code != errno.ENETDOWN:
                raise
            return False
        return True

    async def uplink_gateway(self, iface: str, gateway: str | None) -> None:
        """The uplink's table through `gateway` (netifd's DHCP router), or on-link without one. A device
        that is down takes neither: its link-up brings the on-link route back (uplink_route)."""
        table = self.tables[iface]
        if await self.kernel.table_route(table) is None:  # the kernel dropped it with the link: the journal too
            await self.kernel.route_down("0.0.0.0/0", table=table)
        try:
            await self.kernel.route("0.0.0.0/0", table=table, device=iface, gateway=gateway, onlink=bool(gateway))
        except LookupError:
            return
        except NetlinkError as e:
            if e.code != errno.ENETDOWN:
                raise
            return
        log.info("uplink %s: default router %s", iface, gateway or "none (on-link)")

    async def gate(self, g: Gate) -> None:
        self.gates[g.iface] = g.path
        log.info("gate %s: %s (%s)", g.iface, g.path or "blocked", g.reason)

    async def set_path(self, p: SetPath) -> None:
        """The uplink's path: layers the new one has by name are changed in place (tunnel_up), the
        others go; without a mode, nothing is routed into the old layers, and those `p` lists stay
        parked for the next path."""
        old = self.paths.pop(p.iface, None) or self.parked.pop(p.iface, None)
        k, known = self.kernel, p.iface in self.tables
        used = {t.name for q in self.paths.values() for t in q.tunnels}  # another path routes into them
        if old is not None:
            elsewhere = used | {t.name for i, q in self.parked.items() if i != p.iface for t in q.tunnels}
            for t in rules.tunnels_going(old, p, elsewhere):
                await self._unroute(t.name)
                await k.tunnel_down(t.name)
            if known and rules.fa_route_goes(old, p):
                if self.ike and self.ike[0] == "via" and self.ike[1] == p.iface:
                    await self._unroute(p.iface)
                await self._rule(self.layout.fa_rule(p.iface), up=False)
                await k.route_down("0.0.0.0/0", table=self.fa_tables[p.iface])
        if p.mode is None:
            kept = tuple(t for t in p.tunnels if t.name in k.tunnels)
            for t in kept:
                if t.name not in used:  # fail closed: the tables stop using it (R-3.2.2-a)
                    await self._unroute(t.name)
            if kept:
                self.parked[p.iface] = SetPath(p.iface, None, None, kept)
                log.info("path %s: none; %s parked for the next path", p.iface, ", ".join(t.name for t in kept))
            return
        if known and rules.uses_fa(p):  # RFC 5944 4.2.2: the FA is our router
            await k.route("0.0.0.0/0", table=self.fa_tables[p.iface], device=p.iface, gateway=p.care_of,
                          onlink=True)
            await self._rule(self.layout.fa_rule(p.iface))
        uplink_mtu = await k.mtu(p.iface) if p.tunnels else 0
        for step in rules.tunnel_steps(p, self.vpn_tia):
            await k.tunnel_up(step.tunnel, link=step.link)
            mtu = step.mtu(uplink_mtu)
            if mtu is not None:
                await k.set_mtu(step.tunnel.name, mtu)
        self.paths[p.iface] = p
        log.info("path %s: mode %s, care-of %s, tunnels %s", p.iface, p.mode, p.care_of,
                 " > ".join("%s(%s->%s)" % (t.name, t.local, t.remote) for t in p.tunnels) or "none")

    async def _unroute(self, device: str) -> None:
        """Before a tunnel goes: a table whose default route is that tunnel prohibits first, so that
        no packet falls through to a later rule (and the main table) in between (fail closed)."""
        o = self.options
        if rules.uses_device(self.ike, device):
            self.ike = None
            await self._default(o.ike_table, PROHIBIT)
            self.ike = PROHIBIT
        if self.lan == ("dev", device):
            self.lan = None
            await self._default(o.lan_table, PROHIBIT)
            self.lan = PROHIBIT

    async def vpn_source(self, vpn_tia: str | None) -> None:
        """The VPN-TIA's packets (i-MIP, the inner tunnel) take the IKE table too: XFRM then turns
        them into ESP, or the leak guard drops them."""
        if self.vpn_tia and self.vpn_tia != vpn_tia:
            await self._rule(self.layout.vpn_rule(self.vpn_tia), up=False)
        if vpn_tia and vpn_tia != self.vpn_tia:
            await self._rule(self.layout.vpn_rule(vpn_tia))
        self.vpn_tia = vpn_tia

    async def select(self, primary: str | None) -> None:
        """Point the IKE table and the LAN table at the primary uplink's path, or prohibit."""
        await self._select_ike(primary)
        want = await self._lan_route(primary)
        if want == self.lan:
            return
        table = self.options.lan_table
        try:
            self.lan = None
            await self._default(table, want)
            self.lan = want
        except Exception:
            await self._default(table, PROHIBIT)
            raise
        log.info("LAN traffic: %s", " ".join(str(w) for w in want))

    async def _default(self, table: int, want: tuple) -> None:
        """The table's default route: ("dev", tunnel), ("via", uplink, gateway) or ("prohibit",)."""
        k = self.kernel
        if want[0] == "dev":
            await k.route("0.0.0.0/0", table=table, device=want[1])
        elif want[0] == "via":
            await k.route("0.0.0.0/0", table=table, device=want[1], gateway=want[2], onlink=True)
        else:
            await k.route("0.0.0.0/0", table=table, kind="prohibit")

    async def _select_ike(self, primary: str | None) -> None:
        want = rules.ike_default(self.paths.get(primary or ""))
        if want == self.ike:
            return
        self.ike = None
        await self._default(self.options.ike_table, want)
        self.ike = want
        log.info("IKE and ESP from the x-HoA: %s", " ".join(str(w) for w in want))

    async def _lan_route(self, primary: str | None) -> tuple:
        p = self.paths.get(primary or "")
        want = rules.lan_default(p, self.gates.get(p.iface) if p else None, self.vpn_tia)
        if want == ("home",) and p is not None:  # plain routing on the home link, via the uplink's (DHCP) gateway
            route = await self.kernel.table_route(self.tables[p.iface])
            if route and route.get("gateway"):
                return ("via", p.iface, route["gateway"])
            log.warning("at home on %s but no gateway known: LAN traffic blocked", p.iface)
            return PROHIBIT
        if len(want) > 1 and want[0] == "prohibit":
            log.warning("%s: LAN traffic blocked", want[1])
            return PROHIBIT
        return want
