"""The daemon's config file (JSON): which role, its protocol options, and the adapter's own options.

The UCI reader of the router package fills in the same structures. Every error names the option,
the bad value and what is allowed (ConfigError), and nothing starts on a bad file.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import json
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..core.config import (
    RESERVED_TABLES,
    ConfigError,
    ForeignAgentConfig,
    HomeAgentConfig,
    MobileNodeConfig,
    MobileNodeEntry,
    SecurityAssociation,
    Timing,
    check_ifname,
    check_limits,
)

ROLES = ("mn", "ha", "fa")
FA_TABLE_OFFSET = 50  # io/paths.py: an uplink's FA table is its own table + 50

T = TypeVar("T")


@dataclass(frozen=True)
class RouterOptions:
    """What the MN adapter needs beyond the protocol: the mobile networks behind it and its tables."""

    networks: tuple[str, ...] = ()  # LAN prefixes routed through the mobile IP path (mobile router)
    dhcp: bool = True  # run udhcpc on each uplink for a co-located care-of address
    lan_table: int = 4  # policy routing table for traffic from `networks` (path or prohibit)
    ike_table: int = 5  # outside: IKE and ESP from the x-HoA, i-MIP from the VPN-TIA (x-MIP or prohibit)
    uplink_table_base: int = 100  # uplink i gets table base + i
    rule_priority: int = 1000
    netifd: dict[str, str] = field(default_factory=dict)  # OpenWrt: netifd interface (wan) -> device (eth1)

    def __post_init__(self) -> None:
        check_limits(self, "router")
        for name, device in self.netifd.items():
            check_ifname("netifd.%s" % name, device)

    def tables(self, uplinks: int) -> dict[str, int]:
        """Every routing table the adapter fills (io/paths.py): LAN, IKE, and per uplink its own and its
        FA table (base + i, base + 50 + i)."""
        out = {"lan_table": self.lan_table, "ike_table": self.ike_table}
        for i in range(uplinks):
            out["uplink_table_base + %d" % i] = self.uplink_table_base + i
            out["uplink_table_base + %d" % (FA_TABLE_OFFSET + i)] = self.uplink_table_base + FA_TABLE_OFFSET + i
        return out

    def check_tables(self, uplinks: int) -> None:
        """No table of ours may be the kernel's (main, local, default) or another of ours: either would
        replace routes the node lives on."""
        if uplinks > FA_TABLE_OFFSET:
            raise ConfigError("uplinks: %d; at most %d (each takes two routing tables %d apart)"
                              % (uplinks, FA_TABLE_OFFSET, FA_TABLE_OFFSET))
        seen: dict[int, str] = {}
        for name, table in self.tables(uplinks).items():
            if table in RESERVED_TABLES:
                raise ConfigError("%s: table %d is the kernel's (253 default, 254 main, 255 local)" % (name, table))
            if table in seen:
                raise ConfigError("%s: table %d is also %s" % (name, table, seen[table]))
            seen[table] = name


@dataclass(frozen=True)
class VpnOptions:
    """How the MN drives its own charon over VICI for the IKE SA to the VPN gateway (RFC 5265 2.3)."""

    vici: str = "unix:///var/run/charon.vici"  # charon's VICI socket
    local_id: str = ""  # IKE identity of the MR
    remote_id: str = ""  # IKE identity of the VPN gateway
    psk: str = ""  # pre-shared key (IKEv2 PSK)
    intranet: tuple[str, ...] = ("10.0.0.0/8",)  # remote traffic selectors: what the VPN reaches
    proposals: str = "aes128-sha256-modp2048"
    esp_proposals: str = "aes128gcm16"
    timeout: float = 20.0  # seconds one IKE attempt may take
    dpd_delay: int = 10  # seconds (dead peer detection through x-MIP)

    def __post_init__(self) -> None:
        if not self.vici.startswith("unix:///"):  # an absolute path: the daemon's working directory is not known
            raise ConfigError("vici: %r is not a unix:// socket URI with an absolute path" % (self.vici,))
        for name in ("local_id", "remote_id", "psk"):
            if not getattr(self, name):
                raise ConfigError("%s: must be set for the IKE SA to the VPN gateway" % name)
        if len(self.psk) < 16:  # RFC 5265 6.2: whoever has it can join the VPN
            raise ConfigError("psk: %d characters; at least 16 are required" % len(self.psk))
        if not self.intranet:
            raise ConfigError("intranet: at least one prefix (the VPN's remote traffic selectors)")
        for prefix in self.intranet:
            _prefix("intranet", prefix)
        check_limits(self, "vpn")

    @property
    def vici_path(self) -> str:
        return self.vici[len("unix://"):]


@dataclass(frozen=True)
class Settings:
    role: str
    machine: MobileNodeConfig | HomeAgentConfig | ForeignAgentConfig
    router: RouterOptions = field(default_factory=RouterOptions)
    vpn: VpnOptions | None = None  # MN only; without it the MN never goes to cvc/fvc (no IKE)
    status_file: str | None = None
    seed: int | None = None  # fixed random seed (lab reproducibility); None: the OS's randomness
    control_socket: str | None = None  # unix socket (JSON lines): status, reregister, log (io/control.py)


def read_file(path: str, parse_text: Callable[[str], T], not_text: str = "not a text file") -> T:
    """`parse_text` of the file's text; every error a ConfigError that names the file (JSON and UCI)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError("%s: cannot read: %s" % (path, e.strerror)) from None
    except UnicodeDecodeError:
        raise ConfigError("%s: %s" % (path, not_text)) from None
    try:
        return parse_text(text)
    except ConfigError as e:
        raise ConfigError("%s: %s" % (path, e)) from None


