"""The foreign agent's part of the registration messages it relays (RFC 5944 3.7.2.2, 3.7.3; RFC 3519).

Everything up to and including the Mobile-Home authenticator passes byte-identical (R-3.4-b, R-2.4-d:
TNC and extensions we do not know included); after it comes what is for or from the FA: our UDP
Tunnel Request and Foreign-Home authenticator going up, the home agent's answers coming down.
"""
from __future__ import annotations

import ipaddress

from ..wire import RegistrationReply, RegistrationRequest
from ..wire.extensions import ENCAP_IP_IN_IP, FOREIGN_HOME_AUTH, MOBILE_HOME_AUTH, UdpTunnelReply, UdpTunnelRequest
from .config import SecurityAssociation

UNSPECIFIED = "0.0.0.0"

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


def relayed_request(payload: bytes, rq: RegistrationRequest, udp: bool, sa: SecurityAssociation | None) -> bytes:
    """RFC 5944 3.7.2.2: the request as the MN sent it up to its Mobile-Home authenticator, the
    FA's extensions removed; then our UDP Tunnel Request (RFC 3519 3.1: after the Mobile-Home
    authenticator) and our Foreign-Home authenticator if we share an SA."""
    out = bytes(payload[: fa_part_start(rq, len(payload))])
    if sa is None and not udp:
        return out
    msg = RegistrationRequest.decode(out)
    if udp:
        msg.extensions.append(UdpTunnelRequest(ENCAP_IP_IN_IP))
    if sa is not None:
        msg.authenticate(FOREIGN_HOME_AUTH, sa.spi, sa.key)  # RFC 5944 3.5.4: over everything before it
    return msg.encode()


def relayed_reply(payload: bytes, rp: RegistrationReply) -> bytes:
    """R-3.4-b: the octets up to and including the Mobile-Home authenticator (and so any TNC before
    it) go to the MN unchanged; only the FA's part (Foreign-Home auth) is removed."""
    return bytes(payload[: fa_part_start(rp, len(payload))])


def udp_reply(rp: RegistrationReply) -> UdpTunnelReply | None:
    """RFC 3519 3.2: the answer to our UDP Tunnel Request, in our part of the reply (after the
    Mobile-Home authenticator; covered by the Foreign-Home authenticator when we share an SA)."""
    i = rp.find(MOBILE_HOME_AUTH)
    return next((e for e in rp.extensions[i + 1:] if isinstance(e, UdpTunnelReply)), None) if i >= 0 else None


def ha_authentic(rp: RegistrationReply, sa: SecurityAssociation) -> bool:
    """RFC 5944 3.7.3.1: exactly one Foreign-Home authenticator, and a good one."""
    count = sum(1 for e in rp.extensions if e.type == FOREIGN_HOME_AUTH)
    return count == 1 and rp.verify(FOREIGN_HOME_AUTH, sa.spi, sa.key)


def unicast(address: str) -> bool:
    """An address a datagram may come from, or a home agent name as its own (RFC 5944 3.8.3.2: its
    unicast address): not multicast, not 0.0.0.0, not the limited broadcast."""
    a = ipaddress.IPv4Address(address)
    return not (a.is_multicast or a.is_unspecified or a == ipaddress.IPv4Address("255.255.255.255"))
