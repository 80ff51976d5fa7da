"""The foreign agent (RFC 5944 2.3, 3.7; RFC 3024 reverse tunnelling), Sans-IO.

A plain RFC 5944 foreign agent: it advertises, relays requests to home agents and replies back,
and keeps a visitor list that drives the data plane. It knows nothing of RFC 5265 (R-2.4-d,
R-5.1-a): no TNC logic, and skippable extensions it does not know pass through untouched.

This module relays and keeps the tables; its helpers each do one job: fa_discovery (advertisements,
solicitations), fa_denials (the RFC 5944 3.7.2.1 denial table), fa_messages (the FA's part of the
messages), fa_plane (routes and tunnels), fa_udp (RFC 3519 keepalives), events (counters, log).
"""
from __future__ import annotations

import random

from ..wire import CodecError, RegistrationReply, RegistrationRequest, codes, decode_icmp, decode_registration
from ..wire.extensions import UDP_TUNNEL_ACCEPTED
from ..wire.icmp import AgentSolicitation
from ..wire.registration import FLAG_D, FLAG_T, LIFETIME_INFINITE, PORT, request_header
from .actions import Datagram, Icmp, Log, SendUdp
from .config import ForeignAgentConfig
from .events import Events
from .fa_denials import Arrival, denial
from .fa_discovery import Advertiser
from .fa_messages import fa_part_start, ha_authentic, relayed_reply, relayed_request, udp_reply, unicast
from .fa_plane import VisitorPlane, describe
from .fa_udp import UdpKeepalives
from .keepalive import Keepalive
from .ratelimit import SourceLimiter
from .timers import earliest
from .visitors import Pending, PendingList, Visitor, VisitorList, pending_key

__all__ = ["PORT", "ForeignAgent", "fa_part_start"]


