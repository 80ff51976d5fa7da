"""mip4d's config file: every lab config loads; every bad value is refused with the option named."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from board.virtual.boot import topology
from mip4.core.config import ConfigError, HomeAgentConfig, MobileNodeConfig
from mip4.io.settings import parse


def mn(**changes) -> dict:
    raw = json.loads(json.dumps(topology()["daemons"]["mr"]))
    for path, value in changes.items():
        node = raw
        *parents, leaf = path.split(".")
        for p in parents:
            node = node[p]
        if value is None:
            node.pop(leaf)
        else:
            node[leaf] = value
    return raw


@pytest.mark.parametrize("name", sorted(topology()["daemons"]))
def test_every_lab_config_loads(name):
    settings = parse(topology()["daemons"][name])
    assert settings.role == topology()["daemons"][name]["role"]


def test_mobile_router_options():
    s = parse(mn())
    assert isinstance(s.machine, MobileNodeConfig) and s.machine.uplinks["wan"] == 1
    assert s.router.networks == ("192.168.77.0/24",) and s.machine.i_sa.spi == 1000


def test_home_agent_mobile_router_networks():
    s = parse(topology()["daemons"]["iha"])
    assert isinstance(s.machine, HomeAgentConfig)
    assert s.machine.mobile_nodes["10.1.0.10"].networks == ("192.168.77.0/24",)
    assert s.machine.trusts("10.2.0.5") and not s.machine.trusts("198.18.1.5")


@pytest.mark.parametrize("changes, message", [
    ({"role": "router"}, "role: 'router' is not one of mn, ha, fa"),
    ({"mn.t_monitr": 5}, "mn: unknown option 't_monitr'"),
    ({"mn.i_ha": "10.1.0"}, "mn.i_ha: '10.1.0' is not an IPv4 address"),
    ({"mn.i_sa.key": "zz"}, "mn.i_sa.key: 'zz' is not hex octets"),
    ({"mn.i_sa.spi": 7}, "mn.i_sa.spi: 7 is reserved or out of range"),
    ({"mn.i_sa.key": "00" * 8}, "i-HA key must have at least 16"),
    ({"mn.x_ha": None}, "mn: missing 1 required positional argument: 'x_ha'"),
    ({"mn.t_monitor_grace": 90}, "t_monitor_grace: 90 must be at least 0 and below t_monitor"),
    ({"router.networks": ["192.168.77.0/33"]}, "router.networks: '192.168.77.0/33' is not an IPv4 prefix"),
    ({"router.tables": 4}, "router: unknown option 'tables'"),
])
def test_bad_values_are_refused_with_the_option_named(changes, message):
    with pytest.raises(ConfigError) as e:
        parse(mn(**changes))
    assert message in str(e.value)


def test_mip4d_refuses_a_bad_file_before_touching_anything(tmp_path):
    bad = tmp_path / "mip4.json"
    bad.write_text(json.dumps(mn(**{"mn.i_ha": "nowhere"})))
    p = subprocess.run([sys.executable, "-m", "mip4.io.daemon", "--config", str(bad)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2
    assert "config error" in p.stderr and "mn.i_ha: 'nowhere' is not an IPv4 address" in p.stderr
    bad.write_text("{ not json")
    p = subprocess.run([sys.executable, "-m", "mip4.io.daemon", "--config", str(bad)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2 and "not JSON" in p.stderr
