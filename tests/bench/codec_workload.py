"""The codec workload, run unchanged under CPython and MicroPython (tests/micropython/run.mjs).

One "message" is what a home agent or mobile node does per registration message: build it, add the
MN-HA authenticator (RFC 5944 3.5.1, HMAC-MD5), encode; then decode the octets and verify them.
Plain Python only (no typing, no f-strings with `=`), like the codec itself. run() prints one line
per workload: `RESULT name messages seconds`.
"""
import sys
import time

from mip4.wire import RegistrationReply, RegistrationRequest, TrustedNetworksConfigured, UdpTunnelRequest, decode_udp

KEY = bytes(range(16))
SPI = 1000
MN_HA = 32
MICROPYTHON = sys.implementation.name == "micropython"


def _clock():
    """Seconds, as precise as the interpreter offers."""
    if MICROPYTHON:
        return time.ticks_us()
    return time.perf_counter()


def _elapsed(start):
    if MICROPYTHON:
        return time.ticks_diff(time.ticks_us(), start) / 1e6
    return time.perf_counter() - start


def request_with_auth(i):
    """A co-located registration request as the MN sends it: UDP Tunnel Request, MN-HA auth."""
    rq = RegistrationRequest("198.51.100.10", "198.51.100.1", "198.18.0.5", (1 << 32) + i, 1800, 0x22,
                             [UdpTunnelRequest()])
    rq.authenticate(MN_HA, SPI, KEY)
    m = decode_udp(rq.encode())
    assert m.verify(MN_HA, SPI, KEY)
    return m


def reply_with_auth(i):
    """An i-HA's acceptance: TNC (RFC 5265 3.4) before the MN-HA authenticator."""
    rp = RegistrationReply(0, "10.1.0.10", "10.1.0.1", (1 << 32) + i, 1800, [TrustedNetworksConfigured()])
    rp.authenticate(MN_HA, SPI, KEY)
    m = decode_udp(rp.encode())
    assert m.verify(MN_HA, SPI, KEY)
    return m


def request_plain(i):
    """The same request without authentication: the codec alone, no MD5."""
    rq = RegistrationRequest("198.51.100.10", "198.51.100.1", "198.18.0.5", (1 << 32) + i, 1800, 0x22,
                             [UdpTunnelRequest()])
    return decode_udp(rq.encode())


WORKLOADS = (("request+auth", request_with_auth), ("reply+auth", reply_with_auth), ("request", request_plain))


def measure(seconds, minimum=20):
    """[(name, messages, seconds)]: each workload for at least `seconds` and `minimum` messages."""
    out = []
    for name, fn in WORKLOADS:
        fn(0)  # warm up (imports, caches)
        n, start = 0, _clock()
        while True:
            for _ in range(minimum):
                fn(n)
                n += 1
            took = _elapsed(start)
            if took >= seconds:
                break
        out.append((name, n, took))
    return out


SECONDS = 1.0  # the runner rewrites this line for MicroPython, which has no argv here


def run():
    for name, n, took in measure(SECONDS):
        print("RESULT %s %d %.6f" % (name, n, took))
