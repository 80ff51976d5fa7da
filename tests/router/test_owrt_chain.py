"""mip4's two .ipk files on OpenWrt's real userland (tests/router/owrt.py): ubusd, procd, rpcd, uhttpd and
uci built from source, instead of stand-ins. The ubus binding, rpcd's ACL, the init script under procd."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.router.owrt import OpenWrt, login, rpc

PYOBJ = """
import sys, ubus
ubus.connect(sys.argv[1])
ubus.add("pytest", {"echo": {"method": lambda h, d: h.reply({"got": d}), "signature": {"x": ubus.BLOBMSG_TYPE_INT32}}})
ubus.listen(("network.interface", lambda ev, d: print(ev, sorted(d.items()), flush=True)))
print("ready", flush=True)
ubus.loop()
"""


def test_the_python_ubus_binding_serves_an_object_and_hears_events_on_real_ubusd(ow: OpenWrt) -> None:
    p = subprocess.Popen([sys.executable, "-c", PYOBJ, ow.ubus_socket], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        out = ow.sh("ubus -S call pytest echo '{\"x\": 7}'").stdout
        assert json.loads(out) == {"got": {"x": 7}}
        # exit status -UBUS_STATUS_INVALID_ARGUMENT: ubusd checks the signature
        assert ow.sh("ubus call pytest echo '{\"x\": \"no\"}'", check=False).returncode == 256 - 2
        ow.sh("ubus send network.interface '{\"action\": \"ifup\", \"interface\": \"wan\"}'")
        assert p.stdout.readline().strip() == "network.interface [('action', 'ifup'), ('interface', 'wan')]"
    finally:
        p.kill()


def test_rpcd_enforces_the_luci_apps_acl(ow: OpenWrt) -> None:
    viewer = login(ow, "viewer")
    assert rpc(ow, viewer, "uci", "get", {"config": "mip4"})["result"][0] == 0
    assert rpc(ow, viewer, "uci", "get", {"config": "network"})["result"][0] == 6  # UBUS_STATUS_PERMISSION_DENIED
    # the mip4 object's own ACL (read, reregister write): tests/router/test_owrt_mip4d.py, with mip4d running
