"""The mobile router's data paths (RFC 5265 5.6): per-uplink tables, tunnels, and the LAN table.

- Uplink i has table base+i, chosen by `oif` for everything bound to that uplink (registration
  sockets, tunnels with that link): its default route is on-link until DHCP names a gateway
  (udhcpc.script owns it). In mode f a rule before it selects table base+50+i, whose default
  route is the FA (RFC 5944 4.2.2), so a DHCP client on that link cannot take it away.
- Outside (cvc, fvc; RFC 5265 2.3) the IKE table carries what comes from the x-HoA (IKE, ESP) and
  the VPN-TIA: into the primary uplink's x-MIP tunnel (cvc) or to the FA (fvc), `prohibit` while
  there is none, so IKE never leaves outside x-MIP. Its rules come after the per-uplink ones, so
  sockets bound to an uplink (registrations) keep their own table.
- Traffic from the mobile networks uses the LAN table. Its default route is the primary uplink's
  path while that uplink's gate is open, and `prohibit` otherwise: user data never falls back to
  another route (R-3.2.2-a, R-3.2.4-b). Fail closed: any error leaves it at prohibit.
"""
from __future__ import annotations

import logging

from ..core.actions import Gate, SetPath
from .kernel import IPIP_HEADER, KernelDataPlane
from .settings import RouterOptions

log = logging.getLogger("mip4.paths")
FA_TABLE_OFFSET = 50
ESP_OVERHEAD = 60  # outer IP 20, ESP header and IV 16, padding and trailer up to 5, ICV 16: rounded up
FA_MODES = ("f", "fvc")  # the FA is the uplink's router (RFC 5944 4.2.2)


