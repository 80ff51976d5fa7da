"""The checks every option goes through (issue 28 item 6): `LIMITS`, one table of each numeric option's
range, unit and why, used by the JSON settings, the UCI reader and the config dataclasses alike; and
the interface name and address checks."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names the option and what is allowed."""


@dataclass(frozen=True)
class Limit:
    """The values a numeric option may take, and why: nothing inside the range may make a machine raise,
    spin or stop working (issue 28 item 6)."""

    low: float
    high: float
    unit: str  # "seconds", "requests"; "" for a bare number
    why: str
    integer: bool = False

    def allowed(self) -> str:
        unit = " " + self.unit if self.unit else ""
        return "%s..%s%s" % (_number(self.low), _number(self.high), unit)

    def accepts(self, value: object) -> bool:
        kinds = (int,) if self.integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            return False
        return self.low <= value <= self.high  # type: ignore[operator]  # NaN compares False: refused

    def check(self, option: str, value: object) -> None:
        if not self.accepts(value):
            kind = "an integer " if self.integer and not isinstance(value, int) else ""
            raise ConfigError("%s: %r must be %s%s (%s)" % (option, value, kind, self.allowed(), self.why))


def _number(x: float) -> str:
    return "%d" % x if x == int(x) else "%g" % x


_SECONDS_16 = "RFC 5944 3.3: a 16-bit lifetime; 65535 is infinite, 0 would deregister"
_KEEPALIVE = "RFC 3519 4.9: keepalives at least this often; 0: as the home agent says"
_RATE = "per source address; 0: no limit"
_TABLE = "a routing table id; 253..255 are the kernel's default, main and local tables"

