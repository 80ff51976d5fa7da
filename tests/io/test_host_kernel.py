"""The adapters on the host's real kernel, in namespaces this test makes (no ipip here: that is the lab's).

UDP and ICMP endpoints bound to an interface talk on-link without routes or addresses; the kernel
data plane's rules, prohibit routes, proxy ARP and addresses go in, follow the gate, and close()
leaves the namespace exactly as it found it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("netns_probe.py")


def sh(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True)


@pytest.fixture
def pair():
    a, b = "mip4t-a-%d" % os.getpid(), "mip4t-b-%d" % os.getpid()
    sh("ip netns add %s && ip netns add %s" % (a, b))
    try:
        sh("ip link add va netns %s type veth peer name vb netns %s" % (a, b))
        for ns, dev in ((a, "va"), (b, "vb")):
            sh("ip -n %s link set lo up && ip -n %s link set %s up" % (ns, ns, dev))
        sh("ip -n %s addr add 192.0.2.2/24 dev vb && ip -n %s addr add 10.99.0.1/32 dev va" % (b, a))
        yield a, b
    finally:
        subprocess.run("ip netns del %s; ip netns del %s" % (a, b), shell=True)


def test_endpoints_and_kernel_plane_in_a_namespace(pair):
    a, b = pair
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "firmware"))
    peer = subprocess.Popen(["ip", "netns", "exec", b, sys.executable, str(PROBE), "peer"], stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert peer.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        out = subprocess.run(["ip", "netns", "exec", a, sys.executable, str(PROBE), "agent"], capture_output=True,
                             text=True, timeout=60, env=env)
    finally:
        peer.kill()
        peer.wait()
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["udp"] == ["va", "192.0.2.2", "10.99.0.1", "echo:hello"]
    assert got["icmp"] == ["va", "192.0.2.2", "224.0.0.1", 9]
    assert got["lan_blocked"].startswith("prohibit default")
    assert any("from 192.168.77.0/24 lookup 4" in r for r in got["rules"])
    assert any("oif va lookup 100" in r for r in got["rules"])
    assert got["lan_home"].startswith("default via 192.0.2.2 dev va")
    assert got["lan_closed"].startswith("prohibit default")
    assert "10.1.0.10 dev va proxy" in got["proxy"]
    assert got["clean"] and got["lo"] == 0
    assert got["swept"]
    # RFC 5265 1.1, R-2.3-g: the XFRM leak guard drops i-HoA packets outside IPsec on this kernel
    # (the same policies the lab's MR installs)
    g = got["guard"]
    assert g["policies"] == 4  # two sources, each as two halves of the address space, on va
    assert g["guarded"] == "Operation not permitted" and g["vpn_tia"] == "Operation not permitted"
    assert g["bypass"] == "sent" and g["other"] == "sent" and g["lifted"] == "sent"
    assert g["after_close"] == "" and g["swept"] == ""
    # RFC 5265 2.3: one VPN-TIA guard at a time; a new VPN-TIA's guard goes in before the old one's goes
    # (fail closed), so they never pile up: after each XFRM batch, the VPN-TIAs blocked on every device
    assert g["vpn_tia_states"] == [
        ["10.99.0.1/32"] * 2 + ["10.99.0.2/32"] * 2, ["10.99.0.2/32"] * 2,  # 10.99.0.2 in, then 10.99.0.1 out
        ["10.99.0.2/32"] * 2 + ["10.99.0.3/32"] * 2, ["10.99.0.3/32"] * 2,  # 10.99.0.3 in, then 10.99.0.2 out
    ]
    assert g["vpn_tia_old"] == "sent"
    assert g["vpn_tia_status"] == ["10.99.0.3/32 on all"]
