"""Runs inside a test's network namespace (see test_fa_plane.py); prints one JSON line of findings.

  fa_probe.py udp      -- mip4d as an FA behind a NAT (RFC 3519 UDP tunnel, a TUN device on this kernel)
  fa_probe.py refused  -- mip4d as a plain FA whose reverse tunnel the kernel refuses

A mobile node's request with T and the home agent's acceptance go in through the daemon's receive path;
at the moment the accepted reply leaves for the MN, the probe asks the kernel where it would forward a
packet from the visitor's home address (`ip route get ... iif`), then again once the batch is done.
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from mip4.core.actions import Datagram
from mip4.io.daemon import create
from mip4.io.settings import parse
from mip4.wire import RegistrationReply, RegistrationRequest
from mip4.wire.extensions import MOBILE_HOME_AUTH, UdpTunnelReply
from mip4.wire.registration import FLAG_T

HOA, HA, COA, FA, MN_PORT = "10.1.0.10", "198.51.100.1", "203.0.113.1", "192.0.2.50", 49152
SPI, KEY = 1000, bytes(range(16))
IDENT = 0xE0000000_12345678
OUTSIDE = "198.18.0.9"  # anywhere beyond the FA: its default route would carry it out of vc in clear


def ip(cmd: str) -> str:
    r = subprocess.run("ip " + cmd, shell=True, capture_output=True, text=True)
    return (r.stdout + r.stderr).strip()


def forwarding() -> str:
    """Where the kernel forwards a packet from the visitor that arrives on the access link."""
    return ip("-4 route get %s from %s iif va" % (OUTSIDE, HOA))


async def probe(mode: str) -> dict:
    nat = mode == "udp"
    settings = parse({"role": "fa", "fa": {"links": {"va": COA}, "address": FA, "core_iface": "vc",
                                           "nat_traversal": nat}})
    before = ip("rule"), ip("-4 route show table all")
    ip("rule add from 10.1.0.99 blackhole priority 501")  # a killed predecessor's, for a visitor long gone
    daemon = create(settings)
    got: dict = {"at_reply": []}
    send = daemon._send

    def spy(d: Datagram) -> None:
        if d.iface == "va" and d.payload[:1] == b"\x03":  # a Registration Reply to the MN (RFC 5944 3.4)
            got["at_reply"].append(forwarding())
            got["rules_at_reply"] = ip("rule")
        send(d)

    daemon._send = spy  # type: ignore[method-assign]
    if not nat:
        async def refuse(*args: object, **kw: object) -> None:
            raise OSError("the kernel refused the tunnel (test)")
        daemon.backend.tunnel_up = refuse  # type: ignore[method-assign]
    await daemon.start()
    try:
        got["before_registration"] = forwarding()
        got["swept"] = "10.1.0.99" not in ip("rule")
        rq = RegistrationRequest(HOA, HA, COA, IDENT, 600, FLAG_T)
        rq.authenticate(MOBILE_HOME_AUTH, SPI, KEY)
        daemon._datagram(Datagram("va", HOA, MN_PORT, COA, 434, rq.encode()))
        await daemon.queue.join()
        rp = RegistrationReply(0, HOA, HA, IDENT, 600)
        rp.authenticate(MOBILE_HOME_AUTH, SPI, KEY)
        if nat:  # RFC 3519 3.2: the HA accepts the UDP tunnel the FA asked for
            rp.extensions.append(UdpTunnelReply())
        daemon._datagram(Datagram("vc", HA, 434, FA, 434, rp.encode()))
        await daemon.queue.join()
        got["after"] = forwarding()
        got["rules_after"] = ip("rule")
        got["visitors"] = [v.home_address for v in daemon.machine.visitors]
    finally:
        await daemon.stop()
    got["clean"] = (ip("rule"), ip("-4 route show table all")) == before
    return got


if __name__ == "__main__":
    print(json.dumps(asyncio.run(probe(sys.argv[1]))))
