"""The mobile node / mobile router: RFC 5944 3.6 registration and RFC 5265 section 3 detection.

It composes four parts and feeds them the system's events:
- detection.py: per interface, the parallel i-HA / x-HA registrations and the inside/outside verdict;
- selection.py: across interfaces, the primary uplink, make-before-break moves, the HAs' binding limits;
- vpn.py: the IKE SA from the x-HoA and i-MIP through it (outside);
- datapath.py: each uplink's mode, layer stack and gate, opened only where the RFC allows;
and mn_status.py reports them.
"""
from __future__ import annotations

import random
from typing import Any

from ..wire import codec
from ..wire.errors import CodecError
from ..wire.icmp import AgentAdvertisement, AgentSolicitation
from ..wire.registration import RegistrationReply
from .actions import VPN, Datagram, Icmp, SendIcmp, SendUdp, SetPath, log
from .client import RegistrationClient, due_timers
from .config import MobileNodeConfig
from .datapath import assemble, block, release
from .detection import Detection
from .events import Events
from .identification import Identifications
from .mn_status import status
from .selection import DRAIN, Selection
from .timers import earliest
from .uplink import DOWN, EXTERNAL, INSIDE, WAITING, Uplink, tunnel_tag, tunnel_tags
from .vpn import VpnLayer

__all__ = ["DRAIN", "MobileNode"]

ALL_ROUTERS = "224.0.0.2"  # RFC 5944 2.4.2 / RFC 1256: agent solicitations