def load(path: str) -> Settings:
    return read_file(path, parse_json, "not a text file (not UTF-8)")


def parse_json(text: str) -> Settings:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError("not JSON: %s (line %d)" % (e.msg, e.lineno)) from None
    return parse(raw)


def parse(raw: Any) -> Settings:
    if not isinstance(raw, dict):
        raise ConfigError("the file must hold one JSON object")
    _known("", raw, ("role", "status_file", "seed", "mn", "ha", "fa", "router", "vpn", "control_socket"))
    role = raw.get("role")
    if role not in ROLES:
        raise ConfigError("role: %r is not one of %s" % (role, ", ".join(ROLES)))
    section = raw.get(role)
    if not isinstance(section, dict):
        raise ConfigError("%s: the role's section is missing or not an object" % role)
    builders = {"mn": _mobile_node, "ha": _home_agent, "fa": _foreign_agent}
    machine = builders[role](section)
    router = _dataclass("router", RouterOptions, raw.get("router", {}))
    for prefix in router.networks:
        _prefix("router.networks", prefix)
    if isinstance(machine, MobileNodeConfig):
        try:
            router.check_tables(len(machine.uplinks))
        except ConfigError as e:
            raise ConfigError("router.%s" % e) from None
    vpn = None
    if "vpn" in raw:
        if role != "mn":
            raise ConfigError("vpn: only a mobile node (role mn) runs IKE")
        vpn = _dataclass("vpn", VpnOptions, raw["vpn"])
    status_file = raw.get("status_file")
    if status_file is not None and not isinstance(status_file, str):
        raise ConfigError("status_file: %r is not a path" % (status_file,))
    seed = raw.get("seed")
    if seed is not None and not isinstance(seed, int):
        raise ConfigError("seed: %r is not an integer" % (seed,))
    control = raw.get("control_socket")
    if control is not None and not isinstance(control, str):
        raise ConfigError("control_socket: %r is not a path" % (control,))
    if isinstance(machine, HomeAgentConfig) and machine.start_standby and control is None \
            and machine.vrrp_fifo is None:
        raise ConfigError("ha.start_standby: a standby waits for `mip4 ha active` (keepalived), which reaches "
                          "mip4d by its control_socket: set one (or vrrp_fifo, keepalived's notify_fifo)")
    return Settings(role, machine, router, vpn, status_file, seed, control)


def _mobile_node(s: dict) -> MobileNodeConfig:
    s = dict(s)
    for name in ("i_sa", "x_sa"):
        s[name] = _sa("mn." + name, s.get(name))
    if "timing" in s:
        s["timing"] = _dataclass("mn.timing", Timing, s["timing"])
    if isinstance(s.get("nai"), str):
        s["nai"] = s["nai"].encode()
    return _dataclass("mn", MobileNodeConfig, s)


