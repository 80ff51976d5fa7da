"""One Mobile IPv4 registration client: x-MIP, i-MIP, or a detection probe (RFC 5944 3.6).

It builds and retransmits requests, checks replies and reports what a reply means; the owner
(the mobile node) decides what that means for detection and data. RFC 5265 5.1, R-5.1-b: each
instance keeps its own identification, clock offset and lifetime state.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ..wire import codes, ident
from ..wire.extensions import (
    ENCAP_IP_IN_IP,
    MOBILE_HOME_AUTH,
    UDP_TUNNEL_ACCEPTED,
    Nai,
    TrustedNetworksConfigured,
    UdpTunnelReply,
    UdpTunnelRequest,
)
from ..wire.registration import FLAG_D, FLAG_S, FLAG_T, PORT, RegistrationReply, RegistrationRequest
from .actions import Datagram, SendUdp, log
from .config import SecurityAssociation, Timing
from .identification import Identifications
from .keepalive import Keepalive, interval
from .timers import earliest


def _same(now: float) -> float:
    return now


@dataclass(frozen=True)
class Route:
    """Where requests go and what they say: the part that changes with the point of attachment."""

    iface: str
    src: str  # our IP source address
    dst: str  # the home agent, or the foreign agent relaying to it
    care_of: str
    flags: int  # D, T, S as this attachment needs


@dataclass(frozen=True)
class Accepted:
    code: int
    lifetime: int
    sent_at: float  # when the request this reply answers was sent (RFC 5265 3.2.4 reference point)
    tnc: bool  # a Sub-Type 0 TNC covered by the MN-HA authenticator (RFC 5265 3.4, R-3.4-c/d)
    deregistration: bool
    udp_tunnel: bool = False  # RFC 3519: the HA tunnels this binding over UDP (it saw a NAT)


@dataclass(frozen=True)
class Denied:
    code: int
    by: str  # "HA" (authenticated) or "FA" (RFC 5944 3.6.2.1: no MN-HA authenticator)


@dataclass
class _Sent:
    identification: int
    sent_at: float
    lifetime: int  # what this request asked for: a late reply answers it, not the current attempt
    flags: int = 0


# RFC 5944 3.6.2.2-3.6.2.3 and RFC 3024: what to change before trying again after a denial.
# Codes not listed: log and retry after the backoff. 135 (too many simultaneous bindings) is the
# owner's: dropping S would replace every binding, the one that carries too (mobile_node.py).
_ADJUST = {
    codes.FA_LIFETIME_TOO_LONG: "lifetime",
    codes.FA_REVERSE_TUNNEL_UNAVAILABLE: "drop-t",
    codes.HA_REVERSE_TUNNEL_UNAVAILABLE: "drop-t",
    codes.FA_REVERSE_TUNNEL_MANDATORY: "set-t",
    codes.HA_REVERSE_TUNNEL_MANDATORY: "set-t",
}


@dataclass
class RegistrationClient:
    name: str  # "i-ha", "x-ha" or "vpn": for logs
    home_address: str
    home_agent: str
    sa: SecurityAssociation
    timing: Timing
    rng: random.Random
    nai: bytes | None = None
    may_drop_t: bool = False  # R-2.3-b: x-MIP reverse tunnelling is a MAY, i-MIP's is kept
    route: Route | None = None
    lifetime: int = 0  # lifetime asked for in the current attempt
    lifetime_cap: int | None = None  # through an FA: its advertised Registration Lifetime (RFC 5944 2.1.1)
    # RFC 5944 5.7.1: clock offset (corrected after code 133) and last identification, shared by the
    # node's clients of this home address at this home agent (identification.py)
    ids: Identifications = field(default_factory=Identifications)
    wall: Callable[[float], float] = _same  # `now` (monotonic) -> time of day, for identification only
    outstanding: list[_Sent] = field(default_factory=list)
    retransmit_at: float | None = None
    timeout: float = 0.0
    renew_at: float | None = None
    expires_at: float | None = None  # binding lifetime end of the last acceptance
    first: bool = False  # an S-clear registration of ours was accepted: our binding alone carries traffic
    resyncs: int = 0
    attempts: int = 0  # requests sent in the current attempt
    last_sent: float | None = None  # when the newest request went out (kept across attempts and resets)
    taken: set = field(default_factory=set)  # low 32 bits in flight, shared by the node's clients
    udp_request: bool = False  # RFC 3519 3.1 (R-2.5-a, R-2.5-b): co-located requests ask for UDP tunnelling
    udp_keepalive: int = 0  # our own ceiling on the keepalive interval, seconds (0: the HA's)
    udp_tunnel: bool = False  # the last acceptance granted UDP tunnelling
    keepalive: Keepalive | None = None  # RFC 3519 4.9-4.10, while udp_tunnel
    counters: dict = field(default_factory=dict)

    # -- starting and stopping ---------------------------------------------------------------

    def register(self, route: Route, now: float, lifetime: int | None = None) -> list:
        """Start a new attempt; replies to requests of earlier attempts still match (see reset)."""
        self.route = route
        if lifetime is None:  # RFC 5944 3.6.1.3: no more than the FA advertised (code 69 otherwise)
            cap = self.lifetime_cap
            lifetime = self.timing.lifetime if cap is None else min(self.timing.lifetime, cap)
        self.lifetime = lifetime
        self.timeout = self.timing.retransmit_initial
        self.renew_at = None
        self.resyncs = 0
        self.attempts = 0
        return self._send(now)

    def deregister(self, route: Route, now: float) -> list:
        """RFC 5944 3.6.1.2: lifetime 0 for this care-of (S set: only this one).

        Replies to the registrations before it no longer matter; retried a few times only."""
        self._forget()
        actions = self.register(route, now, lifetime=0)
        self.expires_at = None
        self.first = False
        self._no_udp()
        return actions

    def stop_retransmitting(self) -> None:
        """RFC 5265 3.3, R-3.3-f: no more retransmissions; a late reply may still be accepted."""
        self.retransmit_at = None

    def reset(self) -> None:
        """Forget everything sent: replies to earlier requests never count (R-3.2.3-a)."""
        self._forget()
        self.retransmit_at = None
        self.renew_at = None
        self.expires_at = None
        self.route = None
        self.first = False
        self._no_udp()

    def superseded(self) -> None:
        """Another registration of ours replaced this binding as the HA's first (RFC 5944 3.6.1.2), or the HA
        dropped it: the next request must clear S to take the traffic back."""
        self.first = False

    def only_binding(self) -> None:
        """The HA said this binding is its only one (RFC 5944 3.4, code 1): it carries the traffic."""
        self.first = True

    def _no_udp(self) -> None:
        self.udp_tunnel = False
        self.keepalive = None

    def _forget(self) -> None:
        for sent in self.outstanding:
            self.taken.discard(sent.identification & 0xFFFFFFFF)
        self.outstanding.clear()

    @property
    def clock_offset(self) -> int:
        """Seconds added to our time of day for identifications (RFC 5944 5.7.1), learnt from code 133."""
        return self.ids.clock_offset

    @property
    def pending(self) -> bool:
        return self.retransmit_at is not None

    def registered(self, now: float) -> bool:
        return self.expires_at is not None and now < self.expires_at

    # -- timers ------------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        return earliest(self.retransmit_at, self.renew_at, self.keepalive.due_at if self.keepalive else None)

    def heard(self, now: float) -> None:
        """UDP tunnel data from the HA arrived (data or a keepalive's echo): the NAT mapping works."""
        if self.keepalive is not None:
            self.keepalive.heard(now)

    def _keepalive(self, ka: Keepalive, now: float) -> list:
        """RFC 3519 4.9-4.10: a keepalive, or, after a silent spell, a new registration for a new mapping."""
        route = self.route
        assert route is not None
        silent_for = ka.silent_for(now)
        if not self.pending and ka.lost(now):
            ka.due_at = now + ka.every
            self._count("nat-mapping-lost")
            line = log("warning", "nat-mapping-lost", "%s: nothing through the UDP tunnel for %.1f s; "
                       "registering again for a new NAT mapping" % (self.name, silent_for))
            return [line] + self.register(route, now)
        self._count("keepalive")
        return [SendUdp(Datagram(route.iface, route.src, PORT, self.home_agent, PORT, ka.packet(now)))]

    def handle_timer(self, now: float) -> list:
        if self.retransmit_at is not None and now >= self.retransmit_at:
            if self.lifetime == 0 and self.attempts >= self.timing.deregister_attempts:
                self.retransmit_at = None  # an unanswered deregistration is not worth a storm
                self._forget()
                self.route = None
                return [log("info", "deregistration-unanswered", "%s: no reply to %d deregistrations; the "
                            "binding expires on its own" % (self.name, self.attempts))]
            # RFC 5944 3.6.3: back off exponentially, up to a ceiling
            self.timeout = min(self.timeout * 2, self.timing.retransmit_max)
            self._count("retransmitted")
            return self._send(now)
        if self.renew_at is not None and now >= self.renew_at and self.route is not None:
            # RFC 5944 3.6.3: re-register before the binding expires
            return self.register(self.route, now)
        ka = self.keepalive
        if ka is not None and ka.due_at is not None and now >= ka.due_at and self.route is not None:
            return self._keepalive(ka, now)
        return []

    # -- requests ----------------------------------------------------------------------------

    def _send(self, now: float) -> list:
        route = self.route
        assert route is not None
        # RFC 5944 5.7.1: greater than every one sent to this HA for this home address, by any of our
        # clients; RFC 5944 3.6.2.1: low 32 bits unique across the node's clients (a reply matches one request)
        identification = self.ids.draw(self.wall(now), self.rng, self.taken)
        extensions: list = [Nai(self.nai)] if self.nai else []
        if self.udp_request and route.flags & FLAG_D and self.lifetime:  # RFC 3519 3.1: co-located only
            extensions.append(UdpTunnelRequest(ENCAP_IP_IN_IP))  # HA-bound: before the MN-HA authenticator
        request = RegistrationRequest(self.home_address, self.home_agent, route.care_of, identification,
                                      self.lifetime, route.flags, extensions)
        request.authenticate(MOBILE_HOME_AUTH, self.sa.spi, self.sa.key)
        self.outstanding.append(_Sent(identification, now, self.lifetime, route.flags))
        self.taken.add(identification & 0xFFFFFFFF)
        for old in self.outstanding[:-16]:  # a bounded memory of what is in flight
            self.taken.discard(old.identification & 0xFFFFFFFF)
        del self.outstanding[:-16]
        self.attempts += 1
        self.last_sent = now
        self.retransmit_at = now + self.timeout
        self._count("sent")
        return [SendUdp(Datagram(route.iface, route.src, PORT, route.dst, PORT, request.encode()))]

    # -- replies -----------------------------------------------------------------------------

    def match(self, reply: RegistrationReply) -> _Sent | None:
        """The outstanding request a reply answers (RFC 5944 3.6.2.1: low 32 bits), if any."""
        if reply.home_address != self.home_address:
            return None
        for sent in self.outstanding:
            if ident.reply_matches(sent.identification, reply.identification):
                return sent
        return None

    def receive(self, reply: RegistrationReply, now: float) -> tuple[Accepted | Denied | None, list]:
        """Check a reply that match() paired with a request; None means it is ignored (and logged)."""
        sent = self.match(reply)
        if sent is None:
            return self._reject("unmatched-reply", "reply matches no request in flight (replay or stale)", reply)
        code = reply.code
        if codes.denied_by(code) == "FA" and reply.find(MOBILE_HOME_AUTH, self.sa.spi) < 0:
            if self.route is None or self.route.dst == self.home_agent:  # no FA on this path to deny anything
                return self._reject("unauthenticated-denial", "FA denial code %d with no FA in the path" % code,
                                    reply)
            return Denied(code, "FA"), self._denial(reply, now)
        if not reply.verify(MOBILE_HOME_AUTH, self.sa.spi, self.sa.key):  # RFC 5944 3.6.2.1, R-6.1-a
            return self._reject("bad-authenticator", "MN-HA authenticator missing or wrong", reply)
        if reply.home_agent != self.home_agent and code != codes.HA_UNKNOWN_HA_ADDRESS:
            return self._reject("wrong-home-agent", "reply names another home agent", reply)
        if reply.unknown_critical():
            return self._reject("unknown-extension", "reply has an unknown non-skippable extension", reply)
        if code == codes.HA_IDENTIFICATION_MISMATCH:
            return self._resync(reply, now)
        if codes.is_accepted(code):
            return self._accepted(reply, sent, now)
        return Denied(code, "HA"), self._denial(reply, now)

    def _accepted(self, reply: RegistrationReply, sent: _Sent, now: float) -> tuple[Accepted, list]:
        self._forget()  # replies to older requests are stale now
        self.retransmit_at = None
        self.resyncs = 0
        granted = min(reply.lifetime, sent.lifetime) if sent.lifetime else 0
        dereg = sent.lifetime == 0
        if dereg or granted == 0:
            self.expires_at = None
            self.renew_at = None
            self.first = False
        else:  # RFC 5944 3.6.1.2: the lifetime runs from when the request was sent
            self.expires_at = sent.sent_at + granted
            self.renew_at = sent.sent_at + granted * self.timing.renew_fraction
            if not sent.flags & FLAG_S and self.route is not None:
                # RFC 5944 3.6.1.2: S clear replaced every other binding; renewals set S so that
                # bindings added since (another uplink's) survive, and ours stays the first
                self.first = True
                self.route = with_flags(self.route, self.route.flags | FLAG_S)
        # R-3.4-c: the codec gives TrustedNetworksConfigured only for Sub-Type 0, Length 2;
        # R-3.4-d: and only one the MN-HA authenticator covers counts
        tnc = any(isinstance(e, TrustedNetworksConfigured)
                  for e in reply.protected_extensions(MOBILE_HOME_AUTH, self.sa.spi))
        udp = self._udp_reply(reply, now) if not dereg and granted else False
        self._count("accepted")
        result = Accepted(reply.code, granted, sent.sent_at, tnc, dereg, udp)
        return result, [log("info", "registered" if not dereg else "deregistered",
                            "%s: %s, lifetime %d" % (self.name, codes.describe(reply.code), granted),
                            coa=self.route.care_of if self.route else None, tnc=tnc)]

    def _udp_reply(self, reply: RegistrationReply, now: float) -> bool:
        """RFC 3519 3.2: an authenticated UDP Tunnel Reply with code 0 turns UDP tunnelling on, with
        the HA's keepalive interval (or ours, if shorter); anything else means IP-in-IP."""
        answer = next((e for e in reply.protected_extensions(MOBILE_HOME_AUTH, self.sa.spi)
                       if isinstance(e, UdpTunnelReply)), None)
        if answer is None or answer.code != UDP_TUNNEL_ACCEPTED:
            self._no_udp()
            return False
        every = interval(answer.keepalive, self.udp_keepalive)
        heard = self.keepalive.heard_at if self.udp_tunnel and self.keepalive else now
        self.keepalive = Keepalive.start(self.home_address, self.home_agent, every, now)
        self.keepalive.heard(heard)
        self.udp_tunnel = True
        return True

    def _resync(self, reply: RegistrationReply, now: float) -> tuple[Denied, list]:
        """RFC 5944 5.7.1: take the HA's clock from the authenticated reply, then try again."""
        self.ids.resync(reply.identification, self.wall(now))
        self._count("resync")
        line = log("warning", "identification-mismatch", "%s: %s, clock offset now %+d s"
                   % (self.name, codes.describe(reply.code), self.clock_offset))
        self.resyncs += 1
        if self.resyncs <= self.timing.resync_limit and self.route is not None:
            self.timeout = self.timing.retransmit_initial
            return Denied(reply.code, "HA"), [line] + self._send(now)
        return Denied(reply.code, "HA"), [line]

    def _denial(self, reply: RegistrationReply, now: float) -> list:
        self._count("denied")
        actions = [log("warning", "denied", "%s: %s" % (self.name, codes.describe(reply.code)))]
        change = _ADJUST.get(reply.code)
        route = self.route
        if route is None:
            return actions
        if change == "lifetime" and 0 < reply.lifetime < self.lifetime:
            self.lifetime = reply.lifetime
        elif change == "drop-t" and route.flags & FLAG_T and self.may_drop_t:
            self.route = with_flags(route, route.flags & ~FLAG_T)
        elif change == "set-t" and not route.flags & FLAG_T:
            self.route = with_flags(route, route.flags | FLAG_T)
        else:  # nothing to change: try again after the backoff, which keeps growing
            return actions
        self.timeout = self.timing.retransmit_initial
        return actions + self._send(now)

    def _reject(self, reason: str, why: str, reply: RegistrationReply) -> tuple[None, list]:
        self._count(reason)
        return None, [log("warning", reason, "%s: ignored reply (%s)" % (self.name, why),
                          code=reply.code, hoa=reply.home_address)]

    def _count(self, what: str) -> None:
        self.counters[what] = self.counters.get(what, 0) + 1


def with_flags(route: Route, flags: int) -> Route:
    return Route(route.iface, route.src, route.dst, route.care_of, flags)


def co_located_flags(reverse_tunnel: bool) -> int:
    """RFC 5944 3.3: D for a co-located care-of address; T for RFC 3024 reverse tunnelling."""
    return FLAG_D | (FLAG_T if reverse_tunnel else 0)


def due_timers(clients: list[RegistrationClient], now: float) -> list:
    """Run the timers of those clients that are due."""
    actions: list = []
    for client in clients:
        timer = client.get_timer()
        if timer is not None and timer <= now:
            actions += client.handle_timer(now)
    return actions
