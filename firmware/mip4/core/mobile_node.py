"""The mobile node / mobile router: RFC 5944 3.6 registration and RFC 5265 section 3 detection.

Per interface (uplink.py) it runs the parallel i-HA / x-HA registrations and the inside/outside
verdict; across interfaces it picks the primary uplink, its mode (c, f, cvc, fvc), the IKE SA
and the i-MIP registration through the VPN, and opens user data only where the RFC allows.
"""
from __future__ import annotations

import random
from typing import Any

from ..wire import codec
from ..wire.errors import CodecError
from ..wire.icmp import ADV_B, ADV_F, ADV_R, ADV_T, AgentAdvertisement, AgentSolicitation, PrefixLengths
from ..wire.registration import FLAG_S, FLAG_T, RegistrationReply
from .actions import VPN, Datagram, Gate, Icmp, IkeDown, IkeUp, SendIcmp, SendUdp, SetPath, Tunnel, log
from .client import PORT, Accepted, Denied, RegistrationClient, Route, co_located_flags, with_flags
from .config import MobileNodeConfig
from .identification import Identifications
from .ratelimit import LogLimiter
from .timers import earliest
from .uplink import DETECTING, DOWN, INSIDE, OUTSIDE, TENTATIVE_OUTSIDE, WAITING, ForeignAgentInfo, Uplink, next_state

ALL_ROUTERS = "224.0.0.2"  # RFC 5944 2.4.2 / RFC 1256: agent solicitations
IKE_RETRY_INITIAL, IKE_RETRY_MAX = 2.0, 60.0  # seconds between IKE attempts after a failure (doubling)
VPN_TUNNEL = "mip4-vpn"  # i-MIP inside IPsec: VPN-TIA to i-HA, whichever uplink carries the IKE SA
DRAIN = 2.0  # after a make-before-break move, the old path still receives what was in flight (seconds)