class ForeignAgent:
    """One foreign agent serving the access links of `config.links`."""

    def __init__(self, config: ForeignAgentConfig, rng: random.Random) -> None:
        self.config = config
        self.rng = rng  # advertisements are strictly periodic; kept for interface parity with the other roles
        self.pending = PendingList()
        self.visitors = VisitorList()
        self.events = Events()
        self.counters = self.events.counters
        self.advertiser = Advertiser(config, self.events, lambda: len(self.visitors) >= config.max_visitors)
        self.plane = VisitorPlane(config)
        self.udp = UdpKeepalives(config, self.events)
        self.limiter = SourceLimiter(config.rate_limit, config.rate_burst)  # requests per source on access links

    @property
    def sequence(self) -> dict[str, int]:
        """Next advertisement sequence number per access link (RFC 5944 2.3.2)."""
        return self.advertiser.sequence

    @property
    def next_advertisement(self) -> float | None:
        return self.advertiser.next_at

    @property
    def keepalives(self) -> dict[str, Keepalive]:
        """Our UDP tunnels' keepalives by home agent (RFC 3519 4.9)."""
        return self.udp.keepalives

    # -- lifecycle and timers ------------------------------------------------------------------

    def start(self, now: float) -> list:
        """First advertisement on every access link (RFC 5944 2.3.1), then one every interval."""
        return self.advertiser.start(now)

    def get_timer(self) -> float | None:
        return earliest(self.advertiser.next_due(), self.pending.next_expiry(), self.visitors.next_expiry(),
                        *self.udp.next_due())

    def handle_timer(self, now: float) -> list:
        actions: list = self.advertiser.due(now)
        for p in self.pending.expire(now):  # RFC 5944 3.7.1: no reply in time
            actions += self._deny_pending(p, codes.FA_REGISTRATION_TIMEOUT, "pending-timeout",
                                          "no reply from the home agent within %g s" % self.config.pending_timeout)
        for v in self.visitors.expire(now):
            actions.append(self.events.event("info", "visitor-expired", "visitor %s (home agent %s) on %s: lifetime "
                                             "over" % (v.home_address, v.home_agent, v.iface), hoa=v.home_address,
                                             ha=v.home_agent))
        actions += self.udp.due(now, self.visitors, self.advertiser)
        return actions + self._sync()

    # -- agent discovery (RFC 5944 2.3) ----------------------------------------------------------

    def receive_icmp(self, msg: Icmp, now: float) -> list:
        if msg.iface not in self.config.links:
            return self._events(now, "debug", "not-access-link", "ICMP on %s ignored: not an access link" % msg.iface)
        try:
            parsed = decode_icmp(msg.payload)
        except CodecError as e:
            return self._events(now, "warning", "malformed", "bad ICMP from %s on %s: %s" % (msg.src, msg.iface, e))
        if not isinstance(parsed, AgentSolicitation):
            return self._events(now, "debug", "ignored-icmp", "%s from %s on %s ignored"
                                % (type(parsed).__name__, msg.src, msg.iface))
        return self.advertiser.solicitation(msg, now)

    # -- registration messages -------------------------------------------------------------------

    def receive_udp(self, dgram: Datagram, now: float) -> list:
        if dgram.iface in self.config.links:
            return self._from_access(dgram, now)
        if dgram.iface == self.config.core_iface:
            return self._from_core(dgram, now)
        return self._events(now, "debug", "not-our-interface", "UDP on %s ignored" % dgram.iface)

    def _from_access(self, dgram: Datagram, now: float) -> list:
        if dgram.dport != PORT:
            return self._events(now, "debug", "wrong-port", "UDP to port %d on %s ignored" % (dgram.dport, dgram.iface))
        header = request_header(dgram.payload)
        if header is None:  # not even the fixed part of a request: nothing to answer with
            msg = self._decode(dgram, now)
            if isinstance(msg, list):
                return msg
            return self._events(now, "warning", "unexpected-message", "%s from %s on access link %s dropped"
                                % (type(msg).__name__, dgram.src, dgram.iface))
        if not self.limiter.allow(dgram.src, now):  # a flood from one source: no decoding, no relaying, no reply
            return self._events(now, "warning", "rate-limited", "registration request from %s on %s dropped: more "
                                "than %g a second from that source" % (dgram.src, dgram.iface, self.config.rate_limit),
                                src=dgram.src, hoa=header.home_address)
        # RFC 5944 3.7.2.1, 3.7.2.3: the fixed part is a request, the rest is not (or too long to try): 70
        try:
            msg = decode_registration(dgram.payload)
        except CodecError as e:
            return self._deny_request(dgram, header, codes.FA_POORLY_FORMED_REQUEST, "poorly-formed-request",
                                      str(e), now)
        return self._request(dgram, msg, now)

    def _from_core(self, dgram: Datagram, now: float) -> list:
        if dgram.sport != PORT:  # RFC 5944 3.8.3: home agents reply from port 434
            return self._events(now, "debug", "wrong-port", "UDP from port %d on %s ignored"
                                % (dgram.sport, dgram.iface))
        msg = self._decode(dgram, now)
        if isinstance(msg, list):
            return msg
        if not isinstance(msg, RegistrationReply):
            return self._events(now, "warning", "unexpected-message", "%s from %s on %s dropped"
                                % (type(msg).__name__, dgram.src, dgram.iface))
        return self._reply(dgram, msg, now)

    def _decode(self, dgram: Datagram, now: float) -> object:
        """The message, or (undecodable: RFC 5944 1.9, discarded) the log actions of dropping it."""
        try:
            return decode_registration(dgram.payload)
        except CodecError as e:
            return self._events(now, "warning", "malformed", "bad message from %s on %s dropped: %s"
                                % (dgram.src, dgram.iface, e))

    # -- requests from mobile nodes (RFC 5944 3.7.2) -----------------------------------------------

    def _request(self, dgram: Datagram, rq: RegistrationRequest, now: float) -> list:
        problem = denial(self.config, Arrival(dgram, rq, self.visitors, self.pending))
        if problem is not None:
            return self._deny_request(dgram, rq, *problem, now)
        key = pending_key(rq.home_address, rq.home_agent, rq.identification)
        duplicate = key in self.pending
        # RFC 3519 4.5: behind a NAT we ask for UDP tunnelling of our care-of bindings
        udp = self.config.nat_traversal and not rq.has(FLAG_D) and rq.lifetime > 0
        if not duplicate:  # a copy (same identification) is relayed again but keeps the first entry
            self.pending.add(Pending(
                rq.home_address, rq.home_agent, rq.identification, dgram.iface, self.config.links[dgram.iface],
                dgram.src, dgram.sport, rq.lifetime, rq.has(FLAG_T), rq.has(FLAG_D), now,
                now + self.config.pending_timeout, udp))
        relayed = relayed_request(dgram.payload, rq, udp, self.config.fa_ha.get(rq.home_agent))
        return [SendUdp(Datagram(self.config.core_iface, self.config.address, PORT, rq.home_agent, PORT, relayed)),
                self.events.event("info", "duplicate-request" if duplicate else "relayed-request",
                                  "request for %s relayed to home agent %s (lifetime %d%s%s)"
                                  % (rq.home_address, rq.home_agent, rq.lifetime, ", T" if rq.has(FLAG_T) else "",
                                     ", UDP tunnel requested" if udp else ""),
                                  hoa=rq.home_address, ha=rq.home_agent, iface=dgram.iface)]

    def _deny_request(self, dgram: Datagram, rq: RegistrationRequest, code: int, reason: str, why: str,
                      now: float) -> list:
        """RFC 5944 3.7.2.3: our own reply, without a Mobile-Home authenticator (we hold no MN key)."""
        lifetime = self.config.registration_lifetime if code == codes.FA_LIFETIME_TOO_LONG else 0
        reply = RegistrationReply(code, rq.home_address, rq.home_agent, rq.identification, lifetime)
        src = self.config.links[dgram.iface]
        return [SendUdp(Datagram(dgram.iface, src, PORT, dgram.src, dgram.sport, reply.encode()))] + self._events(
            now, "warning", reason, "request for %s denied, %s: %s" % (rq.home_address, codes.describe(code), why),
            hoa=rq.home_address, ha=rq.home_agent, code=code)

    def _deny_pending(self, p: Pending, code: int, reason: str, why: str) -> list:
        reply = RegistrationReply(code, p.home_address, p.home_agent, p.identification, 0)
        return [SendUdp(Datagram(p.iface, p.care_of, PORT, p.mn_address, p.mn_port, reply.encode())),
                self.events.event("warning", reason, "registration of %s with %s failed, %s: %s" % (
                    p.home_address, p.home_agent, codes.describe(code), why),
                    hoa=p.home_address, ha=p.home_agent, code=code)]

    # -- replies from home agents (RFC 5944 3.7.3) -------------------------------------------------

    def _reply(self, dgram: Datagram, rp: RegistrationReply, now: float) -> list:
        p = self.pending.get(pending_key(rp.home_address, rp.home_agent, rp.identification))
        if p is None and rp.code == codes.HA_UNKNOWN_HA_ADDRESS:
            return self._unknown_home_agent(dgram, rp, now)
        if p is None:  # RFC 5944 3.7.3.1: silently discarded (and logged here)
            return self._unmatched(dgram, rp, now)
        sa = self.config.fa_ha.get(p.home_agent)
        if sa is not None and not ha_authentic(rp, sa):
            # RFC 5944 3.7.3.1: discard, log a security exception, reject the MN's registration (68)
            self.pending.pop(p.key)
            return self._deny_pending(p, codes.FA_HA_AUTH_FAILED, "ha-auth-failed",
                                      "Foreign-Home authenticator missing, repeated or wrong in the reply from %s"
                                      % dgram.src)
        return self._relay_reply(dgram, rp, p, now)

    def _unmatched(self, dgram: Datagram, rp: RegistrationReply, now: float) -> list:
        """RFC 5944 3.7.3.1: a reply that matches no pending request is silently discarded (logged here)."""
        return self._events(now, "warning", "unmatched-reply", "reply from %s for %s matches no pending request"
                            % (dgram.src, rp.home_address), hoa=rp.home_address, ha=rp.home_agent, code=rp.code)

    def _unknown_home_agent(self, dgram: Datagram, rp: RegistrationReply, now: float) -> list:
        """RFC 5944 3.8.3.2, 3.8.2.1: a home agent that got a request for another home agent address (its
        broadcast address, say) denies it with 136 and puts its OWN unicast address in the Home Agent
        field, so the reply cannot match the pending entry by home agent (RFC 5944 3.7.3.1). It still
        must reach the mobile node, which learns the address from it (RFC 5944 3.6.1.2), instead of a
        code 78 later. It matches an entry of the same home address and identification (low 32 bits)
        that the reply answers beyond doubt: the one whose request went to the reply's source (RFC
        5944 3.8.3.1: the reply leaves from the request's destination), else, for a request sent to a
        broadcast address, the only one when the reply comes from the unicast address it names. The
        Foreign-Home authenticator of every FA-HA SA we hold for either address must verify; if not,
        the reply is discarded and the entry stays pending (a forged 136 cancels nothing)."""
        if not unicast(rp.home_agent):
            return self._unmatched(dgram, rp, now)
        same = self.pending.for_identification(rp.home_address, rp.identification)
        answered = [p for p in same if p.home_agent == dgram.src]
        if not answered and dgram.src == rp.home_agent:
            answered = same
        if len(answered) != 1:  # none, or two bindings it could answer (R-3.5-a): we cannot tell which
            return self._unmatched(dgram, rp, now)
        (p,) = answered
        sas = {(sa.spi, sa.key): sa for sa in (self.config.fa_ha.get(a) for a in (p.home_agent, rp.home_agent)) if sa}
        if not all(ha_authentic(rp, sa) for sa in sas.values()):  # fail closed: discarded, still pending
            return self._events(now, "warning", "ha-auth-failed", "reply 136 from %s for %s naming home agent %s "
                                "dropped: Foreign-Home authenticator missing, repeated or wrong"
                                % (dgram.src, rp.home_address, rp.home_agent),
                                hoa=rp.home_address, ha=p.home_agent, code=rp.code)
        return self._relay_reply(dgram, rp, p, now)

    def _relay_reply(self, dgram: Datagram, rp: RegistrationReply, p: Pending, now: float) -> list:
        """RFC 5944 3.7.3.2: relay an authentic reply to the mobile node; the visitor list follows it."""
        bad = rp.unknown_critical()
        if bad:  # RFC 5944 1.9, 3.7.3.1: a reply we cannot interpret
            self.pending.pop(p.key)
            return self._deny_pending(p, codes.FA_POORLY_FORMED_REPLY, "poorly-formed-reply",
                                      "unknown non-skippable extension type %d" % bad[0].type)
        self.pending.supersede(p)
        # R-3.4-b: the octets up to and including the Mobile-Home authenticator (and so any TNC
        # before it) go to the MN unchanged; only the FA's part (Foreign-Home auth) is removed
        relayed = relayed_reply(dgram.payload, rp)
        named = "" if rp.home_agent == p.home_agent else " (it names home agent %s)" % rp.home_agent
        actions: list = self._accepted(p, rp, now) if codes.is_accepted(rp.code) else []
        # RFC 3024 5.2, R-2.4-c: the data plane first, the reply last. The adapter applies actions in
        # order, so the visitor's reverse tunnel and the rule steering its packets into it are in before
        # the reply that lets it send through us leaves: its first packets never take our default route
        # in the clear (a lab run saw an MR's ESP do so, 20 ms before the rule)
        return actions + self._sync() + [
            SendUdp(Datagram(p.iface, p.care_of, PORT, p.mn_address, p.mn_port, relayed)),
            self.events.event("info", "relayed-reply", "reply %s for %s from home agent %s relayed on %s%s"
                              % (codes.describe(rp.code), p.home_address, p.home_agent, p.iface, named),
                              hoa=p.home_address, ha=p.home_agent, code=rp.code)]

    def _accepted(self, p: Pending, rp: RegistrationReply, now: float) -> list:
        """RFC 5944 3.7.3.2: the visitor list follows accepted replies."""
        granted = min(rp.lifetime, p.lifetime)
        if granted == 0:  # deregistration
            gone = self.visitors.remove((p.home_address, p.home_agent))
            if gone is None:
                return []
            return [self.events.event("info", "visitor-removed", "visitor %s (home agent %s) deregistered"
                                      % (p.home_address, p.home_agent), hoa=p.home_address, ha=p.home_agent)]
        # the lifetime runs from when we relayed the request: never later than the home agent's
        expires = None if granted == LIFETIME_INFINITE else p.relayed_at + granted
        answer = udp_reply(rp) if p.udp_request else None
        udp = answer is not None and answer.code == UDP_TUNNEL_ACCEPTED
        visitor = Visitor(p.home_address, p.home_agent, p.iface, p.care_of, p.mn_address, p.mn_port,
                          p.reverse_tunnel, p.co_located, p.relayed_at, expires, udp)
        old = self.visitors.put(visitor)
        if answer is not None and udp:  # RFC 3519 3.2, 4.9
            self.udp.accepted(p.home_agent, answer, now)
        current = self.visitors.current()[p.home_address]
        # R-3.5-a: a reply to an older request than another home agent's accepted one: kept, not current
        older = "" if current is visitor else "; not its current registration (the one with %s is newer)" \
            % current.home_agent
        return [self.events.event("info", "visitor-refreshed" if old else "visitor-added",
                                  "visitor %s (home agent %s) on %s, lifetime %d%s%s%s"
                                  % (p.home_address, p.home_agent, p.iface, granted, ", reverse tunnel" if
                                     p.reverse_tunnel else "", ", UDP tunnel" if udp else "", older),
                                  hoa=p.home_address, ha=p.home_agent, lifetime=granted, udp=udp)]

    # -- RFC 3519 UDP tunnels ----------------------------------------------------------------------

    def tunnel_heard(self, iface: str, home_agent: str, now: float) -> list:
        """UDP tunnel data from `home_agent` arrived on `iface` (the adapter tells us): our NAT mapping works."""
        self.udp.heard(home_agent, now)
        return []

    # -- data plane --------------------------------------------------------------------------------

    def _sync(self) -> list:
        """Bring routes and tunnels in line with the visitor list (fa_plane.py), each change logged."""
        changes = self.plane.sync(self.visitors)
        self.udp.keep_only(self.plane.udp_tunnel_to)
        actions: list = []
        for a in changes:
            actions += [a, self.events.event("info", "data-plane", describe(a))]
        return actions

    # -- status --------------------------------------------------------------------------------------

    def status(self, now: float | None = None) -> dict:
        """Visitors, pending registrations, installed routes and tunnels, counters (for the CLI and tests)."""
        def left(t: float | None) -> float | None:
            return None if t is None or now is None else max(0.0, t - now)

        plane = self.plane.status()
        return {
            "visitors": [{
                "home_address": v.home_address, "home_agent": v.home_agent, "iface": v.iface, "care_of": v.care_of,
                "mn_address": v.mn_address, "mn_port": v.mn_port, "reverse_tunnel": v.reverse_tunnel,
                "udp_tunnel": v.udp_tunnel,
                "co_located": v.co_located, "expires_at": v.expires_at, "remaining": left(v.expires_at),
            } for v in self.visitors],
            "pending": [{
                "home_address": p.home_address, "home_agent": p.home_agent, "identification": p.identification,
                "iface": p.iface, "mn_address": p.mn_address, "mn_port": p.mn_port, "lifetime": p.lifetime,
                "reverse_tunnel": p.reverse_tunnel, "expires_at": p.expires_at, "remaining": left(p.expires_at),
            } for p in self.pending],
            "routes": plane["routes"],
            "tunnels": plane["tunnels"],
            "keepalives": self.udp.status(now),
            "reverse_tunnelled": plane["reverse_tunnelled"],
            "next_sequence": dict(self.sequence),
            "counters": dict(self.counters),
        }

    def _events(self, now: float, level: str, reason: str, message: str, **fields) -> list[Log]:
        return self.events.limited(now, level, reason, message, **fields)
