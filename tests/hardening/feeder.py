"""Bad packets for a UDP 434 listener: a deterministic generator and a sender.

    python -m tests.hardening.feeder --target IP[:PORT] --count N --seed S [--source-port P] [--bind IP]
        [--home-agent IP] [--home-address IP] [--rate PPS] [--linger SECONDS]

Runs with the standard library and the mip4 package alone (it is run inside the UML lab from the same
checkout). The mix, the same for a given seed and options:

- corpus: every file of the codec's fuzz corpus (tests/wire/corpus), first;
- truncated: valid requests, replies, tunnel data, advertisements and solicitations cut at every length;
- bad-extension: a request's valid fixed part (RFC 5944 3.3) followed by extensions whose lengths lie;
- mutated: the seeds with bits flipped, octets set to edge values, runs inserted, deleted, repeated,
  or spliced together (what a fuzzer does);
- random: random octets, 0 to 600 of them;
- oversized: 1473 to 65507 octets (the largest UDP payload over IPv4), some behind a request's fixed part.

Requests carry --home-agent (default: the target) and --home-address, so that they reach the checks a
real request reaches; no packet carries a key, so none can change a binding. One JSON line at the end:
what was sent, by kind, and the replies (registration reply codes counted by code).
"""
from __future__ import annotations

import argparse
import json
import random
import socket
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from mip4.wire import (
    AgentAdvertisement,
    AgentSolicitation,
    Authentication,
    CodecError,
    MobilityAgentAdvertisement,
    Nai,
    RawExtension,
    RegistrationReply,
    RegistrationRequest,
    TrustedNetworksConfigured,
    TunnelData,
    UdpTunnelReply,
    UdpTunnelRequest,
    decode_udp,
)

CORPUS = Path(__file__).resolve().parents[1] / "wire" / "corpus"
PORT = 434
MAX_UDP = 65507  # 65535 - 20 (IPv4 header) - 8 (UDP header)
KINDS = ("corpus", "truncated", "bad-extension", "mutated", "random", "oversized")
# after the corpus, each packet's kind is drawn with these weights
WEIGHTS = {"truncated": 25, "bad-extension": 25, "mutated": 25, "random": 24, "oversized": 1}
EDGE = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)


def seeds(home_agent: str, home_address: str, care_of: str = "192.0.2.77") -> list[bytes]:
    """Valid messages of every kind port 434 (and ICMP) carries, addressed like the real thing."""
    spi, key = 0x1000, bytes(16)  # not any real association's: an authenticator that never verifies
    ident = 0xE000_0000_0000_0001

    def signed(msg):  # noqa: ANN001, ANN202
        msg.authenticate(32, spi, key)
        return msg.encode()

    return [
        signed(RegistrationRequest(home_address, home_agent, care_of, ident, 1800, 0x22, [UdpTunnelRequest()])),
        signed(RegistrationRequest(home_address, home_agent, care_of, ident + 1, 0, 0x80, [Nai(b"mr1@example.net")])),
        RegistrationRequest(home_address, home_agent, care_of, ident + 2, 600).encode(),
        signed(RegistrationReply(0, home_address, home_agent, ident, 1800, [TrustedNetworksConfigured()])),
        signed(RegistrationReply(134, home_address, home_agent, ident + 3, 0, [UdpTunnelReply(0, 110)])),
        RegistrationReply(70, home_address, home_agent, ident + 4, 0).encode(),
        TunnelData(bytes(range(40))).encode(),
        AgentAdvertisement(9, [(home_agent, 0)], [MobilityAgentAdvertisement(3, 1800, 0x9180, [home_agent])],
                           16).encode(),
        AgentSolicitation().encode(),
    ]


def header(home_agent: str, home_address: str, rng: random.Random) -> bytes:
    """A request's fixed part (RFC 5944 3.3) that decodes: our addresses, any flags and lifetime."""
    return RegistrationRequest(home_address, home_agent, "192.0.2.%d" % rng.randrange(1, 255),
                               rng.getrandbits(64), rng.getrandbits(16), rng.getrandbits(8)).encode()


