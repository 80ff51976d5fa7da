"""The home agent, as i-HA or x-HA (RFC 5944 3.8; RFC 5265 3.4, 3.7, 4.3; RFC 3024; RFC 3519).

Sans-IO: `receive_udp(dgram, now)` takes a UDP 434 datagram and returns actions (the reply, data
plane changes, one log line); `get_timer()` / `handle_timer(now)` expire bindings. A request goes
through, in order: its fixed part (shorter, or another message: dropped), the source check (i-HA
trusted networks, x-HA ignored sources: dropped silently), the per-source rate limit (dropped), the
extensions (undecodable: 134), the home address lookup, the denial table `_CHECKS` (first match
denies), then acceptance. Decisions the RFCs leave open are noted where they are made. Drops are
counted one by one; their log lines are rate limited per reason (ratelimit.py).
"""
from __future__ import annotations

import ipaddress
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ..wire import codec, codes, ident
from ..wire.errors import CodecError
from ..wire.extensions import (
    ENCAP_IP_IN_IP,
    FOREIGN_HOME_AUTH,
    MOBILE_HOME_AUTH,
    UDP_TUNNEL_ACCEPTED,
    UDP_TUNNEL_DECLINED,
    Extension,
    Nai,
    TrustedNetworksConfigured,
    UdpTunnelReply,
    UdpTunnelRequest,
)
from ..wire.registration import (
    FLAG_D,
    FLAG_G,
    FLAG_M,
    FLAG_S,
    FLAG_T,
    PORT,
    RegistrationReply,
    RegistrationRequest,
    request_header,
)
from .actions import (
    Datagram,
    GratuitousArp,
    ProxyArp,
    RouteDown,
    RouteUp,
    SendUdp,
    Tunnel,
    TunnelDown,
    TunnelUp,
    log,
)
from .bindings import Binding, BindingTable
from .config import HomeAgentConfig, MobileNodeEntry
from .ratelimit import LogLimiter, SourceLimiter

UDP_FORCE = 0x80  # RFC 3519 3.1.1: F flag of the UDP Tunnel Request
_LOW = 0xFFFFFFFF
IFNAMSIZ = 15  # Linux interface names: at most 15 characters

# Counters status() always shows, even at zero.
COUNTERS = ("accepted", "denied", "deregistered", "expired", "dropped-untrusted", "dropped-inside", "malformed",
            "unexpected-message", "unknown-home-address", "bad-authenticator", "wrong-home-agent",
            "identification-mismatch", "replay", "unknown-extension", "encapsulation-unavailable",
            "reverse-tunnel-unavailable", "too-many-bindings", "poorly-formed-request", "rate-limited",
            "relayed-through-vpn", "log-suppressed")


@dataclass
class _Incoming:
    """A decoded request from an admitted source, for a home address we serve."""

    dgram: Datagram
    request: RegistrationRequest
    entry: MobileNodeEntry
    now: float
    wall: float  # time of day: identifications only (RFC 5944 5.7.1); lifetimes run on `now`
    authentic: bool = field(init=False)

    def __post_init__(self) -> None:
        sa = self.entry.sa
        self.authentic = self.request.verify(MOBILE_HOME_AUTH, sa.spi, sa.key)

    @property
    def home_address(self) -> str:
        return self.request.home_address

    @property
    def care_of(self) -> str:
        return self.request.care_of_address

    @property
    def deregistration(self) -> bool:
        """RFC 5944 3.6.1.2, 3.8.2.2: lifetime 0, or the home address as care-of (returning home)."""
        return self.request.lifetime == 0 or self.care_of == self.home_address

    def protected(self) -> list[Extension]:
        """Extensions the MN-HA authenticator covers (RFC 5944 3.5.1); none unless it verified."""
        return self.request.protected_extensions(MOBILE_HOME_AUTH, self.entry.sa.spi) if self.authentic else []

    def udp_request(self) -> UdpTunnelRequest | None:
        """RFC 3519 3.1: the MN's UDP Tunnel Request, which counts only when authenticated."""
        found = [e for e in self.protected() if isinstance(e, UdpTunnelRequest)]
        return found[0] if found else None

    def fa_udp_request(self) -> UdpTunnelRequest | None:
        """RFC 3519 3.1, 4.5: a relaying foreign agent's UDP Tunnel Request, which it places after the
        MN-HA authenticator (and before its FA-HA authenticator, checked by the denial table when we
        share an SA with it). Only for an FA care-of: a co-located MN speaks for itself."""
        if not self.authentic or self.request.has(FLAG_D):
            return None
        exts = self.request.extensions
        start = self.request.find(MOBILE_HOME_AUTH, self.entry.sa.spi) + 1
        end = self.request.find(FOREIGN_HOME_AUTH)
        found = [e for e in exts[start:end if end >= start else len(exts)] if isinstance(e, UdpTunnelRequest)]
        return found[0] if found else None

    def udp_tunnel_request(self) -> tuple[UdpTunnelRequest | None, bool]:
        """The UDP Tunnel Request that counts (the MN's, else the FA's), and whether the FA asked."""
        mn = self.udp_request()
        return (mn, False) if mn is not None else (self.fa_udp_request(), True)


