"""/etc/init.d/mip4 under OpenWrt's real procd, rc.common and procd.sh (tests/router/owrt.py): what it
registers (the instance, its respawn and term timeout, the reload triggers), enable/disable, a disabled
or bad config, and reload's SIGHUP that keeps a running mip4d on a file that does not check."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.router.owrt import OpenWrt

INIT = Path(__file__).resolve().parents[2] / "build/package/mip4/files/etc/init.d/mip4"


def service(ow: OpenWrt) -> dict:
    return json.loads(ow.sh("ubus call service list '{\"name\": \"mip4\", \"verbose\": true}'").stdout).get("mip4", {})


def test_script_is_a_procd_init_script():
    text = INIT.read_text()
    assert text.startswith("#!/bin/sh /etc/rc.common\n") and os.access(INIT, os.X_OK)
    assert "\nUSE_PROCD=1\n" in text and "\nSTART=95\n" in text and "\nSTOP=10\n" in text
    assert subprocess.run(["sh", "-n", str(INIT)]).returncode == 0


def test_start_registers_one_respawning_instance_and_the_triggers(ubusd: OpenWrt):
    ow = ubusd
    ow.sh("/etc/init.d/mip4 start")
    svc = ow.wait_for(lambda: service(ow).get("instances") and service(ow), "mip4's instance")
    inst = svc["instances"]["instance1"]
    assert inst["command"] == ["/usr/bin/mip4d", "--config", "/etc/config/mip4"]
    assert inst["respawn"] == {"threshold": 3600, "timeout": 5, "retry": 5} and inst["term_timeout"] == 10
    assert [t[0] for t in svc["triggers"]] == ["config.change", "config.change"], svc["triggers"]
    assert [t[1][1][2] for t in svc["triggers"]] == ["mip4", "network"]
    ow.sh("/etc/init.d/mip4 stop")  # procd keeps the instance until mip4d has exited (term_timeout 10)
    ow.wait_for(lambda: not service(ow).get("instances"), "mip4 stopped", 15)


def test_disabled_or_bad_config_starts_no_instance(ubusd: OpenWrt):
    ow = ubusd
    cfg = ow.path("/etc/config/mip4")
    good = cfg.read_text()
    cfg.write_text(good.replace("option enabled '1'", "option enabled '0'"))
    assert ow.sh("/etc/init.d/mip4 start", check=False).returncode == 0
    assert not service(ow).get("instances")
    cfg.write_text(good.replace("option t_monitor '60'", "option t_monitor 'x'"))
    p = ow.sh("/etc/init.d/mip4 start", check=False)
    assert not service(ow).get("instances")
    assert "section mip4.node, option t_monitor" in p.stderr


def test_reload_keeps_the_running_daemon_on_a_bad_file(ubusd: OpenWrt):
    ow = ubusd
    ow.sh("ip link add wan type veth peer name wan-p")
    ow.sh("/etc/init.d/mip4 start")
    pid = ow.wait_for(lambda: service(ow).get("instances", {}).get("instance1", {}).get("pid"), "mip4d", 15)
    ow.sh("/etc/init.d/mip4 reload")  # at once, while python starts: ignored until mip4d's handler is in
    ow.wait_for(lambda: ow.sh("ubus call mip4 status", check=False).returncode == 0, "mip4d on ubus", 20)
    cfg = ow.path("/etc/config/mip4")
    cfg.write_text(cfg.read_text().replace("option spi '1000'", "option spi '7'"))
    p = ow.sh("/etc/init.d/mip4 reload", check=False)
    assert "does not check; mip4d keeps running as it is" in p.stderr and "option spi" in p.stderr
    answering = json.loads(ow.sh("ubus call mip4 status").stdout)["pid"]
    assert service(ow)["instances"]["instance1"]["pid"] == pid == answering
    ow.sh("/etc/init.d/mip4 stop")
    ow.wait_for(lambda: not service(ow).get("instances"), "mip4 stopped", 15)


def test_enable_disable_links(ubusd: OpenWrt):
    ow = ubusd
    ow.sh("/etc/init.d/mip4 enable")
    assert sorted(os.listdir(ow.path("/etc/rc.d"))) == ["K10mip4", "S95mip4"]
    assert os.readlink(ow.path("/etc/rc.d/S95mip4")) == "../init.d/mip4"
    assert ow.sh("/etc/init.d/mip4 enabled", check=False).returncode == 0
    ow.sh("/etc/init.d/mip4 disable")
    assert os.listdir(ow.path("/etc/rc.d")) == [] and ow.sh("/etc/init.d/mip4 enabled", check=False).returncode == 1
