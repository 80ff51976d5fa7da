"""The mobile router's path rules per mode (RFC 5265 5.6), as pure data: which tables and rules the
data paths need, which tunnel binds to which link at which MTU, and where the LAN and IKE tables'
default routes point. io/paths.py applies them to a data plane backend; nothing here does IO.

- Uplink i has table base+i, chosen by `oif` for everything bound to that uplink. In an FA mode a
  rule before it selects table base+50+i, whose default route is the FA (RFC 5944 4.2.2).
- Outside (cvc, fvc; RFC 5265 2.3) the IKE table carries what comes from the x-HoA and the VPN-TIA:
  into the primary uplink's x-MIP tunnel (cvc) or to the FA (fvc), `prohibit` while there is none.
- The LAN table's default route is the primary uplink's path while that uplink's gate is open, and
  `prohibit` otherwise: user data never falls back to another route (R-3.2.2-a, R-3.2.4-b).
"""
from __future__ import annotations

from dataclasses import dataclass

from .actions import SetPath, Tunnel

IPIP_HEADER = 20  # octets an IP-in-IP layer adds (RFC 2003)
ESP_OVERHEAD = 60  # outer IP 20, ESP header and IV 16, padding and trailer up to 5, ICV 16: rounded up
FA_TABLE_OFFSET = 50
FA_MODES = ("f", "fvc")  # the FA is the uplink's router (RFC 5944 4.2.2)
VPN_MODES = ("cvc", "fvc")  # outside: i-MIP inside IPsec (RFC 5265 2.3)
# offsets from the configured rule priority: the FA's table, then the uplink's, then the IKE table, then the LAN's
FA_RULE = -150
UPLINK_RULE = -100
IKE_RULE = -50
LAN_RULE = 0

# a table's default route: ("dev", tunnel), ("via", uplink, gateway) or ("prohibit",)
PROHIBIT: tuple = ("prohibit",)


@dataclass(frozen=True)
class Rule:
    """One policy rule: `priority` looks up `table` for packets from `src` or bound to `oif`."""

    priority: int
    table: int
    src: str | None = None
    oif: str | None = None


@dataclass(frozen=True)
class TunnelStep:
    """One layer of a path to bring up: bound to `link` (None: routed), MTU `mtu` when the uplink
    has `uplink_mtu` (None: the backend's own, the uplink's less the layer)."""

    tunnel: Tunnel
    link: str | None
    less: int | None  # octets below the uplink's MTU, or None

    def mtu(self, uplink_mtu: int) -> int | None:
        return None if self.less is None else uplink_mtu - self.less


@dataclass(frozen=True)
class RouterTables:
    """The MR's tables and rules for its uplinks (RouterOptions' numbers)."""

    lan_table: int
    ike_table: int
    uplink_table_base: int
    rule_priority: int
    uplinks: tuple[str, ...]

    @property
    def uplink(self) -> dict[str, int]:
        return {iface: self.uplink_table_base + i for i, iface in enumerate(sorted(self.uplinks))}

    @property
    def fa(self) -> dict[str, int]:
        return {iface: t + FA_TABLE_OFFSET for iface, t in self.uplink.items()}

    def all(self) -> tuple[int, ...]:
        return (self.lan_table, self.ike_table, *self.uplink.values(), *self.fa.values())

    def start_rules(self, x_hoa: str, networks: tuple[str, ...]) -> list[Rule]:
        """At start: the x-HoA's packets (IKE, ESP) take the IKE table, the mobile networks' the LAN
        table, and whatever is bound to an uplink that uplink's table."""
        p = self.rule_priority
        return [Rule(p + IKE_RULE, self.ike_table, src=x_hoa + "/32"),
                *(Rule(p + LAN_RULE, self.lan_table, src=net) for net in networks),
                *(Rule(p + UPLINK_RULE, table, oif=iface) for iface, table in self.uplink.items())]

    def vpn_rule(self, vpn_tia: str) -> Rule:
        """The VPN-TIA's packets (i-MIP, the inner tunnel) take the IKE table too: XFRM turns them
        into ESP, or the leak guard drops them (RFC 5265 2.3)."""
        return Rule(self.rule_priority + IKE_RULE, self.ike_table, src=vpn_tia + "/32")

    def fa_rule(self, iface: str) -> Rule:
        return Rule(self.rule_priority + FA_RULE, self.fa[iface], oif=iface)


