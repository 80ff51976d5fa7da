"""Configuration the protocol machines need (the UCI reader of a later issue fills these in)."""
from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field
from socket import inet_aton

from ..wire.addr import ip4_str
from ..wire.registration import SPI_RESERVED_MAX
from .limits import LIMITS, RESERVED_TABLES, ConfigError, Limit, check_address, check_ifname, check_limits, is_ifname

__all__ = ["IGNORED", "LIMITS", "RESERVED_TABLES", "TRUSTED", "VPN_POOL", "VPN_SNAT", "ConfigError",
           "ForeignAgentConfig", "HomeAgentConfig", "Limit",
           "MobileNodeConfig", "MobileNodeEntry", "SecurityAssociation", "Timing", "check_ifname",
           "check_limits", "is_ifname"]

MIN_I_HA_KEY = 16  # octets
MIN_MONITOR_PERIOD = 1.0  # seconds: T_MONITOR - N at least (RFC 5265 3.2.4)
ADVERTISEMENT_LIFETIMES = 3  # RFC 1256: AdvertisementLifetime defaults to 3 x MaxAdvertisementInterval


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

    def __post_init__(self) -> None:
        check_limits(self, "mn.timing")
        if self.retransmit_max < self.retransmit_initial:  # RFC 5944 3.6.3: the backoff only grows
            raise ConfigError("retransmit_max: %r must not be below retransmit_initial (%r)"
                              % (self.retransmit_max, self.retransmit_initial))


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
    # RFC 5265 3.3 (R-3.3-d): the MN MAY postpone IKE for the detection period; by default it starts on the x-HA's
    # reply (3.5, 5.3), and a late TNC reply ends it cleanly (R-3.3-l). Not in the UCI schema (yet).
    postpone_ike: bool = False
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
        for option in ("i_hoa", "i_ha", "x_hoa", "x_ha", "vpn_gateway"):
            check_address(option, getattr(self, option))
        check_limits(self, "mn")
        for iface in (*self.uplinks, *self.hold_downs):
            check_ifname("uplinks", iface)
        # R-3.2.4-a/d: inside, a re-registration every T_MONITOR - N; N below T_MONITOR, and by a second at
        # least, or the node would re-register as fast as the replies come back
        if not 0 <= self.t_monitor_grace <= self.t_monitor - MIN_MONITOR_PERIOD:
            raise ConfigError("t_monitor_grace: %r must be at least 0 and below t_monitor (%r) by %g s or more "
                              "(RFC 5265 3.2.4: a re-registration every T_MONITOR - N)"
                              % (self.t_monitor_grace, self.t_monitor, MIN_MONITOR_PERIOD))
        if self.nai is not None and not 0 < len(self.nai) <= 255:  # RFC 2794 2: an extension of 255 octets
            raise ConfigError("nai: %d octets; an NAI has 1..255 (RFC 2794 2)" % len(self.nai))
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
        check_limits(self, "ha.mobile_nodes")


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
    # issue 27: a redundant pair keeps its bindings in etcd (io/store.py; its v3 JSON gateway at these URLs).
    # Empty: no store, the home agent keeps its bindings in memory only, as it always did
    store_endpoints: tuple[str, ...] = ()
    # with a store: start as the standby of the pair (keepalived's notify makes it active, `mip4 ha active`)
    start_standby: bool = False
    # keepalived's notify_fifo (global_defs): mip4d reads its state lines there (io/vrrp.py), in order, with
    # no process started per transition; vrrp_instance: whose lines count (None: every INSTANCE line)
    vrrp_fifo: str | None = None
    vrrp_instance: str | None = None

    def __post_init__(self) -> None:
        check_address("address", self.address)
        check_limits(self, "ha")
        for url in self.store_endpoints:
            if not isinstance(url, str) or not re.fullmatch(r"https?://[^/\s]+", url):
                raise ConfigError("store_endpoints: %r is not an etcd client URL (http://host:port)" % (url,))
        if self.start_standby and not self.store_endpoints:
            raise ConfigError("start_standby: a standby needs store_endpoints to take the bindings from")
        if self.vrrp_fifo is not None and not (isinstance(self.vrrp_fifo, str) and self.vrrp_fifo.startswith("/")):
            raise ConfigError("vrrp_fifo: %r is not an absolute path" % (self.vrrp_fifo,))
        if (self.vrrp_fifo is not None or self.vrrp_instance is not None) and not self.store_endpoints:
            raise ConfigError("vrrp_fifo, vrrp_instance: keepalived's states make sense with store_endpoints only")
        if self.vrrp_instance is not None and (self.vrrp_fifo is None or not isinstance(self.vrrp_instance, str)
                                               or not re.fullmatch(r"[^\s\"]+", self.vrrp_instance)):
            raise ConfigError("vrrp_instance: %r needs vrrp_fifo and is a keepalived instance name"
                              % (self.vrrp_instance,))
        check_ifname("home_iface", self.home_iface)
        if self.role not in ("i-ha", "x-ha"):
            raise ConfigError("role: %r is not i-ha or x-ha" % (self.role,))
        for hoa in self.mobile_nodes:
            check_address("mobile_nodes", hoa)
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
        object.__setattr__(self, "_trusted", nets)
        object.__setattr__(self, "_ignored", _prefixes("ignored_sources", self.ignored_sources))
        object.__setattr__(self, "_pool", tuple(n for option, n, _ in vpn if option == "vpn_pool"))
        object.__setattr__(self, "_snat", tuple(n for option, n, _ in vpn if option == "vpn_snat"))
        object.__setattr__(self, "_kinds", {})  # address -> kind() (sources repeat)
        object.__setattr__(self, "_ranges", tuple((bit, int(n.network_address), int(n.netmask)) for bit, nets in (
            (TRUSTED, nets), (VPN_POOL, self._pool), (VPN_SNAT, self._snat), (IGNORED, self._ignored)) for n in nets))  # type: ignore[attr-defined]
        _check_mobile_networks(self)

    def kind(self, address: str) -> int:
        """Which configured prefixes hold `address`: TRUSTED | VPN_POOL | VPN_SNAT | IGNORED bits. Asked of
        two addresses, up to five times per request: one dict look-up once an address was seen (issue 25)."""
        kind = self._kinds.get(address)  # type: ignore[attr-defined]
        return self._classify(address) if kind is None else kind

    def trusts(self, source: str) -> bool:
        """RFC 5265 4.3, R-4.3-c/g: judged on the IP source address as received."""
        return bool(self.kind(source) & TRUSTED)

    def in_vpn_pool(self, address: str) -> bool:
        """A VPN-TIA: whoever uses it is outside, behind the VPN gateway (RFC 5265 2.3)."""
        return bool(self.kind(address) & VPN_POOL)

    def through_vpn(self, source: str) -> bool:
        """The IP source of a request that came through the VPN gateway: a VPN-TIA or its SNAT address."""
        return bool(self.kind(source) & (VPN_POOL | VPN_SNAT))

    def ignores(self, source: str) -> bool:
        """RFC 5265 3.7, R-3.7-a: an x-HA's inside sources, judged on the IP source address as received."""
        return bool(self.kind(source) & IGNORED)

    def _classify(self, address: str) -> int:
        """Which of the configured prefixes hold `address`, as bits; remembered for the next ones."""
        a = _address_int(address)
        kind = 0
        for bit, net, mask in self._ranges:  # type: ignore[attr-defined]
            if a & mask == net:
                kind |= bit
        kinds = self._kinds  # type: ignore[attr-defined]
        if len(kinds) >= _KINDS_KEPT:  # bounded: sources are whoever sends to port 434
            kinds.clear()
        kinds[address] = kind
        return kind


