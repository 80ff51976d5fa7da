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
from mip4.uci.syntax import dump, parse

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "build/package/mip4/files/etc/config/mip4"


def _value(line: str) -> str | list[str] | None:
    return parse("config s 'x'\n" + line + "\n")[0].options.get("k")


def test_values_follow_uci_quoting():
    assert _value("option k 'a b'  # comment") == "a b"
    assert _value('option k "x\\"y"') == 'x"y'
    assert _value("option k 'it'\\''s'") == "it's"
    assert _value("option k plain\\ word") == "plain word"
    assert _value("option k 'a\nb'") == "a\nb"  # a quoted value may span lines
    assert _value("option k con\\\ntinued") == "continued"  # a backslash at the end joins the next line
    assert _value("option k ''") is None and _value("option k") is None  # uci_set of "": nothing
    assert _value("option k 1 ; list k 2") == ["1", "2"]  # ; separates commands; list after option: both
    assert _value("option k 1; list k 2") == "1"  # libuci ends the value on ; and drops the rest of the line
    assert _value("o k a#b") == "a"  # # ends a word and the line


def test_sections_options_lists_and_anonymous_names():
    text = "package mip4\nconfig uplink 'wan'\n\toption priority 1\nconfig uplink\n\toption device eth2\n" \
           "\tlist network '10.0.0.0/8'\n\tlist network 10.9.0.0/16\n"
    s = parse(text)
    assert [(x.type, x.name, x.anonymous) for x in s] == [("uplink", "wan", False), ("uplink", "@uplink[1]", True)]
    assert s[1].options == {"device": "eth2", "network": ["10.0.0.0/8", "10.9.0.0/16"]}
    assert s[1].lines["network"] == 7
    assert parse(dump(s))[1].options == s[1].options  # what we write, libuci's format, reads back the same


