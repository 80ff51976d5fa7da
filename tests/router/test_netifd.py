"""Link triggers from netifd over ubus, exercised against tests/router/standin/ubus (no ubusd runs here):
the same JSON lines `ubus listen network.interface` prints and `ubus call network.interface.NAME status`."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

from mip4.ubus.netifd import NetifdEvents, first_address, parse_event

STANDIN = str(Path(__file__).with_name("standin") / "ubus")


def test_parse_event_lines_as_ubus_listen_prints_them():
    assert parse_event('{ "network.interface": { "action": "ifdown", "interface": "wwan" } }') == ("wwan", "ifdown")
    assert parse_event('{ "network.device": { "action": "x" } }') is None
    assert parse_event("not json") is None and parse_event('{"network.interface": {"action": 1}}') is None
    assert first_address({"ipv4-address": [{"address": "198.18.0.5", "mask": 24}]}) == "198.18.0.5"
    assert first_address({"up": False}) is None


def status(address: str | None) -> dict:
    s = {"up": address is not None, "l3_device": "eth9", "proto": "dhcp"}
    if address:
        s["ipv4-address"] = [{"address": address, "mask": 24}]
    return s


def test_ifup_ifdown_become_the_daemons_link_and_address_events(tmp_path, monkeypatch):
    monkeypatch.setenv("UBUS_STANDIN_DIR", str(tmp_path))
    (tmp_path / "wan.json").write_text(json.dumps(status("10.2.0.5")))  # already up when mip4d starts
    got: list = []

    async def scenario() -> None:
        ev = NetifdEvents({"wan": "eth1", "wwan": "wwan0"}, lambda d, up: got.append(("link", d, up)),
                          lambda d, a: got.append(("address", d, a)), ubus=STANDIN)
        await ev.start()
        events = tmp_path / "events"

        def emit(action: str, iface: str) -> None:
            with events.open("a") as f:
                f.write(json.dumps({"action": action, "interface": iface}) + "\n")

        (tmp_path / "wwan.json").write_text(json.dumps(status("198.18.0.5")))
        emit("ifup", "lan")  # not an uplink: ignored
        emit("ifdown", "wan")
        emit("ifup", "wwan")
        emit("ifupdate", "wwan")
        for _ in range(200):
            if len(got) >= 6:
                break
            await asyncio.sleep(0.02)
        await ev.close()

    asyncio.run(scenario())
    assert got == [("link", "eth1", True), ("address", "eth1", "10.2.0.5"), ("link", "eth1", False),
                   ("link", "wwan0", True), ("address", "wwan0", "198.18.0.5"), ("address", "wwan0", "198.18.0.5")]
