"""A rogue "i-HA" on an external network (RFC 5265 6.1): it owns the i-HA's address there and
accepts every registration with TNC, but without the MN-HA key its authenticator is wrong.
The MR must stay outside (R-3.2.3-a, R-3.4-d). It counts what it answered in a JSON file.
"""
from __future__ import annotations

import json
import os
import socket

from mip4.wire import codec
from mip4.wire.errors import CodecError
from mip4.wire.extensions import MOBILE_HOME_AUTH, TrustedNetworksConfigured
from mip4.wire.registration import RegistrationReply, RegistrationRequest


def serve(address: str, spi: int, status_file: str) -> int:
    """Answer every registration request to `address`:434 with a forged acceptance."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, 434))
    answered = 0
    guessed_key = os.urandom(16)  # the attacker's best guess at the MN-HA key
    while True:
        data, peer = sock.recvfrom(65535)
        try:
            rq = codec.decode_udp(data)
        except CodecError:
            continue
        if not isinstance(rq, RegistrationRequest):
            continue
        reply = RegistrationReply(0, rq.home_address, address, rq.identification, rq.lifetime,
                                  [TrustedNetworksConfigured()])
        reply.authenticate(MOBILE_HOME_AUTH, spi, guessed_key)
        sock.sendto(reply.encode(), peer)
        answered += 1
        with open(status_file + ".tmp", "w") as f:
            json.dump({"answered": answered, "last_from": peer[0]}, f)
        os.replace(status_file + ".tmp", status_file)
