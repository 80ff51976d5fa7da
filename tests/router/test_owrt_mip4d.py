"""mip4d on OpenWrt's real userland (tests/router/owrt.py): procd starts it through the package's init
script, it registers the ubus object `mip4` on ubusd itself, rpcd applies the ACL to uhttpd's calls,
netifd's events (the real `ubus send`) and interface status (an object this test publishes) drive the
uplinks, and it waits for uplinks that are missing or down instead of exiting."""
from __future__ import annotations

import json
import time

import pytest

from tests.router.netifd_objects import Interfaces
from tests.router.owrt import OpenWrt, login, rpc

NO_DHCP = "ps | grep -v grep | grep -c udhcpc"


def service(ow: OpenWrt) -> dict:
    return json.loads(ow.sh("ubus call service list '{\"name\": \"mip4\", \"verbose\": true}'").stdout).get("mip4", {})


def instance(ow: OpenWrt) -> dict:
    return service(ow).get("instances", {}).get("instance1", {})


def status(ow: OpenWrt) -> dict:
    p = ow.sh("ubus call mip4 status", check=False)
    return json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else {}


def uplinks(ow: OpenWrt, names: tuple[str, ...] = ("wan", "wwan", "wlan"), up: bool = True) -> None:
    """Uplinks as veth pairs inside the sandbox's netns (the host kernel has no dummy links)."""
    for d in names:
        ow.sh("ip link add %s type veth peer name %s-p" % (d, d))
        if up:
            ow.sh("ip link set %s up && ip link set %s-p up" % (d, d))


def start(ow: OpenWrt) -> int:
    ow.sh("/etc/init.d/mip4 start")
    got = ow.wait_for(lambda: status(ow).get("pid"), "mip4d's ubus object", 30)
    assert instance(ow)["pid"] == got  # the daemon procd runs answers, no plugin in between
    return got


@pytest.fixture
def mip4d(ow: OpenWrt):
    yield ow
    ow.sh("/etc/init.d/mip4 stop", check=False)
    ow.wait_for(lambda: not service(ow).get("instances"), "mip4 stopped", 20)


def test_mip4d_under_procd_registers_mip4_and_answers_through_uhttpd(mip4d: OpenWrt) -> None:
    ow = mip4d
    uplinks(ow)
    pid = start(ow)
    assert ow.sh("ubus list mip4").stdout.strip() == "mip4"
    listed = ow.sh("ubus -v list mip4").stdout
    assert '"log":{"limit":"Integer","since":"Integer"}' in listed.replace(" ", "").replace("\n", ""), listed
    s = status(ow)
    assert s["role"] == "mn" and set(s["status"]["interfaces"]) == {"wan", "wwan", "wlan"}
    # LuCI's way: uhttpd's JSON-RPC with the rpcd session (it adds ubus_rpc_session), the viewer login
    viewer = login(ow, "viewer")
    r = rpc(ow, viewer, "mip4", "status")["result"]
    assert r[0] == 0 and r[1]["pid"] == pid and r[1]["status"]["interfaces"]["wan"]["priority"] == 1, r
    r = rpc(ow, viewer, "mip4", "log", {"limit": 2})["result"]
    assert r[0] == 0 and 0 < len(r[1]["lines"]) <= 2, r
    assert rpc(ow, viewer, "mip4", "reregister")["error"]["code"] == -32002  # the ACL grants no write
    assert rpc(ow, viewer, "mip4", "bindings")["error"]["code"] == -32002  # nor what the views do not call
    assert rpc(ow, "0" * 32, "mip4", "status")["error"]["code"] == -32002  # not logged in: no read either
    root = login(ow, "root")
    # errors are ubus status codes (INVALID_ARGUMENT 2 here; NOT_SUPPORTED 8 through the CLI below)
    assert rpc(ow, viewer, "mip4", "log", {"since": -1})["result"] == [2]
    r = rpc(ow, root, "mip4", "reregister")["result"]
    assert r[0] == 0 and r[1] == {"reregistered": []}, r
    # and the shell's: `ubus call` exits with the status
    assert ow.sh("ubus call mip4 log '{\"lines\": 3}'", check=False).returncode == 256 - 2
    assert ow.sh("ubus call mip4 bindings", check=False).returncode == 256 - 8
    assert int(ow.sh(NO_DHCP, check=False).stdout or 0) == 0  # the netifd uplinks: no udhcpc of mip4d's


def test_config_change_reloads_the_running_mip4d(mip4d: OpenWrt) -> None:
    ow = mip4d
    uplinks(ow)
    pid = start(ow)
    # what LuCI's apply does: uci commit, then rpcd sends config.change; procd runs `mip4 reload` (SIGHUP)
    ow.sh("uci set mip4.node.t_monitor=61 && uci commit mip4")
    ow.sh("ubus call service event '{\"type\": \"config.change\", \"data\": {\"package\": \"mip4\"}}'")
    ow.wait_for(lambda: status(ow).get("status", {}).get("t_monitor") == 61, "mip4d with t_monitor 61", 20)
    assert status(ow)["pid"] == pid == instance(ow)["pid"]  # reloaded, not restarted


