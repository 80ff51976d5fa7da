"""The foreign agent (RFC 5944 2.3, 3.7; RFC 3024 reverse tunnelling), Sans-IO.

A plain RFC 5944 foreign agent: it advertises, relays requests to home agents and replies back,
and keeps a visitor list that drives the data plane. It knows nothing of RFC 5265 (R-2.4-d,
R-5.1-a): no TNC logic, and skippable extensions it does not know pass through untouched.
"""
from __future__ import annotations

import ipaddress
import random

from ..wire import (
    AgentAdvertisement,
    AgentSolicitation,
    CodecError,
    MobilityAgentAdvertisement,
    RegistrationReply,
    RegistrationRequest,
    codes,
    decode_icmp,
    decode_registration,
)
from ..wire.extensions import (
    ENCAP_IP_IN_IP,
    FOREIGN_HOME_AUTH,
    MOBILE_HOME_AUTH,
    UDP_TUNNEL_ACCEPTED,
    UdpTunnelReply,
    UdpTunnelRequest,
)
from ..wire.icmp import ADV_B, ADV_F, ADV_R, ADV_T, ADV_U, CODE_MOBILITY_ONLY, CODE_ROUTES
from ..wire.registration import FLAG_D, FLAG_G, FLAG_M, FLAG_T, LIFETIME_INFINITE, PORT, request_header
from .actions import (
    Datagram,
    Icmp,
    Log,
    RouteDown,
    RouteUp,
    SendIcmp,
    SendUdp,
    SourceRoute,
    Tunnel,
    TunnelDown,
    TunnelUp,
    log,
)
from .config import ForeignAgentConfig, SecurityAssociation
from .keepalive import Keepalive, interval
from .ratelimit import LogLimiter, SourceLimiter
from .timers import earliest
from .visitors import Pending, PendingList, Visitor, VisitorList, pending_key

ALL_SYSTEMS = "224.0.0.1"  # RFC 5944 2.3.1: where advertisements go
UNSPECIFIED = "0.0.0.0"
SEQUENCE_MAX = 0xFFFF
SEQUENCE_WRAP = 256  # RFC 5944 2.3.2: after 0xffff the sequence number goes to 256, never back to 0

_Message = RegistrationRequest | RegistrationReply


def fa_part_start(msg: _Message, total: int) -> int:
    """Offset where the foreign agent's part of a registration message begins.

    RFC 5944 3.7.2.2 and 3.7.3.2: extensions after the Mobile-Home authenticator are for the FA,
    which processes and removes them; everything before stays byte-identical (R-3.4-b). Without a
    Mobile-Home authenticator, the FA's part starts at the first Foreign-Home authenticator.
    """
    exts = msg.extensions
    i = msg.find(MOBILE_HOME_AUTH)
    if i >= 0:
        return exts[i + 1].offset if i + 1 < len(exts) else total
    i = msg.find(FOREIGN_HOME_AUTH)
    return exts[i].offset if i >= 0 else total


