"""The feeder itself: the same packets for the same seed, every kind in the mix, and a CLI that reports
what came back (run here against a UDP 434 stand-in on loopback)."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections import Counter

from mip4.wire import CodecError, RegistrationReply, decode_udp
from mip4.wire.registration import request_header
from tests.bench import netns

from .feeder import CORPUS, KINDS, MAX_UDP, packets


def test_the_same_seed_gives_the_same_packets_and_another_seed_others():
    first = list(packets(7, 3000, "10.1.0.1", "10.1.0.10"))
    assert first == list(packets(7, 3000, "10.1.0.1", "10.1.0.10"))
    assert first[:500] == list(packets(7, 500, "10.1.0.1", "10.1.0.10"))  # a shorter run is a prefix
    assert first != list(packets(8, 3000, "10.1.0.1", "10.1.0.10"))


def test_the_mix_has_every_kind_and_every_corpus_file_first():
    got = list(packets(1, 20000, "10.1.0.1", "10.1.0.10"))
    assert len(got) == 20000
    kinds = Counter(k for k, _ in got)
    assert set(kinds) == set(KINDS)
    corpus = [p.read_bytes() for p in sorted(CORPUS.iterdir())]
    assert [d for _, d in got[:len(corpus)]] == corpus and kinds["corpus"] == len(corpus)
    assert all(len(d) <= MAX_UDP for _, d in got)
    assert max(len(d) for k, d in got if k == "oversized") > 30000
    truncated = [d for k, d in got if k == "truncated"]
    assert b"" in truncated and len(set(truncated)) > 300


def test_bad_extension_packets_have_a_request_fixed_part_and_never_decode():
    """What an agent must answer 134 or 70: a valid fixed part (RFC 5944 3.3), extensions that do not decode."""
    bad = [d for k, d in packets(3, 20000, "10.1.0.1", "10.1.0.10") if k == "bad-extension"]
    assert len(bad) > 4000
    for d in bad:
        header = request_header(d)
        assert header is not None and (header.home_agent, header.home_address) == ("10.1.0.1", "10.1.0.10")
        try:
            decode_udp(d)
        except CodecError:
            continue
        raise AssertionError("decodes: %s" % d.hex())


def _stand_in(sock: socket.socket, seen: list) -> None:
    """Answers every datagram that starts like a request with a 134 reply, the way an HA would."""
    sock.settimeout(3.0)
    try:
        while True:
            data, peer = sock.recvfrom(MAX_UDP + 1)
            seen.append(data)
            header = request_header(data)
            if header is not None:
                reply = RegistrationReply(134, header.home_address, header.home_agent, header.identification)
                sock.sendto(reply.encode(), peer)
    except TimeoutError:
        return


def test_the_cli_sends_count_packets_and_counts_the_reply_codes():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:  # room for the oversized ones while the thread catches up
        sock.setsockopt(socket.SOL_SOCKET, 33, 1 << 22)  # SO_RCVBUFFORCE (root)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    sock.bind(("127.0.0.1", 0))
    seen: list = []
    t = threading.Thread(target=_stand_in, args=(sock, seen))
    t.start()
    try:
        out = subprocess.run([sys.executable, "-m", "tests.hardening.feeder", "--target", "127.0.0.1:%d"
                              % sock.getsockname()[1], "--count", "2000", "--seed", "5", "--rate", "4000",
                              "--home-agent", "10.1.0.1"], capture_output=True, text=True, env=netns.env(),
                             cwd=netns.ROOT, timeout=60)
    finally:
        t.join()
        sock.close()
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["sent"] == 2000 and sum(summary["kinds"].values()) == 2000
    assert summary["seed"] == 5 and summary["target"].startswith("127.0.0.1:")
    assert [d for _, d in packets(5, 2000, "10.1.0.1", "10.1.0.10")] == seen  # what was sent, in order
    answered = sum(1 for d in seen if request_header(d) is not None)
    assert summary["reply_codes"] == {"134": answered} and summary["replies"] == answered


def test_the_cli_refuses_a_bad_target():
    out = subprocess.run([sys.executable, "-m", "tests.hardening.feeder", "--target", "ha.example:434",
                          "--count", "1"], capture_output=True, text=True, env=netns.env(), cwd=netns.ROOT)
    assert out.returncode == 2 and "is not IP[:PORT]" in out.stderr
