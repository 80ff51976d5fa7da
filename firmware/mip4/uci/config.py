"""/etc/config/mip4 -> the daemon's Settings, through the same builders as the JSON file (config/settings.py).

Each option is checked on its own first (schema.py), then the role's dataclasses check how options
fit together; either way the error names the section, the option, the bad value and what is allowed.
"""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from ..config import settings as json_settings
from ..core.config import ConfigError, SecurityAssociation
from . import schema
from .syntax import Section, parse


@dataclass(frozen=True)
class UciConfig:
    settings: json_settings.Settings
    enabled: bool
    log_level: str
    sections: list[Section]


def load(path: str) -> UciConfig:
    return json_settings.read_file(path, from_text)


def from_text(text: str) -> UciConfig:
    sections = parse(text)
    raw, places = to_raw(sections)
    try:
        settings = json_settings.parse(raw)
    except ConfigError as e:
        raise _renamed(e, places) from None
    g = next(s for s in sections if s.type == "mip4")
    enabled = schema.boolean(g.options["enabled"]) if "enabled" in g.options else True  # type: ignore[arg-type]
    return UciConfig(settings, enabled, str(g.options.get("log_level", "info")), sections)


def to_raw(sections: list[Section]) -> tuple[dict, dict[str, str]]:
    """The JSON-shaped structure config/settings.py parses, and where each of its places came from."""
    raw: dict[str, Any] = {}
    places: dict[str, str] = {}  # settings path -> "section mip4.node, option t_monitor"
    seen: dict[str, Section] = {}
    for s in sections:
        if s.type not in schema.SECTIONS:
            raise ConfigError("section %s: unknown type %r (allowed: %s)" % (s.label(), s.type,
                                                                            ", ".join(schema.SECTIONS)))
        if s.type in schema.SINGLE and s.type in seen:
            raise ConfigError("section %s: a second %r section (line %d; the first is %s)"
                              % (s.label(), s.type, s.line, seen[s.type].label()))
        seen.setdefault(s.type, s)
    if "mip4" not in seen:
        raise ConfigError("no `config mip4` section (it names the role: mn, ha or fa)")
    role = _values(seen["mip4"])["role"]
    raw["role"] = role
    for s in sections:
        if s.type != "mip4" and s.type not in schema.ROLE_SECTIONS[role]:
            raise ConfigError("section %s: a %r section does not belong to role %r (allowed: %s)"
                              % (s.label(), s.type, role, ", ".join(("mip4",) + schema.ROLE_SECTIONS[role])))
    values = {id(s): _values(s) for s in sections}
    main_type = schema.ROLE_SECTIONS[role][0]
    if main_type not in seen:
        raise ConfigError("role %r needs a `config %s` section" % (role, main_type))
    raw[role] = {}
    for s in (seen["mip4"], seen[main_type]):
        for name, value in values[id(s)].items():
            to = schema.SECTIONS[s.type][name].to
            if to:
                _put(raw, to, value)
                places[to] = "section %s, option %s" % (s.label(), name)
        for name, opt in schema.SECTIONS[s.type].items():  # an error about one left out names it too
            if opt.to and opt.to not in places:
                places[opt.to] = "section %s, option %s (not set)" % (s.label(), name)
    items = [s for s in sections if s.type == schema.ROLE_SECTIONS[role][1]]
    if role == "mn":
        _uplinks(raw, places, items, values)
    elif role == "ha":
        _bindings(raw, places, items, values)
    else:
        _access_links(raw, places, items, values)
    return raw, places


def _values(s: Section) -> dict[str, Any]:
    allowed = schema.SECTIONS[s.type]
    out: dict[str, Any] = {}
    for name, value in s.options.items():
        opt = allowed.get(name)
        if opt is None:
            raise ConfigError("section %s, option %s (line %d): unknown option (allowed: %s)"
                              % (s.label(), name, s.lines[name], ", ".join(sorted(allowed))))
        if isinstance(value, list) != opt.is_list:
            raise ConfigError("section %s, option %s (line %d): must be written as `%s %s`"
                              % (s.label(), name, s.lines[name], "list" if opt.is_list else "option", name))
        try:
            out[name] = [opt.conv(v) for v in value] if isinstance(value, list) else opt.conv(value)
        except schema.BadValue as e:
            bad = next((v for v in value if _refuses(opt, v)), value) if isinstance(value, list) else value
            raise ConfigError("section %s, option %s (line %d): %r is not %s"
                              % (s.label(), name, s.lines[name], bad, e)) from None
    for name, opt in allowed.items():
        if opt.required and name not in out:
            raise ConfigError("section %s: option %s is required (%s)" % (s.label(), name, opt.help or name))
    return out


def _refuses(opt: schema.Option, v: str) -> bool:
    try:
        opt.conv(v)
    except schema.BadValue:
        return True
    return False


def _uplinks(raw: dict, places: dict, items: list[Section], values: dict) -> None:
    uplinks: dict[str, int] = {}
    hold_downs: dict[str, float] = {}
    netifd: dict[str, str] = {}
    for s in items:
        v = values[id(s)]
        if s.anonymous and "device" not in v:
            raise ConfigError("section %s: an unnamed uplink needs option device" % s.label())
        device = v.get("device", s.name)
        if device in uplinks:
            raise ConfigError("section %s, option device: %r is already an uplink" % (s.label(), device))
        uplinks[device] = v["priority"]
        if "hold_down" in v:
            hold_downs[device] = v["hold_down"]
        if not s.anonymous:
            netifd[s.name] = device
        places["mn.uplinks"] = "section %s, option priority" % s.label()
    if not uplinks:
        raise ConfigError("role 'mn' needs at least one `config uplink` section (e.g. config uplink 'wan')")
    raw["mn"]["uplinks"] = uplinks
    raw["mn"]["hold_downs"] = hold_downs
    raw.setdefault("router", {})["netifd"] = netifd


