"""A mobile node for the failover test, in its own namespace: it registers ONCE with the home agent
address (a real request from the wire codec, RFC 3519 UDP tunnelling forced, so the home agent's data
plane is its userspace one: the host kernel has no ipip), then only listens. Each tunnelled datagram
from the correspondent is printed as a JSON line with when it came; "replay" on stdin sends the
registration request again, byte for byte, and prints the reply's code; "reregistered" sends a new one
(the node's next registration). Ten seconds without any
datagram print a "silence" line.

argv: home_address home_agent care_of port spi key_hex
"""
from __future__ import annotations

import json
import random
import select
import socket
import sys
import time

from mip4.wire import RegistrationReply, RegistrationRequest, UdpTunnelRequest, codec, ident
from mip4.wire.registration import FLAG_D, FLAG_T
from mip4.wire.tunnel import TunnelData

MN_HA_AUTH = 32
SILENCE = 10.0  # seconds without a datagram before a {"silence": ...} line


def say(**kw: object) -> None:
    print(json.dumps(kw), flush=True)


def main() -> None:
    hoa, ha, coa, port, spi, key = sys.argv[1:7]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((coa, int(port)))

    last = [0]

    def request() -> bytes:  # RFC 5944 5.7.1: each greater than the one before, as the real client's
        identification = max(ident.timestamp_identification(time.time(), random.getrandbits(32), clock_bits=0),
                             last[0] + 1)
        last[0] = identification
        rq = RegistrationRequest(hoa, ha, coa, identification, 1800, FLAG_D | FLAG_T, [UdpTunnelRequest(flags=0x80)])
        rq.authenticate(MN_HA_AUTH, int(spi), bytes.fromhex(key))
        return rq.encode()
    first = request()

    def register(what: str) -> None:
        sock.sendto(first if what != "reregistered" else request(), (ha, 434))
        end = time.monotonic() + 5
        while time.monotonic() < end:
            ready, _, _ = select.select([sock], [], [], end - time.monotonic())
            if not ready:
                break
            data, src = sock.recvfrom(65535)
            try:
                msg = codec.decode_udp(data)
            except Exception:  # noqa: BLE001  (tunnel data meanwhile)
                continue
            if isinstance(msg, RegistrationReply):
                say(**{what: msg.code, "lifetime": msg.lifetime, "from": src[0]})
                return
        say(**{what: None})

    register("registered")
    while True:
        ready, _, _ = select.select([sock, sys.stdin], [], [], SILENCE)
        if not ready:  # the stream stopped: say so, so that the test fails instead of waiting for ever
            say(silence=SILENCE)
            continue
        if sys.stdin in ready:
            line = sys.stdin.readline()
            if not line:
                return
            register(line.strip())
            continue
        data, src = sock.recvfrom(65535)
        now = time.monotonic()
        try:
            packet = TunnelData.decode(data).payload
        except Exception:  # noqa: BLE001
            say(other=data[:1].hex(), src=src[0])
            continue
        ihl = (packet[0] & 15) * 4
        say(data=packet[ihl + 8:].decode(errors="replace"), at=now, src=src[0], sport=src[1])


if __name__ == "__main__":
    main()
