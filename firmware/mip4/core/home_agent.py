"""The home agent, as i-HA or x-HA (RFC 5944 3.8; RFC 5265 3.4, 3.7, 4.3; RFC 3024; RFC 3519).

Sans-IO: `receive_udp(dgram, now)` takes a UDP 434 datagram and returns actions (the reply, data
plane changes, one log line); `get_timer()` / `handle_timer(now)` expire bindings. A request goes
through, in order: its fixed part (shorter, or another message: dropped), the source check (i-HA
trusted networks, x-HA ignored sources: dropped silently), the per-source rate limit (dropped), the
extensions (undecodable: 134), the home address lookup, the denial table `CHECKS` (first match
denies), then acceptance. Decisions the RFCs leave open are noted where they are made. Drops are
counted one by one; their log lines are rate limited per reason (ratelimit.py).

Here: the events, who may register, denial and acceptance, counters and status. Elsewhere: the
denial table (ha_denials.py), the data plane and tunnel names (ha_plane.py), the replies
(ha_replies.py), the binding list (bindings.py).
"""
from __future__ import annotations

import math
import random

from ..wire import codec, codes
from ..wire.errors import CodecError
from ..wire.extensions import UDP_TUNNEL_ACCEPTED, UDP_TUNNEL_DECLINED, UdpTunnelReply
from ..wire.registration import FLAG_D, FLAG_S, FLAG_T, RegistrationRequest, request_extensions, request_header
from .actions import Datagram, ForgetBinding, Log, StoreBinding, TunnelDown, log
from .bindings import Binding, BindingLimit, BindingTable
from .config import TRUSTED, HomeAgentConfig
from .events import Events
from .ha_denials import Incoming, checks_for
from .ha_plane import HomePlane, mobile_router_tunnel_name, tunnel_name
from .ha_replies import reply as build_reply
from .ha_replies import resync_identification
from .ha_store import BadRecord, Restored, from_record
from .identification import later
from .ratelimit import SourceLimiter

__all__ = ["COUNTERS", "HomeAgent", "mobile_router_tunnel_name", "tunnel_name"]

UDP_FORCE = 0x80  # RFC 3519 3.1.1: F flag of the UDP Tunnel Request

# Counters status() always shows, even at zero.
COUNTERS = ("accepted", "denied", "deregistered", "expired", "dropped-untrusted", "dropped-inside", "malformed",
            "unexpected-message", "unknown-home-address", "bad-authenticator", "wrong-home-agent",
            "identification-mismatch", "replay", "unknown-extension", "encapsulation-unavailable",
            "reverse-tunnel-unavailable", "too-many-bindings", "poorly-formed-request", "rate-limited",
            "relayed-through-vpn", "log-suppressed", "dropped-standby")


