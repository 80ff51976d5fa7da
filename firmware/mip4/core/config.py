"""Configuration the protocol machines need (the UCI reader of a later issue fills these in)."""
from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field

from ..wire.registration import SPI_RESERVED_MAX

MIN_I_HA_KEY = 16  # octets


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names the option and what is allowed."""


def _check_keepalive_ceiling(value: object) -> None:
    """RFC 3519 4.9: our own ceiling on the keepalive interval (MN and FA)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
        raise ConfigError("udp_keepalive: %r must be 0..65535 seconds (0: the HA's interval)" % (value,))


def _check_rate_limit(rate: object, burst: object) -> None:
    """Registration requests per second from one source, and how many may come at once (0: no limit)."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1e6:
        raise ConfigError("rate_limit: %r must be 0..1000000 requests per second per source (0: no limit)" % (rate,))
    if isinstance(burst, bool) or not isinstance(burst, int) or not 1 <= burst <= 1000000:
        raise ConfigError("rate_burst: %r must be 1..1000000 requests" % (burst,))


def _check_lifetime(option: str, value: object) -> None:
    """RFC 5944 3.3: a 16-bit lifetime; 0 would make every registration a deregistration."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 0xFFFF:
        raise ConfigError("%s: %r must be 1..65535 seconds (65535: infinite)" % (option, value))


def _check_address(option: str, value: str) -> None:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise ConfigError("%s: %r is not an IPv4 address" % (option, value)) from None


@dataclass(frozen=True)
class SecurityAssociation:
    """A mobility security association (RFC 5944 1.6): SPI and HMAC-MD5 key."""

    spi: int
    key: bytes

    def __post_init__(self) -> None:
        if not SPI_RESERVED_MAX < self.spi <= 0xFFFFFFFF:
            raise ConfigError("spi: %r is reserved or out of range (256..4294967295)" % (self.spi,))
        if not self.key:
            raise ConfigError("key: empty")


@dataclass(frozen=True)
class Timing:
    """Registration client timing (RFC 5944 3.6.3)."""

    retransmit_initial: float = 1.0  # first retransmission timeout
    retransmit_max: float = 16.0  # backoff ceiling
    renew_fraction: float = 0.8  # re-register after this share of the granted lifetime
    lifetime: int = 1800  # requested lifetime, seconds
    resync_limit: int = 3  # code-133 resyncs in a row before backing off
    deregister_attempts: int = 4  # deregistrations sent before giving up (the binding then just expires)


