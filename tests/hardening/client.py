"""A real registration client for the hardening tests: the core's RegistrationClient on a UDP socket.

    python -m tests.hardening.client --bind SRC --to DST --home-agent HA --home-address HOA --care-of COA
        --spi N --key HEX [--lifetime S] [--co-located] [--reverse-tunnel]

It registers, retransmits with backoff and renews before expiry as a mobile node does (RFC 5944 3.6),
until SIGTERM; then it prints one JSON line: requests sent, and when (time.monotonic(), the clock every
process and namespace shares, and mip4d's `now`) each accepted and denied reply came.
"""
from __future__ import annotations

import argparse
import json
import random
import select
import signal
import socket
import sys
import time

from mip4.core.actions import SendUdp
from mip4.core.client import Accepted, Denied, RegistrationClient, Route
from mip4.core.config import SecurityAssociation, Timing
from mip4.wire import CodecError, RegistrationReply, decode_udp
from mip4.wire.registration import FLAG_D, FLAG_T


class _Stop(Exception):
    pass


def _stop(signum: int, frame: object) -> None:
    raise _Stop


def run(a: argparse.Namespace) -> dict:
    start = time.monotonic()
    offset = time.time() - start
    client = RegistrationClient(
        "hardening", a.home_address, a.home_agent, SecurityAssociation(a.spi, bytes.fromhex(a.key)),
        Timing(lifetime=a.lifetime, renew_fraction=0.5, retransmit_initial=0.5, retransmit_max=2.0),
        random.Random(a.seed), wall=lambda now: now + offset)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((a.bind, a.port))
    flags = (FLAG_T if a.reverse_tunnel else 0) | (FLAG_D if a.co_located else 0)
    accepted: list[float] = []
    denied: list[list] = []

    def send(actions: list) -> None:
        for x in actions:
            if isinstance(x, SendUdp):
                sock.sendto(x.datagram.payload, (x.datagram.dst, x.datagram.dport))

    signal.signal(signal.SIGTERM, _stop)
    try:
        send(client.register(Route("", a.bind, a.to, a.care_of, flags), time.monotonic()))
        while True:
            due = client.get_timer()
            wait = 1.0 if due is None else max(0.0, due - time.monotonic())
            if select.select([sock], [], [], wait)[0]:
                data = sock.recv(65535)
                try:
                    reply = decode_udp(data)
                except CodecError:
                    continue
                if not isinstance(reply, RegistrationReply):
                    continue
                now = time.monotonic()
                result, actions = client.receive(reply, now)
                if isinstance(result, Accepted):
                    accepted.append(now)
                elif isinstance(result, Denied):
                    denied.append([now, result.code])
                send(actions)
            else:
                send(client.handle_timer(time.monotonic()))
    except _Stop:
        pass
    return {"sent": client.counters.get("sent", 0), "accepted": accepted, "denied": denied,
            "seconds": round(time.monotonic() - start, 3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.hardening.client")
    p.add_argument("--bind", required=True, help="our source address")
    p.add_argument("--port", type=int, default=0, help="our UDP port (default: any)")
    p.add_argument("--to", required=True, help="where requests go: the home agent, or a foreign agent")
    p.add_argument("--home-agent", required=True)
    p.add_argument("--home-address", required=True)
    p.add_argument("--care-of", required=True)
    p.add_argument("--co-located", action="store_true", help="D bit: a co-located care-of address")
    p.add_argument("--reverse-tunnel", action="store_true", help="T bit (RFC 3024)")
    p.add_argument("--spi", type=int, required=True)
    p.add_argument("--key", required=True, help="MN-HA key, hex")
    p.add_argument("--lifetime", type=int, default=4, help="seconds asked for; renewed at half of it")
    p.add_argument("--seed", type=int, default=1)
    print(json.dumps(run(p.parse_args(argv))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
