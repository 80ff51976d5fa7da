"""mip4d's config file: every lab config loads; every bad value is refused with the option named."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from board.virtual.boot import topology
from mip4.core.config import LIMITS, ConfigError, HomeAgentConfig, MobileNodeConfig
from mip4.io.settings import parse
from mip4.uci import schema
from mip4.uci.schema import BadValue


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
    ({"mn.x_ha": None}, "mn: x_ha is required"),
    ({"mn.x_sa": None}, "mn.x_sa: required"),
    # a value of the wrong JSON type is named with what it must be (not a Python traceback)
    ({"mn.t_monitor": "60"}, "mn.t_monitor: '60' is not a number"),
    ({"mn.t_monitor": float("nan")}, "mn.t_monitor: nan is not a number"),
    ({"mn.idle_mode": 1}, "mn.idle_mode: 1 is not true or false"),
    ({"mn.uplinks": ["wan"]}, "mn.uplinks: ['wan'] is not an object"),
    ({"mn.uplinks": {"wan": "1"}}, "mn.uplinks.wan: '1' is not an integer"),
    ({"mn.inside_hints": {"ssid": 5}}, "mn.inside_hints.ssid: 5 is not a list"),
    ({"mn.timing": {"lifetime": True}}, "mn.timing.lifetime: True is not an integer"),
    ({"router.networks": "192.168.77.0/24"}, "router.networks: '192.168.77.0/24' is not a list"),
    ({"vpn.intranet": [10]}, "vpn.intranet[0]: 10 is not a string"),
    ({"vpn.timeout": [20]}, "vpn.timeout: [20] is not a number"),
    ({"mn.t_monitor_grace": 90}, "t_monitor_grace: 90 must be at least 0 and below t_monitor"),
    ({"router.networks": ["192.168.77.0/33"]}, "router.networks: '192.168.77.0/33' is not an IPv4 prefix"),
    ({"router.tables": 4}, "router: unknown option 'tables'"),
])
def test_bad_values_are_refused_with_the_option_named(changes, message):
    with pytest.raises(ConfigError) as e:
        parse(mn(**changes))
    assert message in str(e.value)


@pytest.mark.parametrize("changes, message", [
    ({"trusted_networks": True}, "ha.trusted_networks: True is not a list"),
    ({"links": "eth0"}, "ha: unknown option 'links'"),
    ({"max_lifetime": 0}, "ha.max_lifetime: 0 must be 1..65535 seconds"),
    ({"rate_limit": -5}, "ha.rate_limit: -5 must be 0..1000000 requests per second"),
    # before, accepted: the daemon then failed on every registration for this home address
    ({"mobile_nodes": {"10.1.0.10": {"spi": 1000, "key": "00" * 16, "max_lifetime": "600"}}},
     "ha.mobile_nodes.10.1.0.10.max_lifetime: '600' is not an integer"),
    ({"mobile_nodes": {"10.1.0.10": {"spi": 1000, "key": "00" * 16, "networks": "10.9.0.0/24"}}},
     "ha.mobile_nodes.10.1.0.10.networks: '10.9.0.0/24' is not a list"),
    # issue 27: a redundant pair's home agent
    ({"store_endpoints": "http://10.0.0.5:2379"}, "ha.store_endpoints: 'http://10.0.0.5:2379' is not a list"),
    ({"store_endpoints": ["10.0.0.5:2379"]}, "ha.store_endpoints: '10.0.0.5:2379' is not an etcd client URL"),
    ({"start_standby": True}, "ha.start_standby: a standby needs store_endpoints"),
    # keepalived's `mip4 ha active` could not reach it: it would stay standby for ever
    ({"start_standby": True, "store_endpoints": ["http://10.0.0.5:2379"]},
     "ha.start_standby: a standby waits for `mip4 ha active` (keepalived), which reaches mip4d by its control_socket"),
    ({"vrrp_fifo": "/run/mip4-vrrp.fifo"}, "ha.vrrp_fifo, vrrp_instance: keepalived's states make sense with "
     "store_endpoints only"),
    ({"vrrp_fifo": "run/vrrp", "store_endpoints": ["http://10.0.0.5:2379"]}, "ha.vrrp_fifo: 'run/vrrp' is not an "
     "absolute path"),
    ({"vrrp_instance": "ha", "store_endpoints": ["http://10.0.0.5:2379"]}, "ha.vrrp_instance: 'ha' needs vrrp_fifo"),
])
def test_bad_home_agent_values_are_refused_with_the_option_named(changes, message):
    raw = json.loads(json.dumps(topology()["daemons"]["iha"]))
    raw["ha"].update(changes)
    with pytest.raises(ConfigError) as e:
        parse(raw)
    assert message in str(e.value)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=6)


@st.composite
def spoiled(draw) -> dict:
    """A lab config with one value somewhere in it replaced by any JSON value (or removed)."""
    raw = json.loads(json.dumps(topology()["daemons"][draw(st.sampled_from(sorted(topology()["daemons"])))]))
    node = raw
    while True:
        key = draw(st.sampled_from(sorted(node)))
        if isinstance(node[key], dict) and node[key] and draw(st.booleans()):
            node = node[key]
            continue
        if draw(st.integers(0, 9)) == 0:
            del node[key]
        else:
            node[key] = draw(JSON)
        return raw


@settings(max_examples=500)
@given(raw=spoiled())
def test_any_spoiled_config_gives_settings_or_a_config_error_naming_the_option(raw):
    try:
        parse(raw)
    except ConfigError as e:
        assert ":" in str(e) and "positional argument" not in str(e) and "object is not" not in str(e)


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


# -- issue 28 item 6: one range per option, the same for the JSON file and UCI ----------------------------

def _uci_option(path: str) -> schema.Option | None:
    """The UCI option that sets settings `path`, if there is one."""
    return next((o for section in schema.SECTIONS.values() for o in section.values() if o.to == path), None)


DAEMON = {"mn": "mr", "mn.timing": "mr", "router": "mr", "vpn": "mr", "ha": "iha", "fa": "ifa"}
# other options an edge value needs beside it (the checks of how options fit together)
COMPANIONS = {"mn.t_monitor": {"mn.t_monitor_grace": 0}, "mn.t_monitor_grace": {"mn.t_monitor": 86400},
              "mn.timing.retransmit_initial": {"mn.timing.retransmit_max": 3600},
              "fa.advertisement_interval": {"fa.advertisement_lifetime": None}}
EDGES = [path for path in LIMITS if path.rpartition(".")[0] in DAEMON]


PER_UPLINK = ("mn.uplinks", "mn.hold_downs")  # one value per uplink: the lab's wan


def _with_value(path: str, value, extra: dict | None = None) -> dict:
    """The lab config of the option's role with `path` (and its companions) set; None removes."""
    raw = json.loads(json.dumps(topology()["daemons"][DAEMON[path.rpartition(".")[0]]]))
    for p, v in {_place(path): value, **(extra or {})}.items():
        node = raw
        *parents, leaf = p.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if v is None:
            node.pop(leaf, None)
        else:
            node[leaf] = v
    return raw


