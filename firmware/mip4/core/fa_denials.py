"""The foreign agent's denial table (RFC 5944 3.7.2.1, 3.7.2.3; RFC 3024 3.3), Sans-IO.

One clause a predicate; the first that fails the request denies it with its code, so the order of
the table is the precedence. A predicate returns None when the request passes, else why it fails
(for the log). Requests with a co-located care-of (D bit, RFC 5944 3.1) are the mobile node's
business: the care-of clauses pass them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..wire import RegistrationRequest, codes
from ..wire.registration import FLAG_D, FLAG_G, FLAG_M, FLAG_T
from .actions import Datagram
from .config import ForeignAgentConfig
from .fa_messages import UNSPECIFIED
from .visitors import PendingList, VisitorList


@dataclass(frozen=True)
class Arrival:
    """A decoded registration request from an access link, and what we know of its binding."""

    dgram: Datagram
    request: RegistrationRequest
    visitors: VisitorList
    pending: PendingList

    @property
    def binding(self) -> tuple[str, str]:
        return (self.request.home_address, self.request.home_agent)

    @property
    def co_located(self) -> bool:
        return self.request.has(FLAG_D)


Check = Callable[[ForeignAgentConfig, Arrival], str | None]  # None: passes; else why it fails


def _unknown_extension(config: ForeignAgentConfig, rq: Arrival) -> str | None:
    bad = rq.request.unknown_critical()  # RFC 5944 1.9: a non-skippable extension we do not know
    return "unknown non-skippable extension type %d" % bad[0].type if bad else None


def _no_home_address(config: ForeignAgentConfig, rq: Arrival) -> str | None:
    # RFC 2794 (NAI and a dynamic home address) is not supported here
    return "home address 0.0.0.0" if rq.request.home_address == UNSPECIFIED else None


def _no_home_agent(config: ForeignAgentConfig, rq: Arrival) -> str | None:
    return "home agent 0.0.0.0" if rq.request.home_agent == UNSPECIFIED else None


def _lifetime_too_long(config: ForeignAgentConfig, rq: Arrival) -> str | None:
    lifetime = rq.request.lifetime  # RFC 5944 3.7.2.1: at most what we advertise (2.1.1)
    if lifetime > config.registration_lifetime:
        return "lifetime %d above our maximum %d" % (lifetime, config.registration_lifetime)
    return None


def _encapsulation(config: ForeignAgentConfig, rq: Arrival) -> str | None:
    # RFC 5944 3.7.2.1: we tunnel with IP-in-IP only
    return "M or G bit set" if not rq.co_located and rq.request.flags & (FLAG_M | FLAG_G) else None


def _reverse_tunnel(config: ForeignAgentConfig, rq: Arrival) -> str | None:
    # RFC 3024 3.3: T asked of an FA that does not reverse tunnel
    return "T bit set" if not rq.co_located and rq.request.has(FLAG_T) and not config.reverse_tunnel else None


def _invalid_care_of(config: ForeignAgentConfig, rq: Arrival) -> str | None:
    # RFC 5944 3.7.2.1: a care-of we do not offer on the link the request came in on
    ours = config.links[rq.dgram.iface]
    if rq.co_located or rq.request.care_of_address == ours:
        return None
    return "care-of %s is not ours on %s (%s)" % (rq.request.care_of_address, rq.dgram.iface, ours)


def _too_many_visitors(config: ForeignAgentConfig, rq: Arrival) -> str | None:
    """RFC 5944 3.7.2.1: no room. Deregistrations and renewals always fit; a new binding counts the
    visitors and the registrations pending."""
    if not rq.request.lifetime or rq.binding in rq.visitors:
        return None
    bindings = {v.key for v in rq.visitors} | {(p.home_address, p.home_agent) for p in rq.pending}
    if rq.binding in bindings or len(bindings) < config.max_visitors:
        return None
    return "%d visitors already" % config.max_visitors


CHECKS: tuple[tuple[str, int, Check], ...] = (
    ("unknown-extension", codes.FA_POORLY_FORMED_REQUEST, _unknown_extension),
    ("no-home-address", codes.FA_NONZERO_HOME_ADDRESS_REQUIRED, _no_home_address),
    ("no-home-agent", codes.FA_MISSING_HOME_AGENT, _no_home_agent),
    ("lifetime-too-long", codes.FA_LIFETIME_TOO_LONG, _lifetime_too_long),
    ("encapsulation-unavailable", codes.FA_ENCAPSULATION_UNAVAILABLE, _encapsulation),
    ("reverse-tunnel-unavailable", codes.FA_REVERSE_TUNNEL_UNAVAILABLE, _reverse_tunnel),
    ("invalid-care-of", codes.FA_INVALID_CARE_OF, _invalid_care_of),
    ("too-many-visitors", codes.FA_INSUFFICIENT_RESOURCES, _too_many_visitors),
)


def denial(config: ForeignAgentConfig, rq: Arrival) -> tuple[int, str, str] | None:
    """(code, reason, why) of the first clause the request fails, or None: relay it."""
    for reason, code, failed in CHECKS:
        why = failed(config, rq)
        if why is not None:
            return code, reason, why
    return None