def bad_extensions(rng: random.Random) -> bytes:
    """Extensions that do not decode (RFC 5944 1.9-1.10): good ones, then one whose length lies."""
    good = [Authentication(32, 0x1000, bytes(16)).encode(), UdpTunnelRequest().encode(),
            TrustedNetworksConfigured().encode(), Nai(b"x" * rng.randrange(0, 40)).encode(),
            RawExtension(200, b"skip").encode()]
    body = b"".join(rng.choice(good) for _ in range(rng.randrange(0, 4)))
    short = rng.choice((32, 33, 34, 44, 131, 144, 149, 0, 100, 200, 255))
    long_format = rng.choice((36, 38, 47))
    choice = rng.randrange(6)
    if choice == 0:  # a length past the end
        length = rng.randrange(1, 256)
        bad = bytes((short, length)) + bytes(rng.randrange(0, length))
    elif choice == 1:  # a lone type octet
        bad = bytes((short,))
    elif choice == 2:  # an authenticator without room for its SPI
        length = rng.randrange(0, 4)
        bad = bytes((rng.choice((32, 33, 34)), length)) + bytes(length)
    elif choice == 3:  # long format with a length past the end
        length = rng.randrange(8, 0x10000)
        bad = bytes((long_format, 0)) + length.to_bytes(2, "big") + bytes(rng.randrange(0, 8))
    elif choice == 4:  # long format cut inside its own header
        bad = bytes((long_format, 0, 0))[: rng.randrange(1, 4)]
    else:  # one octet short of what the length says
        length = rng.randrange(1, 64)
        bad = bytes((short, length)) + bytes(length - 1)
    return body + bad


def mutate(data: bytes, others: list[bytes], rng: random.Random) -> bytes:
    """One to four fuzzer-style edits."""
    out = bytearray(data)
    for _ in range(rng.randrange(1, 5)):
        op = rng.randrange(7)
        at = rng.randrange(len(out) + 1)
        if op == 0 and out:  # flip a bit
            i = min(at, len(out) - 1)
            out[i] ^= 1 << rng.randrange(8)
        elif op == 1 and out:  # an edge value
            out[min(at, len(out) - 1)] = rng.choice(EDGE)
        elif op == 2:  # insert random octets
            out[at:at] = rng.randbytes(rng.randrange(1, 16))
        elif op == 3 and out:  # delete a run
            del out[at:at + rng.randrange(1, 16)]
        elif op == 4 and out:  # repeat a run
            run = out[at:at + rng.randrange(1, 32)]
            out[at:at] = run * rng.randrange(1, 8)
        elif op == 5:  # splice another seed in
            other = rng.choice(others)
            cut = rng.randrange(len(other) + 1)
            out[at:] = other[cut:]
        elif op == 6 and len(out) > 1:  # a length octet (the second of an extension, say) at its maximum
            out[rng.randrange(1, len(out))] = 0xFF
    return bytes(out)


def packets(seed: int, count: int, home_agent: str, home_address: str) -> Iterator[tuple[str, bytes]]:
    """(kind, payload) for `count` bad packets; the same sequence for the same arguments."""
    rng = random.Random(seed)
    valid = seeds(home_agent, home_address)
    corpus = [p.read_bytes() for p in sorted(CORPUS.iterdir())] if CORPUS.is_dir() else []
    base = valid + corpus
    cuts = [(v, n) for v in valid for n in range(len(v))]  # every truncation of every valid seed
    sent = 0
    for data in corpus[:count]:
        yield "corpus", data
        sent += 1
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    cut = 0
    while sent < count:
        kind = rng.choices(kinds, weights)[0]
        if kind == "truncated":
            v, n = cuts[cut % len(cuts)]
            cut += 1
            data = v[:n]
        elif kind == "bad-extension":
            data = header(home_agent, home_address, rng) + bad_extensions(rng)
        elif kind == "mutated":
            data = mutate(rng.choice(base), base, rng)
        elif kind == "random":
            data = rng.randbytes(rng.randrange(0, 601))
        else:
            size = rng.randrange(1473, MAX_UDP + 1)
            head = header(home_agent, home_address, rng) if rng.random() < 0.5 else b""
            fill = rng.choice((b"\x83\x00", b"\x00", b"\xff", b"\x26\x00\x00\x00"))
            data = (head + fill * size)[:size]
        yield kind, data[:MAX_UDP]
        sent += 1