def _place(path: str) -> str:
    return path + ".wan" if path in PER_UPLINK else path


def _outside(limit) -> tuple:
    step = 1 if limit.integer else max(limit.low / 2, 0.01)
    return (limit.low - step, limit.high + (1 if limit.integer else limit.high / 100))


@pytest.mark.parametrize("path", EDGES)
def test_each_option_takes_both_ends_of_its_range_and_nothing_beyond(path):
    """Issue 28 item 6: every numeric option is range-checked (core/config.py LIMITS); the error names the
    option, the value and the range."""
    limit = LIMITS[path]
    for value in (limit.low, limit.high):
        value = int(value) if limit.integer else float(value)
        parse(_with_value(path, value, COMPANIONS.get(path)))
    for value in _outside(limit):
        value = int(value) if limit.integer else float(value)
        with pytest.raises(ConfigError) as e:
            parse(_with_value(path, value, COMPANIONS.get(path)))
        assert "%s: %r must be %s" % (_place(path), value, limit.allowed()) in str(e.value)


@pytest.mark.parametrize("path", [p for p in EDGES if _uci_option(p)])
def test_uci_takes_the_same_range_as_the_json_file(path):
    """One table for both readers: the UCI option's own check (before the settings are built) accepts and
    refuses exactly what the JSON file does. Before, UCI took t_monitor 0, retransmit_initial 0 and an
    advertisement_interval of 0; JSON took an MN lifetime of 65535 that UCI refused."""
    option = _uci_option(path)
    limit = LIMITS[path]
    for value in (limit.low, limit.high):
        option.conv(str(int(value) if limit.integer else float(value)))
    for value in _outside(limit):
        with pytest.raises(BadValue, match=re.escape(limit.allowed().split()[0])):
            option.conv(str(int(value) if limit.integer else float(value)))


