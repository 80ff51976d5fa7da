"""/etc/init.d/mip4 run under stand-ins for procd.sh, functions.sh and rc.common (tests/router/standin/;
OpenWrt's procd cannot run here): the procd calls it makes are recorded and checked one by one."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INIT = ROOT / "build/package/mip4/files/etc/init.d/mip4"
EXAMPLE = ROOT / "build/package/mip4/files/etc/config/mip4"
STANDIN = Path(__file__).with_name("standin")


def run(tmp: Path, action: str, config: str | None = None) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    (tmp / "config").mkdir(exist_ok=True)
    (tmp / "config/mip4").write_text(config if config is not None else EXAMPLE.read_text())
    (tmp / "bin").mkdir(exist_ok=True)
    shim = tmp / "bin/mip4"  # what /usr/bin/mip4 is on the router
    shim.write_text("#!/bin/sh\nPYTHONPATH=%s exec %s -m mip4 \"$@\"\n" % (ROOT / "firmware", sys.executable))
    shim.chmod(0o755)
    log = tmp / "procd.log"
    log.write_text("")
    env = dict(os.environ, PATH="%s:%s" % (tmp / "bin", os.environ["PATH"]), UCI_CONFIG_DIR=str(tmp / "config"),
               PROCD_LOG=str(log), IPKG_INSTROOT=str(tmp / "root"))
    p = subprocess.run(["sh", str(STANDIN / "rc.common"), str(INIT), action], capture_output=True, text=True,
                       env=env, timeout=60)
    return p, [line.split("\t") for line in log.read_text().splitlines()]


def test_script_is_a_procd_init_script():
    text = INIT.read_text()
    assert text.startswith("#!/bin/sh /etc/rc.common\n") and os.access(INIT, os.X_OK)
    assert "\nUSE_PROCD=1\n" in text and "\nSTART=95\n" in text and "\nSTOP=10\n" in text
    assert subprocess.run(["sh", "-n", str(INIT)]).returncode == 0


def test_start_registers_one_respawning_instance_and_the_triggers(tmp_path):
    p, calls = run(tmp_path, "start")
    assert p.returncode == 0, p.stderr
    conf = str(tmp_path / "config/mip4")
    assert calls == [
        ["procd_open_service", "mip4"],
        ["procd_open_instance"],
        ["procd_set_param", "command", "/usr/bin/mip4d", "--config", conf],
        ["procd_set_param", "respawn", "3600", "5", "5"],
        ["procd_set_param", "term_timeout", "10"],
        ["procd_set_param", "stdout", "1"],
        ["procd_set_param", "stderr", "1"],
        ["procd_close_instance"],
        ["procd_open_trigger"],
        ["procd_add_reload_trigger", "mip4", "network"],
        ["procd_close_trigger"],
        ["procd_close_service"],
    ]


def test_disabled_or_bad_config_starts_no_instance(tmp_path):
    p, calls = run(tmp_path, "start", EXAMPLE.read_text().replace("option enabled '1'", "option enabled '0'"))
    assert p.returncode == 0 and ["procd_open_instance"] not in calls
    p, calls = run(tmp_path, "start", EXAMPLE.read_text().replace("option t_monitor '60'", "option t_monitor 'x'"))
    assert ["procd_open_instance"] not in calls
    assert "section mip4.node, option t_monitor" in p.stderr


def test_reload_signals_the_daemon_which_keeps_its_config_on_a_bad_file(tmp_path):
    p, calls = run(tmp_path, "reload")
    assert p.returncode == 0 and calls == [["procd_send_signal", "mip4", "*", "HUP"]] and p.stderr == ""
    p, calls = run(tmp_path, "reload", EXAMPLE.read_text().replace("option spi '1000'", "option spi '7'"))
    assert calls == [["procd_send_signal", "mip4", "*", "HUP"]]
    assert "does not check; mip4d keeps running as it is" in p.stderr and "option spi" in p.stderr


def test_enable_disable_links(tmp_path):
    assert run(tmp_path, "enable")[0].returncode == 0
    rc = tmp_path / "root/etc/rc.d"
    assert sorted(os.listdir(rc)) == ["K10mip4", "S95mip4"] and os.readlink(rc / "S95mip4") == "../init.d/mip4"
    assert run(tmp_path, "enabled")[0].returncode == 0
    run(tmp_path, "disable")
    assert os.listdir(rc) == [] and run(tmp_path, "enabled")[0].returncode == 1
