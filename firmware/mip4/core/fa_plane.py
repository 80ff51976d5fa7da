"""The foreign agent's data plane, kept in line with its visitor list (RFC 5944 4.2.2; RFC 3024 5.2;
RFC 3519 4.5), Sans-IO.

`sync` compares what the visitor list wants with what is installed and returns the actions for the
difference, in the order the adapter must apply them: tunnels, then source rules, then routes going
up; source rules, routes, then tunnels coming down. So a visitor's packets never meet the FA's own
(default) routes: its reverse tunnel and the rule steering its packets into it are in before its route
and before the reply that lets it send through us (R-2.4-c).
"""
from __future__ import annotations

import ipaddress

from ..wire.registration import PORT
from .actions import RouteDown, RouteUp, SourceRoute, Tunnel, TunnelDown, TunnelUp
from .config import ForeignAgentConfig
from .visitors import Visitor, VisitorList

_TunnelKey = tuple[str, str]  # (care-of, home agent); ("", home agent) for the UDP tunnel to it


class VisitorPlane:
    """Routes, tunnels and source rules installed for the visitors."""

    def __init__(self, config: ForeignAgentConfig) -> None:
        self.config = config
        self.routes: dict[str, tuple[str, ...]] = {}  # home address -> access ifaces, as installed
        self.tunnels: dict[_TunnelKey, Tunnel] = {}  # installed tunnels
        self.sources: dict[str, str] = {}  # home address -> reverse tunnel its packets enter, installed

    def sync(self, visitors: VisitorList) -> list:
        """The actions that make the installed data plane what `visitors` wants.

        A home address with entries for two home agents (R-3.5-a) has one route and one source rule:
        they follow its current registration (VisitorList.current), never the entry that happens to
        come last. Every entry keeps its tunnel: its home agent has a binding and still tunnels to us."""
        current = visitors.current()
        routes: dict[str, list[str]] = {}
        tunnels: dict[_TunnelKey, Tunnel] = {}
        sources: dict[str, str] = {}
        # newest registration first (a tie: the one accepted later), so each home address's current leads
        for v in sorted(reversed(list(visitors)), key=lambda v: -v.registered_at):
            if v.co_located:  # the home agent tunnels to the MN itself (RFC 5944 3.1)
                continue
            devices = routes.setdefault(v.home_address, [])  # deliver on-link (RFC 5944 4.2.2)
            if v.iface not in devices:  # the adapter routes by the first link: where the MN registered last
                devices.append(v.iface)
            key, t = self._tunnel_of(v)
            if t is not None:
                tunnels[key] = t
            # RFC 3024, R-2.4-c: the MN's packets go back to the home agent of its current registration
            if v.reverse_tunnel and t is not None and v is current[v.home_address]:
                sources[v.home_address] = t.name
        wanted = {hoa: tuple(ifaces) for hoa, ifaces in routes.items()}
        ups: list = [TunnelUp(t) for k, t in tunnels.items() if k not in self.tunnels]
        ups += [SourceRoute(hoa, dev) for hoa, dev in sources.items() if self.sources.get(hoa) != dev]
        ups += [RouteUp(hoa + "/32", devs) for hoa, devs in wanted.items() if self.routes.get(hoa) != devs]
        downs: list = [SourceRoute(hoa, None) for hoa in self.sources if hoa not in sources]
        downs += [RouteDown(hoa + "/32") for hoa in self.routes if hoa not in wanted]
        downs += [TunnelDown(t) for k, t in self.tunnels.items() if k not in tunnels]
        self.routes, self.tunnels, self.sources = wanted, tunnels, sources
        return ups + downs

    def udp_tunnel_to(self, home_agent: str) -> bool:
        """Whether the RFC 3519 UDP tunnel to `home_agent` is installed."""
        return ("", home_agent) in self.tunnels

    def status(self) -> dict:
        return {
            "routes": {hoa + "/32": list(devs) for hoa, devs in self.routes.items()},
            "tunnels": [{"name": t.name, "local": t.local, "remote": t.remote, "udp_port": t.udp_port}
                        for t in self.tunnels.values()],
            "reverse_tunnelled": dict(self.sources),
        }

    def _tunnel_of(self, v: Visitor) -> tuple[_TunnelKey, Tunnel | None]:
        """The tunnel a visitor's traffic takes: RFC 3519 4.5, one UDP tunnel per home agent, both ways,
        from our address; else RFC 3024, IP-in-IP from the care-of; else none."""
        ha = int(ipaddress.IPv4Address(v.home_agent))
        if v.udp_tunnel:
            return ("", v.home_agent), Tunnel("ru-%08x" % ha, self.config.address, v.home_agent, PORT,
                                              visitors_only=True)
        if not v.reverse_tunnel:
            return ("", ""), None
        # a name of at most 15 characters (Linux IFNAMSIZ): link index and home agent in hex
        index = list(self.config.links.values()).index(v.care_of)
        return (v.care_of, v.home_agent), Tunnel("rt%x-%08x" % (index, ha), v.care_of, v.home_agent,
                                                 visitors_only=True)


def describe(action: object) -> str:
    """A data plane action in words, for the log."""
    if isinstance(action, TunnelUp | TunnelDown):
        t = action.tunnel
        verb = "up" if isinstance(action, TunnelUp) else "down"
        if t.udp_port:
            return "UDP tunnel %s %s: %s -> %s port %d (RFC 3519)" % (t.name, verb, t.local, t.remote, t.udp_port)
        return "reverse tunnel %s %s: %s -> %s (RFC 3024)" % (t.name, verb, t.local, t.remote)
    if isinstance(action, RouteUp):
        return "route %s on %s" % (action.prefix, ", ".join(action.devices))
    if isinstance(action, RouteDown):
        return "route %s removed" % action.prefix
    if isinstance(action, SourceRoute):
        if action.device is None:
            return "packets from %s no longer reverse tunnelled" % action.source
        return "packets from %s into reverse tunnel %s" % (action.source, action.device)
    return repr(action)
