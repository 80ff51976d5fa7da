"""The simulator: virtual clock, nodes and their timers, machine actions, and the packet path between nodes."""
from __future__ import annotations

import dataclasses
import ipaddress
import random
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from mip4.core.actions import VPN, Datagram, Gate, IkeDown, IkeUp, SendIcmp, SendUdp, SetPath

from .attacker import Attacker, Captured
from .events import EventQueue, SimulationError
from .nat import Nat
from .network import INTRANET, Endpoint, Firewall, Link, Node, Topology, is_broadcast
from .trace import ActionEntry, NoteEntry, Packet, PacketEntry, Trace, name_of
from .vpn import Vpn

START = 1_800_000_000.0
SAME_INSTANT_LIMIT = 100_000  # events at one instant before we call it a livelock


@dataclasses.dataclass(frozen=True)
class Origin:
    """Who put a packet on the network; injected packets pass the attacker's own drop rules."""

    sender: str
    injected: bool = False


class Simulator:
    """A deterministic network of Sans-IO machines; all randomness comes from `rng` (seeded)."""

    def __init__(self, seed: int = 0, start: float = START) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = start
        self.nodes: dict[str, Node] = {}
        self.topology = Topology()
        self.firewall = Firewall()  # firewall(src_zone, dst_zone) -> bool
        self.vpns: dict[str, Vpn] = {}  # by MN node name
        self.attacker = Attacker(self)
        self.trace = Trace()
        self.stats = {"events": 0, "timers": 0, "stale_timers": 0}
        self._events = EventQueue()
        self._same_instant = 0

    @property
    def links(self) -> dict[str, Link]:
        return self.topology.links

    # -- clock -------------------------------------------------------------------------------------

    def at(self, time: float, fn: Callable[[], object]) -> None:
        """Run fn() at virtual time `time` (not in the past)."""
        if time < self.now:
            raise ValueError("at(%r): the clock is already at %r" % (time, self.now))
        self._events.push(time, fn)

    def after(self, delay: float, fn: Callable[[], object]) -> None:
        self.at(self.now + delay, fn)

    def step(self) -> bool:
        """Run the next event; False if there is none."""
        if not self._events:
            return False
        time, fn = self._events.pop()
        if time == self.now:
            self._same_instant += 1
            if self._same_instant > SAME_INSTANT_LIMIT:
                raise SimulationError("over %d events at t=%r: a timer or IKE loop that never advances"
                                      % (SAME_INSTANT_LIMIT, time))
        else:
            self._same_instant, self.now = 0, time
        self.stats["events"] += 1
        fn()
        return True

    def run_until(self, time: float) -> None:
        if time < self.now:
            raise ValueError("run_until(%r): the clock is already at %r" % (time, self.now))
        while (t := self._events.peek()) is not None and t <= time:
            self.step()
        self.now = time

    def run_for(self, seconds: float) -> None:
        self.run_until(self.now + seconds)

    def run_until_idle(self, limit: float = 3600.0) -> bool:
        """Run until no event is left (True) or `limit` virtual seconds have passed (False)."""
        end = self.now + limit
        while (t := self._events.peek()) is not None and t <= end:
            self.step()
        if self._events:
            self.now = end
            return False
        return True

    # -- nodes and timers --------------------------------------------------------------------------

    def add_node(self, name: str, machine: Any) -> Node:
        """Add a machine; its start(now) is called if it has one."""
        if name in self.nodes:
            raise ValueError("node %r exists" % name)
        node = self.nodes[name] = Node(name, machine)
        if hasattr(machine, "start"):
            self._invoke(node, "start")
        else:
            self.rearm(node)
        return node

    def replace_machine(self, node: Node | str, machine: Any) -> None:
        """Swap the machine of a node (a reboot); interfaces stay, the old timer is void."""
        node = self.node(node)
        node.machine, node.timer_at = machine, None
        node.timer_gen += 1
        if hasattr(machine, "start"):
            self._invoke(node, "start")
        else:
            self.rearm(node)

    def node(self, node: Node | str) -> Node:
        return node if isinstance(node, Node) else self.nodes[node]

    def call(self, node: Node | str, method: str, *args: Any, **kwargs: Any) -> list:
        """Call machine.method(*args, now, **kwargs) now, process the actions it returns and return them."""
        return self._invoke(self.node(node), method, *args, **kwargs)

    def rearm(self, node: Node | str) -> None:
        """Re-read get_timer() (done after every call into the machine); one live timer per node."""
        node = self.node(node)
        t = node.machine.get_timer()
        if t == node.timer_at:
            return
        node.timer_gen += 1
        node.timer_at = t
        if t is not None:
            self._events.push(max(t, self.now), partial(self._fire, node, node.timer_gen))

    def _fire(self, node: Node, gen: int) -> None:
        if gen != node.timer_gen:
            self.stats["stale_timers"] += 1
            return
        self.stats["timers"] += 1
        node.timer_at = None
        self._invoke(node, "handle_timer")

    def _invoke(self, node: Node, method: str, *args: Any, **kwargs: Any) -> list:
        actions = list(getattr(node.machine, method)(*args, self.now, **kwargs) or ())
        self._process(node, actions)
        self.rearm(node)
        return actions

    def _process(self, node: Node, actions: Iterable) -> None:
        vpn = self.vpns.get(node.name)
        for a in actions:
            self.trace.append(ActionEntry(self.now, node.name, a))
            if isinstance(a, SendUdp):
                self._send(node, a.datagram)
            elif isinstance(a, SendIcmp):
                self._send(node, a.message)
            elif isinstance(a, Gate):
                node.gate[a.iface] = a.path
            elif isinstance(a, SetPath):
                node.paths[a.iface] = a
            elif isinstance(a, IkeUp) and vpn:
                vpn.ike_up(a)
            elif isinstance(a, IkeDown) and vpn:
                vpn.ike_down(a)

    # -- topology ----------------------------------------------------------------------------------

    def add_link(self, name: str, zone: str, loss: float = 0.0, delay: float = 0.001, jitter: float = 0.0,
                 duplicate: float = 0.0, nat: str | None = None) -> Link:
        """A link in firewall `zone`; with `nat`, traffic leaving it is source-NATed to that address."""
        if name in self.links or name == VPN:
            raise ValueError("link name %r is taken" % name)
        link = self.links[name] = Link(name, zone, nat=Nat(nat) if nat else None)
        self.impair(link, loss=loss, delay=delay, jitter=jitter, duplicate=duplicate)
        return link

    def link(self, link: Link | str) -> Link:
        return link if isinstance(link, Link) else self.links[link]

    def impair(self, link: Link | str, *, loss: float | None = None, delay: float | None = None,
               jitter: float | None = None, duplicate: float | None = None) -> None:
        """Change a link's impairments (None keeps a value): loss and duplicate probabilities, delay + U(0, jitter)."""
        link = self.link(link)
        for option, value, top in (("loss", loss, 1.0), ("duplicate", duplicate, 1.0),
                                   ("delay", delay, float("inf")), ("jitter", jitter, float("inf"))):
            if value is not None:
                if not 0 <= value <= top:
                    raise ValueError("%s=%r out of range" % (option, value))
                setattr(link, option, value)

    def attach(self, node: Node | str, iface: str, link: Link | str, addresses: Iterable[str] = ()) -> Endpoint:
        """Put `iface` of `node` on `link`, answering to `addresses` there (moves it if attached elsewhere)."""
        node, link = self.node(node), self.link(link)
        if iface in node.ifaces:
            self.detach(node, iface)
        ep = Endpoint(node, iface, link, list(addresses))
        node.ifaces[iface] = ep
        link.endpoints.append(ep)
        return ep

    def detach(self, node: Node | str, iface: str) -> None:
        ep = self.node(node).ifaces.pop(iface, None)
        if ep is not None:
            ep.link.endpoints.remove(ep)

    def set_addresses(self, node: Node | str, iface: str, addresses: Iterable[str]) -> None:
        self.node(node).ifaces[iface].addresses = list(addresses)

    def add_route(self, prefix: str, node: Node | str, iface: str) -> None:
        """Route `prefix` (an address or a network) to an interface, for addresses a node owns off-link.

        Used only when no endpoint answers to the address itself; the longest prefix wins.
        """
        self.topology.routes.append((ipaddress.IPv4Network(prefix), self.node(node), iface))

    def block(self, src_zone: str, dst_zone: str) -> None:
        self.firewall.block(src_zone, dst_zone)

    def allow(self, src_zone: str, dst_zone: str) -> None:
        self.firewall.allow(src_zone, dst_zone)

    def nat_rebind(self, link: Link | str) -> None:
        nat = self.link(link).nat
        if nat is None:
            raise ValueError("link %r has no NAT" % self.link(link).name)
        nat.rebind()

    # -- host helpers: DHCP and the VPN gateway ----------------------------------------------------

    def connect(self, node: Node | str, iface: str, link: Link | str, address: str | None = None,
                dhcp_delay: float = 0.05) -> Endpoint:
        """Attach, link_up(iface), then (with an address) lease it after dhcp_delay."""
        node = self.node(node)
        ep = self.attach(node, iface, link)
        self.call(node, "link_up", iface)
        if address is not None:
            self.lease(node, iface, address, dhcp_delay)
        return ep

    def lease(self, node: Node | str, iface: str, address: str, delay: float = 0.0) -> None:
        """After `delay`, replace the interface's leased address and call address_acquired (if still attached)."""
        node = self.node(node)
        ep = node.ifaces[iface]

        def bind() -> None:
            if not ep.attached:
                return
            ep.addresses = [a for a in ep.addresses if a not in (ep.lease, address)] + [address]
            ep.lease = address
            self.note("lease", node, "%s %s" % (iface, address))
            self.call(node, "address_acquired", iface, address)

        if delay:
            self.after(delay, bind)
        else:
            bind()

    def disconnect(self, node: Node | str, iface: str) -> None:
        """Detach, then link_down(iface)."""
        node = self.node(node)
        self.detach(node, iface)
        self.call(node, "link_down", iface)

    def add_vpn(self, node: Node | str, gateway: str, vpn_tia: str, ike_delay: float = 0.2,
                possible: Callable[[], bool] = lambda: True, delay: float = 0.005, snat: str | None = None) -> Vpn:
        """Model the node's IPsec tunnel: IkeUp succeeds after ike_delay if possible(), else ike_closed.

        While up, datagrams the node sends on iface VPN leave the gateway into the intranet zone with their
        source unchanged (with `snat`: source-NATed to that address, RFC 5265 2.5), and datagrams routed to
        vpn_tia (or to a mapped port of `snat`) come back on iface VPN; each way takes `delay`.
        """
        node = self.node(node)
        vpn = self.vpns[node.name] = Vpn(self, node, gateway, vpn_tia, ike_delay, possible, delay)
        vpn.nat = Nat(snat, first_port=30000) if snat else None
        return vpn

    def note(self, kind: str, node: Node | str, detail: str = "") -> None:
        self.trace.append(NoteEntry(self.now, kind, name_of(node), detail))

    # -- the packet path ---------------------------------------------------------------------------
    # send: offer to the sender's link (capture, attacker), its impairments; then either on-link
    # receivers, or the router: NAT out, next hop (VPN-TIA, NAT in, owner, route), firewall, and the
    # receiver's link (capture, attacker, impairments). Delivery checks the interface is still attached
    # (not its addresses: a reply in flight still reaches a host that was renumbered meanwhile).

    def inject(self, where: str | tuple[Node | str, str], packet: Packet) -> None:
        """Put a forged packet on the network now (see Attacker.inject)."""
        origin = Origin("attacker", injected=True)
        if isinstance(where, tuple):
            ep = self.node(where[0]).ifaces.get(where[1])
            if ep is None:
                self._drop(packet, "no-link", origin, node=name_of(where[0]))
            else:
                self._deliver_on(ep, packet, origin)
        elif where == VPN:
            if self._offer(VPN, packet, origin):
                self._route(packet, INTRANET, origin)
        else:
            self._emit(self.link(where), packet, origin, None)

    def _send(self, node: Node, packet: Packet) -> None:
        origin = Origin(node.name)
        if packet.iface == VPN:
            vpn = self.vpns.get(node.name)
            if vpn is None or not vpn.established:
                self._drop(packet, "vpn-down", origin, VPN)
            elif self._offer(VPN, packet, origin):
                out = vpn.nat.outbound(packet) if vpn.nat else packet
                self.after(vpn.delay, partial(self._route, out, INTRANET, origin))
            return
        ep = node.ifaces.get(packet.iface)
        if ep is None:
            self._drop(packet, "no-link", origin)
        else:
            self._emit(ep.link, packet, origin, ep)

    def _emit(self, link: Link, packet: Packet, origin: Origin, sender: Endpoint | None) -> None:
        """A packet offered to `link` by `sender` (None: a host that is not an endpoint, the attacker)."""
        if not self._offer(link.name, packet, origin):
            return
        receivers = self.topology.on_link(link, packet.dst, sender)
        if receivers or is_broadcast(packet.dst):
            for ep in receivers:
                self._cross(link, packet, origin, partial(self._arrive, ep, packet, origin), ep.node.name)
            return
        out = link.nat.outbound(packet) if link.nat else packet
        self._cross(link, packet, origin, partial(self._route, out, link.zone, origin))

    def _route(self, packet: Packet, src_zone: str, origin: Origin) -> None:
        vpn = next((v for v in self.vpns.values() if v.vpn_tia == packet.dst), None)
        snat = next((v for v in self.vpns.values() if v.nat and v.nat.address == packet.dst), None)
        if snat is not None:  # the gateway's SNAT address: back to the VPN-TIA it maps to
            inside = snat.nat.inbound(packet) if snat.nat else None
            if inside is None:
                self._drop(packet, "no-route", origin)
                return
            packet, vpn = inside, snat
        if vpn is not None:
            if not vpn.established:
                self._drop(packet, "vpn-down", origin, VPN, vpn.node.name)
            elif not self.firewall(src_zone, INTRANET, packet):
                self._drop(packet, "firewall", origin, VPN, vpn.node.name)
            elif self._offer(VPN, packet, origin):
                self.after(vpn.delay, partial(self._arrive_vpn, vpn, packet, origin))
            return
        hop = self._next_hop(packet)
        if isinstance(hop, str):
            self._drop(packet, hop, origin)
            return
        inside, ep = hop
        # the firewall judges the packet as it reached the router, before a NAT translates it back: a reply
        # matches the flow its NATed request recorded on the way out
        if not self.firewall(src_zone, ep.link.zone, packet):
            self._drop(inside, "firewall", origin, ep.link.name, ep.node.name)
        else:
            self._deliver_on(ep, inside, origin)

    def _next_hop(self, packet: Packet) -> tuple[Packet, Endpoint] | str:
        """Where a routed packet goes (NAT address, then an endpoint owning it, then static routes)."""
        nat_link = self.topology.nat_link(packet.dst)
        if nat_link is not None and nat_link.nat is not None:
            inside = nat_link.nat.inbound(packet)
            owners = self.topology.on_link(nat_link, inside.dst, None) if inside else []
            return (inside, owners[0]) if inside and owners else "no-route"
        ep = self.topology.owner(packet.dst)
        if ep is not None:
            return packet, ep
        route = self.topology.route(packet.dst)
        if route is None:
            return "no-route"
        ep = route[0].ifaces.get(route[1])
        return (packet, ep) if ep else "no-link"

    def _deliver_on(self, ep: Endpoint, packet: Packet, origin: Origin) -> None:
        if self._offer(ep.link.name, packet, origin):
            self._cross(ep.link, packet, origin, partial(self._arrive, ep, packet, origin), ep.node.name)

    def _offer(self, link: str, packet: Packet, origin: Origin) -> bool:
        """The attacker sees every packet on every link it crosses, and may drop it there."""
        self.attacker.captured.append(Captured(self.now, link, packet, origin.sender, origin.injected))
        if not origin.injected and self.attacker.drops(packet, link):
            self._drop(packet, "attacker", origin, link)
            return False
        return True

    def _cross(self, link: Link, packet: Packet, origin: Origin, then: Callable[[], object],
               node: str | None = None) -> None:
        """Link impairments: lost, or arriving once or twice after delay + U(0, jitter)."""
        if link.loss and self.rng.random() < link.loss:
            self._drop(packet, "loss", origin, link.name, node)
            return
        copies = 2 if link.duplicate and self.rng.random() < link.duplicate else 1
        for _ in range(copies):
            self.after(link.delay + (self.rng.uniform(0.0, link.jitter) if link.jitter else 0.0), then)

    def _arrive(self, ep: Endpoint, packet: Packet, origin: Origin) -> None:
        if not ep.attached:
            self._drop(packet, "no-link", origin, ep.link.name, ep.node.name)
        else:
            self._hand(ep.node, dataclasses.replace(packet, iface=ep.iface), origin, ep.link.name)

    def _arrive_vpn(self, vpn: Vpn, packet: Packet, origin: Origin) -> None:
        if not vpn.established:
            self._drop(packet, "vpn-down", origin, VPN, vpn.node.name)
        else:
            self._hand(vpn.node, dataclasses.replace(packet, iface=VPN), origin, VPN)

    def _hand(self, node: Node, packet: Packet, origin: Origin, link: str) -> None:
        self.trace.append(PacketEntry(self.now, "deliver", origin.sender, node.name, link, packet))
        method = "receive_udp" if isinstance(packet, Datagram) else "receive_icmp"
        if hasattr(node.machine, method):
            self._invoke(node, method, packet)

    def _drop(self, packet: Packet, reason: str, origin: Origin, link: str | None = None,
              node: str | None = None) -> None:
        self.trace.append(PacketEntry(self.now, "drop", origin.sender, node, link, packet, reason))

    # -- trace queries -----------------------------------------------------------------------------

    def actions(self, node: Node | str, type: type | tuple | None = None, since: float | None = None) -> list:
        """Actions `node` returned, optionally of a type (or tuple of types) and at or after `since`."""
        return self.trace.actions(node, type, since)

    def sent(self, node: Node | str, predicate: Callable[[Datagram], bool] | None = None) -> list[SendUdp]:
        return self.trace.sent(node, predicate)

    def delivered(self, node: Node | str, predicate: Callable[[Packet], bool] | None = None) -> list[Packet]:
        return self.trace.delivered(node, predicate)

    def logs(self, node: Node | str, reason: str | None = None) -> list:
        return self.trace.logs(node, reason)

    def drops(self, reason: str | None = None) -> list[PacketEntry]:
        return self.trace.drops(reason)