@dataclass(frozen=True)
class MobileNodeConfig:
    """A mobile node or mobile router (RFC 5265 4.1)."""

    i_hoa: str
    i_ha: str
    i_sa: SecurityAssociation
    x_hoa: str
    x_ha: str
    x_sa: SecurityAssociation
    vpn_gateway: str
    uplinks: dict[str, int] = field(default_factory=dict)  # interface -> priority (lower wins)
    # an uplink that comes back carries traffic again only after it has stayed usable this long
    hold_downs: dict[str, float] = field(default_factory=dict)  # interface -> seconds
    hold_down: float = 10.0  # for uplinks not in hold_downs
    t_monitor: float = 60.0  # RFC 5265 3.2.4, 4.1, R-3.2.4-d
    t_monitor_grace: float = 10.0  # N in "T_MONITOR - N"
    detection_period: float = 2.0  # RFC 5265 3.3: keep asking the i-HA after the x-HA replied
    x_ha_delay_on_inside_hint: float = 0.0  # RFC 5265 3.5, R-3.5-f
    reverse_tunnel_i: bool = True  # RFC 5265 2.3, R-2.3-f
    reverse_tunnel_x: bool = True  # RFC 5265 2.3, R-2.3-b
    idle_mode: bool = False  # RFC 5265 3.2.4, R-3.2.4-f
    inside_hints: dict[str, tuple[str, ...]] = field(default_factory=dict)  # R-3.5-d: kind -> values
    timing: Timing = field(default_factory=Timing)
    nai: bytes | None = None
    nat_traversal: bool = True  # RFC 5265 2.5, RFC 3519: co-located requests carry a UDP Tunnel Request
    udp_keepalive: int = 0  # RFC 3519 4.9: keepalive at most this often, seconds (0: as the HA says)

    def __post_init__(self) -> None:
        _check_keepalive_ceiling(self.udp_keepalive)
        for option in ("i_hoa", "i_ha", "x_hoa", "x_ha", "vpn_gateway"):
            _check_address(option, getattr(self, option))
        if self.t_monitor <= 0:
            raise ConfigError("t_monitor: %r must be positive (default 60)" % (self.t_monitor,))
        if not 0 <= self.t_monitor_grace < self.t_monitor:  # R-3.2.4-d
            raise ConfigError("t_monitor_grace: %r must be at least 0 and below t_monitor (%r)"
                              % (self.t_monitor_grace, self.t_monitor))
        if self.detection_period < 0:
            raise ConfigError("detection_period: %r must not be negative" % (self.detection_period,))
        holds = [("hold_down", self.hold_down)] + [("hold_downs.%s" % i, s) for i, s in sorted(self.hold_downs.items())]
        for option, seconds in holds:
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 3600:
                raise ConfigError("%s: %r must be 0..3600 seconds" % (option, seconds))
        if len(self.i_sa.key) < MIN_I_HA_KEY:  # RFC 5265 6.2, R-6.2-b: whoever has it can forge TNC
            raise ConfigError("i_sa.key: %d octets; the i-HA key must have at least %d random octets (RFC 5265 6.2)"
                              % (len(self.i_sa.key), MIN_I_HA_KEY))
        if self.i_sa.key == self.x_sa.key:  # R-6.2-c: x-MIP and i-MIP use separate credentials
            raise ConfigError("x_sa.key: must differ from i_sa.key (RFC 5265 6.2)")

    def priority(self, iface: str) -> int:
        return self.uplinks.get(iface, 100)

    def hold_down_of(self, iface: str) -> float:
        return self.hold_downs.get(iface, self.hold_down)


@dataclass(frozen=True)
class MobileNodeEntry:
    """What a home agent knows about one mobile node (by home address)."""

    sa: SecurityAssociation
    networks: tuple[str, ...] = ()  # a mobile router's LAN prefixes, routed into its tunnel
    max_lifetime: int | None = None

    def __post_init__(self) -> None:
        if self.max_lifetime is not None:
            _check_lifetime("max_lifetime", self.max_lifetime)


