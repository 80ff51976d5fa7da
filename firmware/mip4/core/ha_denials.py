"""The home agent's denial table (RFC 5944 3.8.2.1 validity checks, RFC 3024, RFC 3519, RFC 5265).

`Incoming` is a decoded request from an admitted source, for a home address we serve. `CHECKS` holds
one predicate per RFC clause, in precedence order: the first that holds denies the request, with its
reason (counter and log tag) and reply code (RFC 5944 3.4, 3.8.3).
"""
from __future__ import annotations

from collections.abc import Callable

from ..wire import codes, ident
from ..wire.extensions import ENCAP_IP_IN_IP, FOREIGN_HOME_AUTH, MOBILE_HOME_AUTH, Extension, UdpTunnelRequest
from ..wire.registration import FLAG_D, FLAG_G, FLAG_M, FLAG_S, FLAG_T, RegistrationRequest
from .actions import Datagram
from .bindings import BindingTable
from .config import VPN_POOL, VPN_SNAT, HomeAgentConfig, MobileNodeEntry
from .identification import later


class Incoming:
    """A decoded request from an admitted source, for a home address we serve.

    A plain class with slots, not a dataclass: one is made per request (issue 25)."""

    __slots__ = ("dgram", "request", "entry", "now", "wall", "authentic", "home_address", "care_of",
                 "deregistration", "_protected", "_udp")

    def __init__(self, dgram: Datagram, request: RegistrationRequest, entry: MobileNodeEntry, now: float,
                 wall: float) -> None:
        self.dgram, self.request, self.entry, self.now = dgram, request, entry, now
        self.wall = wall  # time of day: identifications only (RFC 5944 5.7.1); lifetimes run on `now`
        sa = entry.sa
        self.authentic: bool = request.verify(MOBILE_HOME_AUTH, sa.spi, sa.key, dgram.payload)
        # read a dozen times per request: attributes, not properties (issue 25)
        self.home_address: str = request.home_address
        self.care_of: str = request.care_of_address
        # RFC 5944 3.6.1.2, 3.8.2.2: lifetime 0, or the home address as care-of (returning home)
        self.deregistration: bool = request.lifetime == 0 or self.care_of == self.home_address
        # the extensions the MN-HA authenticator covers (RFC 5944 3.5.1), none unless it verified: asked
        # by the denial table and the reply
        self._protected: list[Extension] = (request.protected_extensions(MOBILE_HOME_AUTH, sa.spi)
                                            if self.authentic else [])
        self._udp: tuple[UdpTunnelRequest | None, bool] | None = None

    def protected(self) -> list[Extension]:
        """Extensions the MN-HA authenticator covers (RFC 5944 3.5.1); none unless it verified."""
        return self._protected

    def udp_request(self) -> UdpTunnelRequest | None:
        """RFC 3519 3.1: the MN's UDP Tunnel Request, which counts only when authenticated."""
        for e in self.protected():
            if isinstance(e, UdpTunnelRequest):
                return e
        return None

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
        if self._udp is None:  # asked by the denial table and by the acceptance: found once
            mn = self.udp_request()
            self._udp = (mn, False) if mn is not None else (self.fa_udp_request(), True)
        return self._udp

# -- the denial table: RFC 5944 3.8.2.1 validity checks, RFC 3024, RFC 3519; first match denies --

Check = Callable[[HomeAgentConfig, BindingTable, Incoming], bool]


def _bad_authenticator(config: HomeAgentConfig, table: BindingTable, rq: Incoming) -> bool:
    return not rq.authentic  # RFC 5944 3.8.2.1: MN-HA authentication with the configured SPI


def _bad_fa_authenticator(config: HomeAgentConfig, table: BindingTable, rq: Incoming) -> bool:
    """RFC 5944 3.8.2.1: with an FA-HA SA for the relaying FA, its authenticator must verify."""
    sa = config.fa_ha.get(rq.dgram.src)
    return sa is not None and not rq.request.verify(FOREIGN_HOME_AUTH, sa.spi, sa.key, rq.dgram.payload)


