"""An i-HA and an x-HA on one host (RFC 5265 2, R-2-b), on distinct addresses (3.5, R-3.5-b): two real
mip4d processes in one namespace this test makes, a mobile node's requests from another. Each HA must
get, and answer, the requests to its own address; before the fix both bound the wildcard address, and
the one started later took every request (the i-HA's answered by the x-HA, which knows no i-HoA).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mip4.wire import ident
from mip4.wire.extensions import MOBILE_HOME_AUTH
from mip4.wire.registration import RegistrationReply, RegistrationRequest

I_HA, I_HOA, X_HA, X_HOA, COA = "10.1.0.1", "10.1.0.10", "198.51.100.1", "198.51.100.10", "10.9.0.2"
KEYS = {I_HA: (1000, b"one-host-i-ha-key-0123"), X_HA: (2000, b"one-host-x-ha-key-4567")}
FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"


def sh(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True)


@pytest.fixture
def one_host(tmp_path):
    """srv: i-HA 10.1.0.1 (home link `home`), x-HA 198.51.100.1 (home link `xhome`); mn: 10.9.0.2."""
    srv, mn = ["mip4h-%s-%d" % (n, os.getpid()) for n in ("srv", "mn")]
    sh("ip netns add %s && ip netns add %s" % (srv, mn))
    procs = []
    try:
        sh("ip link add core netns %s type veth peer name wan netns %s" % (srv, mn))
        sh("ip -n %s link add home type veth peer name home1 && ip -n %s link add xhome type veth peer name xhome1"
           % (srv, srv))
        for dev, addr in (("core", "10.9.0.1/24"), ("home", I_HA + "/24"), ("xhome", X_HA + "/24"), ("lo", None)):
            sh("ip -n %s link set %s up" % (srv, dev) + (" && ip -n %s addr add %s dev %s" % (srv, addr, dev)
                                                         if addr else ""))
        sh("ip -n %s link set lo up && ip -n %s link set wan up && ip -n %s addr add %s/24 dev wan" % (mn, mn, mn, COA))
        sh("ip -n %s route add default via 10.9.0.1" % mn)
        env = dict(os.environ, PYTHONPATH=str(FIRMWARE))
        for name, ha, role, hoa, home in (("iha", I_HA, "i-ha", I_HOA, "home"), ("xha", X_HA, "x-ha", X_HOA, "xhome")):
            spi, key = KEYS[ha]
            cfg = {"role": "ha", "status_file": str(tmp_path / (name + ".json")),
                   "ha": {"address": ha, "role": role, "home_iface": home,
                          "mobile_nodes": {hoa: {"spi": spi, "key": key.hex()}}}}
            if role == "i-ha":
                cfg["ha"]["trusted_networks"] = ["10.9.0.0/24"]
            (tmp_path / (name + ".conf.json")).write_text(json.dumps(cfg))
            log = open(tmp_path / (name + ".log"), "w")  # noqa: SIM115
            procs.append(subprocess.Popen(["ip", "netns", "exec", srv, sys.executable, "-m", "mip4.io.daemon",
                                           "--config", str(tmp_path / (name + ".conf.json"))],
                                          stdout=log, stderr=subprocess.STDOUT, env=env))
            deadline = time.monotonic() + 30
            while not (tmp_path / (name + ".json")).exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert (tmp_path / (name + ".json")).exists(), (tmp_path / (name + ".log")).read_text()
        yield mn, tmp_path
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run("ip netns del %s; ip netns del %s" % (srv, mn), shell=True)


def _ask(mn: str, ha: str, hoa: str) -> RegistrationReply | None:
    spi, key = KEYS[ha]
    rq = RegistrationRequest(hoa, ha, COA, ident.timestamp_identification(time.time(), 1, clock_bits=0), 0, 0, [])
    rq.authenticate(MOBILE_HOME_AUTH, spi, key)
    code = ("import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('%s',434)); "
            "s.settimeout(3); s.sendto(bytes.fromhex('%s'),('%s',434)); d,a=s.recvfrom(2000); "
            "print(a[0], d.hex())" % (COA, rq.encode().hex(), ha))
    out = subprocess.run(["ip", "netns", "exec", mn, sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        return None
    src, data = out.stdout.split()
    assert src == ha
    return RegistrationReply.decode(bytes.fromhex(data))


def test_i_ha_and_x_ha_on_one_host_each_answer_their_own_requests(one_host):
    """R-2-b, R-3.5-b: a deregistration to each HA's address is answered by that HA, authenticated with
    that HA's key (code 0: accepted)."""
    mn, logs = one_host
    for ha, hoa in ((I_HA, I_HOA), (X_HA, X_HOA)):
        reply = _ask(mn, ha, hoa)
        assert reply is not None, "%s: no reply\n%s" % (ha, (logs / "xha.log").read_text()[-2000:])
        spi, key = KEYS[ha]
        assert reply.code == 0 and reply.home_agent == ha and reply.home_address == hoa, reply
        assert reply.verify(MOBILE_HOME_AUTH, spi, key)


def test_a_tunnels_local_address_is_read_from_the_kernels_link_message():
    """What sweep(local=...) keeps or removes (R-2-b: an HA sweeps only its own stale tunnels): the local
    address of an ipip device as the kernel's link dump carries it, and none for a device of another kind."""
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

    from mip4.io.kernel import _tunnel_local

    def dumped(kind: str, data: list) -> ifinfmsg:
        m = ifinfmsg()
        m["attrs"] = [["IFLA_IFNAME", "mip-0a050001"],
                      ["IFLA_LINKINFO", {"attrs": [["IFLA_INFO_KIND", kind], ["IFLA_INFO_DATA", {"attrs": data}]]}]]
        m.encode()
        out = ifinfmsg(m.data)
        out.decode()
        return out

    assert _tunnel_local(dumped("ipip", [["IFLA_IPIP_LOCAL", I_HA], ["IFLA_IPIP_REMOTE", "10.5.0.1"]])) == I_HA
    assert _tunnel_local(dumped("ipip", [["IFLA_IPIP_REMOTE", "10.5.0.1"]])) is None
    veth = ifinfmsg()
    veth["attrs"] = [["IFLA_IFNAME", "v0"], ["IFLA_LINKINFO", {"attrs": [["IFLA_INFO_KIND", "veth"]]}]]
    veth.encode()
    veth = ifinfmsg(veth.data)
    veth.decode()
    assert veth.get("ifname") == "v0" and _tunnel_local(veth) is None
