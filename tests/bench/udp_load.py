"""UDP load for the registration rate: a bare echo (the floor) and a closed-loop request client.

  python -m tests.bench.udp_load echo ADDRESS PORT
  python -m tests.bench.udp_load client echo|ha SRC DST PORT SECONDS WINDOW HOA SPI KEYHEX COUNT

The client sends one request and waits for its answer (a home agent's first registration sets up the
binding; not timed), then keeps WINDOW requests in flight for SECONDS and prints one JSON line:
replies, accepted (reply code 0 or 1, RFC 5944 3.4), seconds. Requests are built before the clock
starts, each with its own increasing timestamp identification (RFC 5944 5.7.1), so a home agent
accepts every one; the echo gets the same octets, reused in turn.
"""
from __future__ import annotations

import json
import socket
import sys
import time

from mip4.wire import RegistrationRequest, UdpTunnelRequest, ident
from mip4.wire.registration import FLAG_D, FLAG_T

MN_HA = 32


def requests(hoa: str, ha: str, coa: str, spi: int, key: bytes, count: int) -> list[bytes]:
    """What an MN sends for a co-located care-of: D and T, a UDP Tunnel Request, MN-HA auth."""
    stamp = time.time()
    out = []
    for k in range(count):
        rq = RegistrationRequest(hoa, ha, coa, ident.timestamp_identification(stamp, k + 1, clock_bits=0), 1800,
                                 FLAG_D | FLAG_T, [UdpTunnelRequest()])
        rq.authenticate(MN_HA, spi, key)
        out.append(rq.encode())
    return out


def echo(address: str, port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, port))
    print("ready", flush=True)
    while True:
        data, peer = sock.recvfrom(2048)
        sock.sendto(data, peer)


def client(src: str, dst: str, port: int, seconds: float, window: int, payloads: list[bytes], cycle: bool) -> dict:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((src, 0))
    sock.settimeout(5.0)
    sock.sendto(payloads[0], (dst, port))
    sock.recv(2048)
    sock.settimeout(1.0)
    limit = 1 << 62 if cycle else len(payloads)
    sent, replies, accepted = 1, 0, 0
    start = time.perf_counter()
    deadline = start + seconds
    for _ in range(window):
        sock.sendto(payloads[sent % len(payloads)], (dst, port))
        sent += 1
    last = start
    while replies < sent:
        try:
            data = sock.recv(2048)
        except TimeoutError:
            break  # a lost datagram shrinks the window; the others still count
        last = time.perf_counter()
        replies += 1
        accepted += data[1] in (0, 1) if data[:1] == b"\x03" else 0
        if last < deadline and sent < limit:
            sock.sendto(payloads[sent % len(payloads)], (dst, port))
            sent += 1
    return {"sent": sent - 1, "replies": replies, "accepted": accepted, "seconds": last - start}


def main(argv: list[str]) -> None:
    if argv[0] == "echo":
        echo(argv[1], int(argv[2]))
        return
    kind, src, dst, port, seconds, window, hoa, spi, key, count = argv[1:11]
    payloads = requests(hoa, dst, src, int(spi), bytes.fromhex(key), int(count))
    print(json.dumps(client(src, dst, int(port), float(seconds), int(window), payloads, kind == "echo")), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
