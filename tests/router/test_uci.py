"""/etc/config/mip4: our UCI reader, its mapping onto the daemon's Settings, and `mip4 config check|show`."""
from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from board.virtual.boot import topology
from mip4.core.config import ConfigError, MobileNodeConfig
from mip4.io.settings import parse as parse_json
from mip4.uci.config import from_text
from mip4.uci.syntax import dump, parse, tokens

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "build/package/mip4/files/etc/config/mip4"


def test_tokens_follow_uci_quoting():
    assert tokens("option key 'a b'  # comment", 1) == ["option", "key", "a b"]
    assert tokens('option k "x\\"y"', 1) == ["option", "k", 'x"y']
    assert tokens("option k 'it'\\''s'", 1) == ["option", "k", "it's"]
    assert tokens("option k plain\\ word", 1) == ["option", "k", "plain word"]
    assert tokens("   # only a comment", 1) == []
    assert tokens("option k ''", 1) == ["option", "k", ""]


def test_sections_options_lists_and_anonymous_names():
    text = "package mip4\nconfig uplink 'wan'\n\toption priority 1\nconfig uplink\n\toption device eth2\n" \
           "\tlist network '10.0.0.0/8'\n\tlist network 10.9.0.0/16\n"
    s = parse(text)
    assert [(x.type, x.name, x.anonymous) for x in s] == [("uplink", "wan", False), ("uplink", "@uplink[1]", True)]
    assert s[1].options == {"device": "eth2", "network": ["10.0.0.0/8", "10.9.0.0/16"]}
    assert s[1].lines["network"] == 7
    assert parse(dump(s))[1].options == s[1].options  # what we write, libuci's format, reads back the same


@pytest.mark.parametrize("text, message", [
    ("option a 'b'\n", "line 1: option outside of a config section"),
    ("config mip4 'g'\n\toption role 'mn\n", "line 2: unterminated ' quote"),
    ("config mip4 'g'\n\toption role\n", "line 2: expected option NAME 'VALUE', got 1 words"),
    ("config mip4 'a-b'\n", "line 1: section name 'a-b': only letters, digits and _"),
    ("config mip4 'g'\n\tset role 'mn'\n", "line 2: unknown keyword 'set'"),
    ("config mip4 'g'\nconfig mip4 'g'\n", "line 2: section 'g' defined twice"),
    ("config mip4 'g'\n\toption rôle 'mn'\n", "line 2: option name 'rôle'"),
])
def test_syntax_errors_name_the_line(text, message):
    with pytest.raises(ConfigError, match="^" + _re(message)):
        parse(text)


def test_example_maps_onto_the_same_settings_as_the_lab_json():
    c = from_text(EXAMPLE.read_text())
    lab = parse_json(topology()["daemons"]["mr"])
    assert isinstance(c.settings.machine, MobileNodeConfig)
    # the same MobileNodeConfig, field for field (the lab runs a shorter T_MONITOR to show it expiring,
    # and one short hold-down so that its tour shows traffic moving back)
    assert c.settings.machine == dataclasses.replace(lab.machine, t_monitor=60.0, t_monitor_grace=10.0,
                                                     hold_down=10.0, hold_downs={"wan": 5.0}, udp_keepalive=20)
    assert c.settings.router.networks == lab.router.networks
    assert c.settings.router.netifd == {"wan": "wan", "wwan": "wwan", "wlan": "wlan"}
    assert c.settings.vpn.local_id == "mr1@example.com" and c.settings.vpn.intranet == lab.vpn.intranet
    assert c.settings.control_socket == "/var/run/mip4/control.sock"
    assert c.enabled and c.log_level == "info"


