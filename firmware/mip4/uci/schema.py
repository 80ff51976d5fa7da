"""What /etc/config/mip4 may hold: per section type, each option's place in the daemon's settings
(the same JSON-shaped structure config/settings.py reads), its value type and what is allowed."""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..core.config import LIMITS, is_ifname


class BadValue(ValueError):
    """A value the option's type refuses; the message says what is allowed."""


def _int(lo: int, hi: int) -> Callable[[str], int]:
    def conv(v: str) -> int:
        try:
            n = int(v, 10)
        except ValueError:
            raise BadValue("an integer %d..%d" % (lo, hi)) from None
        if not lo <= n <= hi:
            raise BadValue("an integer %d..%d" % (lo, hi))
        return n
    return conv


def limited(path: str) -> Callable[[str], float]:
    """The value of the option at settings `path`, in the range core/config.py's LIMITS gives it (the same
    check the JSON file gets), or BadValue saying the range and why."""
    limit = LIMITS[path]
    low, high = limit.allowed().split()[0].split("..")
    if limit.integer:
        what = "an integer %s (%s)" % (limit.allowed(), limit.why)
    else:
        what = "a number of %s %s..%s (%s)" % (limit.unit, low, high, limit.why)

    def conv(v: str) -> float:
        try:
            x: float = int(v, 10) if limit.integer else float(v)
        except ValueError:
            raise BadValue(what) from None
        if not limit.accepts(x):
            raise BadValue(what)
        return x
    return conv


_TRUE = ("1", "yes", "on", "true", "enabled")
_FALSE = ("0", "no", "off", "false", "disabled")


def boolean(v: str) -> bool:
    if v.lower() in _TRUE:
        return True
    if v.lower() in _FALSE:
        return False
    raise BadValue("a UCI boolean: 1/0, yes/no, on/off, true/false, enabled/disabled")


def address(v: str) -> str:
    try:
        ipaddress.IPv4Address(v)
    except ValueError:
        raise BadValue("an IPv4 address, e.g. 10.1.0.1") from None
    return v


def prefix(v: str) -> str:
    try:
        ipaddress.IPv4Network(v)
    except ValueError:
        raise BadValue("an IPv4 prefix, e.g. 192.168.1.0/24") from None
    return v


def hexkey(v: str) -> str:
    try:
        if not bytes.fromhex(v):
            raise ValueError
    except ValueError:
        raise BadValue("hex octets, e.g. 00112233445566778899aabbccddeeff") from None
    return v


def text(v: str) -> str:
    if not v or any(ord(c) < 32 for c in v):
        raise BadValue("non-empty printable text")
    return v


def path(v: str) -> str:
    if not v.startswith("/"):
        raise BadValue("an absolute path")
    return v


def client_url(v: str) -> str:
    """An etcd client URL: scheme, host and port, nothing after (core/config.py checks the same)."""
    if not re.fullmatch(r"https?://[^/\s]+", v):
        raise BadValue("an etcd client URL, e.g. http://10.1.0.5:2379")
    return v


def ifname(v: str) -> str:
    if not is_ifname(v):
        raise BadValue("an interface name (1..15 printable characters, no / : or space)")
    return v


def one_of(*choices: str) -> Callable[[str], str]:
    def conv(v: str) -> str:
        if v not in choices:
            raise BadValue("one of " + ", ".join(choices))
        return v
    return conv


SPI = _int(256, 0xFFFFFFFF)  # RFC 5944 1.6: SPIs 0..255 are reserved


def RANGED(v: str) -> object:  # noqa: N802  (a marker, named like the constants it stands with)
    """Marks a numeric option: Option checks it against LIMITS at its settings place (`to`)."""
    raise AssertionError("replaced by Option")


@dataclass(frozen=True)
class Option:
    to: str  # dotted place in the settings structure; "" for options only the adapters read
    conv: Callable[[str], object]
    is_list: bool = False
    required: bool = False
    help: str = ""

    def __post_init__(self) -> None:
        if self.conv is RANGED:  # the range of core/config.py's LIMITS, as the JSON file gets it
            object.__setattr__(self, "conv", limited(self.to))