def _bindings(raw: dict, places: dict, items: list[Section], values: dict) -> None:
    nodes: dict[str, dict] = {}
    for s in items:
        v = values[id(s)]
        hoa = v["home_address"]
        if hoa in nodes:
            raise ConfigError("section %s, option home_address: %r has a binding section already" % (s.label(), hoa))
        entry = {"spi": v["spi"], "key": v["key"], "networks": v.get("network", [])}
        if "max_lifetime" in v:
            entry["max_lifetime"] = v["max_lifetime"]
        nodes[hoa] = entry
        for name, key in (("spi", "spi"), ("key", "key"), ("network", "networks")):
            places["ha.mobile_nodes.%s.%s" % (hoa, key)] = "section %s, option %s" % (s.label(), name)
    raw["ha"]["mobile_nodes"] = nodes


def _access_links(raw: dict, places: dict, items: list[Section], values: dict) -> None:
    links = {}
    for s in items:
        v = values[id(s)]
        links[v["device"]] = v["care_of"]
        places["fa.links.%s" % v["device"]] = "section %s, option care_of" % s.label()
    raw["fa"]["links"] = links


def _put(raw: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value


_PATH = re.compile(r"^([A-Za-z0-9_.\-]+): (.*)$", re.S)


def _renamed(e: ConfigError, places: dict[str, str]) -> ConfigError:
    """A settings error ("mn.t_monitor_grace: 90 must be ...") named by UCI section and option."""
    m = _PATH.match(str(e))
    if m:
        where, rest = m.groups()
        for length in range(where.count(".") + 1, 0, -1):
            key = ".".join(where.split(".")[:length])
            if key in places:
                return ConfigError("%s: %s" % (places[key], rest))
    return ConfigError(str(e))


def summary(c: UciConfig) -> str:
    """One paragraph for `mip4 config check`."""
    s = c.settings
    m: Any = s.machine
    if s.role == "mn":
        ups = ", ".join("%s(%d, hold-down %g s)" % (d, p, m.hold_down_of(d))
                        for d, p in sorted(m.uplinks.items(), key=lambda kv: kv[1]))
        return ("role mn: home address %s, i-HA %s (SPI %d), x-HA %s (SPI %d), VPN gateway %s, T_MONITOR %g s, "
                "uplinks %s, networks %s" % (m.i_hoa, m.i_ha, m.i_sa.spi, m.x_ha, m.x_sa.spi, m.vpn_gateway,
                                             m.t_monitor, ups, ", ".join(s.router.networks) or "none"))
    if s.role == "ha":
        return "role ha: %s %s, %d mobile node(s)" % (m.role, m.address, len(m.mobile_nodes))
    return "role fa: %s, access links %s" % (m.address, ", ".join(sorted(m.links)))


def warnings(c: UciConfig) -> list[str]:
    """What `mip4 config check` flags in a valid config: a set-up RFC 5265 forbids that the router
    still copes with (RFC 5265 3.5, R-3.5-b: the x-HA and i-HA addresses differ, even on one host;
    with equal ones the router takes every network as external, R-3.5-c)."""
    s = c.settings
    m: Any = s.machine
    if s.role == "mn" and m.i_ha == m.x_ha:
        return ["i-HA and x-HA are both %s: RFC 5265 3.5 says their addresses MUST differ, even when one host "
                "runs both; with equal ones this router takes every network as external and is never inside"
                % m.i_ha]
    return []


def redacted(c: UciConfig) -> str:
    """The effective settings (defaults filled in) as JSON; keys shown only by their length."""
    return json.dumps({"enabled": c.enabled, "log_level": c.log_level, **_plain(c.settings)}, indent=2)


def _plain(o: Any) -> Any:
    if isinstance(o, SecurityAssociation):
        return {"spi": o.spi, "key": "<%d octets>" % len(o.key)}
    if isinstance(o, json_settings.VpnOptions):  # the PSK, like the keys, only by its length
        fields = {f.name: _plain(getattr(o, f.name)) for f in dataclasses.fields(o)}
        return dict(fields, psk="<%d characters>" % len(o.psk))
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return {f.name: _plain(getattr(o, f.name)) for f in dataclasses.fields(o)}
    if isinstance(o, dict):
        return {str(k): _plain(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_plain(v) for v in o]
    if isinstance(o, bytes):
        return o.decode("ascii", "replace")
    return o


def is_json(path: str) -> bool:
    """JSON by extension or by content (a leading `{`); anything else is read as UCI."""
    if path.endswith(".json"):
        return True
    try:
        with open(path, "rb") as f:
            return f.read(4096).lstrip().startswith(b"{")
    except OSError:
        return False


def load_any(path: str) -> UciConfig:
    """The daemon's config, JSON (config/settings.py) or UCI; both end as the same Settings."""
    if is_json(path):
        return UciConfig(json_settings.load(path), True, "info", [])
    return load(path)