def _home_agent(s: dict) -> HomeAgentConfig:
    s = dict(s)
    nodes = {}
    for hoa, entry in _object("ha.mobile_nodes", s.get("mobile_nodes", {})).items():
        where = "ha.mobile_nodes.%s" % hoa
        entry = dict(_object(where, entry))
        _known(where, entry, ("spi", "key", "networks", "max_lifetime"))
        nets = _typed(where + ".networks", entry.pop("networks", ()), tuple[str, ...])
        for n in nets:
            _prefix(where + ".networks", n)
        sa = _sa(where, {k: entry[k] for k in ("spi", "key") if k in entry})
        max_lifetime = _typed(where + ".max_lifetime", entry.get("max_lifetime"), int | None)
        try:
            nodes[hoa] = MobileNodeEntry(sa, nets, max_lifetime)
        except ConfigError as e:
            raise ConfigError("%s.%s" % (where, e)) from None
    s["mobile_nodes"] = nodes
    s["fa_ha"] = {a: _sa("ha.fa_ha.%s" % a, v) for a, v in _object("ha.fa_ha", s.get("fa_ha", {})).items()}
    return _dataclass("ha", HomeAgentConfig, s)


def _foreign_agent(s: dict) -> ForeignAgentConfig:
    s = dict(s)
    s["fa_ha"] = {a: _sa("fa.fa_ha.%s" % a, v) for a, v in _object("fa.fa_ha", s.get("fa_ha", {})).items()}
    return _dataclass("fa", ForeignAgentConfig, s)


def _sa(where: str, value: Any) -> SecurityAssociation:
    """{"spi": 1000, "key": "hex octets"}."""
    if value is None:
        raise ConfigError("%s: required, {\"spi\": N, \"key\": \"hex octets\"}" % where)
    v = _object(where, value)
    _known(where, v, ("spi", "key"))
    if not isinstance(v.get("spi"), int):
        raise ConfigError("%s.spi: %r is not an integer (256..4294967295)" % (where, v.get("spi")))
    try:
        key = bytes.fromhex(v.get("key", ""))
    except (TypeError, ValueError):
        raise ConfigError("%s.key: %r is not hex octets" % (where, v.get("key"))) from None
    try:
        return SecurityAssociation(v["spi"], key)
    except ConfigError as e:
        raise ConfigError("%s.%s" % (where, e)) from None


def _dataclass(where: str, cls: type, values: Any) -> Any:
    """`cls` from a JSON object: unknown and missing options refused, each value of its option's type
    (JSON arrays as tuples), then the class's own checks; every error names the option."""
    values = _object(where, values)
    fields = dataclasses.fields(cls)
    _known(where, values, [f.name for f in fields])
    missing = [f.name for f in fields if f.name not in values and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError("%s: %s required" % (where, " and ".join(missing) + (" is" if len(missing) == 1 else " are")))
    hints = typing.get_type_hints(cls)
    values = {k: _typed("%s.%s" % (where, k), v, hints[k]) for k, v in values.items()}
    try:
        return cls(**values)
    except ConfigError as e:
        raise ConfigError("%s.%s" % (where, e)) from None


_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", bytes: "a string"}


def _typed(where: str, value: Any, hint: Any) -> Any:
    """`value` as an option of type `hint` (the dataclass annotation), or ConfigError saying what it must be."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):  # X | None
        if value is None and type(None) in args:
            return None
        return _typed(where, value, next(a for a in args if a is not type(None)))
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError("%s: %r is not a list" % (where, value))
        return tuple(_typed("%s[%d]" % (where, i), v, args[0]) for i, v in enumerate(value))
    if origin is dict:
        return {k: _typed("%s.%s" % (where, k), v, args[1]) for k, v in _object(where, value).items()}
    ok = isinstance(value, hint) and (hint is bool or not isinstance(value, bool))
    if hint is float:  # a JSON integer is a number too; NaN and infinity are not
        ok = not isinstance(value, bool) and (isinstance(value, int) or isinstance(value, float)
                                              and math.isfinite(value))  # a huge integer is a number too
    if not ok:
        raise ConfigError("%s: %r is not %s" % (where, value, _KINDS.get(hint, "a " + getattr(hint, "__name__", "?"))))
    return value


def _object(where: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise ConfigError("%s: %r is not an object" % (where or "top level", value))
    return value


def _known(where: str, values: dict, allowed: Any) -> None:
    for key in values:
        if key not in allowed:
            raise ConfigError("%s: unknown option %r (allowed: %s)" % (where or "top level", key,
                                                                        ", ".join(sorted(allowed))))


def _prefix(where: str, value: Any) -> None:
    try:
        ipaddress.IPv4Network(value)
    except (TypeError, ValueError):
        raise ConfigError("%s: %r is not an IPv4 prefix" % (where, value)) from None
