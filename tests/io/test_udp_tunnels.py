"""The userspace UDP tunnel backend (RFC 3519) on the host's kernel: an MN and an HA in namespaces
this test makes, with a real NAT (iptables MASQUERADE) between them.

Requirement IDs proved here: R-2.5-a (data plane), R-4.3-a (data plane).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("udp_tunnel_probe.py")


def sh(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True)


@pytest.fixture
def natted():
    """mn 192.168.1.20 -- nat (MASQUERADE to 192.0.2.1) -- ha 192.0.2.2."""
    names = mn, nat, ha = ["mip4u-%s-%d" % (n, os.getpid()) for n in ("mn", "nat", "ha")]
    sh(" && ".join("ip netns add %s" % n for n in names))
    try:
        sh("ip link add va netns %s type veth peer name vn1 netns %s" % (mn, nat))
        sh("ip link add vn2 netns %s type veth peer name va netns %s" % (nat, ha))
        for ns, devs in ((mn, ["va"]), (nat, ["vn1", "vn2"]), (ha, ["va"])):
            for dev in ["lo"] + devs:
                sh("ip -n %s link set %s up" % (ns, dev))
        sh("ip -n %s addr add 192.168.1.20/24 dev va && ip -n %s route add default via 192.168.1.1" % (mn, mn))
        sh("ip -n %s addr add 192.168.1.1/24 dev vn1 && ip -n %s addr add 192.0.2.1/24 dev vn2" % (nat, nat))
        sh("ip -n %s addr add 192.0.2.2/24 dev va" % ha)
        sh("ip netns exec %s sysctl -qw net.ipv4.ip_forward=1" % nat)
        sh("ip netns exec %s sysctl -qw net.ipv4.ip_forward=1" % mn)  # it forwards as an FA does
        for dst in ("10.88.0.7", "10.88.0.9"):  # what the MN side forwards on, counted where it arrives
            sh("ip netns exec %s iptables-legacy -t raw -A PREROUTING -i vn1 -d %s" % (nat, dst))
        sh("ip netns exec %s iptables-legacy -t nat -A POSTROUTING -o vn2 -p udp -j MASQUERADE --to-ports 20000-20999"
           % nat)
        yield mn, ha, nat
    finally:
        subprocess.run(" ; ".join("ip netns del %s" % n for n in names), shell=True)


def test_udp_tunnel_through_a_nat_carries_data_and_keepalives_and_drops_strangers(natted):
    mn, ha, nat = natted
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "firmware"))
    agent = subprocess.Popen(["ip", "netns", "exec", ha, sys.executable, str(PROBE), "ha"], stdout=subprocess.PIPE,
                             text=True, env=env)
    try:
        assert agent.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        out = subprocess.run(["ip", "netns", "exec", mn, sys.executable, str(PROBE), "mn"], capture_output=True,
                             text=True, timeout=60, env=env)
        ha_out = agent.communicate(timeout=30)[0]
    finally:
        agent.kill()
    assert out.returncode == 0, out.stderr
    got, seen = json.loads(out.stdout.strip().splitlines()[-1]), json.loads(ha_out.strip().splitlines()[-1])
    print("MN:", got, "\nHA:", seen)
    # the HA saw the NAT's address and a port from the MASQUERADE range, and tunnelled back to it
    assert seen["peer"][0] == "192.0.2.1" and 20000 <= seen["peer"][1] <= 20999 and got["hello"] == "ok"
    assert got["ping"] == 0 and "3 received" in got["ping_out"]  # through both TUN devices and the NAT
    assert got["keepalive_echoed"] == 1  # RFC 3519 4.9: the HA's kernel answers the keepalive's echo
    # an FA's keepalive to the HA's own address, from a private source: answered by the tunnel layer
    assert got["fa_keepalive_echoed"] == 1 and seen["keepalives_answered"] == 1
    assert got["mtu"] == 1500 - 32 and seen["mtu"] == 1500 - 32  # IP, UDP and the tunnel data header
    assert seen["received"] >= 4 and got["received"] >= 4 and got["sent"] >= 3
    assert seen["dropped"] == 1  # the same data from another port never enters the tunnel
    assert got["left"] == [] and seen["left"] == []  # close() removed the TUN devices
    # RFC 5944 4.2.2, visitors only: the decapsulated datagram for a visitor's host route is forwarded,
    # the one for no visitor is dropped instead of leaving by the default route; close() removed the rules
    assert forwarded(nat) == {"10.88.0.7": 1, "10.88.0.9": 0}
    assert any("iif mip4-x-probe lookup main suppress_prefixlength 31" in r for r in got["rules"])
    assert any("iif mip4-x-probe blackhole" in r for r in got["rules"]) and got["rules_left"] == []


def forwarded(nat: str) -> dict[str, int]:
    out = subprocess.run(["ip", "netns", "exec", nat, "iptables-legacy", "-t", "raw", "-nvxL", "PREROUTING"],
                         capture_output=True, text=True, check=True).stdout
    return {line.split()[-1]: int(line.split()[0]) for line in out.splitlines() if "10.88.0." in line}