def test_uplink_device_and_home_agent_role():
    mn = EXAMPLE.read_text().replace("config uplink 'wan'\n", "config uplink 'wan'\n\toption device 'eth1'\n")
    s = from_text(mn).settings
    assert s.machine.uplinks == {"eth1": 1, "wwan": 2, "wlan": 3} and s.router.netifd["wan"] == "eth1"
    ha = ("config mip4 'g'\n\toption role ha\nconfig home_agent 'ha'\n\toption address 10.1.0.1\n\toption type i-ha\n"
          "\tlist trusted_network 10.0.0.0/8\nconfig binding\n\toption home_address 10.1.0.10\n\toption spi 1000\n"
          "\toption key 00112233445566778899aabbccddeeff\n\tlist network 192.168.77.0/24\n")
    h = from_text(ha).settings.machine
    assert h.role == "i-ha" and h.trusts("10.2.3.4") and not h.trusts("198.18.0.1")
    assert h.mobile_nodes["10.1.0.10"].networks == ("192.168.77.0/24",) and h.mobile_nodes["10.1.0.10"].sa.spi == 1000


def test_the_i_has_vpn_pool_and_snat_addresses():
    """R-3.1-c, R-3.1-d: `list vpn_pool` and `list vpn_snat` reach the i-HA; a pool outside the trusted
    networks is refused with the option named (its requests would be dropped, R-4.3-h)."""
    ha = ("config mip4 'g'\n\toption role ha\nconfig home_agent 'ha'\n\toption address 10.1.0.1\n\toption type i-ha\n"
          "\tlist trusted_network 10.0.0.0/8\n\tlist vpn_pool 10.255.0.0/16\n\tlist vpn_snat 10.254.0.1/32\n")
    h = from_text(ha).settings.machine
    assert (h.vpn_pool, h.vpn_snat) == (("10.255.0.0/16",), ("10.254.0.1/32",))
    assert h.in_vpn_pool("10.255.1.2") and h.through_vpn("10.254.0.1") and not h.through_vpn("10.2.0.5")
    with pytest.raises(ConfigError, match="vpn_pool.*not inside trusted_networks"):
        from_text(ha.replace("10.255.0.0/16", "172.16.0.0/24"))


def test_rate_limits_of_home_and_foreign_agents():
    """A registration flood from one source is rate limited (issue 10): requests a second and the burst."""
    ha = ("config mip4 'g'\n\toption role ha\nconfig home_agent 'ha'\n\toption address 10.1.0.1\n\toption type x-ha\n"
          "\toption rate_limit 0.5\n\toption rate_burst 3\n")
    h = from_text(ha).settings.machine
    assert (h.rate_limit, h.rate_burst) == (0.5, 3)
    fa = ("config mip4 'g'\n\toption role fa\nconfig foreign_agent 'fa'\n\toption rate_limit 0\n"
          "config access_link\n\toption device acc\n\toption care_of 203.0.113.1\n")
    f = from_text(fa).settings.machine
    assert (f.rate_limit, f.rate_burst) == (0.0, 20)  # 0: no limit; the burst keeps its default
    default = from_text(ha.replace("\toption rate_limit 0.5\n\toption rate_burst 3\n", "")).settings.machine
    assert (default.rate_limit, default.rate_burst) == (100, 200)
    for bad, message in (("rate_limit fast", "option rate_limit (line 6): 'fast' is not a number of requests per "
                          "second"), ("rate_limit -1", "'-1' is not a number of requests per second"),
                         ("rate_burst 0", "option rate_burst (line 7): '0' is not an integer 1..1000000")):
        option = bad.split()[0]
        text = "\n".join("\toption %s" % bad if line.startswith("\toption %s " % option) else line
                         for line in ha.splitlines())
        with pytest.raises(ConfigError, match=_re(message)):
            from_text(text)


def _re(s: str) -> str:
    import re
    return re.escape(s)