@pytest.mark.parametrize("changes, message", [
    # the wire field is 16 bits: the core raised CodecError at the first request (RFC 5944 3.3)
    ({"mn.timing": {"lifetime": 70000}}, "mn.timing.lifetime: 70000 must be 1..65535 seconds"),
    ({"mn.timing": {"retransmit_initial": 0}}, "mn.timing.retransmit_initial: 0 must be 0.1..60 seconds"),
    # an integer too large for a float raised OverflowError, not a ConfigError
    ({"mn.t_monitor": 10 ** 400}, "mn.t_monitor: 1000"),
    # the adapter would have put its prohibit route into the kernel's main table
    ({"router.lan_table": 254}, "router.lan_table: table 254 is the kernel's"),
    ({"router.ike_table": 100}, "router.uplink_table_base + 0: table 100 is also ike_table"),
    ({"router.rule_priority": 100}, "router.rule_priority: 100 must be 151..32765"),
    ({"vpn.dpd_delay": -1}, "vpn.dpd_delay: -1 must be 0..3600 seconds"),
    # names and paths the adapter only tripped over when it opened them
    ({"mn.uplinks": {"wan": 1, "an-interface-name": 2}}, "mn.uplinks: 'an-interface-name' is not an interface name"),
    ({"mn.uplinks": {"": 1}}, "mn.uplinks: '' is not an interface name"),
    ({"vpn.vici": "unix://"}, "vpn.vici: 'unix://' is not a unix:// socket URI with an absolute path"),
])
def test_values_that_broke_the_node_are_refused(changes, message):
    with pytest.raises(ConfigError) as e:
        parse(mn(**changes))
    assert message in str(e.value)


def test_a_foreign_agent_advertises_three_intervals_of_lifetime_unless_told():
    """RFC 1256, RFC 5944 2.3.1: advertisement_interval 10 used to keep the advertised lifetime at 9 s."""
    raw = {"role": "fa", "fa": {"links": {"acc": "10.4.0.1"}, "advertisement_interval": 10}}
    assert parse(raw).machine.advertisement_lifetime == 30
    raw["fa"]["advertisement_lifetime"] = 9
    with pytest.raises(ConfigError, match="fa.advertisement_lifetime: 9 must be at least 3 x advertisement_interval"):
        parse(raw)


@pytest.mark.parametrize("role, changes, message", [
    ("ha", {"home_iface": ""}, "ha.home_iface: '' is not an interface name"),
    ("fa", {"core_iface": "core uplink"}, "fa.core_iface: 'core uplink' is not an interface name"),
    ("fa", {"links": {"eth0/1": "10.4.0.1"}}, "fa.links: 'eth0/1' is not an interface name"),
])
def test_interface_names_are_checked_before_the_adapter_opens_them(role, changes, message):
    raw = json.loads(json.dumps(topology()["daemons"]["iha" if role == "ha" else "ifa"]))
    raw[role].update(changes)
    with pytest.raises(ConfigError) as e:
        parse(raw)
    assert message in str(e.value)


def test_a_standby_that_follows_keepalived_through_its_fifo_needs_no_control_socket():
    """Issue 27: with vrrp_fifo keepalived's states reach mip4d without `mip4 ha`."""
    raw = json.loads(json.dumps(topology()["daemons"]["iha"]))
    raw["ha"].update(start_standby=True, store_endpoints=["http://10.0.0.5:2379"], vrrp_fifo="/run/mip4-vrrp.fifo",
                     vrrp_instance="ha")
    settings = parse(raw)
    assert settings.control_socket is None and settings.machine.vrrp_fifo == "/run/mip4-vrrp.fifo"