def uses_fa(p: SetPath) -> bool:
    """RFC 5944 4.2.2: in modes f and fvc the FA is the uplink's router (a default route to it)."""
    return p.mode in FA_MODES and bool(p.care_of)


def fa_route_goes(old: SetPath, new: SetPath) -> bool:
    """The FA table's route of `old` is no longer right for `new` (another mode or another FA)."""
    return old.mode in FA_MODES and (new.mode not in FA_MODES or new.care_of != old.care_of)


def tunnels_going(old: SetPath, new: SetPath, elsewhere: set[str]) -> list[Tunnel]:
    """The layers of `old` that `new` does not keep. A layer `new` has by the same name stays: the
    backend changes its endpoints in place (a move changes the x-MIP layer's care-of, never the VPN
    layer's VPN-TIA and i-HA). `new` without a mode keeps the layers it lists, parked: no route into
    them until a path takes them again. The VPN tunnel moves between uplinks with the primary: one
    another path holds already (by name, `elsewhere`) stays."""
    keep = {t.name for t in new.tunnels}
    return [t for t in old.tunnels if t.name not in keep and t.name not in elsewhere]


def tunnel_steps(p: SetPath, vpn_tia: str | None) -> list[TunnelStep]:
    """The layers of `p`, outermost first, each with its link and MTU. i-MIP inside IPsec (RFC 5265
    5.6) is routed (no link): below the outer layer, ESP and its own header. Mode f's tunnel and
    cvc's x-MIP tunnel may be reverse tunnelled by the FA (RFC 3024): room for its header too."""
    steps = []
    for i, t in enumerate(p.tunnels):
        if p.mode in VPN_MODES and t.local == vpn_tia:
            outer = p.tunnels[0].overhead if p.mode == "cvc" else IPIP_HEADER  # fvc: the FA's tunnel
            steps.append(TunnelStep(t, None, outer + ESP_OVERHEAD + t.overhead))
        elif p.mode == "f" or (p.mode == "cvc" and i == 0):
            steps.append(TunnelStep(t, p.iface, (IPIP_HEADER if p.mode == "f" else 0) + t.overhead))
        else:
            steps.append(TunnelStep(t, p.iface, None))
    return steps


def ike_default(p: SetPath | None) -> tuple:
    """The IKE table's default route for the primary uplink's path `p` (RFC 5265 2.3)."""
    if p is not None and p.mode == "cvc" and p.tunnels:
        return ("dev", p.tunnels[0].name)
    if p is not None and p.mode == "fvc" and p.care_of:
        return ("via", p.iface, p.care_of)
    return PROHIBIT


def lan_default(p: SetPath | None, gate: str | None, vpn_tia: str | None) -> tuple:
    """The LAN table's default route for the primary uplink's path `p` with its gate: ("dev", tunnel),
    ("home",) for the uplink's own gateway (plain routing on the home link), or ("prohibit", why)."""
    if p is None or not gate:
        return PROHIBIT
    if p.mode in ("c", "f") and p.tunnels:
        return ("dev", p.tunnels[-1].name)
    if p.mode in VPN_MODES and gate == "vpn" and p.tunnels and p.tunnels[-1].local == vpn_tia:
        return ("dev", p.tunnels[-1].name)
    if p.mode == "home":
        return ("home",)
    return ("prohibit", "mode %s on %s has no data path here yet" % (p.mode, p.iface))


def uses_device(route: tuple | None, device: str) -> bool:
    """A default route ("dev", device) or ("via", device, gateway) that `device` going would strand."""
    return route is not None and route[0] in ("dev", "via") and route[1] == device