class MobileNode:
    def __init__(self, config: MobileNodeConfig, rng: random.Random) -> None:
        self.config = config
        self.rng = rng
        self.uplinks: dict[str, Uplink] = {}
        self.ike = "down"  # down, connecting, up
        self.vpn_tia: str | None = None
        self.ike_retry_at: float | None = None  # after a failed IKE attempt: when to try again
        self.ike_backoff = IKE_RETRY_INITIAL
        self.ike_reason = ""  # why the IKE SA is in its state (status)
        self.primary: str | None = None
        self.claiming: str | None = None  # uplink whose S-clear registration is moving the HA's traffic to it
        self.draining: str | None = None  # the old primary after a make-before-break move, until drain_until
        self.drain_until: float | None = None
        self.counters: dict[str, int] = {}
        self.log_limiter = LogLimiter()
        self.wall_offset = 0.0  # time of day minus `now`: `now` is monotonic, so T_MONITOR ignores clock steps
        self.taken: set[int] = set()  # identifications in flight, unique across all clients (RFC 5944 3.6.2.1)
        # RFC 5944 5.7.1: per (home agent, home address), shared by every client registering it
        self.identifications: dict[tuple[str, str], Identifications] = {}
        self.vpn_client = self._client("vpn", config.i_hoa, config.i_ha, config.i_sa)
        self.stopped = False  # after shutdown(): only the deregistrations run, every gate stays closed

    # -- events from the system --------------------------------------------------------------

    def link_up(self, iface: str, now: float) -> list:
        """Carrier up: solicit agents (RFC 5944 2.4.2, R-2.4-a). Carrier return on a link that was
        already up is a status change too (R-3.2.2-d): L2 may trigger detection, never prove inside (R-3-c)."""
        if self.stopped:
            return []
        up = self._uplink(iface)
        solicit = SendIcmp(Icmp(iface, "0.0.0.0", ALL_ROUTERS, AgentSolicitation().encode()))
        if up.state != DOWN:
            return [solicit] + self._status_change(up, "carrier returned", now)
        actions = self._transition(up, "link-up", now) + self._block(up, "link up, no care-of address yet")
        return actions + [solicit] + self._reconcile(now)

    def link_down(self, iface: str, now: float) -> list:
        if self.stopped:
            return []
        up = self._uplink(iface)
        up.address, up.fa = None, None
        return self._leave(up, "link-down", "link down", now)

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
        return self._status_change(up, "address %s" % address, now)

    def address_lost(self, iface: str, now: float) -> list:
        if self.stopped:
            return []
        up = self._uplink(iface)
        before = up.attachment
        up.address = None
        if up.state == DOWN:  # the link went first: nothing more to leave
            return []
        if up.care_of is None:
            return self._leave(up, "care-of-lost", "address lost", now)
        if up.attachment != before:  # R-3.2.2-e: also in mode f, where the care-of stays the FA's
            return self._status_change(up, "address lost, care-of %s" % up.care_of, now)
        return []

    def ike_established(self, vpn_tia: str, now: float) -> list:
        """charon reports the CHILD_SA and its virtual IP, the VPN-TIA (R-2.3-d)."""
        actions = [log("info", "ike-up", "IKE SA up, VPN-TIA %s" % vpn_tia)]
        if self.vpn_tia != vpn_tia:  # R-4.2-c: a new VPN-TIA is registered at once
            self.vpn_client.reset()
        self.ike, self.vpn_tia, self.ike_reason = "up", vpn_tia, "established"
        self.ike_retry_at, self.ike_backoff = None, IKE_RETRY_INITIAL
        return actions + self._reconcile(now)

    def ike_closed(self, reason: str, now: float) -> list:
        """IKE SA gone (DPD, crash, delete): data through the VPN stops (R-4.1-e); IKE starts again."""
        return self._ike_gone(reason, now, failed=False)

    def ike_failed(self, reason: str, now: float) -> list:
        """An IKE attempt did not establish: try again after a backoff that doubles while it keeps failing."""
        return self._ike_gone(reason, now, failed=True)

    def _ike_gone(self, reason: str, now: float, failed: bool) -> list:
        self.ike, self.vpn_tia, self.ike_reason = "down", None, reason
        self.vpn_client.reset()
        self.ike_retry_at = now + (self.ike_backoff if failed else 0.0)
        if failed:
            self.ike_backoff = min(self.ike_backoff * 2, IKE_RETRY_MAX)
        what = "IKE SA not established" if failed else "IKE SA closed"
        return [log("warning", "ike-down", "%s: %s" % (what, reason))] + self._reconcile(now)

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
            actions += self._block(up, "shutting down")
            for client in (up.i_client, up.x_client):
                actions += self._take_back(client, now)
        actions += self._take_back(self.vpn_client, now)
        if self.ike != "down":
            self.ike, self.vpn_tia = "down", None
            actions.append(IkeDown("shutting down"))
        return actions

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
            return self._monitor(up, now)
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
            actions += self._status_change(up, "re-registration requested", now)
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
                    actions += self._displaced(client, now)
                if client is up.i_client:
                    resent = any(isinstance(a, SendUdp) for a in actions)  # it adjusted and asked again
                    actions += self._i_ha_result(up, result, resent, now)
                else:
                    actions += self._x_ha_result(up, result, now)
                return actions + self._reconcile(now)
        if message.home_address not in (self.config.i_hoa, self.config.x_hoa):
            return self._ignore(now, "wrong-home-address", "reply for home address %s" % message.home_address)
        return self._ignore(now, "unmatched-reply", "reply on %s matches no request in flight (replay or stale)"
                            % dgram.iface)

    def tunnel_heard(self, iface: str, src: str, now: float) -> list:
        """The adapter decapsulated UDP tunnel data from `src` on `iface` (RFC 3519 4.10: the NAT
        mapping of that layer still works). Nothing to do now; it keeps the keepalive check quiet."""
        up = self.uplinks.get(iface)
        layers = [self.vpn_client] if iface == VPN else [up.i_client, up.x_client] if up else []
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
        info = self._foreign_agent(adv, msg.src, now)
        if info is None:
            return self._ignore(now, "bad-advertisement", "advertisement from %s is no usable FA offer" % msg.src)
        return self._advertised(up, info, now)

    # -- timers ------------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        if self.stopped:  # handle_timer runs only the deregistrations' retransmissions now
            return earliest(*(client.get_timer() for client in self.clients()))
        times = [self.vpn_client.get_timer(), self.ike_retry_at, self.drain_until]
        for up in self.uplinks.values():
            times += [up.i_client.get_timer(), up.x_client.get_timer(), up.detection_deadline,
                      up.x_start_at, up.monitor_at, up.fa.expires_at if up.fa else None, up.settle_at]
            if up.state == INSIDE and not up.stale:
                times.append(up.monitor_deadline(self.config.t_monitor))
            times.append(up.redetect_at)
        return earliest(*times)

    def handle_timer(self, now: float) -> list:
        actions: list = []
        if self.stopped:  # only the deregistrations' retransmissions
            return _client_timers(self.clients(), now)
        if self.ike_retry_at is not None and self.ike_retry_at <= now:
            self.ike_retry_at = None  # _reconcile tries IKE again if an outside uplink is usable
        for up in list(self.uplinks.values()):
            actions += self._uplink_timers(up, now)
        actions += _client_timers([self.vpn_client], now)
        return actions + self._reconcile(now)

    def _uplink_timers(self, up: Uplink, now: float) -> list:
        actions: list = []
        t_monitor = self.config.t_monitor
        if up.fa is not None and up.fa.expires_at <= now:  # RFC 5944 2.4: the FA is gone
            actions += self._fa_lost(up, now)
        deadline = up.monitor_deadline(t_monitor)
        if up.state == INSIDE and not up.stale and deadline is not None and deadline <= now:
            actions += self._monitor_expired(up, now)
        if up.detection_deadline is not None and up.detection_deadline <= now:
            up.detection_deadline = None
            up.i_client.stop_retransmitting()  # R-3.3-c: the detection period is over
            actions += self._transition(up, "detection-period-over", now)
        if up.x_start_at is not None and up.x_start_at <= now:
            up.x_start_at = None
            actions += self._register_x(up, now)
        if up.monitor_at is not None and up.monitor_at <= now:
            up.monitor_at = None
            actions += self._monitor(up, now)
        if up.redetect_at is not None and up.redetect_at <= now:
            up.redetect_at = None
            actions += self._status_change(up, "detecting again after the i-HA's denial", now)
        return actions + _client_timers([up.i_client, up.x_client], now)

    # -- detection ---------------------------------------------------------------------------

    def _status_change(self, up: Uplink, why: str, now: float) -> list:
        """RFC 5265 3.2.2: stop user data at once (R-3.2.2-a), then detect again (R-3.2.2-b)."""
        actions = self._block(up, "status change: %s" % why)
        up.forget_attachment()
        if up.care_of is None:
            return actions + self._transition(up, "care-of-lost", now) + self._reconcile(now)
        if self.config.i_ha == self.config.x_ha:  # RFC 5265 3.5, R-3.5-c: external, no direct probe
            actions += self._transition(up, "skip-detection", now)
            actions.append(log("warning", "equal-home-agents", "i-HA and x-HA addresses are equal: "
                               "%s is treated as external (RFC 5265 3.5)" % up.iface))
            return actions + self._register_x(up, now) + self._reconcile(now)
        actions += self._transition(up, "status-change", now)
        actions += self._register_i(up, now)  # R-3.3-a: the pair goes out together
        delay = self.config.x_ha_delay_on_inside_hint if up.hint == "inside" else 0.0
        if delay > 0:  # R-3.5-f: probably inside, give the i-HA a head start
            up.x_start_at = now + delay
        else:
            actions += self._register_x(up, now)
        return actions + self._reconcile(now)

    def _leave(self, up: Uplink, event: str, why: str, now: float) -> list:
        actions = self._block(up, why)
        up.forget_attachment()
        up.hints.clear()
        return actions + self._transition(up, event, now) + self._reconcile(now)

    def _i_ha_result(self, up: Uplink, result: Accepted | Denied | None, resent: bool, now: float) -> list:
        """RFC 5265 3.2.3: only an authentic acceptance carrying TNC makes this interface inside."""
        if result is None:
            return []
        inside = up.state == INSIDE
        if isinstance(result, Denied):
            if result.by == "FA":  # R-3.2.3-d: an FA denial is no i-HA answer
                return [log("info", "no-i-ha-answer", "%s: FA denied the i-HA request (code %d); not an i-HA "
                            "answer" % (up.iface, result.code))]
            if resent:  # RFC 5944 3.6.2.2-3: resynced (133) or adjusted, and asked again; no verdict yet
                return []
            if not inside:
                return self._i_ha_denied(up, result.code, now)
            return self._monitoring_failed(up, "i-ha-denied", "denied (code %d)" % result.code, now)
        if result.sent_at + self.config.t_monitor <= now:  # a reply too late to prove anything now
            return [log("warning", "stale-reply", "%s: i-HA reply to a request sent %.1f s ago ignored"
                        % (up.iface, now - result.sent_at))]
        if not result.tnc:
            actions = [log("warning", "no-tnc", "%s: i-HA accepted without TNC: not inside (RFC 5265 3.2.3)"
                           % up.iface)]
            if inside:  # R-3.3-i
                return actions + self._monitoring_failed(up, "i-ha-no-tnc", "accepted without TNC", now)
            up.i_client.reset()  # R-3.3-j: outside, no more plaintext registrations to the i-HA
            # interpretation note 1: outside; the x-HA request keeps going until it is answered
            return actions + self._transition(up, "i-ha-no-tnc", now)
        if up.state == DETECTING:
            up.x_client.stop_retransmitting()  # R-3.3-f: an i-HA answer ends the detection pair
        up.last_good_sent, up.stale = result.sent_at, False
        up.detection_deadline = None
        up.x_start_at = None
        up.monitor_at = result.sent_at + self.config.t_monitor - self.config.t_monitor_grace  # R-3.2.4-a
        actions = self._transition(up, "i-ha-tnc", now) + self._deregister_x(up, now)
        last_vpn = self.vpn_client.last_sent
        if last_vpn is not None and last_vpn > result.sent_at:
            actions += self._rebind_here(up)
        return actions

    def _i_ha_denied(self, up: Uplink, code: int, now: float) -> list:
        """RFC 5265 3.3, R-3.3-f: an authenticated i-HA answer, a denial too, ends the detection pair: no
        more retransmissions to either HA. Not inside (interpretation note 2). With the x-HA's acceptance in
        hand the interface is outside; without one, the pair goes out again after a pause, as a new attempt."""
        actions = [log("warning", "i-ha-denied", "%s: the i-HA denied the request (code %d): not inside"
                       % (up.iface, code))]
        up.i_client.reset()  # R-3.3-j: no more plaintext registrations to the i-HA on this attachment
        up.detection_deadline = None
        if up.state == DETECTING:
            up.x_client.stop_retransmitting()
            up.redetect_at = now + self.config.timing.retransmit_max
            return actions
        return actions + self._transition(up, "i-ha-denied", now)

    def _rebind_here(self, up: Uplink) -> list:
        """RFC 5265 3.3, R-3.3-k: the qualifying i-HA reply came late, after an i-MIP registration through
        the VPN went out; that one may have moved the i-HA's binding to the VPN-TIA since. Inside still (the
        proof holds), but its binding no longer carries: _reconcile claims it back with an S-clear request
        once this uplink is the primary. The VPN client stops in the same step (inside, IPsec is dormant)."""
        up.i_client.first = False
        return [log("info", "late-i-ha-reply", "%s: the i-HA's reply is older than the i-MIP registration "
                    "through the VPN: registering with it again directly (RFC 5265 3.3)" % up.iface)]

    def _monitoring_failed(self, up: Uplink, event: str, why: str, now: float) -> list:
        """RFC 5265 3.3, R-3.3-i: an inside re-registration failed: block, then detect again."""
        actions = [log("warning", "monitor-failed", "%s: inside re-registration %s" % (up.iface, why))]
        actions += self._transition(up, event, now)
        return actions + self._status_change(up, "inside re-registration failed", now)

    def _x_ha_result(self, up: Uplink, result: Accepted | Denied | None, now: float) -> list:
        if not isinstance(result, Accepted):
            return []
        route = up.x_client.route
        up.x_care_of = None if result.deregistration or route is None else route.care_of
        if result.deregistration:
            return []
        up.redetect_at = None
        actions = []
        if result.tnc:  # R-3.2.3-d, R-3.4-f: an x-HA reply is never evidence of being inside
            actions.append(log("warning", "x-ha-tnc", "%s: x-HA reply carries TNC; ignored" % up.iface))
        if up.state != DETECTING:
            return actions
        actions += self._transition(up, "x-ha-accepted", now)  # R-3.3-b
        period = 0.0 if up.hint == "outside" else self.config.detection_period  # R-3.3-d, R-3.5-f
        up.detection_deadline = now + period
        if period == 0:
            up.detection_deadline = None
            up.i_client.stop_retransmitting()
            actions += self._transition(up, "detection-period-over", now)
        return actions

    def _monitor(self, up: Uplink, now: float) -> list:
        """RFC 5265 3.2.4: re-register with the i-HA every T_MONITOR - N (R-3.2.4-a, R-3.3-h)."""
        if up.state != INSIDE:
            return []
        idle = self.config.idle_mode and (up.last_traffic is None or up.last_traffic < (up.last_good_sent or 0))
        if idle and not up.stale:  # R-3.2.4-f: no traffic, no monitoring; the next packet wakes it
            return [log("debug", "idle", "%s: idle, monitoring paused" % up.iface)]
        return self._register_i(up, now)

    def _monitor_expired(self, up: Uplink, now: float) -> list:
        """R-3.2.4-b: more than T_MONITOR since the last good registration: no user data."""
        if self.config.idle_mode and not up.i_client.pending and up.monitor_at is None:
            up.stale = True  # R-3.2.4-f: hold traffic until a fresh registration succeeds
            return self._block(up, "idle: T_MONITOR passed, next packet waits for a registration")
        actions = [log("warning", "monitor-failed", "%s: no good i-HA registration for %g s (T_MONITOR)"
                       % (up.iface, self.config.t_monitor))]
        actions += self._block(up, "T_MONITOR expired")
        actions += self._transition(up, "monitor-failed", now)
        return actions + self._status_change(up, "T_MONITOR expired", now)

    # -- registrations -----------------------------------------------------------------------

    def _register_i(self, up: Uplink, now: float) -> list:
        c = self.config
        up.i_client.lifetime_cap = self._fa_lifetime(up)
        if up.care_of == c.i_hoa and not up.using_fa:  # RFC 5944 3.6.1.2: at home, deregister (R-2-e)
            return up.i_client.register(Route(up.iface, c.i_hoa, c.i_ha, c.i_hoa, 0), now, lifetime=0)
        return up.i_client.register(self._route(up, up.i_client, c.i_ha, c.reverse_tunnel_i), now)

    def _register_x(self, up: Uplink, now: float) -> list:
        c = self.config
        up.x_client.lifetime_cap = self._fa_lifetime(up)
        return up.x_client.register(self._route(up, up.x_client, c.x_ha, c.reverse_tunnel_x), now)

    def _deregister_x(self, up: Uplink, now: float) -> list:
        """RFC 5265 3.3, R-3.3-g: inside, the x-HA binding of this uplink goes away: the one asked for since
        the status change, or, when that request was held back by an inside hint (R-3.5-f), the one from
        before it (`x_care_of`)."""
        client = up.x_client
        # S: only this care-of; another uplink's x-MIP binding may be there or on its way (still detecting)
        others = any(o is not up and (o.state in (OUTSIDE, TENTATIVE_OUTSIDE) or o.x_client.registered(now)
                                      or o.x_client.pending) for o in self.uplinks.values())
        if client.route is not None and (client.registered(now) or client.outstanding):
            route = client.route
        elif up.x_care_of is not None and up.care_of is not None:
            fresh = self._route(up, client, self.config.x_ha, self.config.reverse_tunnel_x)
            route = Route(fresh.iface, fresh.src, fresh.dst, up.x_care_of, fresh.flags & ~FLAG_S)
        else:
            return []  # nothing was ever accepted or in flight: nothing to take back (R-3.3-j)
        client.stop_retransmitting()
        flags = (route.flags | FLAG_S) if others else route.flags
        return client.deregister(with_flags(route, flags), now)

    @staticmethod
    def _fa_lifetime(up: Uplink) -> int | None:
        """RFC 5944 2.1.1: through an FA, ask for no more than it advertises (0xffff: no limit)."""
        if not up.using_fa or up.fa is None or up.fa.registration_lifetime == 0xFFFF:
            return None
        return up.fa.registration_lifetime

    def _route(self, up: Uplink, client: RegistrationClient, ha: str, reverse_tunnel: bool) -> Route:
        """Co-located: from the care-of to the HA, D set (R-2.1-c, R-2.3-a). Via an FA: from the
        home address to the FA, D clear, T only if the FA offers it (R-2.2-c, R-2.4-b, R-2.4-c).
        S (RFC 5944 3.3) is clear only where this uplink is to take the HA's traffic from every
        other binding: it is, or is becoming, the primary and its binding does not carry yet."""
        taking = self.primary in (None, up.iface) or self.claiming == up.iface
        flags = 0 if taking and not client.first else FLAG_S
        hoa = client.home_address
        if up.using_fa:
            fa = up.fa
            assert fa is not None
            t = FLAG_T if reverse_tunnel and fa.reverse_tunnel else 0
            return Route(up.iface, hoa, fa.address, fa.care_of, flags | t)
        assert up.address is not None
        return Route(up.iface, up.address, ha, up.address, flags | co_located_flags(reverse_tunnel))

    def _vpn_reply(self, reply: RegistrationReply, now: float) -> list:
        """i-MIP through the IPsec tunnel. A TNC here proves nothing about any interface (R-3.2.3-c)."""
        if self.vpn_client.match(reply) is None:
            return self._ignore(now, "unmatched-reply", "VPN reply matches no request in flight")
        result, actions = self.vpn_client.receive(reply, now)
        if isinstance(result, Accepted) and result.tnc:
            actions.append(log("info", "tnc-via-vpn", "TNC in the i-HA reply through the VPN: expected, and no "
                               "evidence that any interface is inside (R-3.2.3-c)"))
        return actions + self._reconcile(now)

    # -- agent advertisements ----------------------------------------------------------------

    def _foreign_agent(self, adv: AgentAdvertisement, src: str, now: float) -> ForeignAgentInfo | None:
        mob = adv.mobility
        if mob is None or not mob.has(ADV_F) or not mob.care_of_addresses or adv.unknown_critical():
            return None
        if mob.registration_lifetime == 0:  # RFC 5944 2.1.1: it would accept no registration at all
            return None
        for ext in adv.extensions:  # RFC 5944 2.1.2: one prefix length per router address
            if isinstance(ext, PrefixLengths) and len(ext.prefix_lengths) != len(adv.router_addresses):
                return None
        return ForeignAgentInfo(src, mob.care_of_addresses[0], mob.sequence_number, now + adv.lifetime,
                                mob.has(ADV_T), mob.has(ADV_R), mob.registration_lifetime, mob.has(ADV_B))

    def _advertised(self, up: Uplink, info: ForeignAgentInfo, now: float) -> list:
        """R-3.2.2-d: a new FA, an FA reboot, or any change of care-of or of using an FA is a status change."""
        old, before = up.fa, (up.care_of, up.using_fa)
        same_agent = old is not None and (old.address, old.care_of) == (info.address, info.care_of)
        if info.busy and not same_agent:
            # RFC 5944 2.1.1: B means no *additional* mobile nodes; the FA we already use stays usable
            self.counters["fa-busy"] = self.counters.get("fa-busy", 0) + 1
            return []
        up.fa = info
        rebooted = old is not None and info.sequence < old.sequence and info.sequence < 256  # RFC 5944 2.4.2
        moved = old is None or (old.address, old.care_of) != (info.address, info.care_of) or rebooted
        if (up.care_of, up.using_fa) == before and not (up.using_fa and moved):
            return []
        why = "foreign agent %s rebooted" % info.address if rebooted else "foreign agent %s, care-of %s" % (
            info.address, up.care_of)
        return self._status_change(up, why, now)

    def _fa_lost(self, up: Uplink, now: float) -> list:
        was_fa = up.using_fa
        up.fa = None
        if not was_fa:
            return []
        if up.care_of is None:
            return self._leave(up, "care-of-lost", "foreign agent advertisement expired", now)
        return self._status_change(up, "foreign agent lost, using %s" % up.care_of, now)

    # -- mode, IKE and data gates ------------------------------------------------------------

    def _reconcile(self, now: float) -> list:
        """Derive primary uplink, IKE, i-MIP-over-VPN, gates and paths from the per-interface state."""
        actions: list = []
        if self.stopped:
            return actions
        usable = [up for up in self.uplinks.values() if self._usable(up, now)]
        self._hold_down(usable, now)
        current = self.uplinks.get(self.primary or "")
        drained = self.drain_until is not None and now >= self.drain_until
        if drained or self.uplinks.get(self.draining or "") not in usable:
            self.draining = self.drain_until = None
        best = self._best(usable, current)
        if self.claiming is not None and (best is None or best.iface != self.claiming):
            self.claiming = None  # the uplink it was for is no longer the one to move to
        if best is not current:
            if best is not None and current in usable and not self._carries(best):
                actions += self._claim(best, now)  # make before break: `current` carries until the HA moved
            else:
                if current in usable and best is not None:  # moved before the old path broke: let it drain
                    self.draining, self.drain_until = current.iface, now + DRAIN
                self.primary = best.iface if best else None
                if best is not None and best.usable_since is not None:
                    best.waited = now - best.usable_since
                actions.append(log("info", "primary", "primary uplink: %s" % (self.primary or "none")))
        primary = self.uplinks.get(self.primary or "")
        if primary is not None and not self._carries(primary):
            actions += self._claim(primary, now)  # the old path is gone: move the HA's traffic at once
        elif primary is not None and self.claiming == primary.iface:
            self.claiming = None
        actions += self._ike(primary, now)
        for up in self.uplinks.values():
            actions += self._gate(up, now)
        return actions

    def _hold_down(self, usable: list[Uplink], now: float) -> None:
        """An uplink that becomes usable settles after its hold-down; losing usability resets it."""
        for up in self.uplinks.values():
            if up not in usable:
                up.usable_since = up.settle_at = None
            elif up.usable_since is None:
                hold = self.config.hold_down_of(up.iface)
                up.usable_since, up.settle_at = now, (now + hold if hold > 0 else None)
            elif up.settle_at is not None and now >= up.settle_at:
                up.settle_at = None

    def _best(self, usable: list[Uplink], current: Uplink | None) -> Uplink | None:
        """Priority among the settled uplinks and the current primary: traffic moves back to an uplink
        only once it has stayed up for its hold-down; with nothing settled, whatever works now."""
        pool = [up for up in usable if up.settle_at is None]
        if current in usable and current not in pool:
            pool.append(current)
        pool = pool or usable
        return min(pool, key=lambda u: (u.priority, u.iface)) if pool else None

    def _carrier(self, up: Uplink) -> RegistrationClient:
        """The registration whose binding takes this uplink's traffic: i-MIP inside, x-MIP outside."""
        return up.i_client if up.state == INSIDE else up.x_client

    def _carries(self, up: Uplink) -> bool:
        """Whether the HA sends to this uplink's binding (its S-clear registration was accepted)."""
        return self._mode(up) == "home" or self._carrier(up).first

    def _claim(self, up: Uplink, now: float) -> list:
        """RFC 5944 3.6.1.2: an S-clear registration on `up` makes its binding the HA's only one."""
        client = self._carrier(up)
        if self.claiming == up.iface and client.pending:
            return []
        self.claiming = up.iface
        actions = [log("info", "claim", "%s: registering without S so the %s sends here" % (up.iface, client.name))]
        return actions + (self._register_i(up, now) if client is up.i_client else self._register_x(up, now))

    def _displaced(self, winner: RegistrationClient, now: float) -> list:
        """The HA kept only `winner`'s binding: the other uplinks registered there add theirs again
        (S set); an i-MIP binding through the VPN is simply gone."""
        actions: list = []
        if winner is not self.vpn_client and winner.home_address == self.vpn_client.home_address:
            self.vpn_client.reset()
        for up in self.uplinks.values():
            for client in (up.i_client, up.x_client):
                if client is winner or client.home_address != winner.home_address:
                    continue
                client.first = False
                if client.route is not None and client.registered(now) and client.lifetime:
                    actions += client.register(with_flags(client.route, client.route.flags | FLAG_S), now)
        return actions

    def _usable(self, up: Uplink, now: float) -> bool:
        if up.state == INSIDE:
            return up.fresh(now, self.config.t_monitor)
        return up.state == OUTSIDE and up.x_client.registered(now)

    def _ike(self, primary: Uplink | None, now: float) -> list:
        c = self.config
        if primary is None:
            return []  # keep the SA: it is anchored on the x-HoA (R-1.7-a)
        if primary.state == INSIDE:
            if self.ike == "down" or self.draining is not None:  # the VPN path drains first
                return []
            self.ike, self.vpn_tia = "down", None  # R-3.3-l, R-1.1-a: inside, IPsec is dormant
            self.ike_reason, self.ike_retry_at = "inside on %s" % primary.iface, None
            self.vpn_client.reset()
            return [IkeDown("inside on %s (RFC 5265 3.3)" % primary.iface)]
        actions: list = []
        if self.ike == "down":  # R-2.3-c: IKE from the x-HoA, through x-MIP
            if self.ike_retry_at is not None and now < self.ike_retry_at:
                return []
            self.ike, self.ike_retry_at, self.ike_reason = "connecting", None, "initiating"
            actions.append(IkeUp(c.x_hoa, c.vpn_gateway))
        elif self.ike == "up" and self.vpn_tia and self.vpn_client.route is None:
            # R-2.3-e, R-2.3-f: i-MIP through the tunnel, CoA = VPN-TIA, D and T set
            route = Route(VPN, self.vpn_tia, c.i_ha, self.vpn_tia, co_located_flags(c.reverse_tunnel_i))
            actions += self.vpn_client.register(route, now)
        return actions

    def _gate(self, up: Uplink, now: float) -> list:
        path: str | None = None
        outside = up.state == OUTSIDE and up.x_client.registered(now)
        if up.fresh(now, self.config.t_monitor):
            path = "plain"  # R-2.1-a, R-2.2-a: only after a qualifying TNC reply here
        elif outside and self.ike == "up" and self.vpn_client.registered(now) and up.iface == self.primary:
            path = "vpn"  # R-3.2.2-c: x-MIP, IKE and i-MIP all in place
        actions: list = []
        if path != up.gate:
            up.gate = path
            actions.append(Gate(up.iface, path, "mode %s" % self._mode(up) if path else "not ready"))
        # R-2.3-c: outside, the x-MIP layer is assembled before IKE, which runs through it;
        # user data still waits for the gate.
        wanted = (self._mode(up), up.care_of, self._tunnels(up)) if path or outside else None
        if wanted != up.path:
            up.path = wanted
            actions.append(SetPath(up.iface, *wanted) if wanted else SetPath(up.iface, None))
        return actions

    def _mode(self, up: Uplink) -> str | None:
        if up.state == INSIDE:
            if up.care_of == self.config.i_hoa and not up.using_fa:
                return "home"
            return "f" if up.using_fa else "c"
        if up.state == OUTSIDE:
            return "fvc" if up.using_fa else "cvc"
        return None

    def _tunnels(self, up: Uplink) -> tuple[Tunnel, ...]:
        """RFC 5265 5.6, R-5.6-b: the layer stack of this uplink, outermost first."""
        c, mode, coa = self.config, self._mode(up), up.care_of
        inner: tuple[Tunnel, ...] = ()
        if self.ike == "up" and self.vpn_tia and up.iface in (self.primary, self.draining):  # one IKE SA
            inner = (Tunnel(VPN_TUNNEL, self.vpn_tia, c.i_ha, _udp(self.vpn_client)),)
        if mode == "c":
            return (Tunnel("mip4-i-" + up.iface[:8], coa or "", c.i_ha, _udp(up.i_client)),)
        if mode == "cvc":
            return (Tunnel("mip4-x-" + up.iface[:8], coa or "", c.x_ha, _udp(up.x_client)),) + inner
        if mode == "f":  # RFC 5177 3.2: a mobile router's networks use the MR-HA tunnel from its home address
            return (Tunnel("mip4-i-" + up.iface[:8], c.i_hoa, c.i_ha),)
        if mode == "fvc":
            return inner
        return ()

    def _block(self, up: Uplink, reason: str) -> list:
        if up.gate is None and up.path is None:
            return []
        up.gate, up.path = None, None
        return [Gate(up.iface, None, reason), SetPath(up.iface, None)]

    # -- helpers -----------------------------------------------------------------------------

    def _transition(self, up: Uplink, event: str, now: float) -> list:
        new = next_state(up.state, event)
        if new == up.state and event not in ("status-change",):
            return []
        old, up.state = up.state, new
        up.reason, up.changed_at = event, now
        return [log("info", "state", "%s: %s -> %s (%s)" % (up.iface, old, new, event), iface=up.iface)]

    def _uplink(self, iface: str) -> Uplink:
        up = self.uplinks.get(iface)
        if up is None:
            c = self.config
            up = Uplink(iface, c.priority(iface), self._client("i-ha", c.i_hoa, c.i_ha, c.i_sa),
                        self._client("x-ha", c.x_hoa, c.x_ha, c.x_sa, may_drop_t=True))
            self.uplinks[iface] = up
        return up

    def _client(self, name: str, hoa: str, ha: str, sa: Any, may_drop_t: bool = False) -> RegistrationClient:
        c = self.config
        ids = self.identifications.setdefault((ha, hoa), Identifications())
        return RegistrationClient(name, hoa, ha, sa, c.timing, self.rng, c.nai, may_drop_t, wall=self._wall, ids=ids,
                                  taken=self.taken, udp_request=c.nat_traversal, udp_keepalive=c.udp_keepalive)

    def clients(self) -> list[RegistrationClient]:
        return [self.vpn_client] + [cl for up in self.uplinks.values() for cl in (up.i_client, up.x_client)]

    def _wall(self, now: float) -> float:
        return now + self.wall_offset

    def _ignore(self, now: float, reason: str, message: str) -> list:
        """Count what we drop; log it unless `reason` has filled its share of the log lately (anyone on
        an uplink can send us datagrams and ICMP)."""
        self.counters[reason] = self.counters.get(reason, 0) + 1
        text = self.log_limiter.admit(reason, message, now)
        if text is None:
            self.counters["log-suppressed"] = self.counters.get("log-suppressed", 0) + 1
            return []
        return [log("warning", reason, text)]

    # -- status ------------------------------------------------------------------------------

    def status(self, now: float) -> dict:
        c = self.config
        primary = self.uplinks.get(self.primary or "")
        counters = dict(self.counters)
        for cl in self.clients():
            for k, v in cl.counters.items():
                counters[k] = counters.get(k, 0) + v
        return {
            "mode": self._mode(primary) if primary else None,
            "primary": self.primary,
            "claiming": self.claiming,
            "ike": self.ike,
            "ike_reason": self.ike_reason,
            "ike_retry_in": None if self.ike_retry_at is None else max(0.0, self.ike_retry_at - now),
            "vpn_tia": self.vpn_tia,
            "vpn_registrations": _registrations([self.vpn_client], now),
            "t_monitor": c.t_monitor,
            "interfaces": {up.iface: self._uplink_status(up, now) for up in self.uplinks.values()},
            "counters": counters,
        }

    def _uplink_status(self, up: Uplink, now: float) -> dict:
        deadline = up.monitor_deadline(self.config.t_monitor) if up.state == INSIDE else None
        return {
            "state": up.state, "mode": self._mode(up), "care_of": up.care_of, "gate": up.gate,
            "foreign_agent": up.fa.address if up.using_fa and up.fa else None,
            "hints": dict(up.hints), "priority": up.priority,
            "hold_down_left": None if up.settle_at is None else max(0.0, up.settle_at - now),
            "waited_s": up.waited,  # usable this long before it last took the traffic (hold-down honoured)
            "carries": up.state in (INSIDE, OUTSIDE) and self._carries(up),
            "t_monitor_left": None if deadline is None else max(0.0, deadline - now),
            "x_ha_registered": up.x_client.registered(now),
            "detection": {"verdict": up.state, "reason": up.reason,
                          "since": None if up.changed_at is None else round(now - up.changed_at, 3)},
            "registrations": _registrations([up.i_client, up.x_client], now),
        }


def _udp(client: RegistrationClient) -> int:
    """RFC 3519: the HA's port 434 when the layer's binding is UDP tunnelled, 0 for IP-in-IP."""
    return PORT if client.udp_tunnel else 0


def _registrations(clients: list[RegistrationClient], now: float) -> list[dict]:
    """Registrations as the status shows them: to which agent, via which care-of, how long they have left."""
    return [{"agent": c.name, "home_agent": c.home_agent, "care_of": c.route.care_of, "lifetime": c.lifetime,
             "remaining": None if c.expires_at is None else max(0.0, c.expires_at - now),
             "registered": c.registered(now), "pending": c.pending, "udp_tunnel": c.udp_tunnel,
             "keepalives": c.counters.get("keepalive", 0), "nat_mapping_lost": c.counters.get("nat-mapping-lost", 0)}
            for c in clients if c.route is not None]


def _client_timers(clients: list[RegistrationClient], now: float) -> list:
    """Run the timers of those clients that are due."""
    actions: list = []
    for client in clients:
        timer = client.get_timer()
        if timer is not None and timer <= now:
            actions += client.handle_timer(now)
    return actions
