"""mip4d as a foreign agent on the host's kernel, in a namespace this test makes: from the moment the
accepted reply with T leaves for the mobile node, the visitor's packets enter its reverse tunnel or are
dropped, never forwarded by the FA's default route in the clear (RFC 3024 5.2).

Requirement IDs proved here: R-2.4-c (data plane).

The namespace (veth pairs whose far ends stay unused): access link va (the FA's care-of 203.0.113.1),
core link vc (192.0.2.50, default route via 192.0.2.1). rp_filter is off, so the kernel's answer is
its routing decision alone.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("fa_probe.py")


def sh(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True)


@pytest.fixture
def fa_netns():
    ns = "mip4t-fa-%d" % os.getpid()
    sh("ip netns add %s" % ns)
    try:
        for dev, addr in (("va", "203.0.113.1/24"), ("vc", "192.0.2.50/24")):
            sh(f"ip -n {ns} link add {dev} type veth peer name {dev}p && ip -n {ns} addr add {addr} dev {dev}"
               f" && ip -n {ns} link set {dev} up && ip -n {ns} link set {dev}p up")
        sh("ip -n %s link set lo up && ip -n %s route add default via 192.0.2.1 dev vc" % (ns, ns))
        for conf in ("all", "default", "va"):
            sh("ip netns exec %s sysctl -qw net.ipv4.conf.%s.rp_filter=0" % (ns, conf))
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns])


def run_probe(ns: str, mode: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "firmware"))
    out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, str(PROBE), mode], capture_output=True,
                         text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_fa_reply_leaves_after_the_visitors_reverse_tunnel_is_in(fa_netns):
    """Behind a NAT (RFC 3519 UDP tunnel): when the reply leaves, a packet from the visitor already goes
    into the tunnel (its source rule, table 1000); before the registration it would go out of vc."""
    got = run_probe(fa_netns, "udp")
    assert "dev vc" in got["before_registration"]  # the leak the rule must prevent, were it missing
    assert got["visitors"] == ["10.1.0.10"]
    (at_reply,) = got["at_reply"]
    assert "dev ru-c6336401" in at_reply and "table 1000" in at_reply, at_reply
    assert "dev ru-c6336401" in got["after"]
    assert "from 10.1.0.10 lookup 1000" in got["rules_at_reply"]
    assert "from 10.1.0.10 blackhole" in got["rules_at_reply"]
    assert got["swept"]  # a killed predecessor's blackhole rule went at start
    assert got["clean"]  # stop() removed the tunnel, its table, both rules and the route


def test_fa_visitor_whose_reverse_tunnel_fails_is_dropped_not_forwarded_in_clear(fa_netns):
    """Fail closed: the kernel refuses the reverse tunnel; the reply still goes (the registration is the
    HA's), but from then on the visitor's packets hit the blackhole behind its source rule."""
    got = run_probe(fa_netns, "refused")
    assert "dev vc" in got["before_registration"]
    assert got["visitors"] == ["10.1.0.10"]
    (at_reply,) = got["at_reply"]
    assert at_reply == "RTNETLINK answers: Invalid argument"  # EINVAL: a blackhole rule took it
    assert got["after"] == "RTNETLINK answers: Invalid argument"
    assert "from 10.1.0.10 blackhole" in got["rules_at_reply"]
    assert got["clean"]
