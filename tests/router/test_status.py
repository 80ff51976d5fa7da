"""The one status model, the methods on it (the ubus object `mip4`: test_ubus_object.py) and the control socket."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mip4.io.control import ControlClient, ControlError
from mip4.status.methods import MethodError, call
from tests.core.world import VPN_TIA

from .live import LiveNode, ThreadedControl

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def node():
    n = LiveNode(speed=1.0)
    n.do(n.w.connect, "wan", "lan1", "10.2.0.5")
    n.run(5)
    return n


def test_model_adds_registrations_verdict_and_reason(node):
    s = node.status()["status"]
    assert s["mode"] == "c" and s["verdict"] == "inside" and s["primary"] == "wan"
    assert "wan: " in s["verdict_reason"] and "-> inside (i-ha-tnc)" in s["verdict_reason"]
    wan = s["interfaces"]["wan"]
    i_ha = next(r for r in wan["registrations"] if r["agent"] == "i-ha")
    assert i_ha["care_of"] == "10.2.0.5" and i_ha["registered"] and 0 < i_ha["remaining"] <= i_ha["lifetime"]
    assert 0 < wan["t_monitor_left"] <= 60 and s["child_sa"] == "down"


def test_the_verdict_says_tentatively_outside_while_the_i_ha_may_still_answer():
    """RFC 5265 3.3: after the x-HA's reply the i-HA is asked through the detection period; the status says
    so (mode cvc already, data only as ESP), then outside."""
    n = LiveNode(speed=1.0)
    n.do(n.w.connect, "wwan", "ext1", "198.18.0.5")
    n.run(1.0)  # the x-HA has answered; the detection period (2 s) is not over
    s = n.status()["status"]
    assert s["interfaces"]["wwan"]["state"] == "tentative-outside" and s["verdict"] == "tentative-outside", s
    n.run(3.0)
    assert n.status()["status"]["verdict"] == "outside"


def test_handoff_timeline_inside_to_outside(node):
    node.do(node.w.disconnect, "wan")
    node.do(node.w.connect, "wwan", "ext1", "198.18.0.5")
    node.run(15)
    s = node.status()["status"]
    assert s["mode"] == "cvc" and s["verdict"] == "outside" and s["ike"] == "up" and s["vpn_tia"] == VPN_TIA
    assert s["child_sa"] == "up"
    steps = [(h["from"], h["to"]) for h in s["handoffs"]]
    assert steps == [("none", "wan/c"), ("wan/c", "wwan/cvc")]
    last = s["handoffs"][-1]
    assert last["duration"] > 0 and "wwan" in last["reason"]  # data stopped at the unplug, flowed again in cvc


def test_methods_answer_from_the_model_and_refuse_bad_calls(node):
    assert call(node, "status", {})["status"]["mode"] == "c"
    session = {"ubus_rpc_session": "0123456789abcdef0123456789abcdef"}  # what uhttpd adds to every call
    assert call(node, "status", session)["status"]["mode"] == "c"
    assert len(call(node, "log", dict(session, limit=2))["lines"]) == 2
    ifs = call(node, "interfaces", None)
    assert ifs["primary"] == "wan" and ifs["interfaces"]["wan"]["care_of"] == "10.2.0.5"
    lines = call(node, "log", {"limit": 3})["lines"]
    assert len(lines) == 3 and lines[-1]["seq"] == node.model.seq
    assert call(node, "log", {"since": node.model.seq})["lines"] == []
    assert call(node, "reregister", {}) == {"reregistered": ["wan"]}
    assert node.status()["status"]["interfaces"]["wan"]["state"] == "detecting"  # gate closed, pair sent again
    for method, args, code, text in [
        ("bindings", {}, 8, "only a home agent has bindings"),
        ("reboot", {}, 3, "no method 'reboot' (methods: status, interfaces, bindings, reregister, log)"),
        ("log", {"since": -1}, 2, "since must be a non-negative integer, not -1"),
        ("log", {"lines": 5}, 2, "unknown argument 'lines' (allowed: since, limit)"),
        ("status", [1], 2, "arguments must be a JSON object"),
    ]:
        with pytest.raises(MethodError, match=re.escape(text)) as e:
            call(node, method, args)
        assert e.value.code == code


def test_control_socket(node, tmp_path):
    path = str(tmp_path / "control.sock")
    server = ThreadedControl(path, node)
    try:
        assert oct(os.stat(path).st_mode & 0o777) == "0o600"
        c = ControlClient(path)
        assert c.call("status")["status"]["mode"] == "c"
        assert c.call("interfaces")["interfaces"]["wan"]["state"] == "inside"  # one connection, many calls
        with pytest.raises(ControlError, match="no method 'halt'"):
            c.call("halt")
        c.close()
    finally:
        server.close()
    assert not os.path.exists(path)
    with pytest.raises(ControlError, match="mip4d is not answering"):
        ControlClient(path).call("status")


def test_bad_control_lines_get_an_error_line(node, tmp_path):
    import socket
    path = str(tmp_path / "c.sock")
    server = ThreadedControl(path, node)
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        f = s.makefile("rwb")
        for line, text in ((b"nonsense\n", "not JSON"), (b'{"args": {}}\n', 'a request is {"method"'),
                           (b'{"method": "st\xffatus"}\n', "not JSON: not UTF-8"),
                           (b'{"method": 5}\n', 'a request is {"method"'), (b"[]\n", 'a request is {"method"'),
                           (b'{"method": "log", "args": "x"}\n', "log: arguments must be a JSON object"),
                           (b'{"method": "log", "args": {"limit": 1e9}}\n', "limit must be a non-negative integer"),
                           (b'{"method": "bindings"}\n', "only a home agent has bindings")):
            f.write(line)
            f.flush()
            assert text in json.loads(f.readline())["error"]["message"]
        f.write(b'{"method": "status"}\n')  # after all that, the connection still answers
        f.flush()
        assert json.loads(f.readline())["result"]["role"] == "mn"
        f.write(b"x" * 70000 + b"\n")  # longer than a request may be: one error line, then it hangs up
        f.flush()
        assert json.loads(f.readline())["error"] == {"code": 2, "message": "request longer than 65536 octets"}
        assert f.readline() == b""
        s.close()
    finally:
        server.close()


def test_closing_with_a_client_connected_is_quiet(node, tmp_path, caplog):
    """mip4d stopping while LuCI or the console is connected: no asyncio traceback in the log."""
    path = str(tmp_path / "c.sock")
    server = ThreadedControl(path, node)
    c = ControlClient(path)
    assert c.call("status")["role"] == "mn"
    server.close()
    c.close()
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


def test_mip4_status_command(node, tmp_path):
    path = str(tmp_path / "control.sock")
    server = ThreadedControl(path, node)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "firmware"))
    try:
        p = subprocess.run([sys.executable, "-m", "mip4", "status", "--socket", path], capture_output=True,
                           text=True, env=env, timeout=60)
        assert p.returncode == 0, p.stderr
        assert "mode c, inside (wan: " in p.stdout and "primary wan, IKE down" in p.stdout
        row = next(line for line in p.stdout.splitlines() if line.startswith("wan "))
        assert row.split()[:7] == ["wan", "100", "yes", "inside", "c", "10.2.0.5", "plain"] and "i-ha " in row
        js = subprocess.run([sys.executable, "-m", "mip4", "status", "--socket", path, "--json"], capture_output=True,
                            text=True, env=env, timeout=60)
        assert json.loads(js.stdout)["status"]["interfaces"]["wan"]["care_of"] == "10.2.0.5"
    finally:
        server.close()
    p = subprocess.run([sys.executable, "-m", "mip4", "status", "--socket", path], capture_output=True, text=True,
                       env=env, timeout=60)
    assert p.returncode == 1 and "mip4d is not answering on %s" % path in p.stderr