# -- the denial table: RFC 5944 3.8.2.1 validity checks, RFC 3024, RFC 3519; first match denies --

Check = Callable[[HomeAgentConfig, BindingTable, _Incoming], bool]


def _bad_authenticator(config: HomeAgentConfig, table: BindingTable, rq: _Incoming) -> bool:
    return not rq.authentic  # RFC 5944 3.8.2.1: MN-HA authentication with the configured SPI


def _bad_fa_authenticator(config: HomeAgentConfig, table: BindingTable, rq: _Incoming) -> bool:
    """RFC 5944 3.8.2.1: with an FA-HA SA for the relaying FA, its authenticator must verify."""
    sa = config.fa_ha.get(rq.dgram.src)
    return sa is not None and not rq.request.verify(FOREIGN_HOME_AUTH, sa.spi, sa.key)


def _wrong_home_agent(config: HomeAgentConfig, table: BindingTable, rq: _Incoming) -> bool:
    return rq.request.home_agent != config.address  # RFC 5944 3.8.2.1, 3.8.3.2: 136 names our address


def _stale(config: HomeAgentConfig, table: BindingTable, rq: _Incoming) -> bool:
    # RFC 5944 5.7.1: a timestamp identification must be close enough to our time of day
    return not ident.is_fresh(rq.request.identification, rq.wall, config.replay_window)


def _replayed(config: HomeAgentConfig, table: BindingTable, rq: _Incoming) -> bool:
    # RFC 5944 5.7.1: and greater than that of the last accepted registration for this home address
    last = table.last_identification(rq.home_address)
    return last is not None and rq.request.identification <= last


def _relayed(config: HomeAgentConfig, table: BindingTable, rq: _Incoming) -> bool:
    """RFC 5265 3.1, R-3.1-d (project rule): through the VPN, only a VPN-TIA registers, as itself (R-2.3-e).

    Anyone with a VPN account is a trusted source (R-4.3-h), so an outsider could relay a mobile node's
    clear request from his own VPN-TIA and have the downlink sent to him. From the pool the care-of must
    be the source; from the gateway's SNAT address (R-2.5-e), an address of the pool."""
    src = rq.dgram.src
    if config.in_vpn_pool(src):
        return rq.care_of != src
    return config.through_vpn(src) and not config.in_vpn_pool(rq.care_of)


def _unknown_extension(config: HomeAgentConfig, table: BindingTable, rq: _Incoming) -> bool:
    return bool(rq.request.unknown_critical())  # RFC 5944 1.9, 3.8.2.1: type < 128 not understood


def _encapsulation(config: HomeAgentConfig, table: BindingTable, rq: _Incoming) -> bool:
    """RFC 5944 3.8.2.1, RFC 3024: only IP-in-IP, also inside a UDP tunnel (RFC 3519 3.1)."""
    if rq.deregistration:
        return False
    udp, _ = rq.udp_tunnel_request()
    return bool(rq.request.flags & (FLAG_M | FLAG_G)) or (udp is not None and udp.encapsulation != ENCAP_IP_IN_IP)


def _reverse_tunnel(config: HomeAgentConfig, table: BindingTable, rq: _Incoming) -> bool:
    return not rq.deregistration and rq.request.has(FLAG_T) and not config.reverse_tunnel  # RFC 3024 3.2