GLOBAL = {
    "enabled": Option("", boolean, help="start mip4d at boot (procd)"),
    "role": Option("role", one_of("mn", "ha", "fa"), required=True, help="mobile node/router, home agent, FA"),
    "status_file": Option("status_file", path),
    "control_socket": Option("control_socket", path, help="unix socket for mip4 status and the console"),
    "log_level": Option("", one_of("debug", "info", "warning", "error")),
    "seed": Option("seed", _int(0, 2**63 - 1)),
}

MOBILE_NODE = {
    "home_address": Option("mn.i_hoa", address, required=True, help="i-HoA, the intranet home address"),
    "home_agent": Option("mn.i_ha", address, required=True, help="i-HA"),
    "spi": Option("mn.i_sa.spi", SPI, required=True, help="MN-HA SPI with the i-HA"),
    "key": Option("mn.i_sa.key", hexkey, required=True, help="MN-HA key with the i-HA, at least 16 random octets"),
    "x_home_address": Option("mn.x_hoa", address, required=True, help="x-HoA, the external home address"),
    "x_home_agent": Option("mn.x_ha", address, required=True, help="x-HA"),
    "x_spi": Option("mn.x_sa.spi", SPI, required=True),
    "x_key": Option("mn.x_sa.key", hexkey, required=True, help="must differ from key (RFC 5265 6.2)"),
    "vpn_gateway": Option("mn.vpn_gateway", address, required=True),
    "ike_identity": Option("vpn.local_id", text, help="our IKE identity (IDi), e.g. mr1@example.com"),
    "ike_remote_identity": Option("vpn.remote_id", text, help="the VPN gateway's identity (IDr)"),
    "ike_psk": Option("vpn.psk", text, help="IKEv2 pre-shared key, at least 16 characters"),
    "vici_socket": Option("vpn.vici", text, help="charon's VICI socket, default unix:///var/run/charon.vici"),
    "intranet": Option("vpn.intranet", prefix, is_list=True, help="what the VPN reaches (remote traffic selectors)"),
    "t_monitor": Option("mn.t_monitor", RANGED, help="RFC 5265 3.2.4, default 60"),
    "hold_down": Option("mn.hold_down", RANGED, help="seconds an uplink that came back waits before it "
                        "carries traffic again, default 10 (an uplink can set its own)"),
    "t_monitor_grace": Option("mn.t_monitor_grace", RANGED, help="N in T_MONITOR - N, default 10"),
    "detection_period": Option("mn.detection_period", RANGED, help="RFC 5265 3.3, default 2"),
    "postpone_ike": Option("mn.postpone_ike", boolean, help="hold back a new IKE SA until the detection "
                           "period is over (RFC 5265 3.3 MAY), default 0: IKE on the x-HA's reply"),
    "lifetime": Option("mn.timing.lifetime", RANGED, help="requested registration lifetime, default 1800"),
    "retransmit_initial": Option("mn.timing.retransmit_initial", RANGED),
    "retransmit_max": Option("mn.timing.retransmit_max", RANGED),
    "reverse_tunnel_i": Option("mn.reverse_tunnel_i", boolean),
    "reverse_tunnel_x": Option("mn.reverse_tunnel_x", boolean),
    "idle_mode": Option("mn.idle_mode", boolean),
    "nai": Option("mn.nai", text, help="NAI (RFC 2794)"),
    "nat_traversal": Option("mn.nat_traversal", boolean, help="ask for RFC 3519 UDP tunnelling (used only when "
                            "the HA sees a NAT), default 1"),
    "udp_keepalive": Option("mn.udp_keepalive", RANGED, help="behind a NAT, keepalive at least every N s "
                            "(default 0: as the HA says)"),
    "network": Option("router.networks", prefix, is_list=True, help="LAN prefixes behind the mobile router"),
    "dhcp": Option("router.dhcp", boolean, help="udhcpc on each uplink (off when netifd runs DHCP)"),
}

UPLINK = {  # section name: the netifd interface (wan, wwan, wlan)
    "device": Option("", ifname, help="kernel device; default: the section name"),
    "priority": Option("", limited("mn.uplinks"), required=True, help="lower wins"),
    "hold_down": Option("", limited("mn.hold_downs"), help="seconds up before traffic moves back here "
                        "(default: the node's)"),
}

