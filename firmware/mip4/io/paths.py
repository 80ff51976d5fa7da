"""The mobile router's data paths (RFC 5265 5.6): per-uplink tables, tunnels, and the LAN table.

- Uplink i has table base+i, chosen by `oif` for everything bound to that uplink (registration
  sockets, tunnels with that link): its default route is on-link until DHCP names a gateway
  (udhcpc.script owns it). In mode f a rule before it selects table base+50+i, whose default
  route is the FA (RFC 5944 4.2.2), so a DHCP client on that link cannot take it away.
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


class RouterPaths:
    def __init__(self, kernel: KernelDataPlane, options: RouterOptions, uplinks: list[str]) -> None:
        self.kernel, self.options = kernel, options
        self.tables = {iface: options.uplink_table_base + i for i, iface in enumerate(sorted(uplinks))}
        self.fa_tables = {iface: t + FA_TABLE_OFFSET for iface, t in self.tables.items()}
        self.paths: dict[str, SetPath] = {}
        self.gates: dict[str, str | None] = {}
        self.lan: tuple | None = None  # what the LAN table's default route is now

    def all_tables(self) -> tuple[int, ...]:
        return (self.options.lan_table, *self.tables.values(), *self.fa_tables.values())

    async def start(self) -> None:
        o, k = self.options, self.kernel
        await k.route("0.0.0.0/0", table=o.lan_table, kind="prohibit")
        self.lan = ("prohibit",)
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
            for t in old.tunnels:
                if t.name not in keep or t not in p.tunnels:
                    await k.tunnel_down(t.name)
                    self.lan = None  # its routes went with it: install the LAN route again
            if old.mode == "f" and table is not None and (p.mode != "f" or p.care_of != old.care_of):
                await k.rule_down(self.options.rule_priority - 150, self.fa_tables[p.iface], oif=p.iface)
                await k.route_down("0.0.0.0/0", table=self.fa_tables[p.iface])
        if p.mode is None:
            return
        if p.mode == "f" and table is not None and p.care_of:  # RFC 5944 4.2.2: the FA is our router
            fa_table = self.fa_tables[p.iface]
            await k.route("0.0.0.0/0", table=fa_table, device=p.iface, gateway=p.care_of, onlink=True)
            await k.rule(self.options.rule_priority - 150, fa_table, oif=p.iface)
        if p.mode in ("c", "f"):
            for t in p.tunnels:
                await k.tunnel_up(t, link=p.iface)
                if p.mode == "f":  # the FA may reverse tunnel it once more (RFC 3024)
                    await k.set_mtu(t.name, await k.mtu(p.iface) - 2 * IPIP_HEADER)
        self.paths[p.iface] = p
        log.info("path %s: mode %s, care-of %s, tunnels %s", p.iface, p.mode, p.care_of,
                 " > ".join("%s(%s->%s)" % (t.name, t.local, t.remote) for t in p.tunnels) or "none")

    async def select(self, primary: str | None) -> None:
        """Point the LAN table at the primary uplink's path, or prohibit."""
        want = await self._lan_route(primary)
        if want == self.lan:
            return
        k, table = self.kernel, self.options.lan_table
        try:
            if want[0] == "dev":
                await k.route("0.0.0.0/0", table=table, device=want[1])
            elif want[0] == "via":
                await k.route("0.0.0.0/0", table=table, device=want[1], gateway=want[2], onlink=True)
            else:
                await k.route("0.0.0.0/0", table=table, kind="prohibit")
            self.lan = want
        except Exception:
            self.lan = None
            await k.route("0.0.0.0/0", table=table, kind="prohibit")
            raise
        log.info("LAN traffic: %s", " ".join(str(w) for w in want))

    async def _lan_route(self, primary: str | None) -> tuple:
        p = self.paths.get(primary or "")
        if p is None or not self.gates.get(p.iface):
            return ("prohibit",)
        if p.mode in ("c", "f") and p.tunnels:
            return ("dev", p.tunnels[-1].name)
        if p.mode == "home":  # plain routing on the home link, via the uplink's (DHCP) gateway
            route = await self.kernel.table_route(self.tables[p.iface])
            if route and route.get("gateway"):
                return ("via", p.iface, route["gateway"])
            log.warning("at home on %s but no gateway known: LAN traffic blocked", p.iface)
            return ("prohibit",)
        log.warning("mode %s on %s has no data path here yet: LAN traffic blocked", p.mode, p.iface)
        return ("prohibit",)