class RouterPaths:
    def __init__(self, kernel: KernelDataPlane, options: RouterOptions, uplinks: list[str]) -> None:
        self.kernel, self.options = kernel, options
        self.tables = {iface: options.uplink_table_base + i for i, iface in enumerate(sorted(uplinks))}
        self.fa_tables = {iface: t + FA_TABLE_OFFSET for iface, t in self.tables.items()}
        self.paths: dict[str, SetPath] = {}
        self.gates: dict[str, str | None] = {}
        self.lan: tuple | None = None  # what the LAN table's default route is now
        self.ike: tuple | None = None  # what the IKE table's default route is now
        self.vpn_tia: str | None = None

    def all_tables(self) -> tuple[int, ...]:
        return (self.options.lan_table, self.options.ike_table, *self.tables.values(), *self.fa_tables.values())

    async def start(self, x_hoa: str) -> None:
        o, k = self.options, self.kernel
        await k.route("0.0.0.0/0", table=o.lan_table, kind="prohibit")
        self.lan = ("prohibit",)
        await k.route("0.0.0.0/0", table=o.ike_table, kind="prohibit")
        self.ike = ("prohibit",)
        await k.rule(o.rule_priority - 50, o.ike_table, src=x_hoa + "/32")
        for net in o.networks:
            await k.rule(o.rule_priority, o.lan_table, src=net)
        for iface, table in self.tables.items():
            await k.rule(o.rule_priority - 100, table, oif=iface)
            try:
                await k.route("0.0.0.0/0", table=table, device=iface)
            except LookupError:
                log.warning("uplink %s does not exist (yet)", iface)

    async def gate(self, g: Gate) -> None:
        self.gates[g.iface] = g.path
        log.info("gate %s: %s (%s)", g.iface, g.path or "blocked", g.reason)

    async def set_path(self, p: SetPath) -> None:
        old = self.paths.pop(p.iface, None)
        k, table = self.kernel, self.tables.get(p.iface)
        if old is not None:
            keep = {t.name for t in p.tunnels} if p.mode else set()
            # the VPN tunnel moves between uplinks with the primary: another path may hold it already
            elsewhere = {t for q in self.paths.values() for t in q.tunnels}
            for t in old.tunnels:
                if (t.name not in keep or t not in p.tunnels) and t not in elsewhere:
                    await self._unroute(t.name)
                    await k.tunnel_down(t.name)
            if old.mode in FA_MODES and table is not None and (p.mode not in FA_MODES or p.care_of != old.care_of):
                if self.ike and self.ike[0] == "via" and self.ike[1] == p.iface:
                    await self._unroute(p.iface)
                await k.rule_down(self.options.rule_priority - 150, self.fa_tables[p.iface], oif=p.iface)
                await k.route_down("0.0.0.0/0", table=self.fa_tables[p.iface])
        if p.mode is None:
            return
        if p.mode in FA_MODES and table is not None and p.care_of:  # RFC 5944 4.2.2: the FA is our router
            fa_table = self.fa_tables[p.iface]
            await k.route("0.0.0.0/0", table=fa_table, device=p.iface, gateway=p.care_of, onlink=True)
            await k.rule(self.options.rule_priority - 150, fa_table, oif=p.iface)
        uplink_mtu = await k.mtu(p.iface) if p.tunnels else 0
        for i, t in enumerate(p.tunnels):
            if p.mode in ("cvc", "fvc") and t.local == self.vpn_tia:  # i-MIP inside IPsec (RFC 5265 5.6)
                await k.tunnel_up(t)
                outer = p.tunnels[0].overhead if p.mode == "cvc" else IPIP_HEADER  # fvc: the FA's tunnel
                await k.set_mtu(t.name, uplink_mtu - outer - ESP_OVERHEAD - t.overhead)
                continue
            await k.tunnel_up(t, link=p.iface)
            if p.mode == "f" or (p.mode == "cvc" and i == 0):  # the FA may reverse tunnel it (RFC 3024)
                await k.set_mtu(t.name, uplink_mtu - (IPIP_HEADER if p.mode == "f" else 0) - t.overhead)
        self.paths[p.iface] = p
        log.info("path %s: mode %s, care-of %s, tunnels %s", p.iface, p.mode, p.care_of,
                 " > ".join("%s(%s->%s)" % (t.name, t.local, t.remote) for t in p.tunnels) or "none")

    async def _unroute(self, device: str) -> None:
        """Before a tunnel goes: a table whose default route is that tunnel prohibits first, so that
        no packet falls through to a later rule (and the main table) in between (fail closed)."""
        o = self.options
        if self.ike == ("dev", device) or (self.ike and self.ike[0] == "via" and self.ike[1] == device):
            self.ike = None
            await self._default(o.ike_table, ("prohibit",))
            self.ike = ("prohibit",)
        if self.lan == ("dev", device):
            self.lan = None
            await self._default(o.lan_table, ("prohibit",))
            self.lan = ("prohibit",)

    async def vpn_source(self, vpn_tia: str | None) -> None:
        """The VPN-TIA's packets (i-MIP, the inner tunnel) take the IKE table too: XFRM then turns
        them into ESP, or the leak guard drops them."""
        o, k = self.options, self.kernel
        if self.vpn_tia and self.vpn_tia != vpn_tia:
            await k.rule_down(o.rule_priority - 50, o.ike_table, src=self.vpn_tia + "/32")
        if vpn_tia and vpn_tia != self.vpn_tia:
            await k.rule(o.rule_priority - 50, o.ike_table, src=vpn_tia + "/32")
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
            await self._default(table, ("prohibit",))
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
        p = self.paths.get(primary or "")
        want: tuple = ("prohibit",)
        if p is not None and p.mode == "cvc" and p.tunnels:
            want = ("dev", p.tunnels[0].name)
        elif p is not None and p.mode == "fvc" and p.care_of:
            want = ("via", p.iface, p.care_of)
        if want == self.ike:
            return
        self.ike = None
        await self._default(self.options.ike_table, want)
        self.ike = want
        log.info("IKE and ESP from the x-HoA: %s", " ".join(str(w) for w in want))

    async def _lan_route(self, primary: str | None) -> tuple:
        p = self.paths.get(primary or "")
        if p is None or not self.gates.get(p.iface):
            return ("prohibit",)
        if p.mode in ("c", "f") and p.tunnels:
            return ("dev", p.tunnels[-1].name)
        if p.mode in ("cvc", "fvc") and self.gates.get(p.iface) == "vpn" and p.tunnels \
                and p.tunnels[-1].local == self.vpn_tia:
            return ("dev", p.tunnels[-1].name)
        if p.mode == "home":  # plain routing on the home link, via the uplink's (DHCP) gateway
            route = await self.kernel.table_route(self.tables[p.iface])
            if route and route.get("gateway"):
                return ("via", p.iface, route["gateway"])
            log.warning("at home on %s but no gateway known: LAN traffic blocked", p.iface)
            return ("prohibit",)
        log.warning("mode %s on %s has no data path here yet: LAN traffic blocked", p.mode, p.iface)
        return ("prohibit",)