def _wrong_home_agent(config: HomeAgentConfig, table: BindingTable, rq: Incoming) -> bool:
    return rq.request.home_agent != config.address  # RFC 5944 3.8.2.1, 3.8.3.2: 136 names our address


def _stale(config: HomeAgentConfig, table: BindingTable, rq: Incoming) -> bool:
    # RFC 5944 5.7.1: a timestamp identification must be close enough to our time of day
    return not ident.is_fresh(rq.request.identification, rq.wall, config.replay_window)


def _replayed(config: HomeAgentConfig, table: BindingTable, rq: Incoming) -> bool:
    # RFC 5944 5.7.1: and greater than that of the last accepted registration for this home address, as
    # timestamps: serial number arithmetic (RFC 1982), so they continue across the NTP era of 2036
    last = table.last_identification(rq.home_address)
    return last is not None and not later(rq.request.identification, last)


def _relayed(config: HomeAgentConfig, table: BindingTable, rq: Incoming) -> bool:
    """RFC 5265 3.1, R-3.1-d (project rule): through the VPN, only a VPN-TIA registers, as itself (R-2.3-e).

    Anyone with a VPN account is a trusted source (R-4.3-h), so an outsider could relay a mobile node's
    clear request from his own VPN-TIA and have the downlink sent to him. From the pool the care-of must
    be the source; from the gateway's SNAT address (R-2.5-e), an address of the pool."""
    src = rq.dgram.src
    kind = config.kind(src)
    if kind & VPN_POOL:
        return rq.care_of != src
    return bool(kind & VPN_SNAT) and not config.kind(rq.care_of) & VPN_POOL


def _unknown_extension(config: HomeAgentConfig, table: BindingTable, rq: Incoming) -> bool:
    return bool(rq.request.unknown_critical())  # RFC 5944 1.9, 3.8.2.1: type < 128 not understood


def _encapsulation(config: HomeAgentConfig, table: BindingTable, rq: Incoming) -> bool:
    """RFC 5944 3.8.2.1, RFC 3024: only IP-in-IP, also inside a UDP tunnel (RFC 3519 3.1)."""
    if rq.deregistration:
        return False
    udp, _ = rq.udp_tunnel_request()
    return bool(rq.request.flags & (FLAG_M | FLAG_G)) or (udp is not None and udp.encapsulation != ENCAP_IP_IN_IP)


def _reverse_tunnel(config: HomeAgentConfig, table: BindingTable, rq: Incoming) -> bool:
    return not rq.deregistration and rq.request.has(FLAG_T) and not config.reverse_tunnel  # RFC 3024 3.2


def _too_many_bindings(config: HomeAgentConfig, table: BindingTable, rq: Incoming) -> bool:
    # RFC 5944 3.3, 3.8.2.2: S adds a binding beside the others, up to our limit
    simultaneous = rq.request.has(FLAG_S) and config.max_bindings > 1
    return simultaneous and not rq.deregistration and not table.has_room(rq.home_address, rq.care_of)


CHECKS: tuple[tuple[str, int, Check], ...] = (
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

# Checks that can hold only under some configurations; the others apply to every request.
_APPLIES: dict[Check, Callable[[HomeAgentConfig], bool]] = {
    _bad_fa_authenticator: lambda c: bool(c.fa_ha),  # no FA-HA SA: no FA authenticator to check
    _relayed: lambda c: bool(c.vpn_pool or c.vpn_snat),  # no VPN addresses: nothing comes through it
    _reverse_tunnel: lambda c: not c.reverse_tunnel,
    _too_many_bindings: lambda c: c.max_bindings > 1,  # one binding: S is answered with code 1
}


def checks_for(config: HomeAgentConfig) -> tuple[tuple[str, int, Check], ...]:
    """CHECKS without those that cannot hold under `config`, in the same order: the same first match,
    a few calls fewer per request (issue 25)."""
    return tuple(c for c in CHECKS if _APPLIES.get(c[2], _always)(config))


def _always(config: HomeAgentConfig) -> bool:
    return True