@dataclass(frozen=True)
class HomeAgentConfig:
    """An i-HA or x-HA (RFC 5944 3.8, RFC 5265 4.3)."""

    address: str
    role: str  # "i-ha" or "x-ha"
    mobile_nodes: dict[str, MobileNodeEntry]
    home_iface: str = "home"
    trusted_networks: tuple[str, ...] = ()  # i-HA only, RFC 5265 4.3; empty trusts nobody
    # i-HA only: the VPN gateway's pool of VPN-TIAs and the addresses it source-NATs them to (RFC 5265 2.5).
    # Requests from these come through IPsec, from outside: no TNC, and they bind only a VPN-TIA (R-3.1-c/d)
    vpn_pool: tuple[str, ...] = ()
    vpn_snat: tuple[str, ...] = ()
    send_tnc: bool = True  # i-HA only, R-3.4-e
    ignored_sources: tuple[str, ...] = ()  # x-HA only, RFC 5265 3.7: inside sources to drop
    max_lifetime: int = 1800
    replay_window: float = 7.0  # seconds of clock difference accepted (RFC 5944 5.7.1)
    max_bindings: int = 3  # simultaneous bindings per home address; 1 means no S bit (reply code 1)
    reverse_tunnel: bool = True  # RFC 3024
    fa_ha: dict[str, SecurityAssociation] = field(default_factory=dict)  # FA address -> FA-HA SA
    udp_keepalive: int = 110  # RFC 3519 3.2: keepalive interval put in UDP Tunnel Replies, seconds
    # registration requests per second per source address, and the burst allowed; 0: no limit. A relaying
    # FA speaks for all its visitors from one address, so the default leaves room for a thousand of them
    rate_limit: float = 100.0
    rate_burst: int = 200

    def __post_init__(self) -> None:
        _check_address("address", self.address)
        _check_rate_limit(self.rate_limit, self.rate_burst)
        _check_lifetime("max_lifetime", self.max_lifetime)
        if self.role not in ("i-ha", "x-ha"):
            raise ConfigError("role: %r is not i-ha or x-ha" % (self.role,))
        for hoa in self.mobile_nodes:
            _check_address("mobile_nodes", hoa)
        nets = _prefixes("trusted_networks", self.trusted_networks)
        for text, net in zip(self.trusted_networks, nets, strict=True):
            if net.prefixlen == 0:  # R-4.3-b: only internal addresses
                raise ConfigError("trusted_networks: %r would trust every address (RFC 5265 4.3)" % (text,))
        if self.role == "x-ha" and self.trusted_networks:
            raise ConfigError("trusted_networks: only an i-HA has trusted networks (RFC 5265 3.4)")
        vpn = [("vpn_pool", n, t) for n, t in zip(_prefixes("vpn_pool", self.vpn_pool), self.vpn_pool, strict=True)]
        vpn += [("vpn_snat", n, t) for n, t in zip(_prefixes("vpn_snat", self.vpn_snat), self.vpn_snat, strict=True)]
        if vpn and self.role != "i-ha":
            raise ConfigError("%s: only an i-HA knows the VPN's addresses (RFC 5265 4.3)" % vpn[0][0])
        for option, net, text in vpn:  # R-4.3-h: requests from there must get past the trusted-source check
            if not any(net.subnet_of(t) for t in nets):
                raise ConfigError("%s: %r is not inside trusted_networks: its requests would be dropped (RFC 5265 "
                                  "4.3)" % (option, text))
        if self.role == "i-ha" and self.ignored_sources:
            raise ConfigError("ignored_sources: only an x-HA drops inside sources (RFC 5265 3.7)")
        if self.max_bindings < 1:
            raise ConfigError("max_bindings: %r must be at least 1" % (self.max_bindings,))
        if not 0 <= self.udp_keepalive <= 0xFFFF:
            raise ConfigError("udp_keepalive: %r must be 0..65535 seconds" % (self.udp_keepalive,))
        object.__setattr__(self, "_trusted", nets)
        object.__setattr__(self, "_ignored", _prefixes("ignored_sources", self.ignored_sources))
        object.__setattr__(self, "_pool", tuple(n for option, n, _ in vpn if option == "vpn_pool"))
        object.__setattr__(self, "_snat", tuple(n for option, n, _ in vpn if option == "vpn_snat"))
        _check_mobile_networks(self)

    def trusts(self, source: str) -> bool:
        """RFC 5265 4.3, R-4.3-c/g: judged on the IP source address as received."""
        return _within(source, self._trusted)  # type: ignore[attr-defined]

    def in_vpn_pool(self, address: str) -> bool:
        """A VPN-TIA: whoever uses it is outside, behind the VPN gateway (RFC 5265 2.3)."""
        return _within(address, self._pool)  # type: ignore[attr-defined]

    def through_vpn(self, source: str) -> bool:
        """The IP source of a request that came through the VPN gateway: a VPN-TIA or its SNAT address."""
        return _within(source, self._pool + self._snat)  # type: ignore[attr-defined]

    def ignores(self, source: str) -> bool:
        """RFC 5265 3.7, R-3.7-a: an x-HA's inside sources, judged on the IP source address as received."""
        return _within(source, self._ignored)  # type: ignore[attr-defined]