class HomeAgent:
    """One home agent; `config.role` says whether it is the i-HA or the x-HA of RFC 5265."""

    def __init__(self, config: HomeAgentConfig, rng: random.Random) -> None:
        self.config = config
        self.rng = rng  # nothing random yet: nonce identifications (RFC 5944 5.7.2) would draw from it
        self.bindings = BindingTable(config.max_bindings)
        self.plane = HomePlane(config, self.bindings)  # tunnels and routes for the bindings
        self.events = Events(dict.fromkeys(COUNTERS, 0))
        self.counters = self.events.counters
        self.wall_offset = 0.0  # time of day minus `now` (`now` is monotonic in the daemon)
        self.ident_offset = 0.0  # the identification clock minus `now`: never goes back (set_wall_clock)
        self.wall_set = False  # until set_wall_clock (the daemon calls it at start-up), `now` is the time of day
        self.limiter = SourceLimiter(config.rate_limit, config.rate_burst)
        self.store = bool(config.store_endpoints)  # issue 27: a binding store behind us (StoreBinding, ForgetBinding)
        self.active = not config.start_standby  # the standby of a redundant pair serves nobody
        self._checks_for: HomeAgentConfig | None = None  # the configuration self._checks was made for
        self._checks: tuple = ()

    # -- events ----------------------------------------------------------------------------------

    def receive_udp(self, dgram: Datagram, now: float) -> list:
        """A datagram to our UDP port 434."""
        header = request_header(dgram.payload)
        if header is None:  # not even the fixed part of a registration request
            return self._not_a_request(dgram, now)
        if not self.active:  # issue 27: the pair's active home agent answers; a request here went astray
            return self._drop("standby", "dropped-standby", "registration request from %s for %s dropped: this home"
                              " agent is the standby" % (dgram.src, header.home_address), now=now, src=dgram.src)
        dropped = self._admission(dgram, header, now)
        if dropped is not None:
            return dropped
        if not self.limiter.allow(dgram.src, now):  # a flood from one source: no decoding, no HMAC, no reply
            return self._drop("rate-limited", "rate-limited", "registration request from %s for %s dropped: more than"
                              " %g a second from that source" % (dgram.src, header.home_address,
                                                                 self.config.rate_limit), now=now, src=dgram.src)
        try:  # the fixed part is decoded already: only the extensions are left (same checks as the codec's)
            if len(dgram.payload) > codec.MAX_REGISTRATION:
                codec.decode_registration(dgram.payload)  # raises: too long to decode
            message = request_extensions(header, dgram.payload)
        except CodecError as e:
            return self._poorly_formed(dgram, request_header(dgram.payload), str(e), now)
        entry = self.config.mobile_nodes.get(message.home_address)
        if entry is None:
            return self._unknown_home_address(dgram, message, now)
        rq = Incoming(dgram, message, entry, now, now + self.ident_offset)
        config = self.config
        if self._checks_for is not config:  # the denial table for this configuration, made once
            self._checks, self._checks_for = checks_for(config), config
        for reason, code, failed in self._checks:
            if failed(config, self.bindings, rq):
                return self._deny(rq, reason, code)
        return self._accept(rq)

    def _not_a_request(self, dgram: Datagram, now: float) -> list:
        """Shorter than a request's fixed part, or another message: dropped, counted, no reply."""
        try:
            message = codec.decode_registration(dgram.payload)
        except CodecError as e:  # RFC 5944 1.9: no field of it can be trusted, so no reply either
            return self._drop("malformed", "malformed", "undecodable datagram from %s: %s" % (dgram.src, e),
                              now=now, src=dgram.src)
        return self._drop("unexpected-message", "unexpected-message", "%s from %s is not a registration request"
                          % (type(message).__name__, dgram.src), level="info", now=now, src=dgram.src)

    def set_wall_clock(self, wall_time: float, now: float) -> list:
        """The time of day changed (start-up, NTP step): for timestamp identifications (RFC 5944 5.7.1).

        Identifications are checked (freshness, 133's time) against an identification clock that never
        goes back: a step forward moves it at once, a step back by D leaves it D ahead of the time of
        day (until the daemon restarts, which forgets the last identifications too). Mobile nodes follow
        it as the RFC has them follow any HA clock: one 133 carries its time, they resync, and are
        accepted; one whose clock did not step is not even refused. Lifetimes run on `now` throughout.

        Why not lower the last accepted identifications by D instead, and let the clock go back: a
        captured request R sent at old time t_R <= t_L (t_L: the last accepted, L) would be refused
        before the step (R <= L), and after it the check is R > L - D and |t_R - wall| <= window, with
        the wall now reading old time minus D. Any R with t_L - D < t_R, replayed once the stepped-back
        wall passes t_R, meets both: every request sent in the D seconds before the step (an hour of
        registrations, with their old care-of addresses) comes back to life, and the mobile node's own
        resynced requests look exactly like them (the same stretch of time), so no rebased bound can
        tell them apart. With an identification clock that never goes back, no identification value
        is ever valid twice: a request older than L stays <= L, and the replay checks stay as they were.
        """
        old, first = self.wall_offset, not self.wall_set
        self.wall_offset, self.wall_set = wall_time - now, True
        step = self.wall_offset - old
        self.ident_offset = max(self.ident_offset, self.wall_offset)  # RFC 5944 5.7.1: never back
        ahead = self.ident_offset - self.wall_offset
        if first or abs(step) < 1.0:
            return []  # the start-up setting, or no step worth a line
        return [log("warning" if ahead else "info", "wall-clock", "time of day stepped by %+.3f s%s" % (
            step, "; identifications keep to a clock %.3f s ahead, which never goes back (RFC 5944 5.7.1)"
            % ahead if ahead else ""))]

    def get_timer(self) -> float | None:
        """When the next binding expires (None: nothing will)."""
        return self.bindings.next_expiry()

    def handle_timer(self, now: float) -> list:
        """Remove every binding whose lifetime is over, with its data plane (RFC 5944 3.8.1)."""
        actions: list = []
        for hoa in self.bindings.due(now):
            gone, plane = self.plane.change(hoa, lambda h=hoa: self.bindings.expire(now, h))
            actions += plane
            for b in gone:
                self._count("expired")
                actions.append(log("info", "expired", "binding %s -> %s expired after %d s"
                                   % (b.home_address, b.care_of, b.lifetime), hoa=b.home_address, coa=b.care_of))
        return actions

    # -- a redundant pair (issue 27) ----------------------------------------------------------

    def activate(self, restored: Restored, now: float) -> list:
        """This home agent becomes the pair's active one, with what the binding store held.

        A home address it has bindings for already keeps them (they are its own, accepted since it was
        last active); any other gets the stored ones, with their tunnels, routes and home link (RFC 5944
        4.6) as if registered here, and the time their leases have left. The last accepted identification
        of each home address is the later of ours and the store's (RFC 5944 5.7): a request the old active
        home agent accepted cannot be replayed here.
        """
        actions: list = []
        was = self.active
        self.active = True
        for hoa, identification in restored.identifications.items():
            mine = self.bindings.last_identification(hoa)
            if hoa in self.config.mobile_nodes and isinstance(identification, int) and (
                    mine is None or later(identification, mine)):
                self.bindings.accept_identification(hoa, identification)
        stored: dict[str, list[Binding]] = {}
        bad = 0
        for record, remaining in restored.bindings:
            try:
                b = from_record(record, remaining, now)
            except BadRecord as e:
                bad += 1
                actions.append(log("error", "store-bad-record", "binding store: %s: skipped" % e))
                continue
            if b.home_address not in self.config.mobile_nodes:
                bad += 1
                actions.append(log("error", "store-bad-record", "binding store: %s is no mobile node of ours: skipped"
                                   % b.home_address, hoa=b.home_address))
            elif b.remaining(now) > 0 and b.home_address not in self.bindings.home_addresses():
                stored.setdefault(b.home_address, []).append(b)
        for hoa, bindings in stored.items():
            _, plane = self.plane.change(hoa, lambda h=hoa, bs=bindings: self._install(h, bs))
            actions += plane
        how = "from the binding store" if restored.reachable else "from memory: the binding store is unreachable"
        actions.append(log("info" if restored.reachable else "warning", "active",
                           "home agent %s %s: %d binding(s) of %d home address(es) %s%s"
                           % (self.config.address, "active" if not was else "still active",
                              sum(len(b) for b in stored.values()), len(stored), how,
                              ", %d record(s) skipped" % bad if bad else ""),
                           restored=sum(len(b) for b in stored.values()), reachable=restored.reachable))
        return actions

    def _install(self, hoa: str, bindings: list[Binding]) -> None:
        self.bindings.remove(hoa)
        for b in bindings:
            try:
                self.bindings.add(b)
            except BindingLimit:  # more than our max_bindings (the pair configured apart): the first ones
                break

    def standby(self, now: float) -> list:
        """This home agent becomes the pair's standby: it stops answering and removes the data plane of
        every binding (the active one serves them now). The store keeps them: nothing is forgotten there."""
        if not self.active:
            return []
        self.active = False
        actions: list = []
        count = len(self.bindings)
        for hoa in self.bindings.home_addresses():
            _, plane = self.plane.change(hoa, lambda h=hoa: self.bindings.remove(h))
            actions += plane
        actions.append(log("info", "standby", "home agent %s standby: %d binding(s) left to the active one"
                           % (self.config.address, count), bindings=count))
        return actions

    def status(self, now: float | None = None) -> dict:
        """Role, address, bindings (with seconds left when `now` is given) and counters."""
        return {
            "role": self.config.role,
            "address": self.config.address,
            **({"state": "active" if self.active else "standby"} if self.store else {}),
            "bindings": [self._binding_status(b, now) for b in self.bindings],
            "counters": dict(self.counters),
        }

    # -- who may register at all -----------------------------------------------------------------

    def _admission(self, dgram: Datagram, request: RegistrationRequest, now: float) -> list | None:
        """Drop silently (no reply, no binding change, one log line) or None to go on."""
        c = self.config
        if c.role == "i-ha" and not c.kind(dgram.src) & TRUSTED:
            fields = dict(src=dgram.src, hoa=request.home_address, coa=request.care_of_address, time=now)
            # RFC 5265 4.3, R-4.3-c: nothing is trusted by default; R-4.3-d: drop silently, no reply of any
            # kind; R-4.3-g: judged on the IP source as received, never the CoA or HoA fields; R-4.3-e: logged
            return self._drop("untrusted-source", "dropped-untrusted", "dropped registration request from %s for %s:"
                              " source not in trusted_networks (RFC 5265 4.3)"
                              % (dgram.src, request.home_address), now, **fields)
        if c.role == "x-ha" and c.ignores(dgram.src):
            fields = dict(src=dgram.src, hoa=request.home_address, coa=request.care_of_address, time=now)
            # RFC 5265 3.7, R-3.7-a: an enterprise x-HA may drop registrations that come from inside
            return self._drop("inside-source", "dropped-inside", "dropped registration request from %s for %s:"
                              " source is inside (ignored_sources, RFC 5265 3.7)"
                              % (dgram.src, request.home_address), now, **fields)
        return None

    def _unknown_home_address(self, dgram: Datagram, request: RegistrationRequest, now: float) -> list:
        """No mobility security association: the request cannot be authenticated (RFC 5944 3.8.2.1).

        Decision: deny with 131, as for a failed authenticator, but unauthenticated, since there is no
        key to do it with (the MN will not trust it, which is right: anyone could have sent it).
        """
        return self._bare_denial(dgram, request, codes.HA_MN_AUTH_FAILED, "unknown-home-address",
                                 "no mobile node with that home address", now)

    def _poorly_formed(self, dgram: Datagram, header: RegistrationRequest, why: str, now: float) -> list:
        """RFC 5944 3.4, 3.8.3: the fixed part reads as a request, its extensions do not: 134 (poorly formed
        Request), unauthenticated (an authenticator in octets that do not decode covers nothing we can
        find); the fields echoed are the fixed part's, as received. Nothing else changes."""
        return self._bare_denial(dgram, header, codes.HA_POORLY_FORMED_REQUEST, "poorly-formed-request", why, now)

    def _bare_denial(self, dgram: Datagram, request: RegistrationRequest, code: int, reason: str, why: str,
                     now: float) -> list:
        self._count("denied")
        reply = build_reply(self.config, dgram, request, code)
        return [reply] + self._drop(reason, reason, "denied %s from %s: %s: %s" % (
            request.home_address, dgram.src, why, codes.describe(code)), hoa=request.home_address,
            coa=request.care_of_address, src=dgram.src, code=code, now=now)

    # -- denials -------------------------------------------------------------------------------

    def _deny(self, rq: Incoming, reason: str, code: int) -> list:
        """An authenticated denial (RFC 5944 3.8.2.3), so the MN can act on it; nothing else changes."""
        self._count("denied")
        self._count(reason)
        identification = rq.request.identification
        if code == codes.HA_IDENTIFICATION_MISMATCH:
            identification = resync_identification(identification, rq.wall)
        reply = build_reply(self.config, rq.dgram, rq.request, code, identification=identification, rq=rq)
        return [reply, log("warning", reason, "denied %s -> %s from %s: %s" % (
            rq.home_address, rq.care_of, rq.dgram.src, codes.describe(code)),
            hoa=rq.home_address, coa=rq.care_of, src=rq.dgram.src, code=code)]

    # -- acceptance ------------------------------------------------------------------------------

    def _accept(self, rq: Incoming) -> list:
        """RFC 5944 3.8.2.2: update the binding list, then reply (3.8.3)."""
        self.bindings.accept_identification(rq.home_address, rq.request.identification)  # RFC 5944 5.7
        self.counters["accepted"] += 1  # in COUNTERS: there from the start
        if rq.deregistration:
            return self._deregister(rq)
        return self._register(rq)

    def _deregister(self, rq: Incoming) -> list:
        """Lifetime 0 or CoA == HoA (RFC 5944 3.6.1.2, 3.8.2.2).

        With S and another care-of, only that binding goes; otherwise all of them (a request without S
        speaks for the whole binding set, as a registration without S replaces it).
        """
        only = rq.care_of if rq.request.has(FLAG_S) and rq.care_of != rq.home_address else None
        gone, plane = self.plane.change(rq.home_address, lambda: self.bindings.remove(rq.home_address, only))
        self._count("deregistered")
        code = codes.ACCEPTED
        reply = build_reply(self.config, rq.dgram, rq.request, code, lifetime=0, rq=rq)
        if self.store:  # before the reply: an accepted deregistration is one the other home agent knows of
            plane.append(ForgetBinding(rq.home_address, only, rq.request.identification))
        return plane + [reply, log("info", "deregistered", "%s deregistered %s from %s: %s, %d binding(s) removed"
                                   % (rq.home_address, rq.care_of, rq.dgram.src, codes.describe(code), len(gone)),
                                   hoa=rq.home_address, coa=rq.care_of, src=rq.dgram.src, code=code)]

    def _register(self, rq: Incoming) -> list:
        granted = self._grant(rq)
        udp, udp_reply, by_fa = self._udp_tunnel(rq)
        d = rq.dgram
        source = rq.care_of if d.src == rq.care_of else d.src  # one string kept, not two equal ones (no NAT)
        flags = rq.request.flags
        binding = Binding(rq.home_address, rq.care_of, granted, rq.now,
                          math.inf if granted == 0xFFFF else rq.now + granted, rq.request.identification,
                          bool(flags & FLAG_T), source, d.sport, udp, bool(flags & FLAG_D))
        replace = not (flags & FLAG_S and self.config.max_bindings > 1)
        if not replace:
            code = codes.ACCEPTED
            _, plane = self.plane.change(rq.home_address, lambda: self.bindings.add(binding))
        else:
            # RFC 5944 3.8.2.2: without S the new binding replaces all others; S asked of an HA that keeps
            # one binding per home address: accepted, with code 1 (RFC 5944 3.4)
            code = codes.ACCEPTED_NO_SIMULTANEOUS if flags & FLAG_S else codes.ACCEPTED
            _, plane = self.plane.change(rq.home_address, lambda: self.bindings.replace(binding))
        moved = bool(plane)  # False: a refresh, the same tunnels as before
        # the tunnel to a care-of left behind carries nothing once the routes moved: it goes after the
        # reply, which then waits only for the new tunnel and its routes (RFC 5944 3.8.3, issue 24)
        going: list = []
        if moved:  # a refresh (most of an HA's requests) has no plane actions to sort
            going = [a for a in plane if isinstance(a, TunnelDown)]
            plane = [a for a in plane if not isinstance(a, TunnelDown)]
        if self.store:  # a refresh too (its lease starts again); before the reply, as ForgetBinding
            plane = plane + [StoreBinding(binding, replace)]
        extensions = [udp_reply] if udp_reply is not None else []
        if by_fa:  # RFC 3519 3.2: the FA asked, so the answer is in the FA's part
            reply = build_reply(self.config, d, rq.request, code, lifetime=granted, fa_extensions=extensions, rq=rq)
        else:
            reply = build_reply(self.config, d, rq.request, code, lifetime=granted, extensions=extensions, rq=rq)
        # a refresh that changes nothing (most of an HA's traffic: every MR every T_MONITOR - N) at debug level
        return plane + [reply, Log("info" if moved else "debug", "registered", "%s -> %s from %s: %s, lifetime %d%s" % (
            rq.home_address, rq.care_of, d.src, codes.describe(code), granted, ", UDP tunnel" if udp else ""),
            {"hoa": rq.home_address, "coa": rq.care_of, "src": d.src, "code": code, "refresh": not moved,
             "udp": udp})] + going

    def _grant(self, rq: Incoming) -> int:
        """RFC 5944 3.8.2.2: at most what was asked and what we allow; 0xffff (infinite) is capped too."""
        granted = min(rq.request.lifetime, self.config.max_lifetime)
        cap = rq.entry.max_lifetime
        return granted if cap is None or cap >= granted else cap

    def _udp_tunnel(self, rq: Incoming) -> tuple[bool, UdpTunnelReply | None, bool]:
        """RFC 3519 3.1-3.2, RFC 5265 4.3, R-4.3-a: answer a UDP Tunnel Request with a UDP Tunnel Reply.

        A NAT shows as an IP source differing from the care-of address; with one (or the F flag) we
        tunnel over UDP to the source address and port as received. Decision: without either we
        decline (reply code 64) and keep IP-in-IP, which tells the MN we do support RFC 3519. Last:
        whether the FA asked (its answer then goes in the FA's part of the reply).
        """
        udp, by_fa = rq.udp_tunnel_request()
        if udp is None:
            return False, None, by_fa
        if rq.dgram.src != rq.care_of or udp.flags & UDP_FORCE:
            return True, UdpTunnelReply(UDP_TUNNEL_ACCEPTED, self.config.udp_keepalive), by_fa
        return False, UdpTunnelReply(UDP_TUNNEL_DECLINED, 0), by_fa

    # -- bookkeeping -----------------------------------------------------------------------------

    def _drop(self, reason: str, counter: str, message: str, now: float, level: str = "warning", **fields) -> list:
        """Count; log too, unless this reason has filled its share of the log lately (an attacker's
        packets are counted one by one but do not fill the log)."""
        return self.events.limited(now, level, reason, message, counter, **fields)

    def _count(self, what: str) -> None:
        self.events.count(what)

    def _binding_status(self, b: Binding, now: float | None) -> dict:
        finite = b.expires_at != math.inf
        return {
            "home_address": b.home_address, "care_of": b.care_of, "lifetime": b.lifetime,
            "registered_at": b.registered_at, "expires_at": b.expires_at if finite else None,
            "remaining": b.remaining(now) if now is not None and finite else None,
            "reverse_tunnel": b.reverse_tunnel, "udp_tunnel": b.udp_tunnel,
            "source": b.source, "source_port": b.source_port, "tunnel": tunnel_name(b),
        }