class ForeignAgent:
    """One foreign agent serving the access links of `config.links`."""

    def __init__(self, config: ForeignAgentConfig, rng: random.Random) -> None:
        self.config = config
        self.rng = rng  # advertisements are strictly periodic; kept for interface parity with the other roles
        self.pending = PendingList()
        self.visitors = VisitorList()
        self.sequence: dict[str, int] = {iface: 0 for iface in config.links}  # RFC 5944 2.3.2
        self.next_advertisement: float | None = None
        self.counters: dict[str, int] = {}
        self._routes: dict[str, tuple[str, ...]] = {}  # home address -> access ifaces, as installed
        self._tunnels: dict[tuple[str, str], Tunnel] = {}  # (care-of, home agent) -> reverse tunnel, installed
        self._sources: dict[str, str] = {}  # home address -> reverse tunnel its packets enter, installed
        self.keepalives: dict[str, Keepalive] = {}  # home agent -> our UDP tunnel's keepalives (RFC 3519 4.9)
        self._restarted: set[str] = set()  # home agents whose visitors we asked to register again
        self.limiter = SourceLimiter(config.rate_limit, config.rate_burst)  # requests per source on access links
        self.log_limiter = LogLimiter()

    # -- lifecycle and timers ------------------------------------------------------------------

    def start(self, now: float) -> list:
        """First advertisement on every access link (RFC 5944 2.3.1), then one every interval."""
        self.next_advertisement = now + self.config.advertisement_interval
        return self._advertise_all()

    def get_timer(self) -> float | None:
        return earliest(self.next_advertisement, self.pending.next_expiry(), self.visitors.next_expiry(),
                        *(k.due_at for k in self.keepalives.values()))

    def handle_timer(self, now: float) -> list:
        actions: list = []
        if self.next_advertisement is not None and now >= self.next_advertisement:
            step = self.config.advertisement_interval
            self.next_advertisement += step
            if self.next_advertisement <= now:  # woken late: no burst of catch-up advertisements
                self.next_advertisement = now + step
            actions += self._advertise_all()
        for p in self.pending.expire(now):  # RFC 5944 3.7.1: no reply in time
            actions += self._deny_pending(p, codes.FA_REGISTRATION_TIMEOUT, "pending-timeout",
                                          "no reply from the home agent within %g s" % self.config.pending_timeout)
        for v in self.visitors.expire(now):
            actions.append(self._event("info", "visitor-expired", "visitor %s (home agent %s) on %s: lifetime over"
                                       % (v.home_address, v.home_agent, v.iface), hoa=v.home_address,
                                       ha=v.home_agent))
        for ka in list(self.keepalives.values()):
            if ka.due_at is not None and now >= ka.due_at:
                actions += self._keepalive(ka, now)
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
        # RFC 5944 2.3: answer a solicitation at once; unicast when the solicitor has an address
        dst = msg.src if msg.src != UNSPECIFIED else ALL_SYSTEMS
        return [self._advertisement(msg.iface, dst)] + self._events(
            now, "info", "solicited", "solicitation from %s on %s answered to %s" % (msg.src, msg.iface, dst))

    def _advertise_all(self) -> list:
        actions: list = []
        for iface in self.config.links:
            actions.append(self._advertisement(iface, ALL_SYSTEMS))
        actions.append(self._event("debug", "advertised", "agent advertisement on %s" % ", ".join(self.config.links)))
        return actions

    def _advertisement(self, iface: str, dst: str) -> SendIcmp:
        """RFC 5944 2.1, 2.3.1: router address and care-of address are our address on the link."""
        c = self.config
        coa = c.links[iface]
        flags = ADV_F
        if c.nat_traversal:  # RFC 3519 3.4: we can use UDP tunnelling
            flags |= ADV_U
        if c.registration_required:
            flags |= ADV_R
        if c.reverse_tunnel:  # RFC 3024, R-2.4-c
            flags |= ADV_T
        if len(self.visitors) >= c.max_visitors:  # RFC 5944 2.1.1: no registrations from additional MNs
            flags |= ADV_B
        ext = MobilityAgentAdvertisement(self._next_sequence(iface), c.registration_lifetime, flags, [coa])
        adv = AgentAdvertisement(c.advertisement_lifetime, [(coa, 0)], [ext],
                                 CODE_ROUTES if c.routes_common_traffic else CODE_MOBILITY_ONLY)
        return SendIcmp(Icmp(iface, coa, dst, adv.encode()))

    def _next_sequence(self, iface: str) -> int:
        """RFC 5944 2.3.2: 0 first, then +1 per advertisement; 0xffff is followed by 256."""
        seq = self.sequence[iface]
        self.sequence[iface] = seq + 1 if seq < SEQUENCE_MAX else SEQUENCE_WRAP
        return seq

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
        problem = self._check_request(dgram, rq)
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
        relayed = self._relayed_request(dgram.payload, rq, udp)
        return [SendUdp(Datagram(self.config.core_iface, self.config.address, PORT, rq.home_agent, PORT, relayed)),
                self._event("info", "duplicate-request" if duplicate else "relayed-request",
                            "request for %s relayed to home agent %s (lifetime %d%s%s)"
                            % (rq.home_address, rq.home_agent, rq.lifetime, ", T" if rq.has(FLAG_T) else "",
                               ", UDP tunnel requested" if udp else ""),
                            hoa=rq.home_address, ha=rq.home_agent, iface=dgram.iface)]

    def _check_request(self, dgram: Datagram, rq: RegistrationRequest) -> tuple[int, str, str] | None:
        """RFC 5944 3.7.2.1 and RFC 3024: (code, reason tag, why) for a request we deny, else None."""
        c = self.config
        bad = rq.unknown_critical()
        if bad:  # RFC 5944 1.9: a non-skippable extension we do not know
            return (codes.FA_POORLY_FORMED_REQUEST, "unknown-extension",
                    "unknown non-skippable extension type %d" % bad[0].type)
        if rq.home_address == UNSPECIFIED:  # RFC 2794: dynamic home addresses are not supported here
            return codes.FA_NONZERO_HOME_ADDRESS_REQUIRED, "no-home-address", "home address 0.0.0.0"
        if rq.home_agent == UNSPECIFIED:
            return codes.FA_MISSING_HOME_AGENT, "no-home-agent", "home agent 0.0.0.0"
        if rq.lifetime > c.registration_lifetime:
            return (codes.FA_LIFETIME_TOO_LONG, "lifetime-too-long",
                    "lifetime %d above our maximum %d" % (rq.lifetime, c.registration_lifetime))
        if not rq.has(FLAG_D):  # a co-located care-of (RFC 5944 3.1) is the MN's business, not ours
            problem = self._check_care_of(dgram, rq)
            if problem is not None:
                return problem
        if rq.lifetime and not self._has_room(rq):
            return codes.FA_INSUFFICIENT_RESOURCES, "too-many-visitors", "%d visitors already" % c.max_visitors
        return None

    def _check_care_of(self, dgram: Datagram, rq: RegistrationRequest) -> tuple[int, str, str] | None:
        if rq.flags & (FLAG_M | FLAG_G):  # RFC 5944 3.7.2.1: we tunnel with IP-in-IP only
            return codes.FA_ENCAPSULATION_UNAVAILABLE, "encapsulation-unavailable", "M or G bit set"
        if rq.has(FLAG_T) and not self.config.reverse_tunnel:  # RFC 3024 3.3
            return codes.FA_REVERSE_TUNNEL_UNAVAILABLE, "reverse-tunnel-unavailable", "T bit set"
        ours = self.config.links[dgram.iface]
        if rq.care_of_address != ours:  # RFC 5944 3.7.2.1: not a care-of we offer on that link
            return (codes.FA_INVALID_CARE_OF, "invalid-care-of",
                    "care-of %s is not ours on %s (%s)" % (rq.care_of_address, dgram.iface, ours))
        return None

    def _has_room(self, rq: RegistrationRequest) -> bool:
        """Renewals always fit; new bindings count visitors and the registrations pending."""
        if (rq.home_address, rq.home_agent) in self.visitors:
            return True
        bindings = {v.key for v in self.visitors} | {(p.home_address, p.home_agent) for p in self.pending}
        return (rq.home_address, rq.home_agent) in bindings or len(bindings) < self.config.max_visitors

    def _relayed_request(self, payload: bytes, rq: RegistrationRequest, udp: bool) -> bytes:
        """RFC 5944 3.7.2.2: the request as the MN sent it up to its Mobile-Home authenticator, the
        FA's extensions removed; then our UDP Tunnel Request (RFC 3519 3.1: after the Mobile-Home
        authenticator) and our Foreign-Home authenticator if we share an SA."""
        out = bytes(payload[: fa_part_start(rq, len(payload))])
        sa = self.config.fa_ha.get(rq.home_agent)
        if sa is None and not udp:
            return out
        msg = RegistrationRequest.decode(out)
        if udp:
            msg.extensions.append(UdpTunnelRequest(ENCAP_IP_IN_IP))
        if sa is not None:
            msg.authenticate(FOREIGN_HOME_AUTH, sa.spi, sa.key)  # RFC 5944 3.5.4: over everything before it
        return msg.encode()

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
                self._event("warning", reason, "registration of %s with %s failed, %s: %s" % (
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
        if sa is not None and not _ha_authentic(rp, sa):
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
        if not _unicast(rp.home_agent):
            return self._unmatched(dgram, rp, now)
        same = self.pending.for_identification(rp.home_address, rp.identification)
        answered = [p for p in same if p.home_agent == dgram.src]
        if not answered and dgram.src == rp.home_agent:
            answered = same
        if len(answered) != 1:  # none, or two bindings it could answer (R-3.5-a): we cannot tell which
            return self._unmatched(dgram, rp, now)
        (p,) = answered
        sas = {(sa.spi, sa.key): sa for sa in (self.config.fa_ha.get(a) for a in (p.home_agent, rp.home_agent)) if sa}
        if not all(_ha_authentic(rp, sa) for sa in sas.values()):  # fail closed: discarded, still pending
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
        relayed = bytes(dgram.payload[: fa_part_start(rp, len(dgram.payload))])
        named = "" if rp.home_agent == p.home_agent else " (it names home agent %s)" % rp.home_agent
        actions: list = self._accepted(p, rp, now) if codes.is_accepted(rp.code) else []
        # RFC 3024 5.2, R-2.4-c: the data plane first, the reply last. The adapter applies actions in
        # order, so the visitor's reverse tunnel and the rule steering its packets into it are in before
        # the reply that lets it send through us leaves: its first packets never take our default route
        # in the clear (a lab run saw an MR's ESP do so, 20 ms before the rule)
        return actions + self._sync() + [
            SendUdp(Datagram(p.iface, p.care_of, PORT, p.mn_address, p.mn_port, relayed)),
            self._event("info", "relayed-reply", "reply %s for %s from home agent %s relayed on %s%s"
                        % (codes.describe(rp.code), p.home_address, p.home_agent, p.iface, named),
                        hoa=p.home_address, ha=p.home_agent, code=rp.code)]

    def _accepted(self, p: Pending, rp: RegistrationReply, now: float) -> list:
        """RFC 5944 3.7.3.2: the visitor list follows accepted replies."""
        granted = min(rp.lifetime, p.lifetime)
        if granted == 0:  # deregistration
            gone = self.visitors.remove((p.home_address, p.home_agent))
            if gone is None:
                return []
            return [self._event("info", "visitor-removed", "visitor %s (home agent %s) deregistered"
                                % (p.home_address, p.home_agent), hoa=p.home_address, ha=p.home_agent)]
        # the lifetime runs from when we relayed the request: never later than the home agent's
        expires = None if granted == LIFETIME_INFINITE else p.relayed_at + granted
        answer = _udp_reply(rp) if p.udp_request else None
        udp = answer is not None and answer.code == UDP_TUNNEL_ACCEPTED
        visitor = Visitor(p.home_address, p.home_agent, p.iface, p.care_of, p.mn_address, p.mn_port,
                          p.reverse_tunnel, p.co_located, p.relayed_at, expires, udp)
        old = self.visitors.put(visitor)
        if answer is not None and udp:  # RFC 3519 4.9: keepalives at the HA's interval, or ours if shorter
            every = interval(answer.keepalive, self.config.udp_keepalive)
            ka = self.keepalives.get(p.home_agent)
            if ka is None or ka.every != every:
                self.keepalives[p.home_agent] = Keepalive.start(self.config.address, p.home_agent, every, now)
            else:  # the reply came through the same NAT mapping as the tunnel data (our port 434)
                ka.heard(now)
            self._restarted.discard(p.home_agent)
        return [self._event("info", "visitor-refreshed" if old else "visitor-added",
                            "visitor %s (home agent %s) on %s, lifetime %d%s%s"
                            % (p.home_address, p.home_agent, p.iface, granted,
                               ", reverse tunnel" if p.reverse_tunnel else "", ", UDP tunnel" if udp else ""),
                            hoa=p.home_address, ha=p.home_agent, lifetime=granted, udp=udp)]

    # -- RFC 3519 UDP tunnels: keepalives and a lost NAT mapping ------------------------------------

    def tunnel_heard(self, iface: str, home_agent: str, now: float) -> list:
        """UDP tunnel data from `home_agent` arrived on `iface` (the adapter tells us): our NAT mapping works."""
        ka = self.keepalives.get(home_agent)
        if ka is not None:
            ka.heard(now)
        return []

    def _keepalive(self, ka: Keepalive, now: float) -> list:
        """RFC 3519 4.9; 4.10: after a silent spell the NAT has lost our mapping, and only a new
        registration makes a new one. We cannot register for our visitors, so we make them: our
        advertisements on their links start again at sequence 0, as after a reboot (RFC 5944 2.3.2),
        which RFC 5944 2.4.2 tells a mobile node to answer by registering. A second silent spell with
        no registration in between: the visitors have gone (or cannot be reached), so they go."""
        silent_for = ka.silent_for(now)
        if not ka.lost(now):
            self.counters["keepalive"] = self.counters.get("keepalive", 0) + 1
            return [SendUdp(Datagram(self.config.core_iface, self.config.address, PORT, ka.home_agent, PORT,
                                     ka.packet(now)))]
        ka.due_at = now + ka.every
        ha = ka.home_agent
        udp_visitors = [v for v in self.visitors if v.udp_tunnel and v.home_agent == ha]
        if ha in self._restarted:
            for v in udp_visitors:
                self.visitors.remove(v.key)
            return [self._event("warning", "udp-visitors-dropped", "still nothing from home agent %s through the UDP "
                                "tunnel (%.1f s) and no visitor registered again: %d visitor(s) of it removed"
                                % (ha, silent_for, len(udp_visitors)), ha=ha)]
        self._restarted.add(ha)
        links = sorted({v.iface for v in udp_visitors})
        actions: list = [self._event("warning", "nat-mapping-lost", "nothing from home agent %s through the UDP "
                                     "tunnel for %.1f s; advertising as restarted on %s so that its visitors "
                                     "register again" % (ha, silent_for, ", ".join(links) or "no link"), ha=ha)]
        for iface in links:
            self.sequence[iface] = 0
            actions.append(self._advertisement(iface, ALL_SYSTEMS))
        return actions

    # -- data plane --------------------------------------------------------------------------------

    def _sync(self) -> list:
        """Bring routes and reverse tunnels in line with the visitor list; the actions for the difference."""
        routes: dict[str, set[str]] = {}
        tunnels: dict[tuple[str, str], Tunnel] = {}
        sources: dict[str, str] = {}
        for v in self.visitors:
            if v.co_located:  # the home agent tunnels to the MN itself (RFC 5944 3.1)
                continue
            routes.setdefault(v.home_address, set()).add(v.iface)  # deliver on-link (RFC 5944 4.2.2)
            if v.udp_tunnel:  # RFC 3519 4.5: one UDP tunnel per home agent, both ways, from our address
                t = tunnels[("", v.home_agent)] = self._udp_tunnel(v.home_agent)
            elif v.reverse_tunnel:
                t = tunnels[(v.care_of, v.home_agent)] = self._tunnel(v.care_of, v.home_agent)
            if v.reverse_tunnel:  # RFC 3024, R-2.4-c: the MN's packets go back to its home agent
                sources[v.home_address] = t.name
        for ha in [ha for ha in self.keepalives if ("", ha) not in tunnels]:
            del self.keepalives[ha]
            self._restarted.discard(ha)
        wanted = {hoa: tuple(sorted(ifaces)) for hoa, ifaces in routes.items()}
        ups: list = [TunnelUp(t) for k, t in tunnels.items() if k not in self._tunnels]
        # the reverse tunnel before the route: a visitor's packets never meet the FA's own routing (R-2.4-c)
        ups += [SourceRoute(hoa, dev) for hoa, dev in sources.items() if self._sources.get(hoa) != dev]
        ups += [RouteUp(hoa + "/32", devs) for hoa, devs in wanted.items() if self._routes.get(hoa) != devs]
        downs: list = [SourceRoute(hoa, None) for hoa in self._sources if hoa not in sources]
        downs += [RouteDown(hoa + "/32") for hoa in self._routes if hoa not in wanted]
        downs += [TunnelDown(t) for k, t in self._tunnels.items() if k not in tunnels]
        self._routes, self._tunnels, self._sources = wanted, tunnels, sources
        actions: list = []
        for a in ups + downs:
            actions += [a, self._event("info", "data-plane", _describe(a))]
        return actions

    def _tunnel(self, care_of: str, home_agent: str) -> Tunnel:
        """A name of at most 15 characters (Linux IFNAMSIZ): link index and home agent in hex."""
        index = list(self.config.links.values()).index(care_of)
        return Tunnel("rt%x-%08x" % (index, int(ipaddress.IPv4Address(home_agent))), care_of, home_agent,
                      visitors_only=True)

    def _udp_tunnel(self, home_agent: str) -> Tunnel:
        return Tunnel("ru-%08x" % int(ipaddress.IPv4Address(home_agent)), self.config.address, home_agent, PORT,
                      visitors_only=True)

    # -- status --------------------------------------------------------------------------------------

    def status(self, now: float | None = None) -> dict:
        """Visitors, pending registrations, installed routes and tunnels, counters (for the CLI and tests)."""
        def left(t: float | None) -> float | None:
            return None if t is None or now is None else max(0.0, t - now)

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
            "routes": {hoa + "/32": list(devs) for hoa, devs in self._routes.items()},
            "tunnels": [{"name": t.name, "local": t.local, "remote": t.remote, "udp_port": t.udp_port}
                        for t in self._tunnels.values()],
            "keepalives": {ha: {"every": k.every, "sent": k.seq, "silent_for": None if now is None else
                                max(0.0, now - k.heard_at)} for ha, k in self.keepalives.items()},
            "reverse_tunnelled": dict(self._sources),
            "next_sequence": dict(self.sequence),
            "counters": dict(self.counters),
        }

    def _event(self, level: str, reason: str, message: str, **fields) -> Log:
        self.counters[reason] = self.counters.get(reason, 0) + 1
        return log(level, reason, message, **fields)

    def _events(self, now: float, level: str, reason: str, message: str, **fields) -> list:
        """Count, and log unless `reason` has filled its share of the log lately: for what anyone on an
        access link can make us say (bad packets, floods, requests we deny)."""
        self.counters[reason] = self.counters.get(reason, 0) + 1
        text = self.log_limiter.admit(reason, message, now)
        if text is None:
            self.counters["log-suppressed"] = self.counters.get("log-suppressed", 0) + 1
            return []
        return [log(level, reason, text, **fields)]


def _udp_reply(rp: RegistrationReply) -> UdpTunnelReply | None:
    """RFC 3519 3.2: the answer to our UDP Tunnel Request, in our part of the reply (after the
    Mobile-Home authenticator; covered by the Foreign-Home authenticator when we share an SA)."""
    i = rp.find(MOBILE_HOME_AUTH)
    return next((e for e in rp.extensions[i + 1:] if isinstance(e, UdpTunnelReply)), None) if i >= 0 else None


def _ha_authentic(rp: RegistrationReply, sa: SecurityAssociation) -> bool:
    """RFC 5944 3.7.3.1: exactly one Foreign-Home authenticator, and a good one."""
    count = sum(1 for e in rp.extensions if e.type == FOREIGN_HOME_AUTH)
    return count == 1 and rp.verify(FOREIGN_HOME_AUTH, sa.spi, sa.key)


def _unicast(address: str) -> bool:
    """An address a home agent may name as its own (RFC 5944 3.8.3.2: its unicast address)."""
    a = ipaddress.IPv4Address(address)
    return not (a.is_multicast or a.is_unspecified or a == ipaddress.IPv4Address("255.255.255.255"))


def _describe(action: object) -> str:
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
