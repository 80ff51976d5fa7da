"""Hand-made registration replies for driving machines directly in tests."""
from __future__ import annotations

import random

from mip4.core.actions import Datagram, SendUdp
from mip4.core.config import MobileNodeConfig, SecurityAssociation
from mip4.wire import RegistrationReply, RegistrationRequest, TrustedNetworksConfigured, codec

NOW = 1_800_000_000.0
I_SA = SecurityAssociation(1000, bytes(range(16)))
X_SA = SecurityAssociation(2000, bytes(range(16, 32)))


def mn_config(**overrides) -> MobileNodeConfig:
    """The lab's addressing: intranet 10/8, external 198.51.100/24 and 203.0.113/24, DMZ 192.0.2/24."""
    base = dict(i_hoa="10.1.0.10", i_ha="10.1.0.1", i_sa=I_SA, x_hoa="198.51.100.10", x_ha="198.51.100.1",
                x_sa=X_SA, vpn_gateway="192.0.2.1", detection_period=1.0)
    base.update(overrides)
    return MobileNodeConfig(**base)


def rng() -> random.Random:
    return random.Random(1)


def requests(actions: list) -> list[tuple[Datagram, RegistrationRequest]]:
    """The registration requests among `actions`, decoded."""
    out = []
    for a in actions:
        if isinstance(a, SendUdp):
            msg = codec.decode_udp(a.datagram.payload)
            if isinstance(msg, RegistrationRequest):
                out.append((a.datagram, msg))
    return out


def answer(dgram: Datagram, sa: SecurityAssociation | None, code: int = 0, tnc: bool = False,
           lifetime: int | None = None, identification: int | None = None, after_auth: list | None = None,
           before_auth: list | None = None, home_address: str | None = None) -> Datagram:
    """The reply to the request in `dgram`, from its destination back to its source.

    sa None leaves the reply unauthenticated (what an FA denial or a forger sends).
    """
    rq = codec.decode_udp(dgram.payload)
    exts = list(before_auth or []) + ([TrustedNetworksConfigured()] if tnc else [])
    rp = RegistrationReply(code, home_address or rq.home_address, rq.home_agent,
                           rq.identification if identification is None else identification,
                           rq.lifetime if lifetime is None else lifetime, exts)
    if sa is not None:
        rp.authenticate(32, sa.spi, sa.key)
    rp.extensions += list(after_auth or [])
    return Datagram(dgram.iface, dgram.dst, 434, dgram.src, dgram.sport, rp.encode())
