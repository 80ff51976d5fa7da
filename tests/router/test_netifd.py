"""Link triggers from netifd over the real ubusd (tests/router/owrt.py), through the python3-ubus binding:
`network.interface` events sent with the real `ubus send`, and `network.interface.NAME status` objects
this test publishes as netifd would (netifd_objects.py: the userland has no netifd)."""
from __future__ import annotations

import asyncio

from mip4.ubus.netifd import NetifdEvents, default_router, first_address, parse_event
from tests.router.netifd_objects import Interfaces
from tests.router.owrt import OpenWrt


def test_parse_event_and_status_as_the_binding_hands_them_over():
    assert parse_event("network.interface", {"action": "ifdown", "interface": "wwan"}) == ("wwan", "ifdown")
    assert parse_event("network.device", {"action": "x", "interface": "wan"}) is None
    assert parse_event("network.interface", {"action": 1, "interface": "wan"}) is None
    assert parse_event("network.interface", ["ifup"]) is None
    assert first_address({"ipv4-address": [{"address": "198.18.0.5", "mask": 24}]}) == "198.18.0.5"
    assert first_address({"up": False}) is None
    assert default_router({"route": [{"target": "10.9.0.0", "mask": 16, "nexthop": "10.2.0.9"},
                                     {"target": "0.0.0.0", "mask": 0, "nexthop": "10.2.0.1"}]}) == "10.2.0.1"
    assert default_router({"route": []}) is None


def status(address: str | None) -> dict:
    s = {"up": address is not None, "l3_device": "eth9", "proto": "dhcp"}
    if address:
        s["ipv4-address"] = [{"address": address, "mask": 24}]
        s["route"] = [{"target": "0.0.0.0", "mask": 0, "nexthop": address.rsplit(".", 1)[0] + ".1"}]
    return s


def test_ifup_ifdown_become_the_daemons_link_and_address_events(ubusd: OpenWrt):
    ow = ubusd
    netifd = Interfaces(ow.ubus_socket, "wan", "wwan")
    netifd.set("wan", status("10.2.0.5"))  # already up when mip4d starts
    got: list = []

    async def scenario() -> None:
        ev = NetifdEvents({"wan": "eth1", "wwan": "wwan0"}, lambda d, up: got.append(("link", d, up)),
                          lambda d, a: got.append(("address", d, a)), lambda d, r: got.append(("router", d, r)),
                          ow.ubus_socket)
        await ev.start()
        loop = asyncio.get_running_loop()

        async def send(action: str, iface: str, wait_for: int) -> None:
            await loop.run_in_executor(None, lambda: ow.sh(
                "ubus send network.interface '{\"action\": \"%s\", \"interface\": \"%s\"}'" % (action, iface)))
            for _ in range(200):
                if len(got) >= wait_for:
                    return
                await asyncio.sleep(0.02)

        await send("ifup", "lan", 3)  # not an uplink: ignored
        await send("ifdown", "wan", 6)
        await loop.run_in_executor(None, netifd.set, "wwan", status("198.18.0.5"))
        await send("ifup", "wwan", 9)
        await loop.run_in_executor(None, netifd.set, "wwan", status("198.18.0.6"))  # a new lease
        await send("ifupdate", "wwan", 10)
        await ev.close()

    try:
        asyncio.run(scenario())
    finally:
        netifd.close()
    assert got == [("link", "eth1", True), ("address", "eth1", "10.2.0.5"), ("router", "eth1", "10.2.0.1"),
                   ("link", "eth1", False), ("address", "eth1", None), ("router", "eth1", None),
                   ("link", "wwan0", True), ("address", "wwan0", "198.18.0.5"), ("router", "wwan0", "198.18.0.1"),
                   ("address", "wwan0", "198.18.0.6")]  # the same router