@pytest.mark.parametrize("text, message", [
    ("option a 'b'\n", "line 1: option/list command found before the first section"),
    ("config mip4 'g'\n\toption role 'mn\n", "line 2: EOF with unterminated '"),
    ("config mip4 'a-b'\n", "line 1: invalid character in name field 'a-b'"),
    ("config mip4 'g'\n\tset role 'mn'\n", "line 2: invalid command 'set'"),
    ("config mip4 'g'\nconfig other 'g'\n", "line 2: section of different type overwrites prior section with same "
     "name 'g'"),
    ("config mip4 'g'\n\toption rôle 'mn'\n", "line 2: invalid character in name field 'rôle'"),
    ("config mip4 'g' 'h'\n", "line 1: too many arguments"),
    ("config\n", r"line 1: invalid command 'config\n'"),  # strtok splits at blanks only: the word is config\n
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


def test_postpone_ike_is_off_unless_the_file_asks_for_it():
    """R-3.3-d: holding IKE back through the detection period is the operator's choice (MAY)."""
    assert from_text(EXAMPLE.read_text()).settings.machine.postpone_ike is False
    on = EXAMPLE.read_text().replace("\toption detection_period '2'\n",
                                     "\toption detection_period '2'\n\toption postpone_ike '1'\n")
    assert from_text(on).settings.machine.postpone_ike is True


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
    ("config uplink 'node'\n", "line 55: section of different type overwrites prior section with same name"),
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


def test_config_check_flags_equal_i_ha_and_x_ha_addresses(tmp_path):
    """R-3.5-b: the x-HA and i-HA addresses MUST differ; `mip4 config check` flags equal ones (the router
    still runs: with equal addresses it takes every network as external, R-3.5-c), and is quiet otherwise."""
    assert mip4("config", "check", str(EXAMPLE)).stderr == ""
    same = tmp_path / "mip4"
    same.write_text(_with("x_home_agent", "10.1.0.1"))
    p = mip4("config", "check", str(same))
    assert p.returncode == 0 and "OK, role mn" in p.stdout
    assert p.stderr == ("mip4 config: warning: i-HA and x-HA are both 10.1.0.1: RFC 5265 3.5 says their addresses "
                        "MUST differ, even when one host runs both; with equal ones this router takes every network "
                        "as external and is never inside\n")


@pytest.mark.parametrize("octets, message", [
    (b"{\"role\": \"ha\xff\"}", "not a text file (not UTF-8)"),  # JSON by its first octet
    (b"config mip4 'g'\n\toption role '\xff'\n", "not a text file"),
    (b"\x00\x01\x02", "line 1: a NUL character"),
    (b'{"role": ', "not JSON: Expecting value (line 1)"),
    (b"[1, 2]\n", "line 1: invalid command '[1,'"),
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


# -- the same as the real `uci` ------------------------------------------------------------------------------
# OpenWrt's uci (build/owrt/userland builds it from the pinned sources into .deps/owrt/root) exports the file
# as it loaded it: `uci -c DIR -t EMPTY export mip4` (strict, as rpcd and LuCI load it). Our reader must give
# the same sections, types, names and values (option or list), or refuse the file where uci refuses it.

OWRT = ROOT / ".deps/owrt/root"


@pytest.fixture(scope="module")
def uci(tmp_path_factory):
    subprocess.run([str(ROOT / "build/owrt/userland")], check=True, capture_output=True)
    work = tmp_path_factory.mktemp("uci")
    (work / "conf").mkdir()
    (work / "save").mkdir()

    def export(text: str):
        (work / "conf/mip4").write_bytes(text.encode())
        p = subprocess.run([str(OWRT / "usr/bin/uci"), "-c", str(work / "conf"), "-t", str(work / "save"), "export",
                            "mip4"], capture_output=True, env={"LD_LIBRARY_PATH": str(OWRT / "usr/lib")}, timeout=10)
        return read_export(p.stdout.decode()) if p.returncode == 0 else None

    return export


def read_export(out: str) -> list[tuple[str, str | None, dict]]:
    """uci_export_package's output: config TYPE ['NAME'], option/list NAME 'VALUE' (' written as '\\'')."""
    sections: list[tuple[str, str | None, dict]] = []
    i = 0
    while i < len(out):
        end = out.find("\n", i)
        if out.startswith("package ", i) or out[i] == "\n":
            i = end + 1
        elif out.startswith("config ", i):
            kind, _, name = out[i + 7:end].partition(" '")
            sections.append((kind.replace("'\\''", "'"), name[:-1] if name else None, {}))
            i = end + 1
        else:
            m = re.match(r"\t(option|list) (\w+) '", out[i:])
            assert m, out[i:i + 80]
            i += m.end()
            value = []
            while True:
                k = out.index("'", i)
                value.append(out[i:k])
                if out.startswith("'\\''", k):
                    value.append("'")
                    i = k + 4
                    continue
                i = k + 2  # the quote and the newline
                break
            opts = sections[-1][2]
            if m.group(1) == "list":
                opts.setdefault(m.group(2), []).append("".join(value))
            else:
                opts[m.group(2)] = "".join(value)
    return sections


def ours(text: str) -> list[tuple[str, str | None, dict]] | None:
    try:
        return [(s.type, None if s.anonymous else s.name, s.options) for s in parse(text)]
    except ConfigError:
        return None


def same_as_uci(uci, text: str) -> None:
    want = uci(text)
    assert ours(text) == want, "%r: uci gives %r" % (text, want)
    if want is not None:  # anonymous sections are named as `uci show` names them
        counts: dict[str, int] = {}
        for s in parse(text):
            assert s.anonymous == (s.name.startswith("@")) and (not s.anonymous or s.name == "@%s[%d]" % (
                s.type, counts.get(s.type, 0)))
            counts[s.type] = counts.get(s.type, 0) + 1


EDGE_CASES = [
    "",
    "\n\n# only a comment\n",
    "package mip4\nconfig mip4 'global'\n\toption role 'mn'\n",
    "package 'mip4'\nconfig a b\n",
    "package other-name\nconfig a b\n",
    "package bad.name\nconfig a b\n",
    "config a 'x'\n\toption b 'c d'\n\tlist l 1\n\tlist l '2 3'\nconfig a\n\toption q \"e\\\"f\"\n",
    # quoting: single, double, backslash escapes, mixed words
    "config a x\n\toption k 'it'\\''s'\n",
    'config a x\n\toption k "a \\\\ b \\n c \\$ d"\n',
    "config a x\n\toption k a\\ b\\'c\n",
    "config a x\n\toption k 'single \\ stays'\n",
    "config a x\n\toption k ab'cd'\"ef\"gh\n",
    "config a x\n\toption k \"\"\n\toption j ''\n",
    "config a x\n\toption k \"unterminated\n",
    "config a x\n\toption k 'unterminated\n",
    "config a x\n\toption k 'multi\nline\nvalue'\n",
    'config a x\n\toption k "multi\nline"\n',
    # line continuations
    "config a x\n\toption k con\\\ntinued\n",
    "config a x\n\toption \\\nk v\n",
    'config a x\n\toption k "a\\\nb"\n',
    "config a x\n\toption k v\\",
    "config a x\r\n\toption k v\\\r\nw\r\n",
    # lists and options mixed
    "config a x\n\tlist k 1\n\tlist k 1\n\toption k 2\n",
    "config a x\n\toption k 1\n\tlist k 2\n\tlist k 3\n",
    "config a x\n\toption k 1\n\toption k\n\toption j\n",
    "config a x\n\tlist k\n\tlist k ''\n",
    "config a x\n\toption k 1\n\toption k ''\n",
    # comments
    "config a x # a comment\n\toption k v#not a comment start?\n\toption j 'v#in quotes'\n",
    "config a x\n#\toption k v\n\t# option j w\n",
    "config a x\n\toption k v # trailing\n",
    "# c\nconfig a x\n\toption k \"#\"\n",
    # anonymous and duplicate sections
    "config a\nconfig a\nconfig b\nconfig a 'n'\nconfig a\n",
    "config a ''\n\toption k v\n",
    "config a 'n'\n\toption k 1\nconfig b\nconfig a 'n'\n\toption j 2\n\toption k 3\n",
    "config a 'n'\nconfig b 'n'\n",
    # option without value, commands abbreviated, separators
    "c a x\n\to k v\n\tl m w\np mip4\n",
    "config a x; option k v\n",
    "config a x ; option k v ; list l w\n",
    "config a x\n\toption k v;\n",
    "config a x\n;\n",
    "config a x\n\toption k v ;; option j w\n",
    # tabs and other blanks
    "config\ta\tx\n\toption\tk\t'v\tw'\n",
    "config a x\n\v\toption k v\n",
    "config a x\n\toption k v\f\n",
    "\tconfig a x\n  \toption k v\n",
    "config a x\r\n\toption k v\r\n",
    # weird names and types
    "config a.b x\n",
    "config a-b x\n",
    "config 'a b' x\n",
    "config a'b x\n",
    "config a x-y\n",
    "config a 'x.y'\n",
    "config a x\n\toption k-j v\n",
    "config a x\n\toption 'k' v\n",
    "config a x\n\toption K_9 v\n",
    "config é x\n",
    "config a x\n\toption k 'ünïcödé ✓'\n",
    "config _ _\n\toption _ _\n",
    # bad syntax
    "option k v\n",
    "config\n",
    "config \n",
    "config a x y\n",
    "config a x\n\toption\n",
    "config a x\n\toption k v w\n",
    "config a x\n\tset k v\n",
    "config a x\n\toptions k v\n",
    "config a x\n\tpackage\n",
    "config a x\n\tlist\n",
    "config a x\n[section]\n",
    "config a x\n\toption k v\n}\n",
    "config a x\n\toption k 'v'w'\n",
    "config a x\n\toption k \"v\\\"\n",
]


@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases_read_as_uci_reads_them(uci, text):
    same_as_uci(uci, text)


def test_the_example_config_reads_as_uci_reads_it(uci):
    same_as_uci(uci, EXAMPLE.read_text())


_CHARS = st.sampled_from(list("abk_-.0 \t'\"\\#;é\n") + ["x", "v", "\r"])
_WORD = st.one_of(
    st.from_regex(r"[a-z_][a-z0-9_]{0,5}", fullmatch=True),
    st.text(_CHARS, max_size=8),
    st.text(_CHARS, max_size=8).map(lambda w: "'%s'" % w.replace("'", "'\\''")),
    st.text(_CHARS, max_size=8).map(lambda w: '"%s"' % w.replace("\\", "\\\\").replace('"', '\\"')),
)
_LINE = st.tuples(
    st.sampled_from(["config", "option", "list", "option", "list", "package", "c", "o", "l", "#", "", "set"]),
    st.lists(_WORD, max_size=3),
    st.sampled_from([" ", "\t", "  ", " ; "]),
    st.sampled_from(["", "", " # note", "\\", " ;"]),
).map(lambda t: ("\t" if t[0] in ("option", "list", "o", "l") else "") + t[2].join([t[0], *t[1]]) + t[3])


_NAME = st.from_regex(r"[a-z_][a-z0-9_]{0,4}", fullmatch=True)
_GOOD_LINE = st.one_of(  # mostly what uci accepts: the values are what is compared
    st.tuples(_NAME, st.one_of(st.just(""), _NAME)).map(lambda t: "config %s %s" % t),
    st.tuples(st.sampled_from(["option", "list"]), _NAME, _WORD).map(lambda t: "\t%s %s %s" % t),
)


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(st.one_of(_GOOD_LINE, _GOOD_LINE, _GOOD_LINE, _LINE), max_size=10),
       end=st.sampled_from(["\n", "", "\r\n"]))
def test_generated_files_read_as_uci_reads_them(uci, lines, end):
    same_as_uci(uci, "config a 'first'\n" + end.join(lines) + end)