def _with(option: str, value: str | None) -> str:
    """The example with one mobile_node option changed (None: removed)."""
    out = []
    for line in EXAMPLE.read_text().splitlines():
        if line.strip().startswith("option %s " % option):
            if value is None:
                continue
            line = "\toption %s '%s'" % (option, value)
        out.append(line)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("option, value, message", [
    ("t_monitor", "soon", "section mip4.node, option t_monitor (line {line}): 'soon' is not a number of seconds"),
    ("home_agent", "10.1.0", "section mip4.node, option home_agent (line {line}): '10.1.0' is not an IPv4 address"),
    ("spi", "7", "section mip4.node, option spi (line {line}): '7' is not an integer 256..4294967295"),
    ("key", "zz", "section mip4.node, option key (line {line}): 'zz' is not hex octets"),
    ("key", "00" * 8, "section mip4.node, option key: 8 octets; the i-HA key must have at least 16"),
    ("x_key", "6c61622d692d68612d6b65792d6d6f62696c652d726f75746572",
     "section mip4.node, option x_key: must differ from i_sa.key (RFC 5265 6.2)"),
    ("t_monitor_grace", "90", "section mip4.node, option t_monitor_grace: 90.0 must be at least 0 and below"),
    ("lifetime", "70000", "section mip4.node, option lifetime (line {line}): '70000' is not an integer 1..65535 "
     "seconds (RFC 5944 3.3"),
    ("x_home_agent", None, "section mip4.node: option x_home_agent is required (x-HA)"),
    ("ike_identity", None, "section mip4.node, option ike_identity (not set): must be set for the IKE SA"),
    ("udp_keepalive", "70000", "section mip4.node, option udp_keepalive (line {line}): '70000' is not an integer "
     "0..65535"),
    ("role", "router", "section mip4.global, option role (line {line}): 'router' is not one of mn, ha, fa"),
    ("enabled", "maybe", "option enabled (line {line}): 'maybe' is not a UCI boolean"),
])
def test_every_bad_value_names_section_option_value_and_what_is_allowed(option, value, message):
    line = next((i for i, t in enumerate(EXAMPLE.read_text().splitlines(), 1) if t.strip().startswith(
        "option %s " % option)), 0)
    with pytest.raises(ConfigError, match=_re(message.format(line=line))):
        from_text(_with(option, value))


@pytest.mark.parametrize("extra, message", [
    ("config mobile_node 'node'\n", "line 55: section 'node' defined twice"),
    ("config uplink 'lte'\n\toption priority 'high'\n", "section mip4.lte, option priority (line 56): 'high' is "
     "not an integer 0..1000"),
    ("config uplink 'lte'\n", "section mip4.lte: option priority is required"),
    ("config uplink 'x'\n\toption priority 4\n\toption device wan\n", "option device: 'wan' is already an uplink"),
    ("config uplink 'x'\n\toption priority 4\n\toption hold_down 'soon'\n", "section mip4.x, option hold_down "
     "(line 57): 'soon' is not a number of seconds"),
    ("config uplink 'x'\n\toption priority 4\n\toption mtu 1400\n", "section mip4.x, option mtu (line 57): unknown "
     "option (allowed: device, hold_down, priority)"),
    ("config uplink 'x'\n\tlist priority 4\n", "must be written as `option priority`"),
    ("config home_agent 'ha'\n", "a 'home_agent' section does not belong to role 'mn'"),
    ("config tunnel 't'\n", "section mip4.t: unknown type 'tunnel'"),
    ("config mobile_node\n\tlist network '10.0.0.0/33'\n", "second 'mobile_node' section"),
])
def test_bad_sections_are_refused(extra, message):
    with pytest.raises(ConfigError, match=_re(message)):
        from_text(EXAMPLE.read_text() + "\n" + extra)


def test_list_value_named_in_the_error():
    with pytest.raises(ConfigError, match=_re("option network (line 42): '192.168.77.0/33' is not an IPv4 prefix")):
        from_text(EXAMPLE.read_text().replace("'192.168.77.0/24'", "'192.168.77.0/24'\n\tlist network "
                                              "'192.168.77.0/33'"))