class MobileNode:
    def __init__(self, config: MobileNodeConfig, rng: random.Random) -> None:
        self.config = config
        self.rng = rng
        self.uplinks: dict[str, Uplink] = {}
        self.events = Events()
        self.counters = self.events.counters
        self.wall_offset = 0.0  # time of day minus `now`: `now` is monotonic, so T_MONITOR ignores clock steps
        self.taken: set[int] = set()  # identifications in flight, unique across all clients (RFC 5944 3.6.2.1)
        # RFC 5944 5.7.1: per (home agent, home address), shared by every client registering it
        self.identifications: dict[tuple[str, str], Identifications] = {}
        self.tags = tunnel_tags(config.uplinks)  # R-5.6-b: each uplink's tunnel names, distinct and stable
        self.vpn = VpnLayer(config, self._client("vpn", config.i_hoa, config.i_ha, config.i_sa))
        self.selection = Selection(config, self)
        self.detection = Detection(config, self)
        self.stopped = False  # after shutdown(): only the deregistrations run, every gate stays closed

    # -- read-only views (status, tests) ----------------------------------------------------

    @property
    def primary(self) -> str | None:
        return self.selection.primary

    @property
    def claiming(self) -> str | None:
        return self.selection.claiming

    @property
    def draining(self) -> str | None:
        return self.selection.draining

    @property
    def ike(self) -> str:
        return self.vpn.state

    @property
    def vpn_client(self) -> RegistrationClient:
        return self.vpn.client

    # -- events from the system --------------------------------------------------------------

    def link_up(self, iface: str, now: float) -> list:
        """Carrier up: solicit agents (RFC 5944 2.4.2, R-2.4-a). Carrier return on a link that was
        already up is a status change too (R-3.2.2-d): L2 may trigger detection, never prove inside (R-3-c)."""
        if self.stopped:
            return []
        up = self._uplink(iface)
        solicit = SendIcmp(Icmp(iface, "0.0.0.0", ALL_ROUTERS, AgentSolicitation().encode()))
        if up.state != DOWN:
            return [solicit] + self.detection.status_change(up, "carrier returned", now)
        actions = self.detection.transition(up, "link-up", now) + block(up, "link up, no care-of address yet", now)
        return actions + [solicit] + self.reconcile(now)

    def link_down(self, iface: str, now: float) -> list:
        if self.stopped:
            return []
        up = self._uplink(iface)
        up.address, up.fa, up.fa_alternative = None, None, None
        return self.detection.leave(up, "link-down", "link down", now)

    def address_acquired(self, iface: str, address: str, now: float) -> list:
        """A co-located care-of address (DHCP lease or static). A new one is a status change in every mode
        (RFC 5265 3.2.2, R-3.2.2-e): in mode f too, where the care-of is the FA's, a new lease without a
        carrier event means another network behind the same link."""
        if self.stopped:
            return []
        up = self._uplink(iface)
        if up.state == DOWN:
            up.state = WAITING
        before = up.attachment
        up.address = address
        if up.attachment == before and up.state not in (WAITING, DOWN):
            return []  # the same lease again (a DHCP renewal)
        return self.detection.status_change(up, "address %s" % address, now)

    def address_lost(self, iface: str, now: float) -> list:
        if self.stopped:
            return []
        up = self._uplink(iface)
        before = up.attachment
        up.address = None
        if up.state == DOWN:  # the link went first: nothing more to leave
            return []
        if up.care_of is None:
            return self.detection.leave(up, "care-of-lost", "address lost", now)
        if up.attachment != before:  # R-3.2.2-e: also in mode f, where the care-of stays the FA's
            return self.detection.status_change(up, "address lost, care-of %s" % up.care_of, now)
        return []

    def ike_established(self, vpn_tia: str, now: float) -> list:
        """charon reports the CHILD_SA and its virtual IP, the VPN-TIA (R-2.3-d)."""
        return self.vpn.established(vpn_tia) + self.reconcile(now)

    def ike_closed(self, reason: str, now: float) -> list:
        """IKE SA gone (DPD, crash, delete): data through the VPN stops (R-4.1-e); IKE starts again."""
        return self.vpn.gone(reason, now, failed=False) + self.reconcile(now)

    def ike_failed(self, reason: str, now: float) -> list:
        """An IKE attempt did not establish: try again after a backoff that doubles while it keeps failing."""
        return self.vpn.gone(reason, now, failed=True) + self.reconcile(now)

    def set_wall_clock(self, wall_time: float, now: float) -> list:
        """The time of day changed (NTP step, RTC set). Only identifications use it (RFC 5944 5.7.1);
        timers and T_MONITOR run on the monotonic `now`, so a step can neither extend nor cut them."""
        old, self.wall_offset = self.wall_offset, wall_time - now
        return [log("info", "wall-clock", "time of day stepped by %+.3f s" % (self.wall_offset - old))]

    def shutdown(self, now: float) -> list:
        """The daemon stops: close every gate and take back every binding we hold (RFC 5944 3.6.1.2)."""
        self.stopped = True
        actions = [log("info", "shutdown", "deregistering and closing all gates")]
        for up in self.uplinks.values():
            actions += block(up, "shutting down", None)
            if up.parked:  # what an earlier close parked goes too
                up.parked, up.parked_until = (), None
                actions.append(SetPath(up.iface, None))
            for client in (up.i_client, up.x_client):
                actions += self._take_back(client, now)
        actions += self._take_back(self.vpn.client, now)
        return actions + self.vpn.shutdown()

    def _take_back(self, client: RegistrationClient, now: float) -> list:
        route = client.route
        if route is None or client.lifetime == 0 or not (client.registered(now) or client.outstanding):
            return []
        return client.deregister(route, now)

    def hint(self, iface: str, kind: str, value: str, now: float) -> list:
        """An unauthenticated hint (DHCP domain, FA NAI, gateway MAC): timing only (R-3.5-d, R-3.5-e)."""
        up = self._uplink(iface)
        verdict = "inside" if value in self.config.inside_hints.get(kind, ()) else "outside"
        up.hints[kind] = verdict
        return [log("info", "hint", "%s: %s %r suggests %s (not proof, RFC 5265 3.5)" % (iface, kind, value, verdict))]

    def user_traffic(self, iface: str, now: float) -> list:
        """User data wants to cross `iface` (idle mode, R-3.2.4-f): wake monitoring if it slept."""
        up = self._uplink(iface)
        up.last_traffic = now
        if up.state == INSIDE and up.stale and not up.i_client.pending:
            return self.detection.monitor(up, now)
        return []

    def reregister(self, now: float) -> list:
        """An operator asks (ubus, console) to register again: every uplink with a care-of address gets a
        status change (RFC 5265 3.2.2): its gate closes at once, then the i-HA/x-HA pair goes out again."""
        if self.stopped:
            return []
        ups = [up for up in self.uplinks.values() if up.state != DOWN and up.care_of is not None]
        actions = [log("info", "reregister", "re-registration requested: %s" % (
            ", ".join(up.iface for up in ups) or "no uplink has a care-of address"))]
        for up in ups:
            actions += self.detection.status_change(up, "re-registration requested", now)
        return actions

    # -- packets -----------------------------------------------------------------------------

    def receive_udp(self, dgram: Datagram, now: float) -> list:
        try:
            message = codec.decode_registration(dgram.payload)
        except CodecError as e:
            return self._ignore(now, "malformed", "undecodable datagram from %s: %s" % (dgram.src, e))
        if not isinstance(message, RegistrationReply):
            return self._ignore(now, "unexpected-message", "not a registration reply from %s" % dgram.src)
        if dgram.iface == VPN:
            return self._vpn_reply(message, now)
        up = self.uplinks.get(dgram.iface)
        if up is None or up.state in (DOWN, WAITING):
            return self._ignore(now, "unmatched-reply", "reply on %s, which is not registering" % dgram.iface)
        for client in (up.i_client, up.x_client):
            if client.match(message) is not None:
                was_first = client.first
                result, actions = client.receive(message, now)
                if self.stopped:
                    return actions
                if client.first and not was_first:
                    actions += self.selection.displaced(client, now)
                if client is up.i_client:
                    resent = any(isinstance(a, SendUdp) for a in actions)  # it adjusted and asked again
                    actions += self.detection.i_ha_result(up, result, resent, now)
                else:
                    actions += self.detection.x_ha_result(up, result, now)
                actions += self.selection.binding_limit(up, client, result, now)
                return actions + self.reconcile(now)
        if message.home_address not in (self.config.i_hoa, self.config.x_hoa):
            return self._ignore(now, "wrong-home-address", "reply for home address %s" % message.home_address)
        return self._ignore(now, "unmatched-reply", "reply on %s matches no request in flight (replay or stale)"
                            % dgram.iface)

    def tunnel_heard(self, iface: str, src: str, now: float) -> list:
        """The adapter decapsulated UDP tunnel data from `src` on `iface` (RFC 3519 4.10: the NAT
        mapping of that layer still works). Nothing to do now; it keeps the keepalive check quiet."""
        up = self.uplinks.get(iface)
        layers = [self.vpn.client] if iface == VPN else [up.i_client, up.x_client] if up else []
        for client in layers:
            if client.udp_tunnel and client.home_agent == src:
                client.heard(now)
        return []

    def receive_icmp(self, msg: Icmp, now: float) -> list:
        """Agent advertisements (RFC 5944 2.4): unauthenticated, so at most a status change (R-3.6.1-a)."""
        if self.stopped:
            return []
        up = self.uplinks.get(msg.iface)
        if up is None or up.state == DOWN:
            return []
        try:
            adv = codec.decode_icmp(msg.payload)
        except CodecError as e:
            return self._ignore(now, "malformed", "bad ICMP from %s: %s" % (msg.src, e))
        if not isinstance(adv, AgentAdvertisement):
            return []
        info = self.detection.foreign_agent(adv, msg.src, now)
        if info is None:
            return self._ignore(now, "bad-advertisement", "advertisement from %s is no usable FA offer" % msg.src)
        return self.detection.advertised(up, info, now)

    def _vpn_reply(self, reply: RegistrationReply, now: float) -> list:
        """i-MIP through the IPsec tunnel (vpn.py)."""
        got = self.vpn.reply(reply, now)
        if got is None:
            return self._ignore(now, "unmatched-reply", "VPN reply matches no request in flight")
        actions, first = got
        if first:  # RFC 5944 3.6.1.2: S clear replaced the standbys' bindings
            actions += self.selection.displaced(self.vpn.client, now)
        return actions + self.reconcile(now)

    # -- timers ------------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        if self.stopped:  # handle_timer runs only the deregistrations' retransmissions now
            return earliest(*(client.get_timer() for client in self.clients()))
        times = [self.vpn.get_timer(), self.selection.drain_until]
        for up in self.uplinks.values():
            times += [up.i_client.get_timer(), up.x_client.get_timer(), up.detection_deadline,
                      up.x_start_at, up.monitor_at, up.fa.expires_at if up.fa else None, up.settle_at,
                      up.parked_until]
            if up.state == INSIDE and not up.stale:
                times.append(up.monitor_deadline(self.config.t_monitor))
            times.append(up.redetect_at)
        return earliest(*times)

    def handle_timer(self, now: float) -> list:
        actions: list = []
        if self.stopped:  # only the deregistrations' retransmissions
            return due_timers(self.clients(), now)
        self.vpn.retry_due(now)
        for up in list(self.uplinks.values()):
            actions += self.detection.uplink_timers(up, now) + release(up, now)
        actions += self.vpn.handle_timer(now)
        return actions + self.reconcile(now)

    # -- composition -------------------------------------------------------------------------

    def reconcile(self, now: float) -> list:
        """Derive primary uplink, IKE, i-MIP-over-VPN, gates and paths from the per-interface state."""
        if self.stopped:
            return []
        actions, primary = self.selection.select(now)
        vpn = self.vpn.step(primary, self.selection.draining is not None, now)
        for up in self.uplinks.values():
            actions += self._gate(up, now)
        # R-2.3-c: IKE runs through the x-MIP path, so the path goes in before IkeUp (the adapter points the
        # IKE table at it then: charon's first IKE_SA_INIT must not meet `prohibit` and wait for its
        # retransmission); the i-MIP request through the VPN likewise follows the path with the inner tunnel
        return actions + vpn + self.selection.resume_held(now)

    def _gate(self, up: Uplink, now: float) -> list:
        """R-2.1-a, R-2.2-a: in clear only after a qualifying TNC reply here; R-3.2.2-c: through the VPN
        only on the primary, with x-MIP, IKE and i-MIP all in place. Tentatively outside counts as outside
        here (RFC 5265 3.5, 5.3): ESP under an IKE SA that is up, never clear, while the i-HA is still asked
        (R-3.3-c) and may yet win (R-3.3-k)."""
        path: str | None = None
        outside = up.state in EXTERNAL and up.x_client.registered(now)
        if up.fresh(now, self.config.t_monitor):
            path = "plain"
        elif outside and self.vpn.ready(now) and up.iface == self.selection.primary:
            path = "vpn"
        carrying = up.iface in (self.selection.primary, self.selection.draining)  # one IKE SA
        return assemble(up, self.config, path, outside, self.vpn.tunnel() if carrying else None, now)

    # -- helpers -----------------------------------------------------------------------------

    def _uplink(self, iface: str) -> Uplink:
        up = self.uplinks.get(iface)
        if up is None:
            c = self.config
            up = Uplink(iface, c.priority(iface), self._client("i-ha", c.i_hoa, c.i_ha, c.i_sa),
                        self._client("x-ha", c.x_hoa, c.x_ha, c.x_sa, may_drop_t=True))
            if iface not in self.tags:  # not configured: the next name free
                self.tags[iface] = tunnel_tag(iface, set(self.tags.values()))
            up.tag = self.tags[iface]
            self.uplinks[iface] = up
        return up

    def _client(self, name: str, hoa: str, ha: str, sa: Any, may_drop_t: bool = False) -> RegistrationClient:
        c = self.config
        ids = self.identifications.setdefault((ha, hoa), Identifications())
        return RegistrationClient(name, hoa, ha, sa, c.timing, self.rng, c.nai, may_drop_t, wall=self._wall, ids=ids,
                                  taken=self.taken, udp_request=c.nat_traversal, udp_keepalive=c.udp_keepalive)

    def clients(self) -> list[RegistrationClient]:
        return [self.vpn.client] + [cl for up in self.uplinks.values() for cl in (up.i_client, up.x_client)]

    def deregistering(self) -> bool:
        """After shutdown(): whether a deregistration still waits for its reply (the daemon waits a while)."""
        return any(client.outstanding for client in self.clients())

    def _wall(self, now: float) -> float:
        return now + self.wall_offset

    def _ignore(self, now: float, reason: str, message: str) -> list:
        """Count what we drop; log it unless `reason` has filled its share of the log lately (anyone on
        an uplink can send us datagrams and ICMP)."""
        return self.events.limited(now, "warning", reason, message)

    def status(self, now: float) -> dict:
        return status(self, now)
