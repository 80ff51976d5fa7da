"""The home agent's data plane (RFC 5944 3.8, 4.6; RFC 5177 3.2; RFC 3519 4.6): from the bindings of a
home address to the tunnels, routes and home link actions they call for, and the tunnels' names.

Several home addresses may share one tunnel (one FA care-of, one NAT mapping): a tunnel goes up with
its first user and down with its last. A route belongs to the home address that put it up.
"""
from __future__ import annotations

from collections.abc import Callable

from .actions import GratuitousArp, ProxyArp, RouteDown, RouteUp, Tunnel, TunnelDown, TunnelUp, log
from .bindings import Binding, BindingTable
from .config import HomeAgentConfig

IFNAMSIZ = 15  # Linux interface names: at most 15 characters


class HomePlane:
    """The tunnels and routes installed for the bindings of one home agent."""

    def __init__(self, config: HomeAgentConfig, bindings: BindingTable) -> None:
        self.config = config
        self.bindings = bindings
        # installed tunnel -> home addresses routed into it (a tuple: most tunnels have one, and a set costs
        # 216 octets, a fifth of what a binding may cost, issue 25)
        self._tunnel_users: dict[str, tuple[str, ...]] = {}
        self._route_owners: dict[str, str] = {}  # installed route (prefix) -> the home address it serves

    def change(self, hoa: str, mutate: Callable[[], object]) -> tuple[object, list]:
        """Apply `mutate` to the table; return its result and the data plane actions it calls for.

        Nothing when the tunnels of `hoa` stay the same (a plain refresh). Only `hoa`'s bindings are
        looked at: a tunnel goes up with its first user and down with its last (several home addresses
        may share one care-of or one NAT mapping), so the cost does not grow with the table.
        """
        before = self.bindings.lookup(hoa)
        result = mutate()
        after = self.bindings.lookup(hoa)
        if len(before) == len(after) and _same_places(before, after):
            return result, []  # a refresh: the same tunnels, routes and home link as before
        old = self._tunnels_of(hoa, before)
        new = self._tunnels_of(hoa, after)
        actions: list = []
        for name, t in new.items():
            users = self._tunnel_users.get(name, ())
            if not users:
                actions.append(TunnelUp(t))
            if hoa not in users:
                self._tunnel_users[name] = users + (hoa,)
        if self._placement(hoa, after) != self._placement(hoa, before):
            actions += self._routes(hoa, after)
        for name, t in old.items():
            users = self._tunnel_users.get(name, ())
            if name in new or hoa not in users:
                continue
            users = tuple(u for u in users if u != hoa)
            if users:
                self._tunnel_users[name] = users
            else:
                del self._tunnel_users[name]
                actions.append(TunnelDown(t))
        actions += self._home_link(hoa, bool(before), bool(after))
        return result, actions

    def _placement(self, hoa: str, bindings: list[Binding]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Where the home address and where a mobile router's networks are routed.

        RFC 5177 3.2: with an FA care-of, the networks go through the MR-HA tunnel to the home address
        (nested in the tunnel to the FA, which delivers only the home address on its link).
        """
        devices = self._devices(bindings)
        entry = self.config.mobile_nodes.get(hoa)
        if devices and entry is not None and entry.networks and not all(b.co_located for b in bindings):
            return devices, (mobile_router_tunnel_name(hoa),)
        return devices, devices

    def _routes(self, hoa: str, bindings: list[Binding]) -> list:
        """The home address and a mobile router's networks into their tunnels, or their routes removed.

        A route belongs to the home address whose bindings put it up: another never moves or removes it
        (RFC 5177: one router's LAN stays routed while that router is away). The configuration refuses a
        prefix of two routers; should one get through, the first keeps it and the conflict is logged.
        """
        entry = self.config.mobile_nodes.get(hoa)
        own, nets = self._placement(hoa, bindings)
        actions: list = []
        for prefix, devices in [(hoa + "/32", own)] + [(p, nets) for p in (entry.networks if entry else ())]:
            owner = self._route_owners.get(prefix, hoa)
            if owner != hoa:
                actions.append(log("error", "route-conflict", "route %s left to %s's binding, not %s by %s's"
                                   % (prefix, owner, "moved" if own else "removed", hoa), hoa=hoa, prefix=prefix))
            elif own:
                self._route_owners[prefix] = hoa
                actions.append(RouteUp(prefix, devices))
            else:
                self._route_owners.pop(prefix, None)
                actions.append(RouteDown(prefix))
        return actions

    def _home_link(self, hoa: str, was_away: bool, is_away: bool) -> list:
        """RFC 5944 4.6: when the node leaves, proxy ARP for its home address and a gratuitous ARP with
        our link-layer address; when it is back (deregistered, or its binding expired), proxy ARP off and
        nothing announced. The home address must map to the node's own link-layer address again, which
        the node broadcasts itself on return (4.6); we do not know it, and ours would pull its traffic
        to us."""
        if was_away == is_away:
            return []
        if is_away:
            return [ProxyArp(hoa, True), GratuitousArp(hoa, self.config.home_iface)]
        return [ProxyArp(hoa, False)]

    def _tunnels_of(self, hoa: str, bindings: list[Binding]) -> dict[str, Tunnel]:
        """The tunnels `hoa`'s bindings need, by name; bindings to one care-of share one."""
        out: dict[str, Tunnel] = {}
        for b in bindings:
            t = self._tunnel(b)
            out.setdefault(t.name, t)
        _, nets = self._placement(hoa, bindings)
        if nets and nets[0] not in out:  # the MR-HA tunnel (RFC 5177 3.2)
            out[nets[0]] = Tunnel(nets[0], self.config.address, hoa)
        return out

    def _devices(self, bindings: list[Binding]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self._tunnel(b).name for b in bindings))

    def _tunnel(self, b: Binding) -> Tunnel:
        if b.udp_tunnel:  # RFC 3519 4.6: to the source address and port the request came from
            return Tunnel(tunnel_name(b), self.config.address, b.source, b.source_port)
        return Tunnel(tunnel_name(b), self.config.address, b.care_of)


def _same_places(before: list[Binding], after: list[Binding]) -> bool:
    for i in range(len(before)):  # a loop, not two lists of _where: asked on every refresh
        if _where(before[i]) != _where(after[i]):
            return False
    return True


def _where(b: Binding) -> tuple:
    """All of a binding that its tunnel and its routes depend on (tunnel_name, _placement)."""
    return b.care_of, b.udp_tunnel, b.source, b.source_port, b.co_located


def tunnel_name(b: Binding) -> str:
    """A Linux interface name (at most 15 characters) for the tunnel a binding uses.

    IP-in-IP: "mip-" and the care-of address in hex; RFC 3519 UDP: "mu-", the source address and
    port in hex (several MNs may sit behind one NAT address).
    """
    if b.udp_tunnel:
        name = "mu-%s%04x" % (_hex(b.source), b.source_port)
    else:
        name = "mip-" + _hex(b.care_of)
    assert len(name) <= IFNAMSIZ
    return name


def mobile_router_tunnel_name(hoa: str) -> str:
    """The MR-HA tunnel of a mobile router registered through an FA: "mr-" and its home address in hex."""
    return "mr-" + _hex(hoa)


def _hex(address: str) -> str:
    """A dotted quad (as the codec decodes it) in 8 hex digits; ValueError for anything else, as
    ipaddress would give (its parsing cost a refresh 143k instructions: a name is made 6 times)."""
    parts = address.split(".")
    octets = bytes(map(int, parts))  # ValueError for a part that is no number, above 255 or below 0
    if len(octets) != 4 or "%d.%d.%d.%d" % tuple(octets) != address:
        raise ValueError("not an IPv4 address: %r" % address)
    return octets.hex()

