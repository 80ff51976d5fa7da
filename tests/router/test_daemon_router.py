"""mip4d as the router package runs it where no ubusd runs (the UML lab, a bare Linux box): /etc/config/mip4
(UCI), the control socket, rtnetlink link and address events, SIGHUP reloads (a bad file keeps the running
config), SIGTERM. In a namespace of its own. On OpenWrt's userland (ubusd, netifd's events): test_owrt_mip4d.py."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mip4.io.control import ControlClient, ControlError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "build/package/mip4/files/etc/config/mip4").read_text()


def sh(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True)


@pytest.fixture
def netns():
    ns = "mip4t-r-%d" % os.getpid()
    sh("ip netns add %s" % ns)
    try:
        sh("ip -n %s link set lo up" % ns)
        for dev in ("eth1", "wwan", "wlan"):  # up, but the peer is down: no carrier
            sh("ip -n %s link add %s type veth peer name %sp && ip -n %s link set %s up" % (ns, dev, dev, ns, dev))
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns])


def config(tmp: Path, **options: str) -> str:
    text = EXAMPLE.replace("/var/run/mip4/", str(tmp) + "/").replace(
        "config uplink 'wan'\n", "config uplink 'wan'\n\toption device 'eth1'\n").replace(
        "\tlist network", "\toption dhcp '0'\n\tlist network")
    for k, v in options.items():
        text = "\n".join("\toption %s '%s'" % (k, v) if line.strip().startswith("option %s " % k) else line
                         for line in text.splitlines()) + "\n"
    return text


def wait(fn, what: str, limit: float = 20.0):  # noqa: ANN001, ANN201
    end = time.monotonic() + limit
    while True:
        try:
            got = fn()
            if got:
                return got
        except ControlError:
            pass
        if time.monotonic() > end:
            raise AssertionError("gave up waiting for " + what)
        time.sleep(0.1)


def test_uci_control_links_reload_and_stop(netns, tmp_path):
    conf = tmp_path / "mip4"
    conf.write_text(config(tmp_path))
    sh("ip -n %s link set eth1p up && ip -n %s addr add 10.2.0.5/24 dev eth1" % (netns, netns))  # carrier, an address
    env = dict(os.environ, PYTHONPATH=str(ROOT / "firmware"), MIP4_UBUS_SOCKET=str(tmp_path / "no-ubusd.sock"))
    log = (tmp_path / "mip4d.log").open("w+")
    d = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-m", "mip4.cli.mip4d", "--config", str(conf)],
                         env=env, stderr=log, stdout=log)
    sock = str(tmp_path / "control.sock")
    c = ControlClient(sock)
    try:
        s = wait(lambda: c.call("status"), "the control socket")
        assert s["role"] == "mn" and s["status"]["t_monitor"] == 60
        # rtnetlink: eth1 has carrier and 10.2.0.5: the MN registers from it
        wan = wait(lambda: c.call("interfaces")["interfaces"]["eth1"]["care_of"] and
                   c.call("interfaces")["interfaces"]["eth1"], "eth1's address")
        assert wan["care_of"] == "10.2.0.5" and wan["state"] == "detecting"
        sh("ip -n %s link set eth1p down" % netns)  # carrier lost
        wait(lambda: c.call("interfaces")["interfaces"]["eth1"]["state"] == "down", "the carrier loss")
        assert c.call("reregister") == {"reregistered": []}
        assert any(line["reason"] == "reregister" for line in c.call("log", {"limit": 50})["lines"])

        conf.write_text(config(tmp_path, t_monitor="soon"))  # a bad file: the running config stays
        d.send_signal(signal.SIGHUP)  # ip netns exec execs the daemon: same pid
        wait(lambda: "keeping the running configuration" in (tmp_path / "mip4d.log").read_text(), "the reload error")
        assert "option t_monitor (line" in (tmp_path / "mip4d.log").read_text()
        assert c.call("status")["status"]["t_monitor"] == 60 and d.poll() is None
        c.close()
        conf.write_text(config(tmp_path, t_monitor="30"))  # a good, changed file: applied
        d.send_signal(signal.SIGHUP)
        wait(lambda: c.call("status")["status"]["t_monitor"] == 30, "the new T_MONITOR")
        c.close()
    finally:
        d.send_signal(signal.SIGTERM)
        try:
            rc = d.wait(30)
        except subprocess.TimeoutExpired:  # never leave a daemon behind
            d.kill()
            d.wait()
            raise
    assert rc == 0, (tmp_path / "mip4d.log").read_text()
    assert not os.path.exists(sock)
    rules = subprocess.run(["ip", "-n", netns, "rule"], capture_output=True, text=True).stdout
    assert "lookup 4" not in rules  # everything it installed is gone


def test_bad_uci_file_never_starts(netns, tmp_path):
    conf = tmp_path / "mip4"
    conf.write_text(config(tmp_path, home_agent="10.1.0"))
    p = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-m", "mip4.cli.mip4d", "--config", str(conf)],
                       env=dict(os.environ, PYTHONPATH=str(ROOT / "firmware")), capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2
    assert "section mip4.node, option home_agent (line 14): '10.1.0' is not an IPv4 address" in p.stderr
    assert subprocess.run(["ip", "-n", netns, "rule"], capture_output=True, text=True).stdout.count("\n") == 3


def test_missing_and_down_uplinks_are_waited_for(netns, tmp_path):
    """LTE not there at boot: mip4d logs each waiting uplink once, keeps running, and attaches it when its
    device comes (rtnetlink, no ubusd here); before, `ip xfrm ... dev` or the route into it killed it."""
    sh("ip -n %s link del wlan && ip -n %s link set wwan down" % (netns, netns))
    conf = tmp_path / "mip4"
    conf.write_text(config(tmp_path))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "firmware"), MIP4_UBUS_SOCKET=str(tmp_path / "no-ubusd.sock"))
    log = tmp_path / "mip4d.log"
    d = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-m", "mip4.cli.mip4d", "--config", str(conf)],
                         env=env, stderr=log.open("w"), stdout=subprocess.DEVNULL)
    c = ControlClient(str(tmp_path / "control.sock"))
    try:
        wait(lambda: c.call("status").get("waiting") == {"wlan": "device", "wwan": "link"}, "both uplinks waiting")
        sh("ip -n %s link set eth1p down && ip -n %s link set eth1p up" % (netns, netns))  # other link events
        time.sleep(1)
        text = log.read_text()
        assert text.count("uplink wlan: no such device (yet); waiting for it") == 1, text
        assert text.count("uplink wwan: device down; waiting for its link") == 1, text
        sh("ip -n %s link set wwan up && ip -n %s link set wwanp up" % (netns, netns))
        sh("ip -n %s link add wlan type veth peer name wlanp && ip -n %s link set wlan up" % (netns, netns))
        sh("ip -n %s link set wlanp up" % netns)
        wait(lambda: "waiting" not in c.call("status"), "both uplinks attached")
        assert "uplink wwan: attached" in log.read_text() and "uplink wlan: attached" in log.read_text()
        blocked = c.call("status")["guard"]["blocked"]
        assert "192.168.77.0/24 on wlan" in blocked and "192.168.77.0/24 on wwan" in blocked  # guarded first
        policies = subprocess.run(["ip", "-n", netns, "xfrm", "policy"], capture_output=True, text=True).stdout
        assert "dev wlan" in policies
        # unplugged and plugged in again: a new device, whose sockets and guard are its own
        sh("ip -n %s link del wlan" % netns)
        wait(lambda: c.call("status").get("waiting") == {"wlan": "device"}, "wlan gone")
        sh("ip -n %s link add wlan type veth peer name wlanp && ip -n %s link set wlan up" % (netns, netns))
        sh("ip -n %s link set wlanp up" % netns)
        wait(lambda: "waiting" not in c.call("status"), "the new wlan attached")
        assert "192.168.77.0/24 on wlan" in c.call("status")["guard"]["blocked"]
        policies = subprocess.run(["ip", "-n", netns, "xfrm", "policy"], capture_output=True, text=True).stdout
        assert policies.count("dev wlan ") == 4, policies  # the network and the i-HoA, two halves each
        assert d.poll() is None
        c.close()
    finally:
        d.send_signal(signal.SIGTERM)
        try:
            rc = d.wait(30)
        except subprocess.TimeoutExpired:
            d.kill()
            d.wait()
            raise
    assert rc == 0, log.read_text()