def test_mip4d_waits_for_missing_and_down_uplinks_and_takes_them_from_netifd(mip4d: OpenWrt) -> None:
    ow = mip4d
    netifd = Interfaces(ow.ubus_socket, "wan")  # netifd's network.interface.wan (not up yet)
    try:
        uplinks(ow, ("wan",), up=False)  # wan down, wwan and wlan missing (LTE not there yet at boot)
        pid = start(ow)
        time.sleep(7)  # longer than procd's respawn timeout (5 s): had it died, the pid would differ
        assert instance(ow)["running"] and instance(ow)["pid"] == pid == status(ow)["pid"]
        assert status(ow)["waiting"] == {"wan": "link", "wlan": "device", "wwan": "device"}
        # netifd brings wan up: the link, then ifup; the address is netifd's (its status), not the device's
        ow.sh("ip link set wan up && ip link set wan-p up")
        wan = lambda: status(ow)["status"]["interfaces"]["wan"]  # noqa: E731
        ow.wait_for(lambda: "wan" not in status(ow)["waiting"], "wan attached", 15)
        assert wan()["care_of"] is None
        netifd.set("wan", {"up": True, "l3_device": "wan", "ipv4-address": [{"address": "10.2.0.5", "mask": 24}],
                           "route": [{"target": "0.0.0.0", "mask": 0, "nexthop": "10.2.0.1", "source": "10.2.0.5/32"}]})
        ow.sh("ubus send network.interface '{\"action\": \"ifup\", \"interface\": \"wan\"}'")
        ow.wait_for(lambda: wan()["care_of"] == "10.2.0.5", "wan's address from netifd", 15)
        # and its DHCP router: wan's own table routes through it (udhcpc.script's job where mip4d runs DHCP)
        table = lambda: ow.sh("ip route show table 100").stdout  # noqa: E731
        ow.wait_for(lambda: "default via 10.2.0.1 dev wan" in table(), "wan's table through netifd's router", 10)
        # a flap: the kernel drops the route with the link; netifd's next ifup brings its router back
        ow.sh("ip link set wan down && ubus send network.interface '{\"action\": \"ifdown\", \"interface\": \"wan\"}'")
        ow.wait_for(lambda: wan()["care_of"] is None, "wan down", 10)
        assert table() == ""
        ow.sh("ip link set wan up && ubus send network.interface '{\"action\": \"ifup\", \"interface\": \"wan\"}'")
        ow.wait_for(lambda: "default via 10.2.0.1 dev wan" in table(), "wan's router again", 10)
        assert wan()["care_of"] == "10.2.0.5"
        assert status(ow)["waiting"] == {"wlan": "device", "wwan": "device"}
        # wwan appears later (a USB modem plugged in): attached too, still the same daemon
        uplinks(ow, ("wwan",))
        ow.wait_for(lambda: status(ow)["waiting"] == {"wlan": "device"}, "wwan attached", 15)
        assert status(ow)["pid"] == pid == instance(ow)["pid"]
        assert int(ow.sh(NO_DHCP, check=False).stdout or 0) == 0
    finally:
        netifd.close()


def test_mip4d_comes_back_on_ubus_after_ubusd_restarts(mip4d: OpenWrt) -> None:
    ow = mip4d
    uplinks(ow)
    netifd = Interfaces(ow.ubus_socket, "wan")
    try:
        pid = start(ow)
        netifd.close()
        ow.sh("kill $(pidof ubusd)")  # procd would respawn it on a router
        ow.wait_for(lambda: ow.sh("ubus list", check=False).returncode != 0, "ubusd gone")
        ow.sh("ubusd >/tmp/ubusd2.log 2>&1 &")
        # both connections come back: the object (its status from the same daemon) and netifd's events
        ow.wait_for(lambda: status(ow).get("pid") == pid, "mip4 registered again", 20)
        netifd = Interfaces(ow.ubus_socket, "wan")
        netifd.set("wan", {"up": True, "ipv4-address": [{"address": "10.2.0.7", "mask": 24}]})
        wan = lambda: status(ow)["status"]["interfaces"]["wan"]  # noqa: E731

        def ifup() -> bool:
            ow.sh("ubus send network.interface '{\"action\": \"ifup\", \"interface\": \"wan\"}'")
            return wan()["care_of"] == "10.2.0.7"
        ow.wait_for(ifup, "netifd's ifup heard again", 20)
    finally:
        netifd.close()
