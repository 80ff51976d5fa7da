"""The ubus object `mip4` (mip4/ubus/object.py) on the real ubusd (tests/router/owrt.py), published from
this process for a live status model (tests/router/live.py), as the LuCI tests do: `ubus call` answers from
the model, and every bad call ends with its ubus status code (the `ubus` CLI's exit status is 256 - code)."""
from __future__ import annotations

import json

import pytest

from mip4.ubus.object import ThreadedMip4Object
from tests.router.live import LiveNode
from tests.router.owrt import OpenWrt


@pytest.fixture
def published(ubusd: OpenWrt):
    node = LiveNode(speed=1.0)
    node.do(node.w.connect, "wan", "lan1", "10.2.0.5")
    node.run(5)
    obj = ThreadedMip4Object(node, ubusd.ubus_socket)
    yield ubusd
    obj.close()


def call(ow: OpenWrt, method: str, args: str = "{}"):  # noqa: ANN201
    return ow.sh("ubus call mip4 %s '%s'" % (method, args), check=False)


def test_calls_answer_from_the_live_model(published: OpenWrt):
    ow = published
    assert json.loads(call(ow, "status").stdout)["status"]["interfaces"]["wan"]["care_of"] == "10.2.0.5"
    assert json.loads(call(ow, "interfaces").stdout)["primary"] == "wan"
    assert len(json.loads(call(ow, "log", '{"limit": 2}').stdout)["lines"]) == 2
    assert json.loads(call(ow, "status", '{"ubus_rpc_session": "%s"}' % ("0" * 32)).stdout)["role"] == "mn"
    assert json.loads(call(ow, "reregister").stdout) == {"reregistered": ["wan"]}
    listed = ow.sh("ubus -v list mip4").stdout
    assert '"reregister":{}' in listed.replace(" ", "") and '"limit":"Integer"' in listed.replace(" ", "")


@pytest.mark.parametrize("method, args, code", [
    ("log", '{"since": -1}', 2),  # UBUS_STATUS_INVALID_ARGUMENT
    ("log", '{"lines": 3}', 2),
    ("log", '{"limit": "x"}', 2),
    ("reboot", "{}", 3),  # UBUS_STATUS_METHOD_NOT_FOUND (libubus: not in the object's method table)
    ("bindings", "{}", 8),  # UBUS_STATUS_NOT_SUPPORTED: an MN has no bindings
])
def test_bad_calls_end_with_their_ubus_status(published: OpenWrt, method: str, args: str, code: int):
    p = call(published, method, args)
    assert p.returncode == 256 - code and p.stdout == "", (p.returncode, p.stdout, p.stderr)