# Every numeric option of the settings (JSON path; UCI options map onto the same paths, uci/schema.py):
# its range, unit and why. The dataclasses below check their fields against it; the UCI reader checks
# each option's text against it first. One place, so JSON, UCI and the core agree.
LIMITS: dict[str, Limit] = {
    # mobile node (RFC 5265 4.1) and its registration clients (RFC 5944 3.6.3)
    "mn.t_monitor": Limit(2, 86400, "seconds", "RFC 5265 3.2.4: default 60; a few seconds is impractical"),
    "mn.t_monitor_grace": Limit(0, 86399, "seconds", "RFC 5265 3.2.4: N in T_MONITOR - N, below T_MONITOR"),
    "mn.detection_period": Limit(0, 300, "seconds", "RFC 5265 3.3: how long the i-HA may still answer"),
    "mn.x_ha_delay_on_inside_hint": Limit(0, 300, "seconds", "RFC 5265 3.5: x-HA request held back"),
    "mn.hold_down": Limit(0, 3600, "seconds", "an uplink that came back waits this long"),
    "mn.hold_downs": Limit(0, 3600, "seconds", "an uplink that came back waits this long"),
    "mn.uplinks": Limit(0, 1000, "", "uplink priority, lower wins", integer=True),
    "mn.udp_keepalive": Limit(0, 65535, "seconds", _KEEPALIVE, integer=True),
    "mn.timing.lifetime": Limit(1, 65535, "seconds", _SECONDS_16, integer=True),
    "mn.timing.retransmit_initial": Limit(0.1, 60, "seconds", "RFC 5944 3.6.3: twice the round trip and "
                                          "100 ms for processing at least"),
    "mn.timing.retransmit_max": Limit(1, 3600, "seconds", "RFC 5944 3.6.3: the backoff ceiling, at least "
                                      "retransmit_initial"),
    "mn.timing.renew_fraction": Limit(0.25, 0.95, "of the granted lifetime", "RFC 5944 3.6.3: re-register "
                                      "before the binding expires, not all the time"),
    "mn.timing.resync_limit": Limit(0, 100, "resyncs", "RFC 5944 5.7.1: code-133 resyncs in a row", integer=True),
    "mn.timing.deregister_attempts": Limit(1, 100, "requests", "RFC 5944 3.6.1.2: deregistrations sent",
                                           integer=True),
    # home agent (RFC 5944 3.8)
    "ha.max_lifetime": Limit(1, 65535, "seconds", _SECONDS_16, integer=True),
    "ha.mobile_nodes.max_lifetime": Limit(1, 65535, "seconds", _SECONDS_16, integer=True),
    "ha.replay_window": Limit(2, 600, "seconds", "RFC 5944 5.7.1: timestamp window, default 7; below 2 s a "
                              "code-133 resync cannot get in"),
    "ha.max_bindings": Limit(1, 64, "bindings", "RFC 5944 3.6.1.2: simultaneous bindings per home address",
                             integer=True),
    "ha.udp_keepalive": Limit(0, 65535, "seconds", "RFC 3519 3.2: keepalive interval in UDP Tunnel Replies",
                              integer=True),
    "ha.rate_limit": Limit(0, 1000000, "requests per second", _RATE),
    "ha.rate_burst": Limit(1, 1000000, "requests", "at once from one source", integer=True),
    # foreign agent (RFC 5944 2.3, 3.7)
    "fa.advertisement_interval": Limit(1, 1800, "seconds", "RFC 1256 MaxAdvertisementInterval at most 1800; "
                                       "RFC 5944 2.3.1: advertisements must not flood the link"),
    "fa.advertisement_lifetime": Limit(3, 9000, "seconds", "RFC 1256: at most 9000, default and here at least "
                                       "3 x advertisement_interval", integer=True),
    "fa.registration_lifetime": Limit(1, 65534, "seconds", "RFC 5944 2.1.1: 16 bits; 65535 would mean infinite",
                                      integer=True),
    "fa.pending_timeout": Limit(1, 600, "seconds", "RFC 5944 3.7.1: a pending request awaits its reply"),
    "fa.max_visitors": Limit(1, 1000000, "visitors", "RFC 5944 2.1.1: beyond it, B bit and code 66",
                             integer=True),
    "fa.udp_keepalive": Limit(0, 65535, "seconds", _KEEPALIVE, integer=True),
    "fa.rate_limit": Limit(0, 1000000, "requests per second", _RATE),
    "fa.rate_burst": Limit(1, 1000000, "requests", "at once from one source", integer=True),
    # the mobile router's adapter (io/paths.py: rules at rule_priority - 150 .. rule_priority)
    "router.lan_table": Limit(1, 0x7FFFFFFF, "", _TABLE, integer=True),
    "router.ike_table": Limit(1, 0x7FFFFFFF, "", _TABLE, integer=True),
    "router.uplink_table_base": Limit(1, 0x7FFFFFFF - 100, "", _TABLE + "; it and base + 50 per uplink",
                                      integer=True),
    "router.rule_priority": Limit(151, 32765, "", "policy rules use rule_priority - 150 .. rule_priority; 0 is "
                                  "the local rule, 32766 main", integer=True),
    # IKE to the VPN gateway (io/ike.py)
    "vpn.timeout": Limit(1, 300, "seconds", "one IKE attempt"),
    "vpn.dpd_delay": Limit(0, 3600, "seconds", "dead peer detection; 0: none", integer=True),
}
RESERVED_TABLES = (253, 254, 255)  # default, main, local


def check_limits(obj: object, section: str) -> None:
    """Check the fields of `obj` (the settings `section`: "mn", "mn.timing", "ha", ...) against LIMITS.
    A dict field (per uplink) is checked value by value; an optional field left None is not checked."""
    for path, limit in LIMITS.items():
        where, _, name = path.rpartition(".")
        if where != section:
            continue
        value = getattr(obj, name)
        if isinstance(value, dict):
            for key, v in value.items():
                limit.check("%s.%s" % (name, key), v)
        elif value is not None:
            limit.check(name, value)


def is_ifname(value: object) -> bool:
    """Linux dev_valid_name: 1..15 characters (IFNAMSIZ), not "." or "..", no "/", ":" or white space;
    printable ASCII here, as UCI and the shell can carry it."""
    return (isinstance(value, str) and 0 < len(value) < 16 and value not in (".", "..")
            and all(32 < ord(c) < 127 and c not in "/:" for c in value))


def check_ifname(option: str, value: object) -> None:
    """A Linux interface name: anything else fails only when the adapter opens it."""
    if not is_ifname(value):
        raise ConfigError("%s: %r is not an interface name (1..15 printable characters, no / : or space)"
                          % (option, value))


def check_address(option: str, value: str) -> None:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise ConfigError("%s: %r is not an IPv4 address" % (option, value)) from None