HOME_AGENT = {
    "address": Option("ha.address", address, required=True),
    "type": Option("ha.role", one_of("i-ha", "x-ha"), required=True),
    "home_iface": Option("ha.home_iface", ifname),
    "trusted_network": Option("ha.trusted_networks", prefix, is_list=True, help="i-HA only (RFC 5265 4.3)"),
    "ignored_source": Option("ha.ignored_sources", prefix, is_list=True, help="x-HA only (RFC 5265 3.7)"),
    "vpn_pool": Option("ha.vpn_pool", prefix, is_list=True, help="i-HA only: the VPN gateway's pool of VPN-TIAs "
                       "(inside a trusted_network); requests from it get no TNC and bind only the VPN-TIA itself"),
    "vpn_snat": Option("ha.vpn_snat", prefix, is_list=True, help="i-HA only: addresses the VPN gateway "
                       "source-NATs VPN-TIAs to (RFC 5265 2.5); treated like the pool"),
    "send_tnc": Option("ha.send_tnc", boolean),
    "max_lifetime": Option("ha.max_lifetime", RANGED),
    "max_bindings": Option("ha.max_bindings", RANGED),
    "udp_keepalive": Option("ha.udp_keepalive", RANGED, help="RFC 3519 keepalive interval for MNs "
                            "behind a NAT, default 110"),
    "rate_limit": Option("ha.rate_limit", RANGED, help="registration requests a second from one source address, "
                         "default 100 (a relaying FA speaks for all its visitors); 0: no limit"),
    "rate_burst": Option("ha.rate_burst", RANGED, help="requests one source may send at once, default 200"),
    "store_endpoint": Option("ha.store_endpoints", client_url, is_list=True, help="a redundant pair (issue 27): "
                             "etcd client URLs holding the bindings; none: bindings in memory only"),
    "start_standby": Option("ha.start_standby", boolean, help="with a store: start as the pair's standby until "
                            "keepalived makes this one active (`mip4 ha active`)"),
    "vrrp_fifo": Option("ha.vrrp_fifo", path, help="keepalived's notify_fifo: mip4d follows its MASTER, BACKUP, "
                        "FAULT, STOP lines (no process per transition); created 0600 if missing"),
    "vrrp_instance": Option("ha.vrrp_instance", text, help="with vrrp_fifo: the vrrp_instance (or "
                            "vrrp_sync_group, its GROUP lines) whose states count; default: every INSTANCE line"),
}

BINDING = {  # one mobile node the home agent serves
    "home_address": Option("", address, required=True),
    "spi": Option("", SPI, required=True),
    "key": Option("", hexkey, required=True),
    "network": Option("", prefix, is_list=True),
    "max_lifetime": Option("", limited("ha.mobile_nodes.max_lifetime")),
}

FOREIGN_AGENT = {
    "address": Option("fa.address", address),
    "core_iface": Option("fa.core_iface", ifname),
    "advertisement_interval": Option("fa.advertisement_interval", RANGED,
                                     help="RFC 5944 2.3.1, default 3; advertised lifetime 3 x this"),
    "registration_lifetime": Option("fa.registration_lifetime", RANGED),
    "reverse_tunnel": Option("fa.reverse_tunnel", boolean),
    "nat_traversal": Option("fa.nat_traversal", boolean, help="behind a NAT: ask home agents for RFC 3519 UDP "
                            "tunnelling of our visitors, default 0"),
    "udp_keepalive": Option("fa.udp_keepalive", RANGED, help="behind a NAT, keepalive at least every N s "
                            "(default 0: as the HA says)"),
    "rate_limit": Option("fa.rate_limit", RANGED, help="registration requests a second from one source on an access "
                         "link, default 10; 0: no limit"),
    "rate_burst": Option("fa.rate_burst", RANGED, help="requests one source may send at once, default 20"),
}

ACCESS_LINK = {
    "device": Option("", ifname, required=True),
    "care_of": Option("", address, required=True),
}

SECTIONS: dict[str, dict[str, Option]] = {
    "mip4": GLOBAL, "mobile_node": MOBILE_NODE, "uplink": UPLINK, "home_agent": HOME_AGENT,
    "binding": BINDING, "foreign_agent": FOREIGN_AGENT, "access_link": ACCESS_LINK,
}
# which section types each role reads (besides the one `mip4` section)
ROLE_SECTIONS = {"mn": ("mobile_node", "uplink"), "ha": ("home_agent", "binding"),
                 "fa": ("foreign_agent", "access_link")}
SINGLE = ("mip4", "mobile_node", "home_agent", "foreign_agent")  # at most one section of these types