def _address_int(text: str) -> int:
    """A dotted quad as an integer; ValueError unless it is one (as ipaddress.IPv4Address would say).

    inet_aton and ip4_str are a tenth of IPv4Address's parse; what it reads otherwise than a
    dotted quad is written back differently and goes to ipaddress (issue 25)."""
    try:
        b = inet_aton(text)
    except (OSError, TypeError, ValueError):
        return int(ipaddress.IPv4Address(text))
    if ip4_str(b) != text:
        return int(ipaddress.IPv4Address(text))
    return int.from_bytes(b, "big")


TRUSTED, VPN_POOL, VPN_SNAT, IGNORED = 1, 2, 4, 8  # HomeAgentConfig.kind()'s bits
_KINDS_KEPT = 4096


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
    advertisement_interval: float = 3.0  # RFC 5944 2.3.1, RFC 1256 MaxAdvertisementInterval
    # RFC 1256: the Lifetime advertised; None: 3 x advertisement_interval (RFC 1256's default), so that a
    # visitor keeps the agent over a lost advertisement or two
    advertisement_lifetime: int | None = None
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
        interval = self.advertisement_interval
        if self.advertisement_lifetime is None and LIMITS["fa.advertisement_interval"].accepts(interval):
            # RFC 1256's default, in whole seconds (the field counts seconds)
            object.__setattr__(self, "advertisement_lifetime", math.ceil(ADVERTISEMENT_LIFETIMES * interval))
        check_limits(self, "fa")
        if self.advertisement_lifetime < ADVERTISEMENT_LIFETIMES * interval:  # type: ignore[operator]
            raise ConfigError("advertisement_lifetime: %r must be at least %d x advertisement_interval (%r): "
                              "visitors would lose the agent between advertisements (RFC 1256; RFC 5944 2.3.1)"
                              % (self.advertisement_lifetime, ADVERTISEMENT_LIFETIMES, self.advertisement_interval))
        if not self.links:
            raise ConfigError("links: a foreign agent needs at least one access link")
        for iface, coa in self.links.items():
            check_ifname("links", iface)
            check_address("links.%s" % iface, coa)
        check_ifname("core_iface", self.core_iface)
        if not self.address:
            object.__setattr__(self, "address", next(iter(self.links.values())))
        check_address("address", self.address)
        for ha in self.fa_ha:
            check_address("fa_ha", ha)