def describe(reply: bytes) -> str:
    """A reply's name in the summary: its registration reply code, else its message type."""
    try:
        msg = decode_udp(reply)
    except CodecError:
        return "undecodable"
    if isinstance(msg, RegistrationReply):
        return str(msg.code)
    return type(msg).__name__


def feed(target: tuple[str, int], count: int, seed: int, home_agent: str | None = None,
         home_address: str = "10.1.0.10", bind: str = "0.0.0.0", source_port: int = 0, rate: float = 0.0,
         linger: float = 1.0) -> dict:
    """Send the packets, read whatever comes back meanwhile and for `linger` seconds after; the summary."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    sock.bind((bind, source_port))
    sock.setblocking(False)
    kinds: Counter = Counter()
    replies: Counter = Counter()
    errors: Counter = Counter()
    sent = octets = 0
    start = time.monotonic()

    def drain() -> None:
        while True:
            try:
                data = sock.recv(MAX_UDP + 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # e.g. ICMP port unreachable: nobody listens
                errors[e.__class__.__name__] += 1
                continue
            replies[describe(data)] += 1

    for kind, data in packets(seed, count, home_agent or target[0], home_address):
        while True:
            try:
                sock.sendto(data, target)
                break
            except (BlockingIOError, InterruptedError):  # our send buffer is full: wait for it
                drain()
                time.sleep(0.001)
            except OSError as e:
                errors[e.__class__.__name__] += 1
                break
        kinds[kind] += 1
        sent += 1
        octets += len(data)
        if sent % 64 == 0:
            drain()
        if rate > 0:
            ahead = start + sent / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    seconds = time.monotonic() - start
    end = time.monotonic() + linger
    while time.monotonic() < end:
        drain()
        time.sleep(0.01)
    sock.close()
    return {"target": "%s:%d" % target, "seed": seed, "sent": sent, "octets": octets, "seconds": round(seconds, 3),
            "kinds": dict(sorted(kinds.items())), "replies": sum(replies.values()),
            "reply_codes": dict(sorted(replies.items())), "errors": dict(errors)}


def _target(text: str) -> tuple[str, int]:
    host, _, port = text.partition(":")
    try:
        socket.inet_aton(host)
        return host, int(port) if port else PORT
    except (OSError, ValueError):
        raise argparse.ArgumentTypeError("%r is not IP[:PORT]" % text) from None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.hardening.feeder", description=__doc__.split("\n\n")[0])
    p.add_argument("--target", type=_target, required=True, help="IP[:PORT], port 434 by default")
    p.add_argument("--count", type=int, required=True, help="packets to send")
    p.add_argument("--seed", type=int, default=1, help="the same seed sends the same packets")
    p.add_argument("--source-port", type=int, default=0, help="our UDP port (default: any)")
    p.add_argument("--bind", default="0.0.0.0", help="our source address (an i-HA answers trusted sources only)")
    p.add_argument("--home-agent", help="the home agent address requests name (default: the target's)")
    p.add_argument("--home-address", default="10.1.0.10", help="the home address requests and replies name")
    p.add_argument("--rate", type=float, default=0.0, help="packets per second (default: as fast as we can)")
    p.add_argument("--linger", type=float, default=1.0, help="seconds to wait for replies after the last packet")
    a = p.parse_args(argv)
    if a.count < 0:
        p.error("--count must not be negative")
    print(json.dumps(feed(a.target, a.count, a.seed, a.home_agent, a.home_address, a.bind, a.source_port, a.rate,
                          a.linger)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