def _too_many_bindings(config: HomeAgentConfig, table: BindingTable, rq: _Incoming) -> bool:
    # RFC 5944 3.3, 3.8.2.2: S adds a binding beside the others, up to our limit
    simultaneous = rq.request.has(FLAG_S) and config.max_bindings > 1
    return simultaneous and not rq.deregistration and not table.has_room(rq.home_address, rq.care_of)


_CHECKS: tuple[tuple[str, int, Check], ...] = (
    ("bad-authenticator", codes.HA_MN_AUTH_FAILED, _bad_authenticator),
    ("bad-fa-authenticator", codes.HA_FA_AUTH_FAILED, _bad_fa_authenticator),
    ("wrong-home-agent", codes.HA_UNKNOWN_HA_ADDRESS, _wrong_home_agent),
    ("identification-mismatch", codes.HA_IDENTIFICATION_MISMATCH, _stale),
    ("replay", codes.HA_IDENTIFICATION_MISMATCH, _replayed),
    ("relayed-through-vpn", codes.HA_PROHIBITED, _relayed),
    ("unknown-extension", codes.HA_POORLY_FORMED_REQUEST, _unknown_extension),
    ("encapsulation-unavailable", codes.HA_ENCAPSULATION_UNAVAILABLE, _encapsulation),
    ("reverse-tunnel-unavailable", codes.HA_REVERSE_TUNNEL_UNAVAILABLE, _reverse_tunnel),
    ("too-many-bindings", codes.HA_TOO_MANY_BINDINGS, _too_many_bindings),
)