def mip4(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mip4", *args], capture_output=True, text=True, timeout=60)


def test_config_check_and_show_from_the_shell(tmp_path):
    ok = mip4("config", "check", str(EXAMPLE))
    assert ok.returncode == 0, ok.stderr
    assert "OK, role mn: home address 10.1.0.10" in ok.stdout
    assert "uplinks wan(1, hold-down 5 s), wwan(2, hold-down 10 s), wlan(3, hold-down 10 s)" in ok.stdout
    shown = mip4("config", "show", str(EXAMPLE))
    assert shown.returncode == 0 and '"i_hoa": "10.1.0.10"' in shown.stdout
    assert "6c61622d" not in shown.stdout and '"key": "<26 octets>"' in shown.stdout  # keys never printed
    bad = tmp_path / "mip4"
    bad.write_text(_with("t_monitor", "-5"))
    p = mip4("config", "check", str(bad))
    assert p.returncode == 2 and p.stdout == ""
    assert "option t_monitor (line 30): '-5' is not a number of seconds" in p.stderr
    js = tmp_path / "mr.json"  # JSON is still read, chosen by content
    js.write_text('{"role": "fa", "fa": {"links": {"ifa": "10.3.0.1"}}}')
    assert mip4("config", "check", str(js)).stdout.endswith("OK, role fa: 10.3.0.1, access links ifa\n")
    assert mip4("config", "check", str(tmp_path / "missing")).returncode == 2


@pytest.mark.parametrize("octets, message", [
    (b"{\"role\": \"ha\xff\"}", "not a text file (not UTF-8)"),  # JSON by its first octet
    (b"config mip4 'g'\n\toption role '\xff'\n", "not a text file"),
    (b"\x00\x01\x02", "line 1: unknown keyword"),
    (b'{"role": ', "not JSON: Expecting value (line 1)"),
    (b"[1, 2]\n", "line 1: unknown keyword '[1,'"),
])
def test_a_file_that_is_not_a_config_gets_one_error_line_never_a_traceback(tmp_path, octets, message):
    bad = tmp_path / "mip4"
    bad.write_bytes(octets)
    p = mip4("config", "check", str(bad))
    assert (p.returncode, p.stdout) == (2, "") and "Traceback" not in p.stderr
    assert p.stderr.startswith("mip4 config: error: %s: " % bad) and message in p.stderr


OPTION_LINE = st.sampled_from([line for line in EXAMPLE.read_text().splitlines() if line.strip()])


@settings(max_examples=300)
@given(edits=st.lists(st.tuples(st.integers(0, 60), st.sampled_from(["drop", "dup", "garble", "text"]),
                                st.text(max_size=12)), min_size=1, max_size=4))
def test_any_edited_example_gives_settings_or_one_config_error(edits):
    """Lines dropped, repeated or garbled, text typed in: the reader answers with settings or one ConfigError
    that names where (a line, a section or an option), never anything else."""
    lines = EXAMPLE.read_text().splitlines()
    for at, how, text in edits:
        at %= len(lines)
        if how == "drop":
            del lines[at]
        elif how == "dup":
            lines.insert(at, lines[at])
        elif how == "garble":
            lines[at] = lines[at][: len(lines[at]) // 2] + text
        else:
            lines.insert(at, text)
        lines = lines or [""]
    try:
        from_text("\n".join(lines) + "\n")
    except ConfigError as e:
        assert re.search(r"line \d+|section |option |role |no `config mip4`", str(e)), str(e)


def test_the_uci_reader_imports_nothing_from_the_io_layer():
    """Issue 22 item 4: imports run down the layers (wire <- core <- config/status <- io); the UCI reader is
    config level, so reading and checking /etc/config/mip4 loads no io module (sockets, netlink, daemon)."""
    code = ("import sys, mip4.uci.config, mip4.config.settings; "
            "print(sorted(m for m in sys.modules if m.startswith('mip4.io')))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"


@pytest.mark.parametrize("option, value, message", [
    ("retransmit_initial", "0", "option retransmit_initial (line 40): '0' is not a number of seconds 0.1..60 (RFC "
     "5944 3.6.3"),
    ("t_monitor_grace", "59.999", "option t_monitor_grace: 59.999 must be at least 0 and below t_monitor (60.0) by "
     "1 s or more"),
    ("retransmit_max", "0.5", "option retransmit_max (line 40): '0.5' is not a number of seconds 1..3600"),
])
def test_timing_that_storms_is_refused_in_uci(option, value, message):
    """Issue 28 item 6: `retransmit_initial 0` was accepted and put every retransmission at one instant;
    N just below T_MONITOR re-registered as fast as the replies came back (RFC 5265 3.2.4)."""
    text = EXAMPLE.read_text()
    if "option %s " % option in text:
        text = _with(option, value)
    else:
        line = "\toption lifetime '1800'\n"
        text = text.replace(line, line + "\toption %s '%s'\n" % (option, value))
    with pytest.raises(ConfigError, match=_re(message)):
        from_text(text)