def _check_mobile_networks(ha: HomeAgentConfig) -> None:
    """RFC 5177 3.2: the HA routes each mobile network into its mobile router's tunnel, so a prefix belongs
    to one router, and to none of the HA's own networks (the home network, its address and every home
    address on it; the VPN's pool and SNAT addresses). Two OpenWrt routers both left at 192.168.1.0/24
    would share one route: the first router home again would take the other's LAN with it."""
    own = [("the home agent's address (address)", ipaddress.IPv4Network(ha.address))]
    own += [("the home address %s" % hoa, ipaddress.IPv4Network(hoa)) for hoa in ha.mobile_nodes]
    vpn = [("vpn_pool %r" % str(n), n) for n in ha._pool] + [("vpn_snat %r" % str(n), n) for n in ha._snat]  # type: ignore[attr-defined]
    for hoa in ha.mobile_nodes:  # RFC 5944 4.6: a home address is routed into a tunnel and proxied too
        for what, other in own[:1] + vpn:
            if ipaddress.IPv4Address(hoa) in other:
                raise ConfigError("mobile_nodes: home address %s overlaps %s: its traffic would go into the mobile "
                                  "node's tunnel" % (hoa, what))
    own += vpn
    seen: list[tuple[str, str, ipaddress.IPv4Network]] = []  # (router, prefix as written, prefix)
    for hoa, entry in ha.mobile_nodes.items():
        option = "mobile_nodes.%s.networks" % hoa
        for text, net in zip(entry.networks, _prefixes(option, entry.networks), strict=True):
            for what, other in own:
                if net.overlaps(other):
                    raise ConfigError("%s: %r overlaps %s: a mobile network lies outside the home agent's own "
                                      "networks (RFC 5177)" % (option, text, what))
            for router, other_text, other in seen:
                if router != hoa and net.overlaps(other):
                    raise ConfigError("%s: %r overlaps %r of mobile router %s: each mobile network belongs to one "
                                      "mobile router (RFC 5177); renumber one of the LANs" % (option, text, other_text,
                                                                                              router))
            seen.append((hoa, text, net))


def _within(address: str, nets: tuple[ipaddress.IPv4Network, ...]) -> bool:
    a = _address(address)
    return any(a in n for n in nets)


@functools.lru_cache(maxsize=4096)
def _address(text: str) -> ipaddress.IPv4Address:
    """Parsing an address costs more than the rest of a dropped request's checks; sources repeat."""
    return ipaddress.IPv4Address(text)


def _prefixes(option: str, values: tuple[str, ...]) -> tuple[ipaddress.IPv4Network, ...]:
    nets = []
    for n in values:
        try:
            nets.append(ipaddress.IPv4Network(n))
        except ValueError:
            raise ConfigError("%s: %r is not an IPv4 prefix" % (option, n)) from None
    return tuple(nets)


@dataclass(frozen=True)
class ForeignAgentConfig:
    """A foreign agent (RFC 5944 3.7) serving one or more access links."""

    links: dict[str, str]  # access interface -> care-of address advertised there
    address: str = ""  # the FA's address towards home agents; defaults to the first care-of
    advertisement_interval: float = 3.0  # RFC 5944 2.3.1; one third of the lifetime
    advertisement_lifetime: int = 9
    registration_lifetime: int = 1800  # max lifetime the FA grants
    reverse_tunnel: bool = True  # RFC 3024, T bit advertised
    registration_required: bool = True  # R bit
    pending_timeout: float = 7.0  # RFC 5944 3.7.1: pending entries expire (code 78)
    max_visitors: int = 1000
    fa_ha: dict[str, SecurityAssociation] = field(default_factory=dict)  # home agent -> FA-HA SA
    core_iface: str = "core"  # the uplink towards home agents (relayed requests leave here)
    routes_common_traffic: bool = False  # RFC 5944 2.1: advertisement code 0 if True, else 16
    nat_traversal: bool = False  # RFC 3519 3.1, 3.4, 4.5: behind a NAT; U bit, UDP Tunnel Request relayed
    udp_keepalive: int = 0  # RFC 3519 4.9: keepalive at most this often, seconds (0: as the HA says)
    # registration requests per second per source address on an access link, and the burst; 0: no limit
    # (a mobile node sends one request per registration, a few more on retransmissions)
    rate_limit: float = 10.0
    rate_burst: int = 20

    def __post_init__(self) -> None:
        _check_keepalive_ceiling(self.udp_keepalive)
        _check_rate_limit(self.rate_limit, self.rate_burst)
        if not self.links:
            raise ConfigError("links: a foreign agent needs at least one access link")
        for iface, coa in self.links.items():
            _check_address("links.%s" % iface, coa)
        if not self.address:
            object.__setattr__(self, "address", next(iter(self.links.values())))
        _check_address("address", self.address)
        if not 0 < self.registration_lifetime < 0xFFFF:  # a 16-bit field; 0xffff would mean infinite
            raise ConfigError("registration_lifetime: %r must be 1..65534 seconds" % (self.registration_lifetime,))
        for ha in self.fa_ha:
            _check_address("fa_ha", ha)
