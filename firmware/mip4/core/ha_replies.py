"""The home agent's registration replies (RFC 5944 3.8.3; RFC 5265 4.3: the TNC extension).

Every reply goes to the request's source address and port from our address and port 434; the
accepted and authenticated denials carry the MN-HA authenticator, and a relaying FA's authenticator
when we share an SA with it.
"""
from __future__ import annotations

from ..wire import ident
from ..wire.extensions import FOREIGN_HOME_AUTH, MOBILE_HOME_AUTH, Nai, TrustedNetworksConfigured
from ..wire.registration import PORT, RegistrationReply, RegistrationRequest
from .actions import Datagram, SendUdp
from .config import TRUSTED, VPN_POOL, VPN_SNAT, HomeAgentConfig
from .ha_denials import Incoming

_LOW = 0xFFFFFFFF


def reply(config: HomeAgentConfig, dgram: Datagram, request: RegistrationRequest, code: int, lifetime: int = 0,
          identification: int | None = None, extensions: list | None = None, rq: Incoming | None = None,
          fa_extensions: list | None = None) -> SendUdp:
    """To the request's source address and port, from our address and port 434 (RFC 5944 3.8.3.1).

    Authenticated with the MN's key when we have it (rq given), else bare. Extensions before the
    MN-HA authenticator: the MN's NAI echoed (RFC 2794), `extensions`, then TNC; after it, the
    FA's `fa_extensions` (RFC 5944 3.7.3.2: the FA removes them), then any FA-HA authenticator.
    """
    exts: list = []
    if rq is not None:
        for e in rq.protected():  # the first NAI
            if isinstance(e, Nai):
                exts.append(e)
                break
    if extensions:
        exts += extensions
    if sends_tnc(config, dgram.src, request.care_of_address):
        # R-3.4-d: ahead of the MN-HA authenticator, so it covers the TNC
        exts.append(TrustedNetworksConfigured())
    message = RegistrationReply(code, request.home_address, config.address,
                                request.identification if identification is None else identification,
                                lifetime, exts)
    fa_sa = config.fa_ha.get(dgram.src)
    if rq is not None and not fa_extensions and fa_sa is None:  # the usual reply: encoded once
        octets = message.encode_authenticated(MOBILE_HOME_AUTH, rq.entry.sa.spi, rq.entry.sa.key)
        return SendUdp(Datagram(dgram.iface, config.address, PORT, dgram.src, dgram.sport, octets))
    if rq is not None:
        message.authenticate(MOBILE_HOME_AUTH, rq.entry.sa.spi, rq.entry.sa.key)
    message.extensions += fa_extensions or []
    if fa_sa is not None:  # RFC 5944 3.8.3.1: the FA-HA authenticator follows, for the relaying FA
        message.authenticate(FOREIGN_HOME_AUTH, fa_sa.spi, fa_sa.key)
    return SendUdp(Datagram(dgram.iface, config.address, PORT, dgram.src, dgram.sport, message.encode()))


def sends_tnc(config: HomeAgentConfig, source: str, care_of: str) -> bool:
    """RFC 5265 4.3, R-4.3-f: TNC in every reply, accept or deny, to a request from inside.

    R-3.4-e: only an i-HA whose trusted-source check is in force (role i-ha, send_tnc); R-3.4-f: an
    x-HA never sends TNC (and a TNC in a request is ignored by both: never looked at). R-3.1-c
    (project rule): TNC tells the MN that its request reached us without IPsec from inside, so only
    evidence an outsider cannot relay earns it: not a request through the VPN (every VPN user is a
    trusted source, R-4.3-h, so any of them could relay a mobile node's clear request), and not one
    whose care-of is outside the trusted networks or is a VPN-TIA (an MN attached inside has a
    care-of there: its own address, or its i-FA's)."""
    if config.role != "i-ha" or not config.send_tnc or config.kind(source) & (VPN_POOL | VPN_SNAT):
        return False
    return config.kind(care_of) & (TRUSTED | VPN_POOL) == TRUSTED


def resync_identification(request_identification: int, now: float) -> int:
    """RFC 5944 5.7.1: for code 133, our time of day in the high 32 bits, the request's low 32 bits."""
    ours = ident.timestamp_identification(now, 0, clock_bits=0)
    return (ours & ~_LOW) | (request_identification & _LOW)