class HomeAgent:
    """One home agent; `config.role` says whether it is the i-HA or the x-HA of RFC 5265."""

    def __init__(self, config: HomeAgentConfig, rng: random.Random) -> None:
        self.config = config
        self.rng = rng  # nothing random yet: nonce identifications (RFC 5944 5.7.2) would draw from it
        self.bindings = BindingTable(config.max_bindings)
        self._tunnel_users: dict[str, set[str]] = {}  # installed tunnel -> home addresses routed into it
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.wall_offset = 0.0  # time of day minus `now` (`now` is monotonic in the daemon)
        self.ident_offset = 0.0  # the identification clock minus `now`: never goes back (set_wall_clock)
        self.wall_set = False  # until set_wall_clock (the daemon calls it at start-up), `now` is the time of day
        self.limiter = SourceLimiter(config.rate_limit, config.rate_burst)
        self.log_limiter = LogLimiter()

    # -- events ----------------------------------------------------------------------------------

    def receive_udp(self, dgram: Datagram, now: float) -> list:
        """A datagram to our UDP port 434."""
        header = request_header(dgram.payload)
        if header is None:  # not even the fixed part of a registration request
            return self._not_a_request(dgram, now)
        dropped = self._admission(dgram, header, now)
        if dropped is not None:
            return dropped
        if not self.limiter.allow(dgram.src, now):  # a flood from one source: no decoding, no HMAC, no reply
            return self._drop("rate-limited", "rate-limited", "registration request from %s for %s dropped: more than"
                              " %g a second from that source" % (dgram.src, header.home_address,
                                                                 self.config.rate_limit), now=now, src=dgram.src)
        try:
            message = codec.decode_registration(dgram.payload)
        except CodecError as e:
            return self._poorly_formed(dgram, header, str(e), now)
        entry = self.config.mobile_nodes.get(message.home_address)
        if entry is None:
            return self._unknown_home_address(dgram, message, now)
        rq = _Incoming(dgram, message, entry, now, now + self.ident_offset)
        for reason, code, failed in _CHECKS:
            if failed(self.config, self.bindings, rq):
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
            gone, plane = self._change(hoa, lambda h=hoa: self.bindings.expire(now, h))
            actions += plane
            for b in gone:
                self._count("expired")
                actions.append(log("info", "expired", "binding %s -> %s expired after %d s"
                                   % (b.home_address, b.care_of, b.lifetime), hoa=b.home_address, coa=b.care_of))
        return actions

    def status(self, now: float | None = None) -> dict:
        """Role, address, bindings (with seconds left when `now` is given) and counters."""
        return {
            "role": self.config.role,
            "address": self.config.address,
            "bindings": [self._binding_status(b, now) for b in self.bindings],
            "counters": dict(self.counters),
        }

    # -- who may register at all -----------------------------------------------------------------

    def _admission(self, dgram: Datagram, request: RegistrationRequest, now: float) -> list | None:
        """Drop silently (no reply, no binding change, one log line) or None to go on."""
        c = self.config
        fields = dict(src=dgram.src, hoa=request.home_address, coa=request.care_of_address, time=now)
        if c.role == "i-ha" and not c.trusts(dgram.src):
            # RFC 5265 4.3, R-4.3-c: nothing is trusted by default; R-4.3-d: drop silently, no reply of any
            # kind; R-4.3-g: judged on the IP source as received, never the CoA or HoA fields; R-4.3-e: logged
            return self._drop("untrusted-source", "dropped-untrusted", "dropped registration request from %s for %s:"
                              " source not in trusted_networks (RFC 5265 4.3)"
                              % (dgram.src, request.home_address), now, **fields)
        if c.role == "x-ha" and c.ignores(dgram.src):
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
        reply = self._reply(dgram, request, code)
        return [reply] + self._drop(reason, reason, "denied %s from %s: %s: %s" % (
            request.home_address, dgram.src, why, codes.describe(code)), hoa=request.home_address,
            coa=request.care_of_address, src=dgram.src, code=code, now=now)

    # -- denials -------------------------------------------------------------------------------

    def _deny(self, rq: _Incoming, reason: str, code: int) -> list:
        """An authenticated denial (RFC 5944 3.8.2.3), so the MN can act on it; nothing else changes."""
        self._count("denied")
        self._count(reason)
        identification = rq.request.identification
        if code == codes.HA_IDENTIFICATION_MISMATCH:
            identification = _resync_identification(identification, rq.wall)
        reply = self._reply(rq.dgram, rq.request, code, identification=identification, rq=rq)
        return [reply, log("warning", reason, "denied %s -> %s from %s: %s" % (
            rq.home_address, rq.care_of, rq.dgram.src, codes.describe(code)),
            hoa=rq.home_address, coa=rq.care_of, src=rq.dgram.src, code=code)]

    # -- acceptance ------------------------------------------------------------------------------

    def _accept(self, rq: _Incoming) -> list:
        """RFC 5944 3.8.2.2: update the binding list, then reply (3.8.3)."""
        self.bindings.accept_identification(rq.home_address, rq.request.identification)  # RFC 5944 5.7
        self._count("accepted")
        if rq.deregistration:
            return self._deregister(rq)
        return self._register(rq)

    def _deregister(self, rq: _Incoming) -> list:
        """Lifetime 0 or CoA == HoA (RFC 5944 3.6.1.2, 3.8.2.2).

        With S and another care-of, only that binding goes; otherwise all of them (a request without S
        speaks for the whole binding set, as a registration without S replaces it).
        """
        only = rq.care_of if rq.request.has(FLAG_S) and rq.care_of != rq.home_address else None
        gone, plane = self._change(rq.home_address, lambda: self.bindings.remove(rq.home_address, only))
        self._count("deregistered")
        code = codes.ACCEPTED
        reply = self._reply(rq.dgram, rq.request, code, lifetime=0, rq=rq)
        return plane + [reply, log("info", "deregistered", "%s deregistered %s from %s: %s, %d binding(s) removed"
                                   % (rq.home_address, rq.care_of, rq.dgram.src, codes.describe(code), len(gone)),
                                   hoa=rq.home_address, coa=rq.care_of, src=rq.dgram.src, code=code)]

    def _register(self, rq: _Incoming) -> list:
        granted = self._grant(rq)
        udp, udp_reply, by_fa = self._udp_tunnel(rq)
        d = rq.dgram
        binding = Binding(rq.home_address, rq.care_of, granted, rq.now,
                          math.inf if granted == 0xFFFF else rq.now + granted, rq.request.identification,
                          rq.request.has(FLAG_T), d.src, d.sport, udp, rq.request.has(FLAG_D))
        if rq.request.has(FLAG_S) and self.config.max_bindings > 1:
            code = codes.ACCEPTED
            _, plane = self._change(rq.home_address, lambda: self.bindings.add(binding))
        else:
            # RFC 5944 3.8.2.2: without S the new binding replaces all others; S asked of an HA that keeps
            # one binding per home address: accepted, with code 1 (RFC 5944 3.4)
            code = codes.ACCEPTED_NO_SIMULTANEOUS if rq.request.has(FLAG_S) else codes.ACCEPTED
            _, plane = self._change(rq.home_address, lambda: self.bindings.replace(binding))
        extensions = [udp_reply] if udp_reply is not None else []
        if by_fa:  # RFC 3519 3.2: the FA asked, so the answer is in the FA's part
            reply = self._reply(d, rq.request, code, lifetime=granted, fa_extensions=extensions, rq=rq)
        else:
            reply = self._reply(d, rq.request, code, lifetime=granted, extensions=extensions, rq=rq)
        return plane + [reply, log("info", "registered", "%s -> %s from %s: %s, lifetime %d%s" % (
            rq.home_address, rq.care_of, d.src, codes.describe(code), granted, ", UDP tunnel" if udp else ""),
            hoa=rq.home_address, coa=rq.care_of, src=d.src, code=code, refresh=not plane, udp=udp)]

    def _grant(self, rq: _Incoming) -> int:
        """RFC 5944 3.8.2.2: at most what was asked and what we allow; 0xffff (infinite) is capped too."""
        caps = [rq.request.lifetime, self.config.max_lifetime]
        if rq.entry.max_lifetime is not None:
            caps.append(rq.entry.max_lifetime)
        return min(caps)

    def _udp_tunnel(self, rq: _Incoming) -> tuple[bool, UdpTunnelReply | None, bool]:
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

    # -- replies ---------------------------------------------------------------------------------

    def _reply(self, dgram: Datagram, request: RegistrationRequest, code: int, lifetime: int = 0,
               identification: int | None = None, extensions: list | None = None,
               rq: _Incoming | None = None, fa_extensions: list | None = None) -> SendUdp:
        """To the request's source address and port, from our address and port 434 (RFC 5944 3.8.3.1).

        Authenticated with the MN's key when we have it (rq given), else bare. Extensions before the
        MN-HA authenticator: the MN's NAI echoed (RFC 2794), `extensions`, then TNC; after it, the
        FA's `fa_extensions` (RFC 5944 3.7.3.2: the FA removes them), then any FA-HA authenticator.
        """
        exts: list = []
        if rq is not None:
            exts += [e for e in rq.protected() if isinstance(e, Nai)][:1]
        exts += extensions or []
        if self._sends_tnc(dgram.src, request.care_of_address):
            # R-3.4-d: ahead of the MN-HA authenticator, so it covers the TNC
            exts.append(TrustedNetworksConfigured())
        reply = RegistrationReply(code, request.home_address, self.config.address,
                                  request.identification if identification is None else identification,
                                  lifetime, exts)
        if rq is not None:
            reply.authenticate(MOBILE_HOME_AUTH, rq.entry.sa.spi, rq.entry.sa.key)
        reply.extensions += fa_extensions or []
        fa_sa = self.config.fa_ha.get(dgram.src)
        if fa_sa is not None:  # RFC 5944 3.8.3.1: the FA-HA authenticator follows, for the relaying FA
            reply.authenticate(FOREIGN_HOME_AUTH, fa_sa.spi, fa_sa.key)
        return SendUdp(Datagram(dgram.iface, self.config.address, PORT, dgram.src, dgram.sport, reply.encode()))

    def _sends_tnc(self, source: str, care_of: str) -> bool:
        """RFC 5265 4.3, R-4.3-f: TNC in every reply, accept or deny, to a request from inside.

        R-3.4-e: only an i-HA whose trusted-source check is in force (role i-ha, send_tnc); R-3.4-f: an
        x-HA never sends TNC (and a TNC in a request is ignored by both: never looked at). R-3.1-c
        (project rule): TNC tells the MN that its request reached us without IPsec from inside, so only
        evidence an outsider cannot relay earns it: not a request through the VPN (every VPN user is a
        trusted source, R-4.3-h, so any of them could relay a mobile node's clear request), and not one
        whose care-of is outside the trusted networks or is a VPN-TIA (an MN attached inside has a
        care-of there: its own address, or its i-FA's)."""
        c = self.config
        if c.role != "i-ha" or not c.send_tnc or c.through_vpn(source):
            return False
        return c.trusts(care_of) and not c.in_vpn_pool(care_of)

    # -- the data plane --------------------------------------------------------------------------

    def _change(self, hoa: str, mutate: Callable[[], object]) -> tuple[object, list]:
        """Apply `mutate` to the table; return its result and the data plane actions it calls for.

        Nothing when the tunnels of `hoa` stay the same (a plain refresh). Only `hoa`'s bindings are
        looked at: a tunnel goes up with its first user and down with its last (several home addresses
        may share one care-of or one NAT mapping), so the cost does not grow with the table.
        """
        before = self.bindings.lookup(hoa)
        old = self._tunnels_of(hoa, before)
        result = mutate()
        after = self.bindings.lookup(hoa)
        new = self._tunnels_of(hoa, after)
        actions: list = []
        for name, t in new.items():
            users = self._tunnel_users.setdefault(name, set())
            if not users:
                actions.append(TunnelUp(t))
            users.add(hoa)
        if self._placement(hoa, after) != self._placement(hoa, before):
            actions += self._routes(hoa, after)
        for name, t in old.items():
            users = self._tunnel_users.get(name, set())
            if name in new or hoa not in users:
                continue
            users.discard(hoa)
            if not users:
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
        """The home address and a mobile router's networks into their tunnels, or their routes removed."""
        entry = self.config.mobile_nodes.get(hoa)
        own, nets = self._placement(hoa, bindings)
        prefixes = [(hoa + "/32", own)] + [(p, nets) for p in (entry.networks if entry else ())]
        if own:
            return [RouteUp(p, devices) for p, devices in prefixes]
        return [RouteDown(p) for p, _ in prefixes]

    def _home_link(self, hoa: str, was_away: bool, is_away: bool) -> list:
        """RFC 5944 4.6: proxy ARP for the home address while it is away; gratuitous ARP on each change."""
        if was_away == is_away:
            return []
        return [ProxyArp(hoa, is_away), GratuitousArp(hoa, self.config.home_iface)]

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

    # -- bookkeeping -----------------------------------------------------------------------------

    def _drop(self, reason: str, counter: str, message: str, now: float, level: str = "warning", **fields) -> list:
        """Count; log too, unless this reason has filled its share of the log lately (an attacker's
        packets are counted one by one but do not fill the log)."""
        self._count(counter)
        text = self.log_limiter.admit(reason, message, now)
        if text is None:
            self._count("log-suppressed")
            return []
        return [log(level, reason, text, **fields)]

    def _count(self, what: str) -> None:
        self.counters[what] = self.counters.get(what, 0) + 1

    def _binding_status(self, b: Binding, now: float | None) -> dict:
        finite = b.expires_at != math.inf
        return {
            "home_address": b.home_address, "care_of": b.care_of, "lifetime": b.lifetime,
            "registered_at": b.registered_at, "expires_at": b.expires_at if finite else None,
            "remaining": b.remaining(now) if now is not None and finite else None,
            "reverse_tunnel": b.reverse_tunnel, "udp_tunnel": b.udp_tunnel,
            "source": b.source, "source_port": b.source_port, "tunnel": tunnel_name(b),
        }


def tunnel_name(b: Binding) -> str:
    """A Linux interface name (at most 15 characters) for the tunnel a binding uses.

    IP-in-IP: "mip-" and the care-of address in hex; RFC 3519 UDP: "mu-", the source address and
    port in hex (several MNs may sit behind one NAT address).
    """
    if b.udp_tunnel:
        name = "mu-%08x%04x" % (int(ipaddress.IPv4Address(b.source)), b.source_port)
    else:
        name = "mip-%08x" % int(ipaddress.IPv4Address(b.care_of))
    assert len(name) <= IFNAMSIZ
    return name


def mobile_router_tunnel_name(hoa: str) -> str:
    """The MR-HA tunnel of a mobile router registered through an FA: "mr-" and its home address in hex."""
    return "mr-%08x" % int(ipaddress.IPv4Address(hoa))


def _resync_identification(request_identification: int, now: float) -> int:
    """RFC 5944 5.7.1: for code 133, our time of day in the high 32 bits, the request's low 32 bits."""
    ours = ident.timestamp_identification(now, 0, clock_bits=0)
    return (ours & ~_LOW) | (request_identification & _LOW)
