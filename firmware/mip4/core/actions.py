"""What the protocol machines ask the outside world to do, and what they are told.

Inputs are `Datagram` and `Icmp`; everything else a machine returns is an action for an adapter
(sockets, the data plane backend, charon over VICI, the log).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .bindings import Binding

VPN = "vpn"  # the pseudo-interface for traffic inside the IPsec tunnel (i-MIP in cvc/fvc)


@dataclass(frozen=True)
class Datagram:
    """A UDP datagram, received on or sent out of `iface`."""

    iface: str
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes

    def __init__(self, iface: str, src: str, sport: int, dst: str, dport: int, payload: bytes) -> None:
        # Frozen: set through __dict__, as object.__setattr__ per field costs twice as much, and every
        # datagram in and every reply out makes one (issue 25).
        d = self.__dict__
        d["iface"], d["src"], d["sport"], d["dst"], d["dport"], d["payload"] = iface, src, sport, dst, dport, payload


@dataclass(frozen=True)
class Icmp:
    """An ICMP router discovery message (agent advertisement or solicitation)."""

    iface: str
    src: str
    dst: str
    payload: bytes


@dataclass(frozen=True)
class SendUdp:
    datagram: Datagram

    def __init__(self, datagram: Datagram) -> None:
        self.__dict__["datagram"] = datagram  # as Datagram's: one per reply


@dataclass(frozen=True)
class SendIcmp:
    message: Icmp


@dataclass(frozen=True)
class Tunnel:
    """One IP-in-IP layer: outer source `local`, outer destination `remote`.

    RFC 3519: with `udp_port` the layer is UDP tunnelling instead, from our port 434 to that port
    of `remote` (the NAT's outside address and port as the HA saw them; the HA's 434 for the MN).
    `visitors_only` (FA, RFC 5944 4.2.2): what arrives decapsulated goes to a visitor or is dropped,
    never routed on by a default route.
    """

    name: str
    local: str
    remote: str
    udp_port: int = 0
    visitors_only: bool = False

    @property
    def overhead(self) -> int:
        """Octets this layer adds: IP, plus UDP and the MIP tunnel data header (RFC 3519 3.3)."""
        return 20 + (12 if self.udp_port else 0)


@dataclass(frozen=True)
class SetPath:
    """The MN's data path for one uplink: the mode and its tunnel stack, outermost first.

    mode None: `iface` has no path (RFC 5265 5.6: layers are assembled per interface). Nothing is routed
    into its layers any more; those listed in `tunnels` stay parked for the next path, which changes
    them in place (a move changes the x-MIP layer's care-of, never the VPN layer); the rest go.
    """

    iface: str
    mode: str | None
    care_of: str | None = None
    tunnels: tuple[Tunnel, ...] = ()


@dataclass(frozen=True)
class Primary:
    """The MN's primary uplink changed: the mobile networks' traffic (the LAN table) follows its path,
    and outside the IKE SA runs through its x-MIP tunnel (RFC 5265 5.6, R-2.3-c). None: no uplink carries."""

    iface: str | None


@dataclass(frozen=True)
class Gate:
    """Whether user data may cross `iface`: path "plain" (inside), "vpn" (outside) or None (blocked)."""

    iface: str
    path: str | None
    reason: str

    @property
    def blocked(self) -> bool:
        return self.path is None


@dataclass(frozen=True)
class IkeUp:
    """Bring the IKE SA up from the x-HoA (through x-MIP) to the VPN gateway."""

    local: str
    remote: str


@dataclass(frozen=True)
class IkeDown:
    reason: str


@dataclass(frozen=True)
class TunnelUp:
    """HA/FA side: an IP-in-IP tunnel to a care-of address (or, reversed, to a home agent)."""

    tunnel: Tunnel


@dataclass(frozen=True)
class TunnelDown:
    tunnel: Tunnel


@dataclass(frozen=True)
class RouteUp:
    """Route `prefix` into the named tunnels (several for simultaneous bindings) or onto a link."""

    prefix: str
    devices: tuple[str, ...]


@dataclass(frozen=True)
class RouteDown:
    prefix: str


@dataclass(frozen=True)
class SourceRoute:
    """FA: packets from `source` (a visitor's home address) go into `device`, its reverse tunnel
    (RFC 3024 5.2); device None removes the rule."""

    source: str
    device: str | None


@dataclass(frozen=True)
class ProxyArp:
    """HA: answer ARP for `address` on the home link while it is away (RFC 5944 4.6)."""

    address: str
    enable: bool


@dataclass(frozen=True)
class GratuitousArp:
    address: str
    iface: str


@dataclass(frozen=True)
class StoreBinding:
    """HA with a binding store (issue 27): keep `binding` where the other home agent of the pair finds it,
    for its lifetime, and its identification as its home address's last accepted one (RFC 5944 5.7), so
    that replay protection survives a failover. `replace`: the home address's other care-of bindings go
    (a registration without S, RFC 5944 3.8.2.2)."""

    binding: Binding
    replace: bool


@dataclass(frozen=True)
class ForgetBinding:
    """HA with a binding store: a deregistration (RFC 5944 3.8.2.2) removed the binding to `care_of`
    (None: every binding of the home address); `identification` is the deregistration's (RFC 5944 5.7).
    Expiry needs no action: the store's lease of the binding's lifetime ends it there too."""

    home_address: str
    care_of: str | None
    identification: int


@dataclass(frozen=True)
class Log:
    """A log line. `reason` is a stable tag for counters and tests (e.g. "bad-authenticator")."""

    level: str
    reason: str
    message: str
    fields: dict = field(default_factory=dict, compare=False)

    def __init__(self, level: str, reason: str, message: str, fields: dict | None = None) -> None:
        d = self.__dict__  # as Datagram's: one per request the agents answer
        d["level"], d["reason"], d["message"], d["fields"] = level, reason, message, {} if fields is None else fields

    def __str__(self) -> str:
        extra = " ".join("%s=%s" % kv for kv in sorted(self.fields.items()))
        return "%s [%s] %s%s" % (self.level, self.reason, self.message, " " + extra if extra else "")


def log(level: str, reason: str, message: str, **fields) -> Log:
    return Log(level, reason, message, fields)
